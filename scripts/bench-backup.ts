// `npm run bench:backup`: times the backup scripts against real throwaway servers and prints the
// round-trip figures (rows, keys, sizes, seconds). Sizes: BENCH_ROWS (market_data rows, default
// 200000), BENCH_KEYS (redis keys, default 100000), BENCH_N8N_MB (n8n data, default 16).
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { freePort, postgresCommandEnv, runBackupScript, startPostgres, startRedis } from "../tests/helpers/servers";
import { scratchDir } from "../tests/helpers/scratch";

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 100_000);
const N8N_MB = Number(process.env.BENCH_N8N_MB ?? 16);

interface Row {
    readonly step: string;
    readonly seconds: number;
    readonly detail: string;
}

function timed<T>(fn: () => T): [T, number] {
    const start = process.hrtime.bigint();
    const value = fn();
    return [value, Number(process.hrtime.bigint() - start) / 1e9];
}

function newestFile(dir: string, suffix: string): string {
    const names = fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).sort();
    return path.join(dir, names[names.length - 1]);
}

function mustSucceed(script: string, env: Record<string, string>): number {
    const [result, seconds] = timed(() => runBackupScript(script, env));
    if (result.status !== 0) {
        const logs = fs.readdirSync(env.LOG_DIR).map((f) => fs.readFileSync(path.join(env.LOG_DIR, f), "utf8"));
        throw new Error(`${script} failed:\n${result.output}${logs.join("")}`);
    }
    return seconds;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

async function main(): Promise<void> {
    const work = scratchDir("bench");
    const rows: Row[] = [];
    const pg = await startPostgres({ password: "bench-password" });
    const source = await startRedis();
    const cleanups: (() => unknown)[] = [() => pg.stop(), () => source.stop(), () => fs.rmSync(work, { recursive: true, force: true })];
    try {
        fs.writeFileSync(path.join(work, "app.env"), `POSTGRES_USER=${pg.user}\nPOSTGRES_PASSWORD=${pg.password}\nPOSTGRES_DB=${pg.database}\n`);
        const env: Record<string, string> = {
            BACKUP_ROOT: path.join(work, "backups"),
            LOG_DIR: path.join(work, "log"),
            ENV_FILE: path.join(work, "app.env"),
            ...postgresCommandEnv(pg),
            REHEARSAL_TABLES: "market_data",
            REDIS_CLI: `redis-cli -h 127.0.0.1 -p ${source.port}`,
            REDIS_FILE_CMD: "",
            REHEARSAL_REDIS_EXEC: "",
            REHEARSAL_REDIS_CLI: "redis-cli -h 127.0.0.1",
            REHEARSAL_REDIS_PORT: String(await freePort()),
            // No Docker here: a stand-in answers `inspect` as a running container whose data is
            // work/n8n, and accepts pause/unpause, so the script takes its real pause-copy-unpause path.
            N8N_DOCKER: path.join(work, "docker"),
        };
        fs.writeFileSync(env.N8N_DOCKER, `#!/usr/bin/env bash\n[ "$1" = inspect ] && echo "running ${path.join(work, "n8n")}"\nexit 0\n`, { mode: 0o755 });

        // PostgreSQL: backup, then a plain pg_restore into a fresh database, then the full rehearsal.
        pg.psql(`CREATE TABLE market_data (symbol text, ts timestamptz, price numeric(18, 2), PRIMARY KEY (symbol, ts));
            INSERT INTO market_data SELECT 'KRW-' || (g % 20), timestamptz '2026-01-01Z' + (g / 20) * interval '1 minute', 1000 + g * 0.37 FROM generate_series(0, ${ROWS - 1}) g;`);
        const pgDump = mustSucceed("postgres_backup.sh", env);
        const dump = newestFile(path.join(env.BACKUP_ROOT, "postgres"), ".dump");
        rows.push({ step: "postgres backup (pg_dump -Fc + sha256 + retention)", seconds: pgDump, detail: `${ROWS} rows -> ${kib(fs.statSync(dump).size)}` });
        pg.psql("CREATE DATABASE bench_restore", "postgres");
        const [, pgRestore] = timed(() =>
            execFileSync(pg.bin("pg_restore"), ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.user, "-d", "bench_restore", "--exit-on-error", dump], { env: { ...process.env, PGPASSWORD: pg.password } }),
        );
        const restored = Number(pg.psql("SELECT count(*) FROM market_data", "bench_restore"));
        if (restored !== ROWS) throw new Error(`restored ${restored} rows, expected ${ROWS}`);
        rows.push({ step: "postgres restore (pg_restore into a new database)", seconds: pgRestore, detail: `${restored} rows back, equal` });

        // Redis: DEBUG POPULATE, backup, load into a fresh server.
        source.cli("DEBUG", "POPULATE", String(KEYS), "bench", "64");
        const redisBackup = mustSucceed("redis_backup.sh", env);
        const rdb = newestFile(path.join(env.BACKUP_ROOT, "redis"), ".rdb");
        rows.push({ step: "redis backup (BGSAVE + wait + copy + sha256)", seconds: redisBackup, detail: `${KEYS} keys -> ${kib(fs.statSync(rdb).size)}` });
        const [fresh, redisLoad] = await (async () => {
            const start = process.hrtime.bigint();
            const server = await startRedis({ rdb });
            return [server, Number(process.hrtime.bigint() - start) / 1e9] as const;
        })();
        cleanups.unshift(() => fresh.stop());
        const loaded = Number(fresh.cli("DBSIZE"));
        if (loaded !== KEYS || fresh.cli("DEBUG", "DIGEST") !== source.cli("DEBUG", "DIGEST")) throw new Error(`redis round trip differs: ${loaded} keys`);
        rows.push({ step: "redis restore (start a fresh server on the RDB)", seconds: redisLoad, detail: `${loaded} keys back, digest equal` });

        // n8n: a real SQLite database (the rehearsal runs PRAGMA integrity_check on it) next to
        // incompressible data of BENCH_N8N_MB (the worst case for size and time).
        fs.mkdirSync(path.join(work, "n8n"));
        execFileSync("sqlite3", [path.join(work, "n8n", "database.sqlite"), "CREATE TABLE workflow_entity (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO workflow_entity (name) VALUES ('trade'), ('daily report');"]);
        fs.writeFileSync(path.join(work, "n8n", "binary-data"), randomBytes(N8N_MB * 1024 * 1024));
        const n8nBackup = mustSucceed("n8n_backup.sh", env);
        rows.push({ step: "n8n backup (tar.gz + gzip -t + sha256)", seconds: n8nBackup, detail: `${N8N_MB} MiB -> ${kib(fs.statSync(newestFile(path.join(env.BACKUP_ROOT, "n8n"), ".tar.gz")).size)}` });

        rows.push({ step: "verify_backups.sh (all kinds)", seconds: mustSucceed("verify_backups.sh", env), detail: "3 files checked" });
        rows.push({ step: "restore_rehearsal.sh (all kinds)", seconds: mustSucceed("restore_rehearsal.sh", env), detail: `postgres restored to scratch db, redis loaded, n8n database integrity ok` });

        console.log(`Backup round trips on this machine (${new Date().toISOString()}):`);
        const width = Math.max(...rows.map((r) => r.step.length));
        for (const r of rows) console.log(`  ${r.step.padEnd(width)}  ${r.seconds.toFixed(2).padStart(6)} s  ${r.detail}`);
        console.log(JSON.stringify({ rows: ROWS, keys: KEYS, n8nMiB: N8N_MB, results: rows }));
    } finally {
        for (const cleanup of cleanups) await cleanup();
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
