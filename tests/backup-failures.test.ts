// The failure modes an audit reproduced against assets/backup (issue 13), each against real
// PostgreSQL 15 / Redis 7 servers: a damaged backup with a recomputed checksum, a wrong Redis
// password, servers that accept connections and never answer, a run killed with -9, two
// rehearsals at once, retention after a clock behind; plus the empty-RDB rehearsal message, a full
// disk while writing the .sha256, and keys outside db0. Each test fails on the scripts before the
// fix (run them with BACKUP_SCRIPTS_DIR pointing at a copy of the old assets/backup) and passes now.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { sha256 } from "../lib/host/hash";
import {
    BACKUP_DIR,
    BlackHole,
    PG_BIN,
    PgServer,
    RedisServer,
    checkErrorContract,
    describeWithBinaries,
    freePort,
    postgresCommandEnv,
    requireBinaries,
    runBackupScript,
    runBackupScriptAsync,
    snapshot,
    startBlackHole,
    startPostgres,
    startRedis,
} from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

jest.setTimeout(120_000);

const BINARIES = [
    path.join(PG_BIN, "initdb"), path.join(PG_BIN, "pg_dump"), path.join(PG_BIN, "pg_restore"), path.join(PG_BIN, "psql"),
    "redis-server", "redis-cli", "redis-check-rdb", "runuser", "flock", "sha256sum", "timeout", "tar", "gzip", "sqlite3",
];
const PASSWORD = "s3cret pass";
const REDIS_PASSWORD = "redis-right-password";
/** A bound for runs of the old scripts, which hang: long enough for every fixed run, short for the suite. */
const HANG_MS = 25_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
    }
}
const errorLines = (logged: string) => logged.split("\n").filter((l) => /^\S+ \[[^\]]+\] ERROR /.test(l));

