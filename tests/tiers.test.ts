// The test tiers (jest.tiers.js): every test file under tests/ runs in exactly one tier, chosen by the
// tiers' own jest configs as jest reads them, and the unit tier (`npm test`) stays in-process.
import { readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { readConfig } from "jest-config";
import { globsToMatcher } from "jest-util";

const ROOT = path.resolve(__dirname, "..");
const { ASSET_TESTS } = require("../jest.tiers") as { ASSET_TESTS: readonly string[] };

/** Every file under tests/ that looks like a test to any tier (*.test.ts, *.e2e.ts). */
function testFiles(dir = path.join(ROOT, "tests")): string[] {
    return readdirSync(dir).flatMap((name) => {
        const full = path.join(dir, name);
        if (statSync(full).isDirectory()) return name === "node_modules" ? [] : testFiles(full);
        return /\.(test|e2e)\.[jt]s$/.test(name) ? [full] : [];
    });
}

/** Whether jest, run with this config, picks `file`: the checks of its SearchSource (roots, testMatch, ignore patterns). */
async function matcher(config: string): Promise<(file: string) => boolean> {
    const { projectConfig } = await readConfig({ $0: "jest", _: [] } as never, path.join(ROOT, config));
    const roots = projectConfig.roots.map((root) => root + path.sep);
    const matches = projectConfig.testMatch.length ? globsToMatcher(projectConfig.testMatch) : () => true;
    const regex = projectConfig.testRegex.map((r) => new RegExp(r));
    const ignored = projectConfig.testPathIgnorePatterns.length ? new RegExp(projectConfig.testPathIgnorePatterns.join("|")) : undefined;
    return (file) =>
        roots.some((root) => file.startsWith(root)) && matches(file) && (regex.length === 0 || regex.some((r) => r.test(file))) && !ignored?.test(file);
}

const CONFIGS = readdirSync(ROOT).filter((f) => /^jest(\.[\w-]+)?\.config\.js$/.test(f)).sort();

describe("the test tiers", () => {
    it("has the unit, assets and engine tiers among the jest configs", () => {
        expect(CONFIGS).toEqual(expect.arrayContaining(["jest.config.js", "jest.assets.config.js", "jest.engine.config.js"]));
    });

    it("runs every test file in exactly one tier", async () => {
        const tiers = await Promise.all(CONFIGS.map(async (config) => ({ config, picks: await matcher(config) })));
        const claims = testFiles().map((file) => [path.relative(ROOT, file), tiers.filter((t) => t.picks(file)).map((t) => t.config)]);
        expect(claims.filter(([, by]) => by.length !== 1)).toEqual([]);
        expect(claims.length).toBeGreaterThan(40);
        // The assets tier is a list: each entry names a file that exists.
        const files = new Set(claims.map(([file]) => file));
        expect(ASSET_TESTS.filter((file) => !files.has(file))).toEqual([]);
    });

    it("keeps the unit tier in-process: a file that runs servers, shell tools or npm entry points belongs to the assets tier", async () => {
        const unit = await matcher("jest.config.js");
        // How the asset tests start things: the server helpers, a TypeScript entry point, or a tool by name.
        const markers = [/from "\.\/helpers\/servers"/, /"ts-node\/register/, /\b(spawn|spawnSync|execFile|execFileSync)\(\s*"(npm|shellcheck|systemd-analyze|unshare|logrotate|redis-server|psql|ip)"/];
        const offenders = testFiles()
            .filter(unit)
            .flatMap((file) => markers.filter((m) => m.test(readFileSync(file, "utf8"))).map((m) => `${path.relative(ROOT, file)}: ${m}`));
        expect(offenders).toEqual([]);
    });

    it("runs every tier from npm run test:all, which CI runs", () => {
        const scripts = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
        expect(scripts.test).toMatch(/typecheck.*&& .*test:unit/);
        expect(scripts["test:unit"]).toMatch(/^jest\b/);
        expect(scripts["test:assets"]).toMatch(/^jest --config jest\.assets\.config\.js/);
        for (const tier of ["npm test", "npm run test:assets", "npm run test:engine"]) expect(scripts["test:all"]).toContain(tier);
        expect(readFileSync(path.join(ROOT, ".ci", "run"), "utf8")).toMatch(/^npm run test:all$/m);
    });
});
