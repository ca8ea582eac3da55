// `npm run mutate [-- NAME ...]`: mutation testing of the guarantees the README makes. Each mutation
// changes one line of the program or its assets the way a careless edit would; the tests that guard
// that guarantee must then fail ("killed"). A mutation the tests miss ("survived") is a test gap.
// Files are restored after every run, also on Ctrl-C. Not part of `npm test` (one jest run each).
import { spawnSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";

interface Mutation {
    readonly name: string;
    readonly file: string;
    /** Text that must occur exactly once in the file; a missing one reports the mutation as stale. */
    readonly find: string;
    readonly replace: string;
    /** The jest files that should catch it. */
    readonly tests: readonly string[];
}

const ROOT = path.resolve(__dirname, "..");

export const MUTATIONS: readonly Mutation[] = [
    { name: "internal port dropped from the guard", file: "lib/rules/ingress.ts", find: "5432, 6379, 5678, 8000, 8501, 9090, 3000", replace: "6379, 5678, 8000, 8501, 9090, 3000", tests: ["tests/network.test.ts"] },
    { name: "SSH accepted from a /24", file: "lib/rules/validate.ts", find: "if (cidr.prefix !== 32) return", replace: "if (cidr.prefix < 24) return", tests: ["tests/config.test.ts"] },
    { name: "instance replaced create-first", file: "components/instance.ts", find: "deleteBeforeReplace: true,", replace: "deleteBeforeReplace: false,", tests: ["tests/instance.test.ts", "tests/program.test.ts"] },
    { name: "data volume not protected", file: "components/storage.ts", find: "{ parent: this, protect: true, retainOnDelete: true }", replace: "{ parent: this, protect: false, retainOnDelete: true }", tests: ["tests/storage.test.ts"] },
    { name: "data volume deleted with the stack", file: "components/storage.ts", find: "{ parent: this, protect: true, retainOnDelete: true }", replace: "{ parent: this, protect: true, retainOnDelete: false }", tests: ["tests/storage.test.ts"] },
    { name: "generated passwords unprotected", file: "components/host.ts", find: "{ parent: this, protect: true }", replace: "{ parent: this, protect: false }", tests: ["tests/host.test.ts", "tests/program.test.ts"] },
    { name: "unit loses RemainAfterExit", file: "assets/systemd/coinpilot-compose.service.tmpl", find: "RemainAfterExit=yes", replace: "RemainAfterExit=no", tests: ["tests/systemd-unit.test.ts"] },
    { name: "pre-pull failure stops the unit", file: "assets/systemd/coinpilot-compose.service.tmpl", find: "ExecStartPre=-/usr/bin/docker", replace: "ExecStartPre=/usr/bin/docker", tests: ["tests/systemd-unit.test.ts"] },
    { name: "pre-pull tries to pull buildable images", file: "assets/systemd/coinpilot-compose.service.tmpl", find: "{{composeFile}} pull --ignore-buildable\nExecStart", replace: "{{composeFile}} pull\nExecStart", tests: ["tests/systemd-unit.test.ts"] },
    { name: "firewall appends below the REJECT", file: "assets/host/open-web-ports.sh", find: "reject_at=\"$(position_of ' -j REJECT' \"${chain[@]}\")\"", replace: "reject_at=\"$(( ${#chain[@]} + 1 ))\"", tests: ["tests/host-scripts.test.ts"] },
    { name: "retention keeps fewer dailies", file: "assets/backup/lib.sh", find: "KEEP_DAILY=${KEEP_DAILY:-7}", replace: "KEEP_DAILY=${KEEP_DAILY:-6}", tests: ["tests/backup-retention.test.ts"] },
    { name: "the hunt's deadline is dropped on its way to the policy", file: "lib/launch/engine-hook.ts", find: "deadlineMs: args.deadlineMinutes * 60_000,", replace: "deadlineMs: Infinity,", tests: ["tests/launch-wiring.test.ts", "tests/launch-hunt.test.ts"] },
    { name: "the mount script's content is not in its step's triggers", file: "components/host.ts", find: "triggers: [...disk, hash, ...(extra.triggers ?? [])],", replace: "triggers: [...disk, ...(extra.triggers ?? [])],", tests: ["tests/host.test.ts"] },
    { name: "plan forgets Pulumi's missing-key rule", file: "lib/plan/project-config.ts", find: "if (key.startsWith(`${project.name}:`)) missing.push(key);", replace: "", tests: ["tests/project-config.test.ts", "tests/plan.test.ts"] },
];

/** Passes when every given file passes, each run under its tier's jest config (jest.tiers.js). */
function runJest(tests: readonly string[]): boolean {
    const { ASSET_TESTS } = require("../jest.tiers") as { ASSET_TESTS: readonly string[] };
    const tiers = [
        { config: "jest.config.js", files: tests.filter((t) => !ASSET_TESTS.includes(t)) },
        { config: "jest.assets.config.js", files: tests.filter((t) => ASSET_TESTS.includes(t)) },
    ];
    return tiers
        .filter((tier) => tier.files.length > 0)
        .every((tier) => spawnSync("npx", ["jest", "--config", tier.config, "--silent", "--bail", ...tier.files], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CI: "true" } }).status === 0);
}

function main(names: readonly string[]): number {
    const chosen = names.length ? MUTATIONS.filter((m) => names.some((n) => m.name.includes(n))) : MUTATIONS;
    const originals = new Map<string, string>();
    const restore = () => originals.forEach((text, file) => writeFileSync(file, text));
    process.on("SIGINT", () => {
        restore();
        process.exit(130);
    });
    let killed = 0;
    let survived = 0;
    let stale = 0;
    for (const mutation of chosen) {
        const file = path.join(ROOT, mutation.file);
        const text = readFileSync(file, "utf8");
        if (text.split(mutation.find).length !== 2) {
            stale += 1;
            process.stdout.write(`STALE     ${mutation.name} (${mutation.file}: the text to mutate is not there exactly once)\n`);
            continue;
        }
        originals.set(file, text);
        writeFileSync(file, text.replace(mutation.find, mutation.replace));
        try {
            const passed = runJest(mutation.tests);
            if (passed) survived += 1;
            else killed += 1;
            process.stdout.write(`${passed ? "SURVIVED" : "killed  "}  ${mutation.name} (${mutation.tests.join(", ")})\n`);
        } finally {
            writeFileSync(file, text);
            originals.delete(file);
        }
    }
    process.stdout.write(`mutations: ${killed} killed, ${survived} survived, ${stale} stale of ${chosen.length}\n`);
    return survived + stale > 0 ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
