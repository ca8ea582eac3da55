// Throwaway PostgreSQL and Redis servers for the backup tests: each on a free loopback port in its
// own temp dir, no system service, stopped and removed by `stop()` (call it in afterAll).
// PostgreSQL refuses to run as root, so as root (CI) it runs as the `postgres` user via runuser.
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as net from "net";
import { scratchDir } from "./scratch";
import * as path from "path";

export const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
/** The scripts under test; BACKUP_SCRIPTS_DIR points the suites at another copy (e.g. an older commit's, to show a test fails there). */
export const BACKUP_DIR = process.env.BACKUP_SCRIPTS_DIR ?? path.join(REPO_ROOT, "assets", "backup");

/** Absolute path of a binary (absolute paths are taken as is), or undefined when it is missing. */
export function findBinary(name: string): string | undefined {
    const candidates = name.includes("/") ? [name] : (process.env.PATH ?? "").split(":").map((dir) => path.join(dir, name));
    return candidates.find((file) => {
        try {
            fs.accessSync(file, fs.constants.X_OK);
            return true;
        } catch {
            return false;
        }
    });
}

/**
 * `describe` when every binary is present, and always under CI=true (where a missing binary must
 * fail the suite, not skip it: `requireBinaries` in beforeAll then throws). Locally a missing binary
 * skips the suite with a note.
 */
export function describeWithBinaries(binaries: readonly string[], title: string, body: () => void): void {
    const missing = binaries.filter((b) => !findBinary(b));
    if (missing.length && process.env.CI !== "true") {
        describe.skip(`${title} (skipped: missing ${missing.join(", ")})`, body);
    } else {
        describe(title, body);
    }
}

export function requireBinaries(binaries: readonly string[]): void {
    const missing = binaries.filter((b) => !findBinary(b));
    if (missing.length) throw new Error(`missing binaries: ${missing.join(", ")} (CI installs postgresql, redis-server, cron and shellcheck with apt-get)`);
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns true; throws `describe()`'s text after `timeoutMs`. */
async function waitFor(probe: () => boolean, timeoutMs: number, describeFailure: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
        if (Date.now() > deadline) throw new Error(describeFailure());
        await sleep(50);
    }
}

function tail(file: string): string {
    try {
        return fs.readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
    } catch {
        return "(no log)";
    }
}

// ---------------------------------------------------------------------------------------------

export interface PgServer {
    readonly port: number;
    readonly user: string;
    readonly password: string;
    /** The database created at start (the "CoinPilot" one). */
    readonly database: string;
    /** Path of a PostgreSQL client binary (pg_dump, psql, pg_restore). */
    bin(name: string): string;
    /** Runs SQL with psql over TCP and returns the unaligned, tuples-only output (trimmed). */
    psql(sql: string, database?: string): string;
    stop(): void;
}

/** The backup scripts' command variables, pointed at a local test server instead of `docker exec`. */
export function postgresCommandEnv(pg: PgServer): Record<"PG_DUMP_CMD" | "PSQL_CMD" | "PG_RESTORE_CMD", string> {
    const target = `-h 127.0.0.1 -p ${pg.port}`;
    return {
        PG_DUMP_CMD: `${pg.bin("pg_dump")} ${target}`,
        PSQL_CMD: `${pg.bin("psql")} ${target}`,
        PG_RESTORE_CMD: `${pg.bin("pg_restore")} ${target}`,
    };
}

const PG_USER = "coinpilot";

/** Runs a server-side PostgreSQL binary, as the `postgres` user when we are root. */
function runAsPostgres(args: readonly string[]): string[] {
    return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...args] : [...args];
}

function chownToPostgres(paths: readonly string[]): void {
    if (process.getuid?.() !== 0) return;
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    for (const p of paths) fs.chownSync(p, uid, gid);
}

