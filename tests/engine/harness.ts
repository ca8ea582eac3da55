// The real Pulumi engine for tests: the pinned CLI and language host (scripts/engine/toolchain.sh puts
// them on PATH, run by scripts/engine/test.sh), the stand-in providers of engine/bin, a file backend and
// a copy of the program in a temporary project directory per test file.
import { spawnSync } from "child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { exampleConfig } from "../helpers/example-config";
import { parse, stringify } from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");
/** What a program copy needs: the project file, the program and what it reads at run time. */
const PROGRAM_FILES = ["Pulumi.yaml", "index.ts", "config.ts", "components", "lib", "assets", "package.json", "tsconfig.json"];
export const PASSPHRASE = "engine-test-passphrase";
export const PINNED_CLI = `v${(JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"]}`;

export interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface Project {
    readonly dir: string;
    /** Runs `pulumi ARGS` in the project with the offline engine environment; `input` goes to stdin. */
    pulumi(args: readonly string[], input?: string): Run;
    /** Runs any command (npm, node) in the project directory with the same environment. */
    run(command: string, args: readonly string[], input?: string): Run;
    /** Reads or rewrites the stack's config file. */
    stackFile(stack?: string): Record<string, unknown>;
    writeStackFile(doc: Record<string, unknown>, stack?: string): void;
    remove(): void;
}

/** The environment of an offline engine run: no plugin downloads, no update check, a local backend. */
export function engineEnv(home: string): NodeJS.ProcessEnv {
    const bin = process.env.COINPILOT_ENGINE_BIN;
    if (!bin) throw new Error("COINPILOT_ENGINE_BIN is not set: run the engine tests with `npm run test:engine` (it builds the toolchain)");
    return {
        ...process.env,
        PATH: `${bin}${path.delimiter}${path.join(ROOT, "engine", "bin")}${path.delimiter}${process.env.PATH}`,
        PULUMI_HOME: path.join(home, ".pulumi-home"),
        PULUMI_BACKEND_URL: `file://${path.join(home, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        NO_COLOR: "1",
        CI: "true",
    };
}

/** A copy of the program in a fresh directory, sharing the repo's node_modules. */
export function newProject(prefix = "coinpilot-engine-"): Project {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    for (const file of PROGRAM_FILES) cpSync(path.join(ROOT, file), path.join(dir, file), { recursive: true });
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    mkdirSync(path.join(dir, "state"));
    const env = engineEnv(dir);
    const run = (command: string, args: readonly string[], input?: string): Run => {
        const result = spawnSync(command, [...args], { cwd: dir, env, input: input ?? "", encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (result.error) throw result.error;
        return { code: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
    };
    const stackPath = (stack: string) => path.join(dir, `Pulumi.${stack}.yaml`);
    return {
        dir,
        run,
        pulumi: (args, input) => run("pulumi", ["--non-interactive", ...args], input),
        stackFile: (stack = "prod") => (parse(readFileSync(stackPath(stack), "utf8")) ?? {}) as Record<string, unknown>,
        writeStackFile: (doc, stack = "prod") => writeFileSync(stackPath(stack), stringify(doc)),
        remove: () => rmSync(dir, { recursive: true, force: true }),
    };
}

/** Fails with the command's output, so a broken engine run explains itself in the test log. */
export function expectOk(run: Run, what: string): Run {
    if (run.code !== 0) throw new Error(`${what} exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    return run;
}

/**
 * Creates stack `prod` and sets the example stack's values the way the README tells a user to: plain
 * keys with `pulumi config set`, secrets with `--secret` (a fresh throwaway SSH key for sshPrivateKey).
 */
export function initExampleStack(project: Project, extra: Record<string, string> = {}): void {
    expectOk(project.pulumi(["stack", "init", "prod"]), "pulumi stack init prod");
    const example = exampleConfig();
    // The namespace named too, so the off-host bucket needs no getNamespace invoke (the OCI API).
    for (const [key, value] of Object.entries({ ...example, "coinpilot:offsiteNamespace": EXAMPLE_NAMESPACE, ...extra })) {
        if (value !== null && typeof value === "object") {
            if ("secure" in value) continue; // secure placeholders: set below
            // A plain map (coinpilot:appEnv): each entry by path, as the README tells a user.
            for (const [entry, text] of Object.entries(value)) expectOk(project.pulumi(["config", "set", "--path", `${key}.${entry}`, String(text)]), `pulumi config set --path ${key}.${entry}`);
            continue;
        }
        expectOk(project.pulumi(["config", "set", key, String(value)]), `pulumi config set ${key}`);
    }
    const key = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(project.dir, "id_test"), "-C", "engine-test"], { encoding: "utf8" });
    if (key.status !== 0) throw new Error(`ssh-keygen failed: ${key.stderr}`);
    expectOk(project.pulumi(["config", "set", "--secret", "coinpilot:sshPrivateKey"], readFileSync(path.join(project.dir, "id_test"), "utf8")), "set sshPrivateKey");
    expectOk(project.pulumi(["config", "set", "--secret", "coinpilot:upbitAccessKey", "engine-test-access"]), "set upbitAccessKey");
    expectOk(project.pulumi(["config", "set", "--secret", "coinpilot:upbitSecretKey", "engine-test-secret"]), "set upbitSecretKey");
}

/** The AD named, so no data-source invoke (which needs the OCI API) runs. */
export const EXAMPLE_AD = "Uocm:AP-CHUNCHEON-1-AD-1";
/** The Object Storage namespace named, for the same reason (components/offsite.ts). */
export const EXAMPLE_NAMESPACE = "exampletenancyns";

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
    readonly op: string;
    readonly urn: string;
    readonly replaceReasons?: string[];
    readonly diffReasons?: string[];
    readonly newState?: { type: string; urn: string; parent?: string; protect?: boolean; retainOnDelete?: boolean; deleteBeforeReplace?: boolean; inputs?: Record<string, unknown> };
    readonly oldState?: { type: string; urn: string; parent?: string; protect?: boolean };
}

export function previewJson(project: Project, extraArgs: readonly string[] = []): { steps: PreviewStep[]; diagnostics?: unknown[] } {
    const run = expectOk(project.pulumi(["preview", "--json", ...extraArgs]), "pulumi preview --json");
    return JSON.parse(run.stdout);
}

/** `urn:pulumi:prod::coinpilot::a$b$c::name` → `c::name` (type::name, as the offline plan names parents). */
export function typeAndName(urn: string): string {
    const [, , qualified, name] = urn.split("::");
    return `${qualified.split("$").pop()}::${name}`;
}
