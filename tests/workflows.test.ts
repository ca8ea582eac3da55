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
const TEST_ACTION = ".github/actions/install-and-test/action.yml";
const INSTALL_ACTION = ".github/actions/install/action.yml";
/** The concurrency group of the one job that changes the stack. */
const STACK_LOCK = "pulumi-stack-prod";

type Step = { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; env?: Record<string, string>; shell?: string };
type Job = { needs?: string | string[]; environment?: string; concurrency?: unknown; steps: Step[] };
const workflow = (file: string) => parse(read(file));
const jobs = (file: string): Record<string, Job> => workflow(file).jobs;
/** The job holding the workflow's one Pulumi step, and that step. */
const pulumiJob = (file: string): { id: string; job: Job; step: Step } => {
    const found = Object.entries(jobs(file)).flatMap(([id, job]) => job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@")).map((step) => ({ id, job, step })));
    expect(found).toHaveLength(1);
    return found[0];
};
const pulumiStep = (file: string): Step => pulumiJob(file).step;
const needsOf = (job: Job): string[] => (job.needs === undefined ? [] : ([] as string[]).concat(job.needs));
/** Every job `id` waits for, directly or through others. */
function upstream(file: string, id: string): string[] {
    const direct = needsOf(jobs(file)[id]);
    return [...direct, ...direct.flatMap((need) => upstream(file, need))];
}

/**
 * Evaluates a step's `if:` of the form `<context path> == <context path>` against a context, the
 * way GitHub compares two strings. Anything else fails the test, so a rewritten condition gets a new check.
 */
function evaluateIf(expression: string, context: Record<string, unknown>): boolean {
    const match = /^([\w.]+) == ([\w.]+)$/.exec(expression.trim());
    if (!match) throw new Error(`unsupported condition ${expression}`);
    const resolve = (dotted: string) => dotted.split(".").reduce<any>((value, key) => value?.[key], context);
    const [left, right] = [resolve(match[1]), resolve(match[2])];
    expect(typeof left).toBe("string");
    expect(typeof right).toBe("string");
    return left.toLowerCase() === right.toLowerCase();
}

/** The `github` context of a pull_request run (the fields GitHub fills in), from a branch or a fork. */
function pullRequestContext(headRepo: string): Record<string, unknown> {
    const repository = "example/coinpilot-infra";
    return { github: { repository, event_name: "pull_request", event: { pull_request: { number: 7, head: { ref: "feature", repo: { full_name: headRepo } }, base: { repo: { full_name: repository } } } } } };
}

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

    it.each([TEST_ACTION, INSTALL_ACTION])("%s is a valid composite action", (file) => {
        expect(validateAction(read(file)).errors).toEqual([]);
    });

    it("catches a mistyped permission, a misspelt step key and a misspelt job-level concurrency key", () => {
        const broken = read(PREVIEW).replace("pull-requests: write", "pull-request: write").replace("uses: actions/checkout@v6", "usess: actions/checkout@v6");
        const errors = JSON.stringify(validateWorkflow(broken).errors);
        expect(errors).toContain("Additional property 'pull-request' is not allowed");
        expect(errors).toContain("Additional property 'usess' is not allowed");
        const lock = JSON.stringify(validateWorkflow(read(UP).replace("cancel-in-progress: false", "cancel-in-progres: false")).errors);
        expect(lock).toContain("Additional property 'cancel-in-progres' is not allowed");
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

    it("previews a branch of this repository, and skips the preview (not the tests) for a fork, which gets no secrets", () => {
        const steps: Step[] = doc.jobs.preview.steps;
        expect(steps.filter((s) => s.if !== undefined)).toEqual([pulumiStep(PREVIEW)]);
        const condition = pulumiStep(PREVIEW).if!;
        expect(evaluateIf(condition, pullRequestContext("example/coinpilot-infra"))).toBe(true);
        expect(evaluateIf(condition, pullRequestContext("someone/coinpilot-infra"))).toBe(false);
    });

    it("supersedes the same PR's older preview, queued or running, and never enters the stack lock", () => {
        expect(doc.concurrency).toEqual({ group: "preview-pr-${{ github.event.pull_request.number }}", "cancel-in-progress": true });
        expect(doc.jobs.preview.concurrency).toBeUndefined();
    });
});

describe("up.yml", () => {
    const doc = workflow(UP);

    it("runs only by hand, without PR write access", () => {
        expect(Object.keys(doc.on)).toEqual(["workflow_dispatch"]);
        expect(doc.permissions).toEqual({ contents: "read" });
    });

    it("tests, then waits for the production environment's approval, then runs `pulumi up` with the policy pack", () => {
        expect(doc.jobs.test.steps.map((s: Step) => s.uses)).toEqual(["actions/checkout@v6", "./.github/actions/install-and-test"]);
        expect(doc.jobs.approve).toMatchObject({ needs: "test", environment: "production" });
        expect(doc.jobs.up.needs).toBe("approve");
        expect(doc.jobs.up.steps.map((s: Step) => s.uses)).toEqual(["actions/checkout@v6", "./.github/actions/install", "pulumi/actions@v7"]);
        expect(pulumiStep(UP).with).toMatchObject({ command: "up", "stack-name": "prod", policyPacks: "policy", "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}" });
    });

    it("the approval job reads no secret and runs no Pulumi", () => {
        const approve = JSON.stringify(doc.jobs.approve);
        expect(approve).not.toContain("secrets.");
        expect(approve).not.toContain("pulumi/actions");
    });

    it("takes the stack lock only in the job that runs Pulumi, after the approval, and never cancels a running `up`", () => {
        expect(doc.concurrency).toBeUndefined();
        const { id, job } = pulumiJob(UP);
        expect(job.concurrency).toEqual({ group: STACK_LOCK, "cancel-in-progress": false });
        expect(job.environment).toBeUndefined();
        const approvals = Object.entries(jobs(UP)).filter(([, j]) => j.environment === "production").map(([jobId]) => jobId);
        expect(approvals).toEqual(["approve"]);
        expect(upstream(UP, id)).toEqual(expect.arrayContaining(["approve", "test"]));
    });
});

describe("both workflows", () => {
    const everyJob = [PREVIEW, UP].flatMap((file) => Object.entries(jobs(file)).map(([id, job]) => ({ file, id, job })));
    /** A job's group: its own, else its workflow's; the short form `concurrency: <group>` counts too. */
    const concurrencyOf = (file: string, job: Job): { group: string } | undefined => {
        const setting = (job.concurrency ?? workflow(file).concurrency) as string | { group: string } | undefined;
        return typeof setting === "string" ? { group: setting } : setting;
    };

    it("no job waits for an environment's approval while holding a concurrency group", () => {
        // GitHub takes a job's group before evaluating its environment's protection rules.
        for (const { file, job } of everyJob) if (job.environment) expect(concurrencyOf(file, job)).toBeUndefined();
    });

    it("only the job running `pulumi up` holds the stack lock; no preview can evict an `up` pending there", () => {
        const holders = everyJob.filter(({ file, job }) => concurrencyOf(file, job)?.group === STACK_LOCK).map(({ file, id }) => `${file}#${id}`);
        expect(holders).toEqual([`${UP}#${pulumiJob(UP).id}`]);
        expect(pulumiStep(UP).with!.command).toBe("up");
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

describe("install", () => {
    const steps: Step[] = parse(read(INSTALL_ACTION)).runs.steps;

    it("uses Node 20 with the npm cache over both lock files, then npm ci (whose postinstall installs the policy pack)", () => {
        expect(steps).toEqual([
            { uses: "actions/setup-node@v6", with: { "node-version": 20, cache: "npm", "cache-dependency-path": "package-lock.json\npolicy/package-lock.json\n" } },
            { shell: "bash", run: "npm ci" },
        ]);
        expect(JSON.parse(read("package.json")).scripts.postinstall).toBe("npm ci --prefix policy --no-audit --no-fund");
    });
});

describe("install-and-test", () => {
    const steps: Step[] = parse(read(TEST_ACTION)).runs.steps;

    it("installs through the install action, then runs npm test as root under CI=true", () => {
        expect(steps[0]).toEqual({ uses: "./.github/actions/install" });
        expect(existsSync(path.join(ROOT, INSTALL_ACTION))).toBe(true);
        expect(steps[steps.length - 1].run!.trim()).toBe('sudo --preserve-env env "PATH=$PATH" CI=true npm test');
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
