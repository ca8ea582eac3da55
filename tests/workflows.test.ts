// The GitHub workflows: schema-checked with action-validator (GitHub's workflow/action JSON schemas,
// compiled to wasm, no network), then the fields that make review and deploys safe, one by one.
import { execFileSync } from "child_process";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { validateAction, validateWorkflow } from "@action-validator/core";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const PREVIEW = ".github/workflows/preview.yml";
const UP = ".github/workflows/up.yml";
const SETUP = ".github/actions/install-and-test/action.yml";

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; shell?: string };
const workflow = (file: string) => parse(read(file));
const pulumiStep = (file: string): Step => {
    const steps: Step[] = workflow(file).jobs[Object.keys(workflow(file).jobs)[0]].steps;
    const found = steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(found).toHaveLength(1);
    return found[0];
};

/** Every secret the Pulumi step needs: backend (Pulumi Cloud or self-managed) and OCI API key auth. */
const PULUMI_ENV = [
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "OCI_TENANCY_OCID",
    "OCI_USER_OCID",
    "OCI_FINGERPRINT",
    "OCI_PRIVATE_KEY",
    "OCI_REGION",
];

describe("schema check (action-validator)", () => {
    it.each([PREVIEW, UP])("%s is a valid workflow", (file) => {
        expect(validateWorkflow(read(file)).errors).toEqual([]);
    });

    it("the shared install-and-test step is a valid composite action", () => {
        expect(validateAction(read(SETUP)).errors).toEqual([]);
    });

    it("catches a mistyped permission and a misspelt step key", () => {
        const broken = read(PREVIEW).replace("pull-requests: write", "pull-request: write").replace("uses: actions/checkout@v6", "usess: actions/checkout@v6");
        const errors = JSON.stringify(validateWorkflow(broken).errors);
        expect(errors).toContain("Additional property 'pull-request' is not allowed");
        expect(errors).toContain("Additional property 'usess' is not allowed");
    });
});

describe("preview.yml", () => {
    const doc = workflow(PREVIEW);

    it("runs on pull requests with only contents:read and pull-requests:write", () => {
        expect(Object.keys(doc.on)).toEqual(["pull_request"]);
        expect(doc.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    });

    it("checks out, installs and tests, then previews", () => {
        const steps: Step[] = doc.jobs.preview.steps;
        expect(steps.map((s) => s.uses)).toEqual(["actions/checkout@v6", "./.github/actions/install-and-test", "pulumi/actions@v7"]);
    });

    it("previews the prod stack with the diff as a PR comment and the policy pack", () => {
        expect(pulumiStep(PREVIEW).with).toEqual({
            command: "preview",
            "stack-name": "prod",
            "work-dir": ".",
            "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}",
            "comment-on-pr": true,
            diff: true,
            policyPacks: "policy",
        });
    });
});

describe("up.yml", () => {
    const doc = workflow(UP);

    it("runs only by hand, in the protected production environment, without PR write access", () => {
        expect(Object.keys(doc.on)).toEqual(["workflow_dispatch"]);
        expect(doc.jobs.up.environment).toBe("production");
        expect(doc.permissions).toEqual({ contents: "read" });
    });

    it("runs the same gate, then `pulumi up` with the policy pack", () => {
        expect(doc.jobs.up.steps.map((s: Step) => s.uses)).toEqual(["actions/checkout@v6", "./.github/actions/install-and-test", "pulumi/actions@v7"]);
        expect(pulumiStep(UP).with).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy", "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}" });
    });
});

describe("both workflows", () => {
    it("share one concurrency group per stack and never cancel a running operation", () => {
        const [preview, up] = [workflow(PREVIEW).concurrency, workflow(UP).concurrency];
        expect(preview).toEqual({ group: "pulumi-stack-prod", "cancel-in-progress": false });
        expect(up).toEqual(preview);
    });

    it.each([PREVIEW, UP])("%s gives the Pulumi step every credential, each from a repository secret of the same role", (file) => {
        const env = pulumiStep(file).env!;
        expect(Object.keys(env).sort()).toEqual([...PULUMI_ENV].sort());
        for (const value of Object.values(env)) expect(value).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
        expect(env.OCI_PRIVATE_KEY).toBe("${{ secrets.OCI_PRIVATE_KEY }}");
    });

    it("point the policy pack at a directory that holds one", () => {
        expect(existsSync(path.join(ROOT, "policy/PulumiPolicy.yaml"))).toBe(true);
        expect(JSON.parse(read("policy/package.json")).dependencies["@pulumi/policy"]).toBeDefined();
    });
});

describe("install-and-test", () => {
    const steps: Step[] = parse(read(SETUP)).runs.steps;

    it("uses Node 20 with the npm cache over both lock files", () => {
        expect(steps[0]).toEqual({
            uses: "actions/setup-node@v6",
            with: { "node-version": 20, cache: "npm", "cache-dependency-path": "package-lock.json\npolicy/package-lock.json\n" },
        });
    });

    it("installs the program (whose postinstall installs the policy pack), then runs npm test as root under CI=true", () => {
        const runs = steps.filter((s) => s.run).map((s) => s.run!.trim());
        expect(runs[0]).toBe("npm ci");
        expect(JSON.parse(read("package.json")).scripts.postinstall).toBe("npm ci --prefix policy --no-audit --no-fund");
        expect(runs[runs.length - 1]).toBe('sudo --preserve-env env "PATH=$PATH" CI=true npm test');
    });

    it("installs exactly .ci/run's apt list (read from it, not copied)", () => {
        const install = steps.find((s) => s.run?.includes("apt-get install"))!.run!;
        const expression = /\$\((sed .*\.ci\/run)\)/.exec(install)![1];
        const listed = execFileSync("bash", ["-c", expression], { cwd: ROOT, encoding: "utf8" }).trim().split(/\s+/);
        const declared = /^APT_PACKAGES="(.*)"$/m.exec(read(".ci/run"))![1].split(/\s+/);
        expect(listed).toEqual(declared);
        expect(listed).toContain("shellcheck");
    });
});
