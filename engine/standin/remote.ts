// What the stand-in command provider does for real when the end-to-end tier asks for it
// (COINPILOT_STANDIN_SSH=1, tests/e2e): command:remote:Command and command:remote:CopyToRemote over SSH,
// with pulumi-command's semantics (provider/pkg/provider/remote in pulumi/pulumi-command):
// - the connection's dialErrorLimit (default 10) and perDialTimeout (default 15 s) bound the dials;
//   the host key is not checked (pulumi-command's client accepts any);
// - Command: `create` on create; on update `update`, else `create` again; `delete` on delete. The
//   command string goes to the remote user's shell; `stdin` is its standard input (none when unset);
//   `environment` is sent as SSH environment requests, which sshd honours only for names in AcceptEnv;
//   with addPreviousOutputInEnv (default true) an update or delete also sends PULUMI_COMMAND_STDOUT/ERR.
//   A non-zero exit fails the step with the command's output.
// - CopyToRemote: the source asset's content written to remotePath (pulumi-command uses SFTP; here scp,
//   which speaks SFTP too); delete leaves the file (as pulumi-command does).
// The OpenSSH client is used rather than an npm SSH library: it is what an operator's machine has, it
// needs no new dependency, and the key only ever sits in a 0600 file in a private temp directory.
import { spawn } from "child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

export const COMMAND = "command:remote:Command";
export const COPY_TO_REMOTE = "command:remote:CopyToRemote";

/** True when the e2e tier asked the stand-in to reach the host for real. */
export function sshEnabled(): boolean {
    return process.env.COINPILOT_STANDIN_SSH === "1";
}

interface Connection {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    dialErrorLimit: number;
    perDialTimeout: number;
}

function connectionOf(inputs: Record<string, unknown>): Connection {
    const c = (inputs.connection ?? {}) as Record<string, unknown>;
    if (typeof c.host !== "string" || c.host === "") throw new Error("connection.host is required");
    if (typeof c.privateKey !== "string" || c.privateKey === "") {
        throw new Error("the e2e stand-in connects with connection.privateKey only (no agent, no password)");
    }
    return {
        host: c.host,
        port: typeof c.port === "number" ? c.port : 22,
        user: typeof c.user === "string" && c.user !== "" ? c.user : "root",
        privateKey: c.privateKey.endsWith("\n") ? c.privateKey : `${c.privateKey}\n`,
        dialErrorLimit: typeof c.dialErrorLimit === "number" ? c.dialErrorLimit : 10,
        perDialTimeout: typeof c.perDialTimeout === "number" ? c.perDialTimeout : 15,
    };
}

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

function run(file: string, args: string[], stdin?: string): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => err.push(d));
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
        if (stdin !== undefined) {
            child.stdin!.on("error", () => undefined); // a command that does not read its stdin closes it early
            child.stdin!.end(stdin);
        }
    });
}

/** One line per call into COINPILOT_STANDIN_LOG (the e2e test's request log): what ran where, how it ended. */
function record(line: string): void {
    const file = process.env.COINPILOT_STANDIN_LOG;
    if (file) appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
}

/** A private directory holding the key for one call; removed afterwards. */
async function withKey<T>(conn: Connection, body: (options: string[]) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(path.join(tmpdir(), "standin-ssh-"));
    try {
        const key = path.join(dir, "key");
        writeFileSync(key, conn.privateKey, { mode: 0o600 });
        const options = [
            "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", `ConnectTimeout=${conn.perDialTimeout}`,
        ];
        return await body(options);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

const SSH_CONNECT_FAILED = 255;

/** Dials until the host answers, at most dialErrorLimit times (as pulumi-command's dial loop). */
async function dial(conn: Connection, options: string[]): Promise<void> {
    let last = "";
    for (let attempt = 1; attempt <= Math.max(1, conn.dialErrorLimit); attempt++) {
        const probe = await run("ssh", [...options, "-p", String(conn.port), `${conn.user}@${conn.host}`, "true"]);
        if (probe.code === 0) return;
        last = probe.stderr.trim();
        if (probe.code !== SSH_CONNECT_FAILED) break;
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`unable to dial ${conn.user}@${conn.host}:${conn.port} after ${conn.dialErrorLimit} attempts: ${last}`);
}

/** `-o SetEnv=...` for the variables that fit on one line (sshd drops those not in AcceptEnv). */
function setEnvOptions(env: Record<string, string>): string[] {
    const words = Object.entries(env)
        .filter(([, value]) => !/[\n"]/.test(value))
        .map(([key, value]) => `${key}="${value}"`);
    return words.length ? ["-o", `SetEnv=${words.join(" ")}`] : [];
}

function tail(text: string, lines = 40): string {
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Runs one command string on the host; fails with its output on a non-zero exit. */
export async function runRemote(urn: string, phase: string, inputs: Record<string, unknown>, command: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
    const conn = connectionOf(inputs);
    const stdin = typeof inputs.stdin === "string" ? inputs.stdin : undefined;
    return withKey(conn, async (options) => {
        await dial(conn, options);
        const started = Date.now();
        const result = await run("ssh", [...options, ...setEnvOptions(env), "-p", String(conn.port), `${conn.user}@${conn.host}`, "--", command], stdin);
        record(`${phase} ${urn.split("::").pop()} exit=${result.code} ${Date.now() - started}ms`);
        if (result.code !== 0) {
            throw new Error(`Process exited with status ${result.code}: running ${JSON.stringify(command)}\n--- stdout\n${tail(result.stdout)}\n--- stderr\n${tail(result.stderr)}`);
        }
        return { stdout: result.stdout, stderr: result.stderr };
    });
}

/** The outputs-in-env of an update or delete (addPreviousOutputInEnv, default true). */
export function previousOutputEnv(inputs: Record<string, unknown>, olds: Record<string, unknown>): Record<string, string> {
    if (inputs.addPreviousOutputInEnv === false) return {};
    return { PULUMI_COMMAND_STDOUT: String(olds.stdout ?? ""), PULUMI_COMMAND_STDERR: String(olds.stderr ?? "") };
}

export function environmentOf(inputs: Record<string, unknown>): Record<string, string> {
    const env = (inputs.environment ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** The content of a FileAsset or StringAsset input, whether the SDK handed it over as an object or as wire data. */
export async function assetContent(source: unknown): Promise<Buffer> {
    const asset = source as { text?: unknown; path?: unknown; uri?: unknown };
    const text = await asset.text;
    if (typeof text === "string") return Buffer.from(text, "utf8");
    const file = await asset.path;
    if (typeof file === "string") return readFileSync(path.resolve(file));
    throw new Error("CopyToRemote: the e2e stand-in copies FileAsset and StringAsset sources only");
}

/** Writes the source asset to remotePath on the host. */
export async function copyToRemote(urn: string, inputs: Record<string, unknown>): Promise<void> {
    const conn = connectionOf(inputs);
    const remotePath = inputs.remotePath;
    if (typeof remotePath !== "string" || remotePath === "") throw new Error("remotePath is required");
    const content = await assetContent(inputs.source);
    await withKey(conn, async (options) => {
        const local = path.join(path.dirname(options[1]), path.basename(remotePath));
        writeFileSync(local, content, { mode: 0o644 });
        await dial(conn, options);
        const result = await run("scp", [...options, "-q", "-P", String(conn.port), local, `${conn.user}@${conn.host}:${remotePath}`]);
        record(`copy ${urn.split("::").pop()} -> ${remotePath} exit=${result.code}`);
        if (result.code !== 0) throw new Error(`failed to copy to ${remotePath}: ${tail(result.stderr)}`);
    });
}
