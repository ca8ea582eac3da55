// The real engine previews the program: the pinned CLI's config loader, the language host running
// index.ts, resource registration with the error hook, and agreement with the offline plan.
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { SECRET_MARK, loadStackConfig, redact } from "../../lib/plan/plan";
import { EXAMPLE_AD, PINNED_CLI, PreviewStep, Project, ROOT, expectOk, initExampleStack, newProject, previewJson, typeAndName } from "./harness";

let project: Project;

beforeAll(() => {
    project = newProject();
    initExampleStack(project, { "coinpilot:availabilityDomain": EXAMPLE_AD });
});
afterAll(() => project?.remove());

/** Pulumi's wire value for an output not known before the resource exists. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** `.a.b.0 -> value` for every leaf of an input tree. */
function leaves(value: unknown, prefix = "", out = new Map<string, unknown>()): Map<string, unknown> {
    if (value !== null && typeof value === "object") {
        for (const [key, child] of Object.entries(value as Record<string, unknown>)) leaves(child, `${prefix}.${key}`, out);
    } else {
        out.set(prefix, value);
    }
    return out;
}

/** type, name, parent and the lifecycle options both sides can see, one line per resource. */
function describeResource(r: { type: string; name: string; parent: string | null; protect?: boolean; retainOnDelete?: boolean; errorHooks?: readonly string[] }): string {
    return [r.type, r.name, `parent=${r.parent ?? "-"}`, r.protect ? "protect" : "", r.retainOnDelete ? "retainOnDelete" : "", r.errorHooks?.length ? `onError=${r.errorHooks.join(",")}` : ""]
        .filter(Boolean)
        .join(" ");
}

describe("the real engine", () => {
    it("is the pinned CLI", () => {
        expect(expectOk(project.pulumi(["version"]), "pulumi version").stdout.trim()).toBe(PINNED_CLI);
    });

    it("lists the stack's config with secrets masked and every optional key at its default", () => {
        const listed = JSON.parse(expectOk(project.pulumi(["config", "--json"]), "pulumi config --json").stdout) as Record<string, { value?: string; secret: boolean }>;
        expect(listed["coinpilot:upbitSecretKey"]).toEqual({ secret: true });
        expect(listed["coinpilot:sshPrivateKey"].secret).toBe(true);
        expect(listed["coinpilot:postgresPassword"]).toEqual({ value: "", secret: false });
        expect(listed["coinpilot:ocpus"]).toEqual({ value: "2", secret: false });
        const text = expectOk(project.pulumi(["config"]), "pulumi config").stdout;
        expect(text).not.toContain("engine-test-secret");
        expect(text).toMatch(/upbitSecretKey\s+\[secret\]/);
    });

    it("previews every resource of the offline plan, with the same parents, protection, error hook and inputs", () => {
        const preview = previewJson(project);
        // The stack and the default providers are the engine's own; an explicit provider is the program's.
        const engine = preview.steps
            .filter((s) => s.newState && !s.newState.type.startsWith("pulumi:pulumi:") && !/::default(_[\d_]+)?$/.test(s.newState.urn))
            .map((s) => {
                const state = s.newState as NonNullable<typeof s.newState> & { resourceHooks?: { OnError?: string[] } };
                const parent = state.parent && !state.parent.includes("pulumi:pulumi:Stack") ? typeAndName(state.parent) : null;
                return describeResource({ type: state.type, name: typeAndName(state.urn).split("::")[1], parent, protect: state.protect, retainOnDelete: state.retainOnDelete, errorHooks: state.resourceHooks?.OnError });
            })
            .sort();
        expect(preview.steps.every((s) => s.op === "create")).toBe(true);
        // The README shows this preview; its count is the engine's.
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        expect(readme).toContain(`    + ${preview.steps.length} to create\n`);

        const plan = spawnSync("npm", ["run", "-s", "plan", "--", "--json", "--config-file", path.join(project.dir, "Pulumi.prod.yaml")], { cwd: ROOT, encoding: "utf8" });
        expect(plan.status).toBe(0);
        const planned = (JSON.parse(plan.stdout) as { resources: { type: string; name: string; parent: string | null; options?: { protect?: boolean; retainOnDelete?: boolean; errorHooks?: string[] } }[] }).resources
            .map((r) => describeResource({ ...r, protect: r.options?.protect, retainOnDelete: r.options?.retainOnDelete, errorHooks: r.options?.errorHooks }))
            .sort();
        expect(engine).toEqual(planned);
        expect(engine.filter((line) => line.includes("onError=coinpilot-a1-capacity-hunt"))).toHaveLength(1);

        // And every input both sides know (not unknown until the cloud answers, not secret) is equal.
        const planInputs = new Map((JSON.parse(plan.stdout) as { resources: { name: string; inputs: Record<string, unknown> }[] }).resources.map((r) => [r.name, leaves(r.inputs)]));
        let compared = 0;
        const differences: string[] = [];
        for (const step of preview.steps) {
            if (!step.newState || step.newState.type.startsWith("pulumi:")) continue;
            const name = typeAndName(step.urn).split("::")[1];
            const offline = planInputs.get(name) ?? new Map<string, unknown>();
            for (const [leaf, value] of leaves(redact(step.newState.inputs ?? {}) as Record<string, unknown>)) {
                if (value === UNKNOWN || value === SECRET_MARK || leaf.includes(".__")) continue;
                compared += 1;
                if (JSON.stringify(value) !== JSON.stringify(offline.get(leaf))) differences.push(`${name}${leaf}: engine ${JSON.stringify(value)}, plan ${JSON.stringify(offline.get(leaf))}`);
            }
        }
        expect(differences).toEqual([]);
        expect(compared).toBeGreaterThan(250);
    });

    it("gives the instance its own OCI provider, with the provider's retries off and the stack's oci:region", () => {
        const states = previewJson(project).steps.map((s) => s.newState as (PreviewStep["newState"] & { provider?: string }) | undefined);
        const provider = states.find((s) => s?.type === "pulumi:providers:oci" && s.urn.endsWith("::coinpilot-a1-provider"));
        expect(provider?.inputs).toMatchObject({ disableAutoRetries: "true", region: "ap-chuncheon-1" });
        expect(provider?.inputs?.retryDurationSeconds).toBeUndefined();
        const vm = states.find((s) => s?.type === "oci:Core/instance:Instance");
        expect(vm?.provider?.startsWith(`${provider?.urn}::`)).toBe(true);
        // Everything else stays on the default provider.
        const explicit = states.filter((s) => s?.provider && !/::default(_[\d_]+)?::/.test(s.provider)).map((s) => typeAndName(s!.urn));
        expect(explicit).toEqual(["oci:Core/instance:Instance::coinpilot-a1-vm"]);
    });
});

