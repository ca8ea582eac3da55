// Every shell script shipped to the host, by anyone, passes shellcheck.
import { spawnSync } from "child_process";
import { readdirSync } from "fs";
import * as path from "path";

const ASSETS = path.resolve(__dirname, "..", "assets");

function shellScripts(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return shellScripts(full);
        return entry.isFile() && entry.name.endsWith(".sh") ? [full] : [];
    });
}

const scripts = shellScripts(ASSETS).map((file) => path.relative(ASSETS, file)).sort();

describe("shellcheck over assets/**/*.sh", () => {
    it("finds the host scripts (the walk really descends into assets/)", () => {
        expect(scripts).toEqual(expect.arrayContaining(["host/open-web-ports.sh", "host/write-env.sh", "host/install-docker.sh"]));
    });

    it.each(scripts)("%s", (script) => {
        const result = spawnSync("shellcheck", ["--external-sources", "--format=gcc", script], { cwd: ASSETS, encoding: "utf8" });
        if (result.error) throw new Error(`shellcheck is missing: apt-get install -y shellcheck (${result.error.message})`);
        expect(result.stdout + result.stderr).toBe("");
        expect(result.status).toBe(0);
    });
});
