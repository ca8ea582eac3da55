// Retention (lib.sh, shared by every backup script) and the n8n archive, driven through
// n8n_backup.sh: it needs no server, so 30 days of real runs take a few seconds. A stand-in
// `docker` (N8N_DOCKER) records the pause/unpause around the copy; the n8n data is a real SQLite
// database whose rows live only in its WAL, as a running n8n leaves it.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { sha256 } from "../lib/host/hash";
import { describeWithBinaries, requireBinaries, runBackupScript, snapshot } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

jest.setTimeout(60_000);

const BINARIES = ["tar", "gzip", "flock", "sha256sum", "sqlite3"];

describeWithBinaries(BINARIES, "retention and n8n backups", () => {
    let work: string;
    let n8nData: string;
    let docker: string;

    // The stand-in docker reports the container's state and its mount of /home/node/.n8n (so the
    // script finds the data dir as on the host), and on unpause notes whether the archive was
    // already complete, which proves the copy ran while the container was paused.
    const DOCKER_STUB = `#!/usr/bin/env bash
echo "$*" >>"$STUB_CALLS"
case $1 in
    inspect) echo "\${STUB_STATE:-running} $STUB_MOUNT" ;;
    unpause)
        if gzip -t "$BACKUP_ROOT"/n8n/.*.partial 2>/dev/null; then echo "(archive complete)" >>"$STUB_CALLS"; fi
        if [ -n "\${STUB_UNPAUSE_FAILS:-}" ]; then echo "Error response from daemon: cannot unpause" >&2; exit 1; fi ;;
esac
`;
    const env = (root: string, extra: Record<string, string> = {}): Record<string, string> => ({
        BACKUP_ROOT: root,
        LOG_DIR: path.join(work, "log"),
        ENV_FILE: "",
        N8N_DOCKER: docker,
        STUB_MOUNT: n8nData,
        STUB_CALLS: path.join(root, "..", `${path.basename(root)}.docker-calls`),
        BACKUP_KINDS: "n8n",
        ...extra,
    });
    const dockerCalls = (root: string) => fs.readFileSync(path.join(root, "..", `${path.basename(root)}.docker-calls`), "utf8").trim().split("\n");
    const sqlite = (db: string, sql: string) => execFileSync("sqlite3", [db, sql], { encoding: "utf8" }).trim();
    /** Archives `dir` as n8n_backup.sh would and seeds it with a matching checksum. */
    const seedArchive = (root: string, name: string, dir: string) => {
        fs.mkdirSync(path.join(root, "n8n"), { recursive: true });
        execFileSync("tar", ["-C", dir, "-czf", path.join(root, "n8n", name), "."]);
        const content = fs.readFileSync(path.join(root, "n8n", name));
        fs.writeFileSync(path.join(root, "n8n", `${name}.sha256`), `${sha256(content)}  ${name}\n`);
    };
    const log = (name: string) => fs.readFileSync(path.join(work, "log", `${name}.log`), "utf8");
    const archives = (root: string) => fs.readdirSync(path.join(root, "n8n")).filter((f) => f.endsWith(".tar.gz")).sort();
    const day = (name: string) => name.slice("n8n_".length, "n8n_".length + 8);
    const backupAt = (root: string, when: string) => {
        const run = runBackupScript("n8n_backup.sh", env(root, { BACKUP_NOW: when }));
        if (run.status !== 0) throw new Error(`n8n_backup.sh at ${when} failed:\n${log("n8n_backup")}`);
    };
    /** Writes a file that passes its checksum, as an earlier run would have. */
    const seed = (root: string, name: string, content: string) => {
        fs.mkdirSync(path.join(root, "n8n"), { recursive: true });
        fs.writeFileSync(path.join(root, "n8n", name), content);
        fs.writeFileSync(path.join(root, "n8n", `${name}.sha256`), `${sha256(content)}  ${name}\n`);
    };
    const flipByte = (file: string) => {
        const bytes = fs.readFileSync(file);
        bytes[bytes.length >> 1] ^= 0x01;
        fs.writeFileSync(file, bytes);
    };

    beforeAll(() => {
        requireBinaries(BINARIES);
        work = scratchDir("retention");
        n8nData = path.join(work, "n8n-data");
        fs.mkdirSync(path.join(n8nData, "nodes"), { recursive: true });
        fs.writeFileSync(path.join(n8nData, "config"), '{"encryptionKey":"test-only-key"}\n');
        fs.writeFileSync(path.join(n8nData, "nodes", "package.json"), "{}\n");
        // A live n8n's files: the committed rows are still in database.sqlite-wal (copied while the
        // writer holds the database open, autocheckpoint off), the main file has none of them.
        const live = path.join(work, "n8n-live");
        fs.mkdirSync(live);
        const session = spawnSync("sqlite3", [path.join(live, "database.sqlite")], {
            input: [
                "PRAGMA journal_mode=WAL;",
                "PRAGMA wal_autocheckpoint=0;",
                "CREATE TABLE workflow_entity(id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
                "INSERT INTO workflow_entity(name) VALUES ('rss ingest'), ('daily report');",
                `.shell cp ${live}/database.sqlite ${live}/database.sqlite-wal ${n8nData}/`,
            ].join("\n"),
            encoding: "utf8",
        });
        expect(session.status).toBe(0);
        expect(fs.statSync(path.join(n8nData, "database.sqlite-wal")).size).toBeGreaterThan(0);
        docker = path.join(work, "docker");
        fs.writeFileSync(docker, DOCKER_STUB, { mode: 0o755 });
    });

    afterAll(() => {
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("after 30 daily runs keeps the newest 7 days and the newest 4 Sundays, the newest run included", () => {
        const root = path.join(work, "thirty");
        // 2026-02-01 (a Sunday) to 2026-03-02 (a Monday): 30 runs at 03:25 UTC, retention after each.
        const start = Date.parse("2026-02-01T03:25:00Z");
        for (let i = 0; i < 30; i++) backupAt(root, new Date(start + i * 86_400_000).toISOString());

        const kept = archives(root).map(day);
        expect(kept).toEqual([
            // weekly: the newest 4 Sundays (the 5th, 2026-02-01, is gone) ...
            "20260208", "20260215", "20260222",
            // ... daily: the newest 7 days, which include the 4th Sunday, 2026-03-01.
            "20260224", "20260225", "20260226", "20260227", "20260228", "20260301", "20260302",
        ]);
        const sundays = kept.filter((d) => new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T00:00:00Z`).getUTCDay() === 0);
        expect(sundays).toEqual(["20260208", "20260215", "20260222", "20260301"]);
        expect(kept[kept.length - 1]).toBe("20260302");
        // Every kept archive still has its checksum, and nothing else is left in the directory.
        expect(fs.readdirSync(path.join(root, "n8n")).sort()).toEqual(archives(root).flatMap((a) => [a, `${a}.sha256`]).sort());
        expect(runBackupScript("verify_backups.sh", env(root)).status).toBe(0);
        expect(log("verify_backups")).toContain("n8n: 10 of 10 backups match their checksum, 10 of 10 pass the n8n format check (newest n8n_20260302T032500Z.tar.gz)");
        expect(log("n8n_backup")).toMatch(/retention: deleted n8n_20260201T032500Z\.tar\.gz/);
    });

    it("keeps only the newest backup of a day once the day has a newer one", () => {
        const root = path.join(work, "sameday");
        backupAt(root, "2026-03-03T03:25:00Z");
        backupAt(root, "2026-03-03T15:00:00Z");
        expect(archives(root)).toEqual(["n8n_20260303T150000Z.tar.gz"]);
    });

    it("never counts or deletes corrupt backups, so they cannot push out the last good one", () => {
        const root = path.join(work, "corrupt");
        for (let d = 1; d <= 9; d++) seed(root, `n8n_2026031${d}T032500Z.tar.gz`, `archive of day ${d}`);
        // Days 3..9 rot; only days 1 and 2 still match their checksums.
        for (let d = 3; d <= 9; d++) flipByte(path.join(root, "n8n", `n8n_2026031${d}T032500Z.tar.gz`));
        backupAt(root, "2026-03-20T03:25:00Z");
        expect(archives(root).map(day)).toEqual(["20260311", "20260312", "20260313", "20260314", "20260315", "20260316", "20260317", "20260318", "20260319", "20260320"]);
        expect(log("n8n_backup")).toContain("not counted for retention: CHECKSUM MISMATCH");
        expect(log("n8n_backup")).toContain("retention: 3 kept (3 daily, 0 weekly)");
        expect(runBackupScript("verify_backups.sh", env(root)).status).not.toBe(0);
        expect(log("verify_backups")).toContain("n8n: 3 of 10 backups match their checksum");
    });

    it("treats a backup without its .sha256 as not good: never counted, never deleted", () => {
        const root = path.join(work, "nosidecar");
        for (let d = 1; d <= 9; d++) seed(root, `n8n_2026040${d}T032500Z.tar.gz`, `archive of day ${d}`);
        fs.rmSync(path.join(root, "n8n", "n8n_20260401T032500Z.tar.gz.sha256"));
        backupAt(root, "2026-04-10T03:25:00Z");
        // Good: 02..09 and 10 (9 days) -> the newest 7 days stay, 02 and 03 go; 01 stays untouched.
        expect(archives(root).map(day)).toEqual(["20260401", "20260404", "20260405", "20260406", "20260407", "20260408", "20260409", "20260410"]);
        expect(log("n8n_backup")).toContain("not counted for retention: missing checksum file");
    });

    it("a failed run (data unreadable) exits non-zero, writes nothing, deletes nothing, and still unpauses n8n", () => {
        const root = path.join(work, "failed");
        for (let d = 1; d <= 9; d++) seed(root, `n8n_2026050${d}T032500Z.tar.gz`, `archive of day ${d}`);
        const before = snapshot(root);
        const run = runBackupScript("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-05-10T03:25:00Z", N8N_DATA_DIR: path.join(work, "no-such-volume") }));
        expect(run.status).not.toBe(0);
        expect(snapshot(root)).toEqual(before);
        expect(log("n8n_backup")).toMatch(/ERROR archiving the n8n data failed \(exit 2\)/);
        expect(dockerCalls(root).slice(1).filter((c) => !c.startsWith("("))).toEqual(["pause coinpilot-n8n", "unpause coinpilot-n8n"]);
        expect(log("n8n_backup")).toContain("unpaused coinpilot-n8n");
    });

    it("pauses n8n for exactly the copy: inspect, pause, the archive complete, then unpause", () => {
        const root = path.join(work, "paused");
        backupAt(root, "2026-05-11T03:25:00Z");
        expect(dockerCalls(root)).toEqual([
            `inspect --format {{.State.Status}} {{range .Mounts}}{{if eq .Destination "/home/node/.n8n"}}{{.Source}}{{end}}{{end}} coinpilot-n8n`,
            "pause coinpilot-n8n",
            "unpause coinpilot-n8n",
            "(archive complete)",
        ]);
    });

    it("publishes nothing when n8n cannot be unpaused, and says so", () => {
        const root = path.join(work, "stuck");
        const run = runBackupScript("n8n_backup.sh", env(root, { STUB_UNPAUSE_FAILS: "1" }));
        expect(run.status).not.toBe(0);
        expect(archives(root)).toEqual([]);
        expect(log("n8n_backup")).toContain("ERROR could not unpause coinpilot-n8n, n8n stays frozen until it is: Error response from daemon: cannot unpause");
        // Tried once after the copy; the exit trap does not repeat it.
        expect(dockerCalls(root).filter((c) => c.startsWith("unpause"))).toHaveLength(1);
    });

    it("copies a stopped container's data without pausing it", () => {
        const root = path.join(work, "stopped");
        backupAt(root, "2026-05-12T03:25:00Z");
        expect(archives(root)).toHaveLength(1);
        fs.rmSync(path.join(root, "..", "stopped.docker-calls"));
        const run = runBackupScript("n8n_backup.sh", env(root, { STUB_STATE: "exited", BACKUP_NOW: "2026-05-13T03:25:00Z" }));
        expect(run.status).toBe(0);
        expect(dockerCalls(root).map((c) => c.split(" ")[0])).toEqual(["inspect"]);
        expect(log("n8n_backup")).toContain("coinpilot-n8n is exited, not running: archiving its data without pausing it");
    });

    it("refuses to run while another run of the same kind holds the lock", () => {
        const root = path.join(work, "locked");
        fs.mkdirSync(path.join(root, "n8n"), { recursive: true });
        const script = path.join(__dirname, "..", "assets", "backup", "n8n_backup.sh");
        const result = (() => {
            try {
                execFileSync("flock", [path.join(root, "n8n"), "bash", script], { env: { PATH: process.env.PATH, ...env(root) }, stdio: "pipe" });
                return 0;
            } catch (error) {
                return (error as { status: number }).status;
            }
        })();
        expect(result).not.toBe(0);
        expect(log("n8n_backup")).toContain("another n8n backup is running");
        expect(snapshot(root)).toEqual([]);
    });

    it("rejects a BACKUP_NOW that is not a date and a KEEP_DAILY of 0", () => {
        const root = path.join(work, "badinput");
        expect(runBackupScript("n8n_backup.sh", env(root, { BACKUP_NOW: "next blursday" })).status).not.toBe(0);
        expect(log("n8n_backup")).toContain("BACKUP_NOW='next blursday' is not a date");
        const zero = runBackupScript("n8n_backup.sh", env(root, { KEEP_DAILY: "0" }));
        expect(zero.status).toBe(2);
        expect(zero.output).toContain("KEEP_DAILY must be >= 1");
        expect(snapshot(root)).toEqual([]);
    });

    it("archives the n8n data so that it extracts to the same files, and the rehearsal checks its database, WAL included", () => {
        const root = path.join(work, "n8n-roundtrip");
        backupAt(root, "2026-03-01T03:25:00Z");
        const out = path.join(work, "extracted");
        fs.mkdirSync(out);
        execFileSync("tar", ["-xzf", path.join(root, "n8n", "n8n_20260301T032500Z.tar.gz"), "-C", out]);
        expect(snapshot(out)).toEqual(snapshot(n8nData));
        // SQLite recovers the rows from the WAL the copy carried.
        expect(sqlite(path.join(out, "database.sqlite"), "SELECT group_concat(name, ', ') FROM workflow_entity")).toBe("rss ingest, daily report");
        expect(runBackupScript("restore_rehearsal.sh", env(root)).status).toBe(0);
        expect(log("restore_rehearsal")).toContain("n8n: n8n_20260301T032500Z.tar.gz lists 6 entries");
        // One table: it exists only in the WAL, so the rehearsal did read it.
        expect(log("restore_rehearsal")).toContain("n8n: database.sqlite in n8n_20260301T032500Z.tar.gz passes PRAGMA integrity_check (1 tables)");
    });

    it("fails the n8n rehearsal on a corrupt database inside a valid archive with a matching checksum", () => {
        const root = path.join(work, "n8n-corrupt-db");
        const dir = path.join(work, "corrupt-db");
        fs.mkdirSync(dir);
        const db = path.join(dir, "database.sqlite");
        sqlite(db, `CREATE TABLE workflow_entity(id INTEGER PRIMARY KEY, name TEXT, nodes TEXT);
            WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 500)
            INSERT INTO workflow_entity SELECT i, 'workflow ' || i, printf('%.200c', 'x') FROM c`);
        expect(sqlite(db, "PRAGMA integrity_check")).toBe("ok");
        // Garbage over a b-tree page, as a torn copy could leave it: the gzip and the checksum stay valid.
        const bytes = fs.readFileSync(db);
        bytes.fill(0xff, 4096 * 3 + 1000, 4096 * 3 + 1200);
        fs.writeFileSync(db, bytes);
        seedArchive(root, "n8n_20260301T032500Z.tar.gz", dir);
        expect(runBackupScript("verify_backups.sh", env(root)).status).toBe(0);
        expect(runBackupScript("restore_rehearsal.sh", env(root)).status).not.toBe(0);
        expect(log("restore_rehearsal")).toMatch(/FAIL n8n: database\.sqlite in n8n_20260301T032500Z\.tar\.gz FAILED PRAGMA integrity_check: .*malformed/);
        expect(log("restore_rehearsal")).toContain("FAIL n8n: rehearsal FAILED");
        expect(log("restore_rehearsal")).toMatch(/ERROR restore rehearsal FAILED for: n8n \(n8n: database\.sqlite in .* FAILED PRAGMA integrity_check: .*malformed.*\)\n$/);
    });

    it("fails the n8n rehearsal on an archive without database.sqlite", () => {
        const root = path.join(work, "n8n-no-db");
        const dir = path.join(work, "no-db");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "config"), "{}\n");
        seedArchive(root, "n8n_20260301T032500Z.tar.gz", dir);
        expect(runBackupScript("restore_rehearsal.sh", env(root)).status).not.toBe(0);
        expect(log("restore_rehearsal")).toContain("ERROR restore rehearsal FAILED for: n8n (n8n: n8n_20260301T032500Z.tar.gz holds no database.sqlite)");
    });

    it("fails the n8n rehearsal on an archive that is not gzip, even with a matching checksum", () => {
        const root = path.join(work, "n8n-garbage");
        seed(root, "n8n_20260301T032500Z.tar.gz", "not an archive");
        expect(runBackupScript("restore_rehearsal.sh", env(root)).status).not.toBe(0);
        expect(log("restore_rehearsal")).toMatch(/FAIL n8n: listing n8n_20260301T032500Z\.tar\.gz failed/);
    });
});
