// The offline plan end to end: the real `npm run plan` entry point in a child process.
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { buildPlan, formatPlan, redact, SECRET_MARK } from "../lib/plan/plan";
import { RecordedResource } from "../lib/plan/mock-cloud";

const ROOT = path.resolve(__dirname, "..");

function plan(...args: string[]) {
    const result = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan.ts", ...args], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function configFile(edit: (config: Record<string, unknown>) => void): string {
    const doc = parse(readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    edit(doc.config);
    const file = path.join(mkdtempSync(path.join(tmpdir(), "plan-")), "Pulumi.test.yaml");
    writeFileSync(file, stringify(doc));
    return file;
}

describe("npm run plan", () => {
    it("prints the network, the open ports and the A1.Flex instance for the example stack", () => {
        const { code, stdout } = plan();
        expect(code).toBe(0);
        expect(stdout).toContain('Offline plan for stack "prod"');
        for (const line of [
            "+ oci:Core/vcn:Vcn  coinpilot-network-vcn",
            "+ oci:Core/subnet:Subnet  coinpilot-network-subnet",
            "+ oci:Core/securityList:SecurityList  coinpilot-network-seclist",
            "+ oci:Core/instance:Instance  coinpilot-a1-vm",
            "shape: VM.Standard.A1.Flex",
        ]) {
            expect(stdout).toContain(line);
        }
        const ingress = stdout.slice(stdout.indexOf("Ingress"), stdout.indexOf("Outputs:"));
        expect(ingress).toMatch(/tcp 22\s+from 198\.51\.100\.7\/32/);
        expect(ingress).toMatch(/tcp 80\s+from 0\.0\.0\.0\/0/);
        expect(ingress).toMatch(/tcp 443\s+from 0\.0\.0\.0\/0/);
        expect(ingress).not.toMatch(/\b(5432|6379|5678|8000|8501|9090|3000)\b/);
        expect(stdout).toContain("sshCommand: ssh ubuntu@203.0.113.10");
        expect(stdout).toContain("sshTunnelCommand: ssh -L 18501:127.0.0.1:8501 -L 15678:127.0.0.1:5678 -L 13000:127.0.0.1:3000 -L 19090:127.0.0.1:9090 ubuntu@203.0.113.10");
    });

    it("--json prints resources with type, name, parent and inputs", () => {
        const { code, stdout } = plan("--json");
        expect(code).toBe(0);
        const json = JSON.parse(stdout);
        const vm = json.resources.find((r: { name: string }) => r.name === "coinpilot-a1-vm");
        expect(vm).toMatchObject({ type: "oci:Core/instance:Instance", parent: "coinpilot:compute:A1Instance::coinpilot-a1" });
        expect(vm.inputs.shapeConfig).toEqual({ ocpus: 2, memoryInGbs: 12 });
        const top = json.resources.filter((r: { parent: string | null }) => r.parent === null).map((r: { type: string }) => r.type);
        expect(top).toEqual(expect.arrayContaining(["coinpilot:network:Network", "coinpilot:compute:A1Instance"]));
        for (const r of json.resources) expect(Object.keys(r)).toEqual(expect.arrayContaining(["type", "name", "parent", "inputs"]));
        expect(json.ingress.map((r: { source: string }) => r.source)).toContain("198.51.100.7/32");
    });

    it("--config-file plans another stack file", () => {
        const file = configFile((c) => { c["coinpilot:ocpus"] = "4"; c["coinpilot:memoryInGbs"] = "24"; });
        const { code, stdout } = plan("--json", "--config-file", file);
        expect(code).toBe(0);
        expect(JSON.parse(stdout).stack).toBe("test");
        expect(stdout).toContain('"ocpus": 4');
    });

    it("stops like the real CLI when a required key is missing, naming every missing key", () => {
        const file = configFile((c) => { delete c["coinpilot:imageId"]; delete c["coinpilot:appRepoUrl"]; });
        const { code, stdout, stderr } = plan("--config-file", file);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(stderr.trim()).toBe("error: Stack 'test' is missing configuration values 'coinpilot:appRepoUrl' and 'coinpilot:imageId'");
    });

    it("exits non-zero with the program's validation report on bad values, and prints no plan", () => {
        const file = configFile((c) => { c["coinpilot:sshAllowedCidr"] = "0.0.0.0/0"; c["coinpilot:imageId"] = "ami-123"; c["coinpilot:appRepoUrl"] = "git@github.com:x/y.git"; });
        const { code, stdout, stderr } = plan("--config-file", file);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        // One report for the whole program: instance and host problems together.
        expect(stderr).toMatch(/Invalid stack config \(3 problems\)/);
        expect(stderr).toMatch(/coinpilot:sshAllowedCidr: 0\.0\.0\.0\/0 would open SSH/);
        expect(stderr).toMatch(/coinpilot:imageId: /);
        expect(stderr).toMatch(/coinpilot:appRepoUrl: /);
    });

    it("refuses an optional secret stored in clear, and warns about a key Pulumi.yaml does not declare", () => {
        const file = configFile((c) => { c["coinpilot:postgresPassword"] = "in-clear"; c["coinpilot:memoryInGb"] = "24"; });
        const { code, stderr } = plan("--config-file", file);
        expect(code).toBe(1);
        expect(stderr).toMatch(/warning: .*coinpilot:memoryInGb is set but Pulumi.yaml does not declare it/);
        expect(stderr).toMatch(/coinpilot:postgresPassword: is stored in clear in the stack file; set it encrypted: pulumi config set --secret coinpilot:postgresPassword/);
        expect(stderr).not.toContain("in-clear");
    });

    it.each([
        [["--nope"], 'plan: unknown argument "--nope"; see npm run plan -- --help'],
        [["--diff"], "plan: --diff needs a file name"],
        [["--out", "--json"], "plan: --out needs a file name"],
        [["--config-file", "missing.yaml"], "plan: config file missing.yaml does not exist"],
        [["--diff", "missing.json"], "plan: missing.json does not exist; save a plan first: npm run plan -- --out missing.json"],
        [["--diff", "package.json"], 'plan: package.json has no "resources" array: it is not a saved plan; save one with: npm run plan -- --out <file>'],
    ])("refuses %j with one clear line and no stack trace", (args, message) => {
        const { code, stdout, stderr } = plan(...args);
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderr).toBe(`${message}\n`);
    });

    it("knows how many ADs the stack's region has, and says so in one line when a position is out of range or the region unknown", () => {
        const ashburn = plan("--json", "--config-file", configFile((c) => { c["oci:region"] = "us-ashburn-1"; c["coinpilot:availabilityDomain"] = "2"; }));
        expect(ashburn.code).toBe(0);
        expect(JSON.parse(ashburn.stdout).outputs.availabilityDomain).toBe("Uocm:US-ASHBURN-1-AD-2");
        const chuncheon = plan("--config-file", configFile((c) => { c["coinpilot:availabilityDomain"] = "2"; }));
        expect([chuncheon.code, chuncheon.stderr]).toEqual([2, "plan: coinpilot:availabilityDomain: position 2 does not exist; this region has 1 availability domain(s): Uocm:AP-CHUNCHEON-1-AD-1\n"]);
        const unknown = plan("--config-file", configFile((c) => { c["oci:region"] = "xx-nowhere-1"; }));
        expect(unknown.code).toBe(2);
        expect(unknown.stderr).toBe("plan: coinpilot:availabilityDomain: the offline plan does not know the availability domains of region xx-nowhere-1; give the AD's full name (oci iam availability-domain list)\n");
    });

    it("--help prints every option", () => {
        const { code, stdout } = plan("--help");
        expect(code).toBe(0);
        for (const flag of ["--config-file", "--json", "--out", "--diff"]) expect(stdout).toContain(flag);
    });

    it("runs the README's review commands as written: save on main, diff on the branch", () => {
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        const block = readme.slice(readme.indexOf("**Before merging**"));
        const lines = block.slice(0, block.indexOf("```\n\n")).split("\n").filter((l) => l.startsWith("npm run plan"));
        expect(lines).toHaveLength(2);
        const dir = mkdtempSync(path.join(tmpdir(), "plan-review-"));
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
    });
});