/** initdb + pg_ctl start on a free port with password (scram) auth over TCP; creates `database`. */
export async function startPostgres(options: { password?: string; database?: string } = {}): Promise<PgServer> {
    requireBinaries([path.join(PG_BIN, "initdb"), path.join(PG_BIN, "pg_ctl"), path.join(PG_BIN, "psql")]);
    const password = options.password ?? "test-password";
    const database = options.database ?? "coinpilot";
    const dir = scratchDir("pg");
    const data = path.join(dir, "data");
    const pwfile = path.join(dir, "pwfile");
    const logFile = path.join(dir, "server.log");
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    fs.writeFileSync(logFile, "");
    chownToPostgres([dir, pwfile, logFile]);

    let stopped = false;
    const ctl = (...args: string[]) => runAsPostgres([path.join(PG_BIN, "pg_ctl"), "-D", data, ...args]);
    const stop = () => {
        if (stopped) return;
        stopped = true;
        if (fs.existsSync(path.join(data, "postmaster.pid"))) {
            const [cmd, ...rest] = ctl("-m", "immediate", "-w", "stop");
            spawnSync(cmd, rest, { stdio: "ignore" });
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };

    try {
        const [initCmd, ...initArgs] = runAsPostgres([
            path.join(PG_BIN, "initdb"), "-D", data, "-U", PG_USER, `--pwfile=${pwfile}`,
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
        ]);
        execFileSync(initCmd, initArgs, { stdio: "pipe" });
        let port = 0;
        // A free port can be taken between our probe and the server's bind: retry on a new one.
        for (let attempt = 1; ; attempt++) {
            port = await freePort();
            const [cmd, ...args] = ctl("-w", "-t", "60", "-l", logFile, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC`, "start");
            const started = spawnSync(cmd, args, { encoding: "utf8" });
            if (started.status === 0) break;
            if (attempt === 3) throw new Error(`pg_ctl start failed: ${started.stderr}\n${tail(logFile)}`);
        }
        const psql = (sql: string, db = database) =>
            execFileSync(path.join(PG_BIN, "psql"), ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", PG_USER, "-d", db, "-c", sql], {
                encoding: "utf8",
                env: { ...process.env, PGPASSWORD: password },
            }).trim();
        psql(`CREATE DATABASE ${database}`, "postgres");
        return { port, user: PG_USER, password, database, bin: (name) => path.join(PG_BIN, name), psql, stop };
    } catch (error) {
        stop();
        throw error;
    }
}

// ---------------------------------------------------------------------------------------------

export interface RedisServer {
    readonly port: number;
    readonly dir: string;
    /** Runs one redis-cli command against this server and returns its reply (trimmed). */
    cli(...args: string[]): string;
    stop(): Promise<void>;
}

/**
 * redis-server on a free port, persistence off unless asked for, DEBUG enabled for DIGEST. With
 * `rdb`, that file is copied in as dump.rdb and loaded at start (resolves once loading is done).
 */
export async function startRedis(options: { rdb?: string; password?: string } = {}): Promise<RedisServer> {
    requireBinaries(["redis-server", "redis-cli"]);
    const dir = scratchDir("redis");
    if (options.rdb) fs.copyFileSync(options.rdb, path.join(dir, "dump.rdb"));
    const logFile = path.join(dir, "server.log");
    let child: ChildProcess | undefined;
    let port = 0;
    const auth = options.password ? { env: { ...process.env, REDISCLI_AUTH: options.password } } : {};
    const cli = (...args: string[]) => {
        const result = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", ...auth });
        if (result.status !== 0) throw new Error(`redis-cli ${args.join(" ")}: ${result.stderr}`);
        return result.stdout.trim();
    };
    const stop = async () => {
        const running = child;
        child = undefined;
        if (running && running.exitCode === null && running.signalCode === null) {
            const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
            running.kill("SIGKILL");
            await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        for (let attempt = 1; ; attempt++) {
            port = await freePort();
            child = spawn(
                "redis-server",
                ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--logfile", logFile, "--enable-debug-command", "yes", ...(options.password ? ["--requirepass", options.password] : [])],
                { stdio: "ignore" },
            );
            const proc = child;
            try {
                await waitFor(
                    () => {
                        if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}):\n${tail(logFile)}`);
                        return spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "PING"], { encoding: "utf8", ...auth }).stdout.trim() === "PONG";
                    },
                    15000,
                    () => `redis-server on ${port} did not answer PING:\n${tail(logFile)}`,
                );
                break;
            } catch (error) {
                if (attempt === 3 || !tail(logFile).includes("Address already in use")) throw error;
            }
        }
        return { port, dir, cli, stop };
    } catch (error) {
        await stop();
        throw error;
    }
}

// ---------------------------------------------------------------------------------------------

export interface BlackHole {
    readonly port: number;
    close(): Promise<void>;
}

/**
 * A TCP port on 127.0.0.1 that accepts connections and never answers: a server that is up but
 * hung. The kernel completes the handshake even while the event loop is blocked (spawnSync).
 */
export async function startBlackHole(): Promise<BlackHole> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    return {
        port,
        close: () =>
            new Promise<void>((resolve) => {
                for (const socket of sockets) socket.destroy();
                server.close(() => resolve());
            }),
    };
}

// ---------------------------------------------------------------------------------------------