describe("Pulumi's config rules: the CLI and the offline plan refuse the same stacks", () => {
    const cases: [string, (config: Record<string, unknown>) => void][] = [
        ["required keys missing", (c) => { delete c["coinpilot:compartmentId"]; delete c["coinpilot:imageId"]; }],
        ["a typed secret stored in clear", (c) => { c["coinpilot:upbitAccessKey"] = "in-clear"; }],
        ["an integer key holding text", (c) => { c["coinpilot:ocpus"] = "two"; }],
        ["a boolean key holding True", (c) => { c["coinpilot:reservePublicIp"] = "True"; }],
    ];

    it.each(cases)("%s", (_name, mutate) => {
        const original = project.stackFile();
        const doc = structuredClone(original);
        mutate(doc.config as Record<string, unknown>);
        project.writeStackFile(doc);
        try {
            const offline = loadStackConfig(path.join(project.dir, "Pulumi.prod.yaml"), "prod");
            expect(offline.errors).toHaveLength(1);
            const run = project.pulumi(["preview"]);
            expect(run.code).not.toBe(0);
            expect(run.stdout + run.stderr).toContain(offline.errors[0]);
        } finally {
            project.writeStackFile(original);
        }
    });

    it("the program refuses an optional secret stored in clear and warns about an undeclared key", () => {
        const original = project.stackFile();
        const doc = structuredClone(original);
        Object.assign(doc.config as Record<string, unknown>, { "coinpilot:postgresPassword": "in-clear", "coinpilot:memoryInGb": "24" });
        project.writeStackFile(doc);
        try {
            const run = project.pulumi(["preview"]);
            expect(run.code).not.toBe(0);
            const output = run.stdout + run.stderr;
            expect(output).toContain("coinpilot:postgresPassword: is stored in clear in the stack file; set it encrypted");
            expect(output).toContain("coinpilot:memoryInGb is set but Pulumi.yaml does not declare it");
        } finally {
            project.writeStackFile(original);
        }
    });
});