describeWithBinaries(BINARIES, "backup failure modes against real servers", () => {
    let pg: PgServer;
    let redis: RedisServer;
    let hole: BlackHole;
    let work: string;
    let docker: string;
    let n8nData: string;
    const children: ChildProcess[] = [];

    /** Every variable pointed at the throwaway servers; BACKUP_KINDS and the rest per test. */
    function env(root: string, extra: Record<string, string> = {}): Record<string, string> {
        return {
            BACKUP_ROOT: root,
            LOG_DIR: path.join(work, "log", path.basename(root)),
            ENV_FILE: path.join(work, "app.env"),
            ...postgresCommandEnv(pg),
            REHEARSAL_TABLES: "daily_risk_state",
            REDIS_CLI: `redis-cli -h 127.0.0.1 -p ${redis.port}`,
            REDIS_FILE_CMD: "",
            REHEARSAL_REDIS_EXEC: "",
            REHEARSAL_REDIS_CLI: "redis-cli -h 127.0.0.1",
            N8N_DOCKER: docker,
            STUB_MOUNT: n8nData,
            OFFSITE_URL_FILE: path.join(work, "no-offsite-configured"),
            ...extra,
        };
    }
    const log = (root: string, name: string) => fs.readFileSync(path.join(work, "log", path.basename(root), `${name}.log`), "utf8");
    const files = (root: string, kind: string) => (fs.existsSync(path.join(root, kind)) ? fs.readdirSync(path.join(root, kind)).sort() : []);
    const ok = (script: string, e: Record<string, string>) => {
        const run = runBackupScript(script, e);
        if (run.status !== 0) throw new Error(`${script} failed (${run.status}):\n${run.output}\n${run.logged}`);
        return run;
    };
    /** A backup file with a checksum that matches it: what a damaged file looks like once its .sha256 is recomputed. */
    const withChecksum = (dir: string, name: string, content: Buffer) => {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, name), content);
        fs.writeFileSync(path.join(dir, `${name}.sha256`), `${sha256(content)}  ${name}\n`);
    };
    const scratchExists = () => pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'coinpilot_restore_check'") !== "0";

    beforeAll(async () => {
        requireBinaries(BINARIES);
        pg = await startPostgres({ password: PASSWORD });
        redis = await startRedis({ password: REDIS_PASSWORD });
        hole = await startBlackHole();
        work = scratchDir("failures");
        fs.writeFileSync(
            path.join(work, "app.env"),
            `POSTGRES_USER=${pg.user}\nPOSTGRES_PASSWORD='${PASSWORD}'\nPOSTGRES_DB=${pg.database}\nREDIS_PASSWORD=${REDIS_PASSWORD}\n`,
        );
        pg.psql(`
            CREATE TABLE daily_risk_state (day date PRIMARY KEY, buy_count int NOT NULL, updated_at timestamptz NOT NULL);
            INSERT INTO daily_risk_state SELECT date '2026-01-01' + g, g % 7, timestamptz '2026-01-01 23:59Z' + g * interval '1 day' FROM generate_series(0, 59) g;
            CREATE TABLE market_data (symbol text, ts timestamptz, price numeric(18, 2), payload text);
            INSERT INTO market_data SELECT 'KRW-BTC', timestamptz '2026-01-01' + g * interval '1 minute', 1000 + g, md5(g::text) || md5((g * 7)::text)
                FROM generate_series(1, 50000) g;`);
        const commands = ["SELECT 0"];
        for (let i = 0; i < 300; i++) commands.push(`SET bot:status:${i} running`);
        commands.push("SELECT 3");
        for (let i = 0; i < 40; i++) commands.push(`SET cache:${i} v${i}`);
        execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(redis.port)], {
            input: commands.join("\n") + "\n",
            env: { ...process.env, REDISCLI_AUTH: REDIS_PASSWORD },
            stdio: ["pipe", "ignore", "inherit"],
        });
        n8nData = path.join(work, "n8n-data");
        fs.mkdirSync(n8nData);
        execFileSync("sqlite3", [path.join(n8nData, "database.sqlite"), "CREATE TABLE workflow_entity(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO workflow_entity(name) VALUES ('rss ingest');"]);
        fs.writeFileSync(path.join(n8nData, "config"), '{"encryptionKey":"test-only-key"}\n');
        docker = path.join(work, "docker");
        fs.writeFileSync(docker, '#!/usr/bin/env bash\ncase $1 in inspect) echo "running $STUB_MOUNT" ;; esac\n', { mode: 0o755 });
    });

    afterAll(async () => {
        for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
        // The orphans of the run killed with -9 end by themselves: `timeout` bounds them (DUMP_TIMEOUT=30).
        await hole?.close();
        await redis?.stop();
        pg?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    describe("1. verify_backups.sh reads every backup as a restore would", () => {
        let root: string;
        let good: Record<"postgres" | "redis" | "n8n", Buffer>;
        const names = { postgres: "postgres_20260301T030500Z.dump", redis: "redis_20260301T031500Z.rdb", n8n: "n8n_20260301T032500Z.tar.gz" } as const;

        beforeAll(() => {
            root = path.join(work, "verify");
            ok("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z" }));
            ok("redis_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:15:00Z" }));
            ok("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:25:00Z" }));
            good = {
                postgres: fs.readFileSync(path.join(root, "postgres", names.postgres)),
                redis: fs.readFileSync(path.join(root, "redis", names.redis)),
                n8n: fs.readFileSync(path.join(root, "n8n", names.n8n)),
            };
        });

        it("passes the intact backups of every kind", () => {
            const run = ok("verify_backups.sh", env(root));
            for (const kind of ["postgres", "redis", "n8n"]) expect(run.logged).toContain(`${kind}: 1 of 1 backups match their checksum, 1 of 1 pass the ${kind} format check`);
            expect(run.logged).toContain("verification passed");
        });

        it.each([
            ["postgres", "zero bytes", () => Buffer.alloc(0), /postgres_20260301T030500Z\.dump is empty \(0 bytes\)/],
            ["postgres", "truncated to half", () => good.postgres.subarray(0, good.postgres.length >> 1), /reading postgres_20260301T030500Z\.dump to its end with pg_restore failed .*the archive is truncated or damaged/],
            ["redis", "zero bytes", () => Buffer.alloc(0), /redis_20260301T031500Z\.rdb is empty \(0 bytes\)/],
            ["redis", "truncated to half", () => good.redis.subarray(0, good.redis.length >> 1), /redis_20260301T031500Z\.rdb does not end with the RDB end marker .*the snapshot is truncated/],
            ["redis", "one byte flipped in a value", () => { const b = Buffer.from(good.redis); b[b.length >> 1] ^= 0x20; return b; }, /redis-check-rdb rejects redis_20260301T031500Z\.rdb: \[offset \d+\] .*(CRC error|Unexpected|Unknown|Invalid|Bad)/],
            ["n8n", "zero bytes", () => Buffer.alloc(0), /n8n_20260301T032500Z\.tar\.gz is empty \(0 bytes\)/],
            ["n8n", "truncated to half", () => good.n8n.subarray(0, good.n8n.length >> 1), /gzip -t of n8n_20260301T032500Z\.tar\.gz failed .*truncated or damaged/],
        ] as const)("fails a %s backup %s whose .sha256 was recomputed, with one ERROR line", (kind, _how, damage, why) => {
            const damaged = path.join(work, `verify-${kind}-${_how.replace(/\W+/g, "-")}`);
            withChecksum(path.join(damaged, kind), names[kind], damage());
            const run = runBackupScript("verify_backups.sh", env(damaged, { BACKUP_KINDS: kind }));
            expect(run.status).not.toBe(0);
            expect(run.logged).toMatch(new RegExp(`FAIL ${kind}: FORMAT CHECK FAILED: ${why.source}`));
            expect(run.logged).toContain(`${kind}: 1 of 1 backups match their checksum, 0 of 1 pass the ${kind} format check`);
            expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR verification FAILED: 1 problem\(s\): .*FORMAT CHECK FAILED/)]);
        });

        it("refuses to publish a backup that fails the format check (checked before the rename)", () => {
            const bad = path.join(work, "verify-publish");
            // pg_dump's output cut short, as a dying pipe would leave it: the magic is right, the rest is not.
            const cut = path.join(work, "cut-pg-dump");
            fs.writeFileSync(cut, `#!/bin/sh\n"${pg.bin("pg_dump")}" "$@" | head -c 4000\n`, { mode: 0o755 });
            const run = runBackupScript("postgres_backup.sh", env(bad, { PG_DUMP_CMD: `${cut} -h 127.0.0.1 -p ${pg.port}` }));
            expect(run.status).not.toBe(0);
            expect(errorLines(run.logged)[0]).toMatch(/ERROR reading postgres_\d{8}T\d{6}Z\.dump to its end with pg_restore failed .*not publishing it/);
            expect(snapshot(bad)).toEqual([]);
        });
    });

    describe("2. a wrong Redis password", () => {
        it("fails at the first call, in seconds, naming the refused password (the old script waited REDIS_SAVE_TIMEOUT, 300 s)", () => {
            const root = path.join(work, "wrongpass");
            const run = runBackupScript("redis_backup.sh", env(root, { REDIS_PASSWORD: "not-the-password" }), { timeoutMs: HANG_MS });
            expect(run.status).toBe(1);
            expect(run.seconds).toBeLessThan(5);
            expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR redis-cli PING: the server refused the password \(REDIS_PASSWORD from .*app\.env\): AUTH failed: WRONGPASS/)]);
            expect(files(root, "redis")).toEqual([]);
        });

        it("and a missing one (NOAUTH) fails the same way", () => {
            const root = path.join(work, "nopass");
            const run = runBackupScript("redis_backup.sh", env(root, { ENV_FILE: "" }), { timeoutMs: HANG_MS });
            expect(run.status).toBe(1);
            expect(run.seconds).toBeLessThan(5);
            expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR redis-cli PING failed: NOAUTH Authentication required/)]);
        });
    });

    describe("3. servers that accept connections and never answer", () => {
        it("pg_dump against a silent server stops at the connect bound, and the log names it", () => {
            const root = path.join(work, "pg-silent");
            const run = runBackupScript("postgres_backup.sh", env(root, { PG_DUMP_CMD: `${pg.bin("pg_dump")} -h 127.0.0.1 -p ${hole.port}`, CONNECT_TIMEOUT: "2" }), { timeoutMs: HANG_MS });
            expect(run.status).toBe(1);
            expect(run.seconds).toBeLessThan(10);
            expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR pg_dump of database coinpilot could not connect within CONNECT_TIMEOUT=2s \(PGCONNECT_TIMEOUT, the connect bound\): .*timeout expired/)]);
            expect(snapshot(root)).toEqual([]);
        });

        it("pg_dump that connects but never gets its data (a table locked by another session) stops at the overall bound", async () => {
            const root = path.join(work, "pg-locked");
            const locker = spawn(pg.bin("psql"), ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.user, "-d", pg.database, "-c", "BEGIN; LOCK TABLE market_data IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;"], {
                env: { ...process.env, PGPASSWORD: PASSWORD },
                stdio: "ignore",
            });
            children.push(locker);
            try {
                await until(() => pg.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'market_data'::regclass") === "1", 10_000, "the lock");
                const run = runBackupScript("postgres_backup.sh", env(root, { DUMP_TIMEOUT: "3" }), { timeoutMs: HANG_MS });
                expect(run.status).toBe(1);
                expect(run.seconds).toBeLessThan(15);
                expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR pg_dump of database coinpilot timed out: no result within DUMP_TIMEOUT=3s \(the bound on the whole call\), stopped it/)]);
                expect(snapshot(root)).toEqual([]);
            } finally {
                locker.kill("SIGKILL");
                // Its backend sleeps on, holding the lock, until told: end it.
                pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()");
            }
            // pg_dump was stopped, not left waiting: no session of it remains on the server.
            await until(() => pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'") === "0", 10_000, "pg_dump's session to end");
        });

        it("redis-cli against a silent server stops at the per-call bound", () => {
            const root = path.join(work, "redis-silent");
            const run = runBackupScript("redis_backup.sh", env(root, { REDIS_CLI: `redis-cli -h 127.0.0.1 -p ${hole.port}`, CALL_TIMEOUT: "2" }), { timeoutMs: HANG_MS });
            expect(run.status).toBe(1);
            expect(run.seconds).toBeLessThan(10);
            expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR redis-cli PING: no answer within CALL_TIMEOUT=2s/)]);
        });
    });

    describe("4. a run killed with -9", () => {
        it("leaves no lock behind, its .partial is reported by verify, and the next run removes it and succeeds", async () => {
            const root = path.join(work, "killed");
            const tmp = scratchDir("killed-tmp");
            const e = env(root, { BACKUP_NOW: "2026-03-02T03:05:00Z", TMPDIR: tmp, BACKUP_KINDS: "postgres" });
            // A full-size dump first, so the dead run's .partial has something in it: pg_dump writes, then hangs.
            const stall = path.join(work, "stalling-pg-dump");
            fs.writeFileSync(stall, `#!/bin/sh\n"${pg.bin("pg_dump")}" "$@"\nexec sleep 600\n`, { mode: 0o755 });
            const victim = spawn("bash", [path.join(BACKUP_DIR, "postgres_backup.sh")], {
                env: { PATH: process.env.PATH, ...e, PG_DUMP_CMD: `${stall} -h 127.0.0.1 -p ${pg.port}`, DUMP_TIMEOUT: "30" },
                stdio: "ignore",
            });
            children.push(victim);
            const partial = path.join(root, "postgres", ".postgres_20260302T030500Z.dump.partial");
            await until(() => fs.existsSync(partial) && fs.statSync(partial).size > 100_000, 20_000, "the dump to be written");
            victim.kill("SIGKILL");
            await new Promise((resolve) => victim.once("exit", resolve));

            // verify (waits for the kind's lock, as a run would) reports the debris.
            const verify = runBackupScript("verify_backups.sh", e);
            expect(verify.status).not.toBe(0);
            expect(verify.logged).toMatch(new RegExp(`FAIL postgres: ${partial.replace(/[.]/g, "\\.")} \\(\\d+ bytes, last written \\S+\\) was left by a postgres backup that died before it finished`));
            expect(errorLines(verify.logged)).toHaveLength(1);
            // What the dead run had in TMPDIR goes too, at the first run after it.
            expect(verify.logged).toMatch(/WARN removed .*coinpilot-backup\.\d+\.\w+, left behind by run \d+, which died/);

            // The next run gets the lock (the orphaned child does not hold it), cleans up and succeeds.
            const next = runBackupScript("postgres_backup.sh", { ...e, BACKUP_NOW: "2026-03-02T04:05:00Z" });
            expect(next.status).toBe(0);
            expect(next.logged).toMatch(/WARN removed .*\.postgres_20260302T030500Z\.dump\.partial \(\d+ bytes, last written .*\), left by a postgres backup that died before it finished/);
            expect(files(root, "postgres")).toEqual(["postgres_20260302T040500Z.dump", "postgres_20260302T040500Z.dump.sha256"]);
            expect(fs.readdirSync(tmp)).toEqual([]);
            expect(runBackupScript("verify_backups.sh", e).status).toBe(0);
            fs.rmSync(tmp, { recursive: true, force: true });
        });

        it("a second run while the first is alive still waits LOCK_WAIT and refuses, with one ERROR line", async () => {
            const root = path.join(work, "busy");
            const e = env(root, { LOCK_WAIT: "1" });
            const first = spawn("bash", [path.join(BACKUP_DIR, "postgres_backup.sh")], {
                env: { PATH: process.env.PATH, ...e, PG_DUMP_CMD: `${pg.bin("pg_dump")} -h 127.0.0.1 -p ${hole.port}`, CONNECT_TIMEOUT: "5" },
                stdio: "ignore",
            });
            children.push(first);
            await until(() => fs.existsSync(path.join(work, "log", "busy", "postgres_backup.log")) && log(root, "postgres_backup").includes("starting postgres backup"), 10_000, "the first run");
            const second = runBackupScript("postgres_backup.sh", e);
            expect(second.status).toBe(1);
            expect(errorLines(second.logged)).toEqual([expect.stringMatching(/ERROR another postgres backup is running: it holds the lock on .*busy\/postgres \(waited 1s\)/)]);
            await new Promise((resolve) => first.once("exit", resolve));
        });
    });

    describe("5. two rehearsals at once", () => {
        it("the second refuses at once and the first restores undisturbed", async () => {
            const root = path.join(work, "rehearsals");
            ok("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z" }));
            // The first rehearsal's restore takes a few seconds: the window in which the old script's
            // second rehearsal dropped its scratch database WITH (FORCE).
            const slow = path.join(work, "slow-pg-restore");
            fs.writeFileSync(slow, `#!/bin/sh\ncase "$*" in *--list*) ;; *) sleep 4 ;; esac\nexec "${pg.bin("pg_restore")}" "$@"\n`, { mode: 0o755 });
            const e = env(root, { BACKUP_KINDS: "postgres" });
            // Both append to one log: the first run's new lines include the second's ERROR, so the contract is checked by hand.
            const firstRun = runBackupScriptAsync("restore_rehearsal.sh", { ...e, PG_RESTORE_CMD: `${slow} -h 127.0.0.1 -p ${pg.port}` }, { anyErrorLines: true });
            await until(() => scratchExists(), 15_000, "the first rehearsal's scratch database");
            const second = await runBackupScriptAsync("restore_rehearsal.sh", { ...e, LOCK_WAIT: "1" });
            const first = await firstRun;
            expect(first.status).toBe(0);
            expect(first.logged).toContain("restore rehearsal passed for: postgres");
            expect(second.status).toBe(1);
            expect(errorLines(second.logged)).toEqual([expect.stringMatching(/ERROR another restore rehearsal is running: it holds the lock on .*rehearsals \(waited 1s\)/)]);
            expect(scratchExists()).toBe(false);
        });
    });

    describe("6. retention and a run whose stamp is older than the backups it finds", () => {
        it("keeps the backup the run just wrote, and says the clock looks behind", () => {
            const root = path.join(work, "clock");
            // Ten days of good backups stamped after this run (a clock that was ahead, or is now behind).
            for (let d = 10; d <= 19; d++) {
                const name = `n8n_202603${d}T032500Z.tar.gz`;
                withChecksum(path.join(root, "n8n"), name, execFileSync("tar", ["-C", n8nData, "-czf", "-", "."]));
            }
            const run = ok("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-03T03:25:00Z" }));
            expect(files(root, "n8n").filter((f) => f.endsWith(".tar.gz"))).toContain("n8n_20260303T032500Z.tar.gz");
            expect(run.logged).toContain("WARN this run's stamp 20260303T032500Z is older than the newest backup n8n_20260319T032500Z.tar.gz: is the host clock behind");
            expect(run.logged).toContain("WARN retention: kept n8n_20260303T032500Z.tar.gz, written by this run, although the rules alone would delete it");
            // The rules still apply to the others: the newest 7 days stay.
            expect(files(root, "n8n").filter((f) => f.endsWith(".tar.gz"))).toEqual(["n8n_20260303T032500Z.tar.gz", ...[13, 14, 15, 16, 17, 18, 19].map((d) => `n8n_202603${d}T032500Z.tar.gz`)]);
        });
    });

    describe("and the smaller ones", () => {
        it("an empty RDB: the rehearsal says why redis-server refused it (Unexpected EOF)", async () => {
            const root = path.join(work, "empty-rdb");
            withChecksum(path.join(root, "redis"), "redis_20260301T031500Z.rdb", Buffer.alloc(0));
            const run = runBackupScript("restore_rehearsal.sh", env(root, { BACKUP_KINDS: "redis", REHEARSAL_REDIS_PORT: String(await freePort()) }));
            expect(run.status).toBe(1);
            expect(run.logged).toMatch(/FAIL redis: the throwaway redis-server refused redis_20260301T031500Z\.rdb: .*Unexpected EOF reading RDB file/);
            expect(errorLines(run.logged)).toEqual([expect.stringMatching(/ERROR restore rehearsal FAILED for: redis \(redis: the throwaway redis-server refused .*Unexpected EOF reading RDB file/)]);
        });

        it("the snapshot line counts the keys of every database, not db0's only", () => {
            const root = path.join(work, "keyspace");
            const run = ok("redis_backup.sh", env(root));
            expect(run.logged).toContain("redis snapshot holds 340 keys (db0: 300, db3: 40)");
        });

        const asRoot = process.getuid?.() === 0;
        (asRoot ? it : it.skip)("a full disk while writing the .sha256 gives one ERROR line of ours, and nothing is published (root: mounts a tmpfs)", () => {
            const root = path.join(work, "full");
            fs.mkdirSync(root);
            // Three inodes: the mount's root, n8n/ and the .partial; the .sha256 has no room.
            execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,nr_inodes=3,mode=0700", "tmpfs", root]);
            try {
                const run = runBackupScript("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:25:00Z" }));
                expect(run.status).toBe(1);
                expect(errorLines(run.logged)).toEqual([
                    expect.stringMatching(/ERROR cannot write .*\/n8n\/\.n8n_20260301T032500Z\.tar\.gz\.partial\.sha256: .*No space left on device \(disk full\?\); nothing was published/),
                ]);
                expect(files(root, "n8n")).toEqual([]);
            } finally {
                execFileSync("umount", [root]);
            }
        });
    });

    it("the one-ERROR-line contract check itself catches a run with none or two", () => {
        expect(() => checkErrorContract("x.sh", 1, "")).toThrow(/with 0 ERROR lines/);
        expect(() => checkErrorContract("x.sh", 1, "t [x] ERROR a\nt [x] ERROR b\n")).toThrow(/with 2 ERROR lines/);
        expect(() => checkErrorContract("x.sh", 0, "t [x] ERROR a\n")).toThrow(/succeeded but logged ERROR lines/);
        expect(() => checkErrorContract("x.sh", 1, "t [x] INFO RDB ERROR DETECTED\nt [x] ERROR a\n")).not.toThrow();
    });
});
