// postgres_backup.sh and the postgres part of restore_rehearsal.sh / verify_backups.sh against a
// real throwaway PostgreSQL: round trip with row counts and content digests, rehearsal pass/fail,
// corruption, and a server that is down.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { sha256 } from "../lib/host/hash";
import { PG_BIN, PgServer, describeWithBinaries, freePort, postgresCommandEnv, requireBinaries, runBackupScript, snapshot, startPostgres } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

jest.setTimeout(60_000);

const BINARIES = [path.join(PG_BIN, "initdb"), path.join(PG_BIN, "pg_ctl"), path.join(PG_BIN, "pg_dump"), path.join(PG_BIN, "pg_restore"), path.join(PG_BIN, "psql"), "runuser", "flock", "sha256sum"];
// A password with a space: the host's .env single-quotes such values (lib/host/env-file.ts).
const PASSWORD = "s3cret pass";
const TABLES = { market_data: 5000, daily_risk_state: 60 } as const;

describeWithBinaries(BINARIES, "postgres backups against a real server", () => {
    let pg: PgServer;
    let work: string;

    /** The variables the host gets from defaults, pointed at the throwaway server. */
    function env(root: string, extra: Record<string, string> = {}): Record<string, string> {
        return {
            BACKUP_ROOT: root,
            LOG_DIR: path.join(work, "log"),
            ENV_FILE: path.join(work, "app.env"),
            ...postgresCommandEnv(pg),
            BACKUP_KINDS: "postgres",
            REHEARSAL_TABLES: Object.keys(TABLES).join(" "),
            ...extra,
        };
    }
    const log = (name: string) => fs.readFileSync(path.join(work, "log", `${name}.log`), "utf8");
    const dumps = (root: string) => fs.readdirSync(path.join(root, "postgres")).filter((f) => f.endsWith(".dump")).sort();
    const scratchExists = () => pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'coinpilot_restore_check'") !== "0";
    /** Row count and an order-independent digest of each table's content. */
    const tableState = (db: string) =>
        Object.keys(TABLES).map((t) => `${t} ${pg.psql(`SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM ${t} x`, db)}`);

    beforeAll(async () => {
        requireBinaries(BINARIES);
        pg = await startPostgres({ password: PASSWORD });
        work = scratchDir("pgbackup");
        fs.writeFileSync(path.join(work, "app.env"), `# as the host component writes it\nPOSTGRES_USER=${pg.user}\nPOSTGRES_PASSWORD='${PASSWORD}'\nPOSTGRES_DB=${pg.database}\n`);
        pg.psql(`
            CREATE TABLE market_data (symbol text NOT NULL, ts timestamptz NOT NULL, price numeric(18, 2) NOT NULL, PRIMARY KEY (symbol, ts));
            INSERT INTO market_data SELECT 'KRW-' || (ARRAY['BTC', 'ETH', 'XRP', 'SOL', 'DOGE'])[1 + g % 5], timestamptz '2026-01-01 00:00Z' + (g / 5) * interval '1 minute', 1000 + g * 0.37
                FROM generate_series(0, ${TABLES.market_data - 1}) g;
            CREATE TABLE daily_risk_state (day date PRIMARY KEY, buy_count int NOT NULL, sell_count int NOT NULL, updated_at timestamptz NOT NULL);
            INSERT INTO daily_risk_state SELECT date '2026-01-01' + g, g % 7, g % 3, timestamptz '2026-01-01 23:59Z' + g * interval '1 day'
                FROM generate_series(0, ${TABLES.daily_risk_state - 1}) g;
            CREATE TABLE trades (id bigserial PRIMARY KEY, side text);`);
    });

    afterAll(() => {
        pg?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("backs up and restores: same row counts and same content in every table", () => {
        const root = path.join(work, "roundtrip");
        const run = runBackupScript("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z" }));
        expect(run).toMatchObject({ status: 0 });
        expect(dumps(root)).toEqual(["postgres_20260301T030500Z.dump"]);
        const dir = path.join(root, "postgres");
        // The .sha256 is in sha256sum's format, so an operator can check it by hand.
        expect(execFileSync("sha256sum", ["-c", "postgres_20260301T030500Z.dump.sha256"], { cwd: dir, encoding: "utf8" })).toContain(": OK");
        expect(fs.statSync(path.join(dir, "postgres_20260301T030500Z.dump")).mode & 0o777).toBe(0o600);
        expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
        expect(log("postgres_backup")).toMatch(/wrote .*postgres_20260301T030500Z\.dump \(\d+ bytes, sha256 [0-9a-f]{64}\)/);

        pg.psql("CREATE DATABASE roundtrip", "postgres");
        execFileSync(pg.bin("pg_restore"), ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.user, "-d", "roundtrip", "--exit-on-error", path.join(dir, "postgres_20260301T030500Z.dump")], {
            env: { PATH: process.env.PATH, PGPASSWORD: PASSWORD },
        });
        const restored = tableState("roundtrip");
        expect(restored).toEqual(tableState(pg.database));
        expect(restored.map((line) => line.split(" ").slice(0, 2).join(" "))).toEqual([`market_data ${TABLES.market_data}`, `daily_risk_state ${TABLES.daily_risk_state}`]);
    });

    it("rehearses a restore: checksum, scratch database, row counts, newest timestamp, then drops it", () => {
        const root = path.join(work, "rehearsal");
        expect(runBackupScript("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z" })).status).toBe(0);
        const run = runBackupScript("restore_rehearsal.sh", env(root));
        const text = log("restore_rehearsal");
        expect(run.status).toBe(0);
        expect(text).toContain("postgres: postgres_20260301T030500Z.dump matches its checksum");
        expect(text).toContain(`key table market_data: ${TABLES.market_data} rows, newest ts: 2026-01-01 16:39:00+00`);
        expect(text).toContain(`key table daily_risk_state: ${TABLES.daily_risk_state} rows, newest updated_at: 2026-03-01 23:59:00+00`);
        expect(text).toContain("public.trades has 0 rows");
        expect(text).toContain("restore rehearsal passed for: postgres");
        expect(scratchExists()).toBe(false);
    });

    it("fails the rehearsal when a key table is empty or missing, and still drops the scratch database", () => {
        const root = path.join(work, "rehearsal");
        const empty = runBackupScript("restore_rehearsal.sh", env(root, { REHEARSAL_TABLES: "market_data trades" }));
        expect(empty.status).not.toBe(0);
        expect(log("restore_rehearsal")).toContain("postgres: key table trades is empty in the restored postgres_20260301T030500Z.dump");
        expect(scratchExists()).toBe(false);
        const missing = runBackupScript("restore_rehearsal.sh", env(root, { REHEARSAL_TABLES: "orders" }));
        expect(missing.status).not.toBe(0);
        expect(log("restore_rehearsal")).toContain("postgres: key table orders is missing");
        // One ERROR line, the last, names the kind and why.
        expect(log("restore_rehearsal")).toMatch(/ERROR restore rehearsal FAILED for: postgres \(postgres: key table orders is missing from the restored postgres_20260301T030500Z\.dump\)\n$/);
        expect(scratchExists()).toBe(false);
    });

    it("detects one flipped byte: verify_backups fails and the rehearsal refuses to restore, with a clear message", () => {
        const root = path.join(work, "corrupt");
        expect(runBackupScript("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z" })).status).toBe(0);
        expect(runBackupScript("verify_backups.sh", env(root)).status).toBe(0);
        const file = path.join(root, "postgres", "postgres_20260301T030500Z.dump");
        const bytes = fs.readFileSync(file);
        const at = Math.floor(bytes.length / 2);
        bytes[at] ^= 0x01;
        fs.writeFileSync(file, bytes);

        const verify = runBackupScript("verify_backups.sh", env(root));
        expect(verify.status).not.toBe(0);
        expect(log("verify_backups")).toContain(`CHECKSUM MISMATCH: ${file} has sha256 ${sha256(bytes)}`);
        expect(log("verify_backups")).toContain("postgres: 0 of 1 backups match their checksum");

        const rehearsal = runBackupScript("restore_rehearsal.sh", env(root));
        expect(rehearsal.status).not.toBe(0);
        expect(log("restore_rehearsal")).toMatch(/postgres: CHECKSUM MISMATCH: .*postgres_20260301T030500Z\.dump .* the backup is corrupt; refusing to restore it/);
        expect(scratchExists()).toBe(false);
    });

    it("with the server down: exits non-zero, writes nothing, deletes nothing (a later good run does prune)", async () => {
        const root = path.join(work, "down");
        // Ten older days of valid-looking backups: a successful run prunes four of them.
        const dir = path.join(root, "postgres");
        fs.mkdirSync(dir, { recursive: true });
        for (let day = 10; day <= 19; day++) {
            const name = `postgres_202602${day}T030500Z.dump`;
            const content = `PGDMP fake backup of day ${day}`;
            fs.writeFileSync(path.join(dir, name), content);
            fs.writeFileSync(path.join(dir, `${name}.sha256`), `${sha256(content)}  ${name}\n`);
        }
        const before = snapshot(root);
        const closed = await freePort();
        const down = runBackupScript("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z", PG_DUMP_CMD: `${pg.bin("pg_dump")} -h 127.0.0.1 -p ${closed}` }));
        expect(down.status).not.toBe(0);
        expect(snapshot(root)).toEqual(before);
        expect(log("postgres_backup")).toMatch(/ERROR pg_dump of database coinpilot failed \(exit 1\): .*Connection refused/);

        const up = runBackupScript("postgres_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:05:00Z" }));
        expect(up.status).toBe(0);
        expect(dumps(root)).toEqual(["postgres_20260301T030500Z.dump", ...[14, 15, 16, 17, 18, 19].map((d) => `postgres_202602${d}T030500Z.dump`)].sort());
    });

    it("refuses to publish output that is not a pg_dump archive", () => {
        const root = path.join(work, "notadump");
        const run = runBackupScript("postgres_backup.sh", env(root, { PG_DUMP_CMD: "echo" }));
        expect(run.status).not.toBe(0);
        expect(log("postgres_backup")).toMatch(/does not start with 'PGDMP': not a valid postgres backup/);
        expect(snapshot(root)).toEqual([]);
    });
});
