// The offline plan in-process: `runPlan` is what `npm run plan` runs, here with its output captured
// (one evaluation of the program for the example stack); the child-process runs, the README's
// commands as written and the other stack files are in tests/plan-cli.test.ts (assets tier).
import * as path from "path";
import { exampleConfigFile } from "./helpers/example-config";
import { HOST_STEPS } from "../components/host";
import { renderComposeUnit } from "../lib/host/systemd-unit";
import { MAX_LINE, OFFLINE_SECRET_PLACEHOLDER, SHARED_TRIGGER_MIN, buildPlan, formatPlan, redact, SECRET_MARK } from "../lib/plan/plan";
import { RecordedResource } from "../lib/plan/mock-cloud";
import { runPlan, stackOf } from "../scripts/plan";

async function plan(...args: string[]) {
    let stdout = "";
    let stderr = "";
    const code = await runPlan(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    return { code, stdout, stderr };
}

const configFile = (edit: (config: Record<string, unknown>) => void, name?: string): string => exampleConfigFile(edit, { name });

describe("the text plan of the example stack", () => {
    let text = "";
    let lines: string[] = [];
    beforeAll(async () => {
        const result = await plan();
        expect([result.code, result.stderr]).toEqual([0, ""]);
        text = result.stdout;
        lines = text.split("\n");
    });
    const at = (heading: string) => {
        const index = lines.findIndex((l) => l.startsWith(heading));
        expect([heading, index]).not.toEqual([heading, -1]);
        return index;
    };

    it("puts the summary first: ingress, host steps, outputs, what a change replaces; then the resources, then the files", () => {
        expect(lines[0]).toBe('Offline plan for stack "prod" (evaluated under mocks; no cloud was contacted)');
        const order = ["Ingress", "Host bootstrap (coinpilot-host)", "Outputs:", "What a change would replace", "Resources (", "  + coinpilot:network:Network", "File "].map(at);
        expect(order).toEqual([...order].sort((a, b) => a - b));
        // A newcomer reads the summary on one screen or two, not after hundreds of input lines.
        expect(at("Resources (")).toBeLessThan(80);
    });

    it("shows the open ports, the outputs and the VM in the summary", () => {
        const ingress = text.slice(text.indexOf("Ingress"), text.indexOf("Host bootstrap"));
        expect(ingress).toMatch(/tcp 22\s+from 198\.51\.100\.7\/32/);
        expect(ingress).toMatch(/tcp 80\s+from 0\.0\.0\.0\/0/);
        expect(ingress).toMatch(/tcp 443\s+from 0\.0\.0\.0\/0/);
        expect(ingress).not.toMatch(/\b(5432|6379|5678|8000|8501|9090|3000)\b/);
        const outputs = text.slice(text.indexOf("Outputs:"), text.indexOf("What a change would replace"));
        expect(outputs).toContain("sshCommand: ssh ubuntu@203.0.113.10");
        expect(outputs).toContain("sshTunnelCommand: ssh -L 18501:127.0.0.1:8501 -L 15678:127.0.0.1:5678 -L 13000:127.0.0.1:3000 -L 19090:127.0.0.1:9090 ubuntu@203.0.113.10");
        for (const line of ["+ oci:Core/vcn:Vcn  coinpilot-network-vcn", "+ oci:Core/securityList:SecurityList  coinpilot-network-seclist", "+ oci:Core/instance:Instance  coinpilot-a1-vm", "shape: VM.Standard.A1.Flex"]) {
            expect(text).toContain(line);
        }
    });

    it("says what a change would replace, the VM first and the protected data volume marked", () => {
        const section = lines.slice(at("What a change would replace") + 1, at("Resources (") - 1);
        expect(section[0]).toMatch(/^ {2}oci:Core\/instance:Instance coinpilot-a1-vm: a change of availabilityDomain, metadata\.ssh_authorized_keys/);
        expect(section).toContain("  oci:Core/volume:Volume coinpilot-data-volume: a change of availabilityDomain; protected, so pulumi up stops instead");
        expect(section.find((l) => l.startsWith("  command:remote:Command "))).toMatch(/^ {2}command:remote:Command \d+ of them \(coinpilot-host-wait \.\.\.\): a change of triggers \(the step runs again\)$/);
    });

    it(`keeps every line within ${MAX_LINE} characters, saying where it cut one`, () => {
        const long = lines.filter((l) => l.length > MAX_LINE);
        expect(long).toEqual([]);
        // The security list's rules are longer than a line: cut with the count left out, the JSON has them all.
        expect(text).toMatch(/ingressSecurityRules: \[\{.* …\[\+\d+ chars, see --json\]\n/);
        // Prose is wrapped instead: a long step description continues under itself.
        const step = lines.findIndex((l) => /^ {2}\d+\. coinpilot-host-data-volume /.test(l));
        expect(lines[step + 1]).toMatch(/^ {30,}\S/);
    });

    it(`shows a trigger value found on ${SHARED_TRIGGER_MIN} or more resources once, by its tag`, () => {
        const legend = lines.filter((l) => /^ {4}<t\d+> \(on \d+\) = /.test(l));
        const instanceId = "ocid1.instance.oc1.ap-chuncheon-1.mock636f696e70696c6f742d61312d766d0000000000";
        const tagOf = (value: string) => legend.find((l) => l.endsWith(`= ${value}`))?.split(" ")[4];
        const tag = tagOf(instanceId);
        expect(tag).toMatch(/^<t\d+>$/);
        const triggers = lines.filter((l) => l.trimStart().startsWith("triggers: "));
        expect(triggers.filter((l) => l.includes(`${tag}`)).length).toBeGreaterThanOrEqual(SHARED_TRIGGER_MIN);
        // No tagged value is spelt out in any step's triggers; the instance id is in the text a few times, not once per step.
        for (const entry of legend) expect(triggers.filter((l) => l.includes(entry.slice(entry.indexOf(" = ") + 3)))).toEqual([]);
        expect(lines.filter((l) => l.includes(instanceId)).length).toBeLessThan(8);
        // The unit step still shows the app ref it re-runs for, by tag or in clear.
        const unit = lines.slice(lines.indexOf("    + command:remote:Command  coinpilot-host-unit")).find((l) => l.trimStart().startsWith("triggers: "))!;
        expect(unit.includes('"v1.0.0"') || unit.includes(tagOf("v1.0.0") ?? "none")).toBe(true);
    });

    it("prints the rendered unit exactly as shipped", () => {
        const header = "File /home/ubuntu/.coinpilot-bootstrap/coinpilot-compose.service (shipped by coinpilot-host-unit-file):";
        const body = lines.slice(lines.indexOf(header) + 1);
        expect(lines).toContain(header);
        const shown = body.slice(0, body.findIndex((l) => !l.startsWith("  | "))).map((l) => l.slice(4));
        expect(shown.join("\n")).toBe(renderComposeUnit().trimEnd());
    });

    it("lists every host step in run order, the data volume before Docker", () => {
        const names = lines.slice(at("Host bootstrap (coinpilot-host)")).flatMap((l) => /^ {2}\d+\. (coinpilot-host-\S+)/.exec(l)?.[1] ?? []);
        expect(names).toEqual(HOST_STEPS.map((s) => `coinpilot-host-${s.role}`));
    });

    it("shows secrets only as [secret]", () => {
        expect(text).not.toContain(OFFLINE_SECRET_PLACEHOLDER);
        expect(text).not.toContain("PRIVATE KEY");
        const env = lines.slice(lines.indexOf("    + command:remote:Command  coinpilot-host-env"));
        expect(env.find((l) => l.trim().startsWith("stdin:"))).toMatch(/stdin: \[secret\]$/);
    });
});

describe("the stack name", () => {
    it("comes from the file name only when it is Pulumi.<stack>.yaml; any other name plans the default stack, with a note", () => {
        expect(stackOf("/work/Pulumi.prod.yaml")).toEqual({ stack: "prod" });
        expect(stackOf("Pulumi.staging.yaml")).toEqual({ stack: "staging" });
        for (const file of ["/tmp/my-stack.yaml", "Pulumi.yaml", "/tmp/Pulumi.a.b.yaml", "/tmp/pulumi.dev.yaml", "/tmp/Pulumi.dev.yml"]) {
            expect(stackOf(file)).toEqual({ stack: "prod", note: `${path.basename(file)} is not named Pulumi.<stack>.yaml, so the plan uses the default stack name "prod"` });
        }
    });

    it("prints the note under the title of the text plan", () => {
        const text = formatPlan(buildPlan("prod", [], {}), { notes: [stackOf("/tmp/my-stack.yaml").note!] });
        expect(text.split("\n").slice(0, 2)).toEqual(['Offline plan for stack "prod" (evaluated under mocks; no cloud was contacted)', 'note: my-stack.yaml is not named Pulumi.<stack>.yaml, so the plan uses the default stack name "prod"']);
    });
});

describe("npm run plan's arguments", () => {
    it.each([
        [["--nope"], 'plan: unknown argument "--nope"; see npm run plan -- --help'],
        [["--diff"], "plan: --diff needs a file name"],
        [["--out", "--json"], "plan: --out needs a file name"],
        [["--config-file", "missing.yaml"], "plan: config file missing.yaml does not exist"],
        [["--diff", "missing.json"], "plan: missing.json does not exist; save a plan first: npm run plan -- --out missing.json"],
    ])("refuses %j with one clear line and exit code 2", async (args, message) => {
        const { code, stdout, stderr } = await plan(...args);
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderr).toBe(`${message}\n`);
    });

    it("stops like the real CLI when a required key is missing, naming every missing key", async () => {
        const file = configFile((c) => { delete c["coinpilot:imageId"]; delete c["coinpilot:appRepoUrl"]; });
        const { code, stdout, stderr } = await plan("--config-file", file);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(stderr.trim()).toBe("error: Stack 'test' is missing configuration values 'coinpilot:appRepoUrl' and 'coinpilot:imageId'");
    });

    it("--help prints every option", async () => {
        const { code, stdout } = await plan("--help");
        expect(code).toBe(0);
        for (const flag of ["--config-file", "--json", "--out", "--diff"]) expect(stdout).toContain(flag);
    });
});

describe("plan formatting", () => {
    const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "hunter2" };
    const options = { protect: false, deleteBeforeReplace: false, retainOnDelete: false, deletedWith: "", dependsOn: [], ignoreChanges: [], replaceOnChanges: [], errorHooks: [] };
    const recorded: RecordedResource[] = [
        { type: "t:a:A", name: "a", urn: "urn:a", parent: "urn:stack", custom: false, inputs: {}, dependencies: [], options },
        { type: "t:b:B", name: "b", urn: "urn:b", parent: "urn:a", custom: true, inputs: { password: secret, list: [secret, "plain"], nested: { token: secret } }, dependencies: ["urn:a"], options: { ...options, protect: true, deleteBeforeReplace: true, retainOnDelete: true, deletedWith: "urn:a", dependsOn: ["urn:a"] } },
    ];
    const step = (name: string, triggers: unknown[]): RecordedResource => ({ type: "command:remote:Command", name, urn: `urn:${name}`, parent: "urn:stack", custom: true, inputs: { triggers }, dependencies: [], options });

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

    it(`tags a trigger value only from ${SHARED_TRIGGER_MIN} resources on, and leaves the JSON plan whole`, () => {
        const hash = "ab".repeat(32);
        const built = buildPlan("s", [step("one", [hash, "x"]), step("two", [hash, "y"]), step("three", [hash, "pair"]), step("four", ["pair"])], {});
        const text = formatPlan(built);
        expect(text).toContain(`    <t1> (on 3) = ${hash}\n`);
        expect(text).toContain('    triggers: [<t1>, "x"]\n');
        expect(text).toContain('    triggers: [<t1>, "pair"]\n');
        // "pair" is on two resources only: spelt out.
        expect(text).toContain('    triggers: ["pair"]\n');
        expect(text.split(hash)).toHaveLength(2);
        expect(built.resources[0].inputs.triggers).toEqual([hash, "x"]);
    });

    it(`cuts any line longer than ${MAX_LINE} characters, saying how much is left out`, () => {
        const long = "z".repeat(400);
        const text = formatPlan(buildPlan("s", [{ ...recorded[0], inputs: { description: long, script: `short\n${long}` } }], {}));
        const cut = text.split("\n").filter((l) => l.includes("zzz"));
        expect(cut).toHaveLength(2);
        for (const line of cut) {
            expect(line.length).toBeLessThanOrEqual(MAX_LINE);
            expect(line).toMatch(/z …\[\+\d+ chars, see --json\]$/);
        }
        const [, kept, left] = / {6}description: (z+) …\[\+(\d+) chars/.exec(cut[0])!;
        expect(kept.length + Number(left)).toBe(400);
    });
});