describe("plan formatting", () => {
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "hunter2" };
    const recorded: RecordedResource[] = [
        { type: "t:a:A", name: "a", urn: "urn:a", parent: "urn:stack", custom: false, inputs: {}, dependencies: [], options: { protect: false, deleteBeforeReplace: false, retainOnDelete: false, deletedWith: "", dependsOn: [], ignoreChanges: [], replaceOnChanges: [], errorHooks: [] } },
        { type: "t:b:B", name: "b", urn: "urn:b", parent: "urn:a", custom: true, inputs: { password: secret, list: [secret, "plain"], nested: { token: secret } }, dependencies: ["urn:a"], options: { protect: true, deleteBeforeReplace: true, retainOnDelete: true, deletedWith: "urn:a", dependsOn: ["urn:a"], ignoreChanges: [], replaceOnChanges: [], errorHooks: [] } },
    ];

    it("shows secrets only as [secret], in text and JSON", () => {
        const built = buildPlan("s", recorded, { out: secret });
        const text = formatPlan(built) + JSON.stringify(built);
        expect(text).not.toContain("hunter2");
        expect(built.resources[1].inputs).toEqual({ password: SECRET_MARK, list: [SECRET_MARK, "plain"], nested: { token: SECRET_MARK } });
        expect(redact({ out: secret })).toEqual({ out: SECRET_MARK });
    });

    it("keeps multi-line inputs inside the tree, shortened to their first lines", () => {
        const script = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join("\n");
        const withScript = [{ ...recorded[0], inputs: { stdin: script } }];
        const text = formatPlan(buildPlan("s", withScript, {}));
        expect(text).toContain("\n      stdin: (10 lines)\n        | line 1\n        | line 2\n        | line 3\n        | line 4\n        | ... (6 more lines)\n");
        expect(text).not.toContain("line 5");
    });

    it("names parents and lifecycle options by type::name", () => {
        const built = buildPlan("s", recorded, {});
        expect(built.resources[0].parent).toBeNull();
        expect(built.resources[1]).toMatchObject({ parent: "t:a:A::a", options: { protect: true, deleteBeforeReplace: true, retainOnDelete: true, deletedWith: "t:a:A::a", dependsOn: ["t:a:A::a"] } });
        expect(formatPlan(built)).toMatch(/\+ t:a:A {2}a\n {4}\+ t:b:B {2}b/);
    });
});
