// The offline plan end to end (assets tier, jest.tiers.js): the real `npm run plan` entry point in child
// processes, as a user runs it (the README's commands as written, exit codes, JSON on stdout), and
// other stack files through runPlan in a module registry of its own per run (a fresh program and fake
// cloud each, seconds cheaper than a child process). The text plan's layout and the argument errors
// of the example stack are checked in tests/plan.test.ts (unit tier).
import { spawnSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";
import { exampleConfigFile } from "./helpers/example-config";
import { MAX_LINE } from "../lib/plan/plan";

const ROOT = path.resolve(__dirname, "..");

function plan(...args: string[]) {
    const result = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan.ts", ...args], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `npm run plan` in this process, with a fresh module registry: the program evaluated anew. */
async function planHere(...args: string[]) {
    let stdout = "";
    let stderr = "";
    let running: Promise<number> | undefined;
    jest.isolateModules(() => {
        const { runPlan } = require("../scripts/plan") as typeof import("../scripts/plan");
        running = runPlan(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    });
    const code = await running!;
    return { code, stdout, stderr };
}

const configFile = (edit: (config: Record<string, unknown>) => void, name?: string): string => exampleConfigFile(edit, { name });

describe("npm run plan", () => {
    it("--json prints resources with type, name, parent and inputs", () => {
        const { code, stdout, stderr } = plan("--json");
        expect([code, stderr]).toEqual([0, ""]);
        const json = JSON.parse(stdout);
        expect(Object.keys(json)).toEqual(["stack", "resources", "ingress", "files", "outputs"]);
        expect(json.stack).toBe("prod");
        const vm = json.resources.find((r: { name: string }) => r.name === "coinpilot-a1-vm");
        expect(vm).toMatchObject({ type: "oci:Core/instance:Instance", parent: "coinpilot:compute:A1Instance::coinpilot-a1" });
        expect(vm.inputs.shapeConfig).toEqual({ ocpus: 2, memoryInGbs: 12 });
        const top = json.resources.filter((r: { parent: string | null }) => r.parent === null).map((r: { type: string }) => r.type);
        expect(top).toEqual(expect.arrayContaining(["coinpilot:network:Network", "coinpilot:compute:A1Instance"]));
        for (const r of json.resources) expect(Object.keys(r)).toEqual(expect.arrayContaining(["type", "name", "parent", "inputs"]));
        expect(json.ingress.map((r: { source: string }) => r.source)).toContain("198.51.100.7/32");
        // The JSON keeps every trigger value whole: collapsing is for the text only.
        const unit = json.resources.find((r: { name: string }) => r.name === "coinpilot-host-unit");
        expect(unit.inputs.triggers[0]).toMatch(/^ocid1\.instance\./);
    });

    it("--config-file plans another stack file, named after its Pulumi.<stack>.yaml", async () => {
        const file = configFile((c) => { c["coinpilot:ocpus"] = "4"; c["coinpilot:memoryInGbs"] = "24"; });
        const { code, stdout, stderr } = await planHere("--json", "--config-file", file);
        expect([code, stderr]).toEqual([0, ""]);
        expect(JSON.parse(stdout).stack).toBe("test");
        expect(stdout).toContain('"ocpus": 4');
    });

    it("plans any other file name as the default stack, and says so (on stderr with --json, under the title in text)", async () => {
        const file = configFile(() => undefined, "staging-config.yaml");
        const note = 'note: staging-config.yaml is not named Pulumi.<stack>.yaml, so the plan uses the default stack name "prod"';
        const json = await planHere("--json", "--config-file", file);
        expect([json.code, json.stderr]).toEqual([0, `${note}\n`]);
        expect(JSON.parse(json.stdout).stack).toBe("prod");
        const text = await planHere("--config-file", file);
        expect(text.code).toBe(0);
        expect(text.stdout.split("\n").slice(0, 2)).toEqual(['Offline plan for stack "prod" (evaluated under mocks; no cloud was contacted)', note]);
        expect(text.stdout.split("\n").filter((l) => l.length > MAX_LINE)).toEqual([]);
    });

    it("exits non-zero with the program's validation report on bad values, and prints no plan", async () => {
        const file = configFile((c) => { c["coinpilot:sshAllowedCidr"] = "0.0.0.0/0"; c["coinpilot:imageId"] = "ami-123"; c["coinpilot:appRepoUrl"] = "git@github.com:x/y.git"; });
        const { code, stdout, stderr } = await planHere("--config-file", file);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        // One report for the whole program: instance and host problems together.
        expect(stderr).toMatch(/Invalid stack config \(3 problems\)/);
        expect(stderr).toMatch(/coinpilot:sshAllowedCidr: 0\.0\.0\.0\/0 would open SSH/);
        expect(stderr).toMatch(/coinpilot:imageId: /);
        expect(stderr).toMatch(/coinpilot:appRepoUrl: /);
    });

    it("refuses an optional secret stored in clear, and warns about a key Pulumi.yaml does not declare", () => {
        // A child process: the warning is the SDK's log line on the real stderr.
        const file = configFile((c) => { c["coinpilot:postgresPassword"] = "in-clear"; c["coinpilot:memoryInGb"] = "24"; });
        const { code, stderr } = plan("--config-file", file);
        expect(code).toBe(1);
        expect(stderr).toMatch(/warning: .*coinpilot:memoryInGb is set but Pulumi.yaml does not declare it/);
        expect(stderr).toMatch(/coinpilot:postgresPassword: is stored in clear in the stack file; set it encrypted: pulumi config set --secret coinpilot:postgresPassword/);
        expect(stderr).not.toContain("in-clear");
    });

    it.each([
        [["--nope"], 'plan: unknown argument "--nope"; see npm run plan -- --help'],
        [["--diff", "package.json"], 'plan: package.json has no "resources" array: it is not a saved plan; save one with: npm run plan -- --out <file>'],
    ])("refuses %j with one clear line, exit code 2 and no stack trace", (args, message) => {
        const { code, stdout, stderr } = plan(...args);
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderr).toBe(`${message}\n`);
    });

    it("knows how many ADs the stack's region has, and says so in one line when a position is out of range or the region unknown", async () => {
        const ashburn = await planHere("--json", "--config-file", configFile((c) => { c["oci:region"] = "us-ashburn-1"; c["coinpilot:availabilityDomain"] = "2"; }));
        expect(ashburn.code).toBe(0);
        expect(JSON.parse(ashburn.stdout).outputs.availabilityDomain).toBe("Uocm:US-ASHBURN-1-AD-2");
        // Child processes: a config problem found while the program runs exits 2 with one line.
        const chuncheon = plan("--config-file", configFile((c) => { c["coinpilot:availabilityDomain"] = "2"; }));
        expect([chuncheon.code, chuncheon.stderr]).toEqual([2, "plan: coinpilot:availabilityDomain: position 2 does not exist; this region has 1 availability domain(s): Uocm:AP-CHUNCHEON-1-AD-1\n"]);
        const unknown = plan("--config-file", configFile((c) => { c["oci:region"] = "xx-nowhere-1"; }));
        expect(unknown.code).toBe(2);
        expect(unknown.stderr).toBe("plan: coinpilot:availabilityDomain: the offline plan does not know the availability domains of region xx-nowhere-1; give the AD's full name (oci iam availability-domain list)\n");
        // Two child processes and one evaluation here (see the README test's bound).
    }, 120_000);

    it("runs the README's review commands as written: save on main, diff on the branch", () => {
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        const block = readme.slice(readme.indexOf("**Before merging**"));
        const lines = block.slice(0, block.indexOf("```\n\n")).split("\n").filter((l) => l.startsWith("npm run plan"));
        expect(lines).toHaveLength(2);
        const dir = scratchDir("plan-review");
        const outputs = lines.map((line) => {
            const command = line.replace(/#.*$/, "").replaceAll("/tmp/", `${dir}/`);
            const run = spawnSync("bash", ["-c", command], { cwd: ROOT, encoding: "utf8" });
            expect([command, run.status]).toEqual([command, 0]);
            return run.stdout;
        });
        expect(outputs[1]).toMatch(/No changes\./);
        // And a file saved the old way, with npm's banner above the JSON, still reads as a plan.
        const banner = spawnSync("bash", ["-c", `npm run plan -- --json > ${dir}/with-banner.json && npm run -s plan -- --diff ${dir}/with-banner.json`], { cwd: ROOT, encoding: "utf8" });
        expect(banner.status).toBe(0);
        expect(banner.stdout).toMatch(/No changes\./);
        // Four npm runs, each evaluating the program from TypeScript in a new node (~6 CPU-s); on a 2-core
        // machine with other work running one took up to 15 s: a bound against hangs, not a timing.
    }, 240_000);
});

describe("npm run plan -- --diff (in-process; the README test above runs it as written)", () => {
    const dir = scratchDir("plan-diff");
    const npm = planHere;
    const savedFile = path.join(dir, "old.json");
    let saved: Awaited<ReturnType<typeof npm>>;
    beforeAll(async () => {
        saved = await npm("--json");
        writeFileSync(savedFile, saved.stdout);
    });

    it("finds no change between the program and its own saved plan", async () => {
        expect(saved.code).toBe(0);
        const { code, stdout } = await npm("--diff", savedFile);
        expect(code).toBe(0);
        expect(stdout).toContain(`Plan diff: ${savedFile} -> the program now (Pulumi.prod.yaml)`);
        expect(stdout).toContain("No changes.");
        expect(stdout).not.toContain("DESTRUCTIVE");
    });

    it("puts a replaced instance under the banner when the saved plan had another SSH key and AD", async () => {
        const old = JSON.parse(saved.stdout);
        const vm = old.resources.find((r: { type: string }) => r.type === "oci:Core/instance:Instance");
        vm.inputs.metadata.ssh_authorized_keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOLDKEY old@wsl";
        vm.inputs.availabilityDomain = "Uocm:AP-CHUNCHEON-1-AD-2";
        old.resources.push({ type: "oci:Core/volume:Volume", name: "gone-volume", parent: null, inputs: {} });
        const file = path.join(dir, "edited.json");
        writeFileSync(file, JSON.stringify(old));
        const { code, stdout } = await npm("--diff", file);
        expect(code).toBe(0);
        const lines = stdout.split("\n");
        expect(lines[1]).toContain("DESTRUCTIVE: 3 changes replace or delete something");
        expect(stdout).toContain("oci:Core/instance:Instance::coinpilot-a1-vm");
        expect(stdout).toContain("metadata.ssh_authorized_keys changed: REPLACES the instance");
        expect(stdout).toContain("availabilityDomain changed: REPLACES the instance");
        expect(stdout).toContain("removed from the program: DELETES the data volume");
        expect(stdout).toContain('inputs.availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-2" -> "Uocm:AP-CHUNCHEON-1-AD-1"');
        expect(stdout.trimEnd().split("\n").pop()).toMatch(/^!{78}$/);
    });

    it("shows an OCPU change as a reboot when the config file changes", async () => {
        const file = exampleConfigFile(
            (config) => {
                config["coinpilot:ocpus"] = "4";
                config["coinpilot:memoryInGbs"] = "24";
            },
            { dir, name: "Pulumi.prod.yaml" },
        );
        const { code, stdout, stderr } = await npm("--config-file", file, "--diff", savedFile);
        expect(stderr).toBe("");
        expect(code).toBe(0);
        expect(stdout).toContain("inputs.shapeConfig.ocpus: 2 -> 4");
        expect(stdout).toContain("shapeConfig changed: updated in place, the VM reboots");
        expect(stdout).toContain("Nothing is replaced or deleted.");
    });

    it("shows a new appRef as the README says: checkout, unit and health replaced, the changed part of the command visible", async () => {
        const file = exampleConfigFile(
            (config) => {
                config["coinpilot:appRef"] = "v1.1.0";
            },
            { dir, name: "Pulumi.prod.yaml" },
        );
        const { code, stdout } = await npm("--config-file", file, "--diff", savedFile);
        expect(code).toBe(0);
        const replaced = stdout.split("\n").filter((l) => l.startsWith("  ± replace")).map((l) => l.split(/\s+/)[4]);
        expect(replaced).toEqual(["coinpilot-host-checkout", "coinpilot-host-health", "coinpilot-host-unit"]);
        expect(stdout).toMatch(/inputs\.create: "….*v1\.0\.0 \/opt\/coin-pilot ubuntu" \(\d+ chars\) -> "….*v1\.1\.0 \/opt\/coin-pilot ubuntu" \(\d+ chars\)/);
        expect(stdout).toContain("Replaced (created again; nothing that holds data): coinpilot-host-checkout, coinpilot-host-health, coinpilot-host-unit.");
        expect(stdout).not.toContain("DESTRUCTIVE");
    });

    it("explains how to make the saved plan when the file is not one", async () => {
        const file = path.join(dir, "bad.json");
        writeFileSync(file, "{}");
        const { code, stderr } = await npm("--diff", file);
        expect(code).toBe(2);
        expect(stderr).toBe(`plan: ${file} has no "resources" array: it is not a saved plan; save one with: npm run plan -- --out <file>\n`);
    });
});