export interface ScriptResult {
    readonly status: number | null;
    readonly output: string;
    /** The log lines the run appended (every *.log in LOG_DIR), in file order. */
    readonly logged: string;
    /** Wall-clock seconds the run took. */
    readonly seconds: number;
}

export interface RunOptions {
    /** Kill the run (SIGKILL) after this many ms; the result then has status null. Defaults to none. */
    readonly timeoutMs?: number;
    /** Skip the one-ERROR-line check (for runs of old scripts or runs killed from outside). Defaults to false. */
    readonly anyErrorLines?: boolean;
}

function logSizes(dir: string | undefined): Map<string, number> {
    const sizes = new Map<string, number>();
    if (!dir || !fs.existsSync(dir)) return sizes;
    for (const f of fs.readdirSync(dir)) if (f.endsWith(".log")) sizes.set(f, fs.statSync(path.join(dir, f)).size);
    return sizes;
}

function appended(dir: string | undefined, before: Map<string, number>): string {
    if (!dir || !fs.existsSync(dir)) return "";
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".log"))
        .sort()
        .map((f) => fs.readFileSync(path.join(dir, f)).subarray(before.get(f) ?? 0).toString("utf8"))
        .join("");
}

/**
 * The contract alerting relies on (issue 14): a run that fails exits non-zero and logs exactly one
 * ERROR line; a run that succeeds logs none.
 */
export function checkErrorContract(script: string, status: number | null, logged: string): void {
    // The level is the third field: "2026-03-01T03:05:00Z [postgres_backup] ERROR ...".
    const errors = logged.split("\n").filter((line) => /^\S+ \[[^\]]+\] ERROR /.test(line));
    if (status === 0 && errors.length) throw new Error(`${script} succeeded but logged ERROR lines:\n${errors.join("\n")}`);
    if (status !== 0 && status !== null && errors.length !== 1) throw new Error(`${script} failed (exit ${status}) with ${errors.length} ERROR lines, not one:\n${logged}`);
}

function scriptEnv(tmp: string, env: Record<string, string>): Record<string, string> {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", TMPDIR: tmp, ...env };
}

/**
 * Runs one of assets/backup/*.sh with only the given variables (plus PATH and a private TMPDIR),
 * so nothing from the test runner's environment (e.g. a PGPASSWORD) leaks in. Throws if the run,
 * failed or not, left anything in its TMPDIR (every script must clean up after itself), or broke
 * the one-ERROR-line contract.
 */
export function runBackupScript(script: string, env: Record<string, string>, options: RunOptions = {}): ScriptResult {
    const tmp = scratchDir("script-tmp");
    const before = logSizes(env.LOG_DIR);
    const started = Date.now();
    try {
        const result = spawnSync("bash", [path.join(BACKUP_DIR, script)], {
            env: scriptEnv(tmp, env),
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: "SIGKILL" as const } : {}),
        });
        const seconds = (Date.now() - started) / 1000;
        const logged = appended(env.LOG_DIR, before);
        const leftovers = fs.readdirSync(tmp);
        if (leftovers.length && result.status !== null) throw new Error(`${script} left temp files behind: ${leftovers.join(", ")}`);
        if (!options.anyErrorLines) checkErrorContract(script, result.status, logged);
        return { status: result.status, output: `${result.stdout}${result.stderr}`, logged, seconds };
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** runBackupScript without blocking the event loop, for tests that serve something in-process (the Object Storage stand-in). */
export async function runBackupScriptAsync(script: string, env: Record<string, string>, options: RunOptions = {}): Promise<ScriptResult> {
    const tmp = scratchDir("script-tmp");
    const before = logSizes(env.LOG_DIR);
    const started = Date.now();
    try {
        const child = spawn("bash", [path.join(BACKUP_DIR, script)], { env: scriptEnv(tmp, env), stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
        const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
        if (timer) clearTimeout(timer);
        const seconds = (Date.now() - started) / 1000;
        const logged = appended(env.LOG_DIR, before);
        const leftovers = fs.readdirSync(tmp);
        if (leftovers.length && status !== null) throw new Error(`${script} left temp files behind: ${leftovers.join(", ")}`);
        if (!options.anyErrorLines) checkErrorContract(script, status, logged);
        return { status, output, logged, seconds };
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** Names and sha256 of every file under `dir` (recursively), sorted: a snapshot to compare. */
export function snapshot(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const out: string[] = [];
    const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
            const full = path.join(d, entry.name);
            if (entry.isDirectory()) walk(full);
            else out.push(`${path.relative(dir, full)} ${createHash("sha256").update(fs.readFileSync(full)).digest("hex")}`);
        }
    };
    walk(dir);
    return out.sort();
}
