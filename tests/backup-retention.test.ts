// Retention (lib.sh, shared by every backup script) and the n8n archive, driven through
// n8n_backup.sh: it needs no server, so 30 days of real runs take a few seconds.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { sha256 } from "../lib/hash";
import { describeWithBinaries, makeTempDir, requireBinaries, runBackupScript, snapshot } from "./helpers/servers";

jest.setTimeout(60_000);

const BINARIES = ["tar", "gzip", "flock", "sha256sum"];

describeWithBinaries(BINARIES, "retention and n8n backups", () => {
    let work: string;
    let n8nData: string;

    const env = (root: string, extra: Record<string, string> = {}): Record<string, string> => ({
        BACKUP_ROOT: root,
        LOG_DIR: path.join(work, "log"),
        ENV_FILE: "",
        N8N_TAR_CMD: `tar -C ${n8nData}`,
        BACKUP_KINDS: "n8n",
        ...extra,
    });
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
        work = makeTempDir("retention");
        n8nData = path.join(work, "n8n-data");
        fs.mkdirSync(path.join(n8nData, "nodes"), { recursive: true });
        fs.writeFileSync(path.join(n8nData, "config"), '{"encryptionKey":"test-only-key"}\n');
        fs.writeFileSync(path.join(n8nData, "database.sqlite"), Buffer.alloc(32 * 1024, 7));
        fs.writeFileSync(path.join(n8nData, "nodes", "package.json"), "{}\n");
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
        expect(log("verify_backups")).toContain("n8n: 10 of 10 backups match their checksum (newest n8n_20260302T032500Z.tar.gz)");
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

    it("a failed run (data unreadable) exits non-zero, writes nothing and deletes nothing", () => {
        const root = path.join(work, "failed");
        for (let d = 1; d <= 9; d++) seed(root, `n8n_2026050${d}T032500Z.tar.gz`, `archive of day ${d}`);
        const before = snapshot(root);
        const run = runBackupScript("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-05-10T03:25:00Z", N8N_TAR_CMD: `tar -C ${path.join(work, "no-such-volume")}` }));
        expect(run.status).not.toBe(0);
        expect(snapshot(root)).toEqual(before);
        expect(log("n8n_backup")).toMatch(/ERROR archiving the n8n data failed \(exit 2\)/);
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

    it("archives the n8n data so that it extracts to the same files, and the rehearsal lists it", () => {
        const root = path.join(work, "n8n-roundtrip");
        backupAt(root, "2026-03-01T03:25:00Z");
        const out = path.join(work, "extracted");
        fs.mkdirSync(out);
        execFileSync("tar", ["-xzf", path.join(root, "n8n", "n8n_20260301T032500Z.tar.gz"), "-C", out]);
        expect(snapshot(out)).toEqual(snapshot(n8nData));
        expect(runBackupScript("restore_rehearsal.sh", env(root)).status).toBe(0);
        expect(log("restore_rehearsal")).toContain("n8n: n8n_20260301T032500Z.tar.gz lists 5 entries");
    });

    it("fails the n8n rehearsal on an archive that is not gzip, even with a matching checksum", () => {
        const root = path.join(work, "n8n-garbage");
        seed(root, "n8n_20260301T032500Z.tar.gz", "not an archive");
        expect(runBackupScript("restore_rehearsal.sh", env(root)).status).not.toBe(0);
        expect(log("restore_rehearsal")).toMatch(/ERROR n8n: listing n8n_20260301T032500Z\.tar\.gz failed/);
    });
});
