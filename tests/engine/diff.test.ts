// What a reviewer reads: after a real `pulumi up` (stand-in providers), each config change the README
// talks about is previewed by the engine and diffed by the offline plan; both must name the same
// resources, and the engine's verdict (update or replace) must be what the README says.
import { spawnSync } from "child_process";
import * as path from "path";
import { diffPlans, DiffablePlan, parsePlan } from "../../lib/plan/plan-diff";
import { EXAMPLE_AD, Project, ROOT, expectOk, initExampleStack, newProject, previewJson, typeAndName } from "./harness";

let project: Project;

function offlinePlan(): DiffablePlan {
    const run = spawnSync("npm", ["run", "-s", "plan", "--", "--json", "--config-file", path.join(project.dir, "Pulumi.prod.yaml")], { cwd: ROOT, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`plan failed: ${run.stderr}`);
    return parsePlan(run.stdout, "plan");
}

/** The engine's verdict per changed resource: `type::name` → update | replace. */
function engineChanges(): Record<string, string> {
    const changes: Record<string, string> = {};
    for (const step of previewJson(project).steps) {
        if (step.op === "same" || step.urn.includes("pulumi:pulumi:Stack")) continue;
        changes[typeAndName(step.urn)] = ["replace", "create-replacement", "delete-replaced"].includes(step.op) ? "replace" : step.op;
    }
    return changes;
}

/** Sets one key, previews with the engine and diffs with the offline plan, then puts the key back. */
function whatChanges(key: string, value: string): { engine: Record<string, string>; offline: string[]; destructive: string[] } {
    const result = diffBoth(key, value);
    // The offline diff's verdicts come from the same provider schema: its replacements are the engine's.
    const engineReplaced = Object.keys(result.engine).filter((k) => result.engine[k] === "replace").sort();
    expect(result.offlineReplaced).toEqual(engineReplaced);
    return result;
}

function diffBoth(key: string, value: string): { engine: Record<string, string>; offline: string[]; offlineReplaced: string[]; destructive: string[] } {
    const before = offlinePlan();
    const original = project.stackFile();
    expectOk(project.pulumi(["config", "set", key, value]), `config set ${key}`);
    try {
        const diff = diffPlans(before, offlinePlan());
        return {
            engine: engineChanges(),
            offline: diff.resources.map((r) => `${r.type}::${r.name}`).sort(),
            offlineReplaced: diff.resources.filter((r) => r.replacedBy).map((r) => `${r.type}::${r.name}`).sort(),
            destructive: diff.destructive.map((d) => `${d.resource}: ${d.reason}`),
        };
    } finally {
        project.writeStackFile(original);
    }
}

const HOST = "command:remote:Command::coinpilot-host";

beforeAll(() => {
    project = newProject();
    initExampleStack(project, { "coinpilot:availabilityDomain": EXAMPLE_AD });
    expectOk(project.pulumi(["up", "--yes", "--skip-preview"]), "pulumi up");
});
afterAll(() => project?.remove());

describe("after pulumi up", () => {
    it("a second preview changes nothing", () => {
        expect(engineChanges()).toEqual({});
    });

    it("appRef: only checkout, unit and health are replaced (README 'Redeploying a new app version')", () => {
        const { engine, offline } = whatChanges("coinpilot:appRef", "v1.1.0");
        expect(engine).toEqual({ [`${HOST}-checkout`]: "replace", [`${HOST}-unit`]: "replace", [`${HOST}-health`]: "replace" });
        expect(offline).toEqual(Object.keys(engine).sort());
    });

    it("ocpus: the instance is updated in place (it reboots), nothing is replaced", () => {
        const { engine, offline, destructive } = whatChanges("coinpilot:ocpus", "4");
        expect(engine).toEqual({ "oci:Core/instance:Instance::coinpilot-a1-vm": "update" });
        expect(offline).toEqual(Object.keys(engine));
        expect(destructive).toEqual([]);
    });

    it("sshAllowedCidr: only the security list is updated", () => {
        const { engine, offline } = whatChanges("coinpilot:sshAllowedCidr", "203.0.113.9/32");
        expect(engine).toEqual({ "oci:Core/securityList:SecurityList::coinpilot-network-seclist": "update" });
        expect(offline).toEqual(Object.keys(engine));
    });

    it("imageId: the instance is updated in place with a new boot volume, so every host step runs again", () => {
        const { engine, offline, destructive } = whatChanges("coinpilot:imageId", "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexampleubuntu2404aarch64newer");
        expect(engine["oci:Core/instance:Instance::coinpilot-a1-vm"]).toBe("update");
        const hostSteps = Object.keys(engine).filter((k) => k.startsWith("command:remote:"));
        expect(hostSteps.length).toBeGreaterThan(10);
        expect(hostSteps.every((k) => engine[k] === "replace")).toBe(true);
        expect(offline).toEqual(Object.keys(engine).sort());
        expect(destructive).toEqual([expect.stringContaining("sourceDetails.sourceId changed: REPLACES the boot volume")]);
    });

    it("npm run secrets:save stores the generated passwords as encrypted config, and nothing changes", () => {
        const save = project.run("node", ["--require", "ts-node/register/transpile-only", path.join(ROOT, "scripts", "save-secrets.ts")]);
        expectOk(save, "secrets:save");
        const listed = JSON.parse(expectOk(project.pulumi(["config", "--json"]), "config --json").stdout) as Record<string, { secret: boolean; value?: string }>;
        for (const key of ["postgresPassword", "redisPassword", "n8nBasicAuthPassword", "n8nEncryptionKey", "n8nWebhookSecret", "grafanaAdminPassword"]) {
            expect([key, listed[`coinpilot:${key}`]]).toEqual([key, { secret: true }]);
        }
        const shown = JSON.parse(expectOk(project.pulumi(["config", "--json", "--show-secrets"]), "config --show-secrets").stdout) as Record<string, { value: string }>;
        const outputs = JSON.parse(expectOk(project.pulumi(["stack", "output", "generatedSecrets", "--show-secrets", "--json"]), "stack output").stdout) as Record<string, string>;
        expect(shown["coinpilot:postgresPassword"].value).toBe(outputs.POSTGRES_PASSWORD);
        expect(engineChanges()).toEqual({});
    });
});
