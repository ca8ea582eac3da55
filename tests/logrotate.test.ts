// assets/logrotate/coinpilot (installed as /etc/logrotate.d/coinpilot): Debian's logrotate parses it
// (and rejects a broken copy), and a forced run on a temp log directory rotates the way it says.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { BACKUP_ASSETS, LOGROTATE_FILE_PATH, LOG_DIR } from "../lib/host/backup-files";
import { REPO_ROOT, describeWithBinaries, requireBinaries } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

const asset = BACKUP_ASSETS.find((a) => a.remotePath === LOGROTATE_FILE_PATH)!;
const text = fs.readFileSync(path.join(REPO_ROOT, asset.source), "utf8");
const cronText = fs.readFileSync(path.join(REPO_ROOT, BACKUP_ASSETS.find((a) => a.role === "cron")!.source), "utf8");

describeWithBinaries(["logrotate"], "logrotate config /etc/logrotate.d/coinpilot", () => {
    let dir: string;
    beforeAll(() => requireBinaries(["logrotate"]));
    beforeEach(() => (dir = scratchDir("logrotate")));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs logrotate on `config` with a temp state file; logrotate skips group/world-writable configs. */
    const logrotate = (config: string, ...flags: string[]) => {
        const file = path.join(dir, "coinpilot.conf");
        fs.writeFileSync(file, config, { mode: 0o644 });
        return spawnSync("logrotate", [...flags, "--state", path.join(dir, "state"), file], { encoding: "utf8" });
    };

    it("covers every log the backup jobs write, and is installed root 0644", () => {
        expect(text.match(/^(\S+) \{$/m)?.[1]).toBe(`${LOG_DIR}/*_*.log`);
        const logs = [...cronText.matchAll(/>> (\S+) 2>&1$/gm)].map((m) => m[1]);
        expect(logs.length).toBe(7);
        for (const log of logs) expect(log).toMatch(new RegExp(`^${LOG_DIR}/[^/]+_[^/]+\\.log$`));
        expect(asset.mode).toBe("0644");
    });

    it("passes `logrotate -d` (weekly, 8 rotations), which rejects a broken copy", () => {
        const good = logrotate(text, "-d");
        expect(good.status).toBe(0);
        expect(good.stderr).not.toMatch(/error/i);
        expect(good.stdout + good.stderr).toMatch(/rotating pattern: \/var\/log\/coinpilot\/\*_\*\.log\s+weekly \(8 rotations\)/);
        const broken = logrotate(text.replace("rotate 8", "rotate eight"), "-d");
        expect(broken.status).not.toBe(0);
        expect(broken.stderr).toMatch(/bad rotation count/);
    });

    it("rotates into a compressed file and recreates the log 0640 root:adm; an empty log is left alone", () => {
        const logs = path.join(dir, "logs");
        fs.mkdirSync(logs, { mode: 0o755 });
        fs.writeFileSync(path.join(logs, "postgres_backup.log"), "2026-03-01T03:05:00Z [postgres_backup] INFO wrote\n");
        // The runbook's name for the same log (a symlink the host has) must not break the rotation.
        fs.symlinkSync("postgres_backup.log", path.join(logs, "postgres-backup.log"));
        const config = text.replace(`${LOG_DIR}/*_*.log`, `${logs}/*_*.log`);
        const first = logrotate(config, "--force");
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(spawnSync("gzip", ["-dc", path.join(logs, "postgres_backup.log.1.gz")], { encoding: "utf8" }).stdout).toContain("INFO wrote");
        const fresh = fs.statSync(path.join(logs, "postgres_backup.log"));
        expect([fresh.size, (fresh.mode & 0o777).toString(8), fresh.uid]).toEqual([0, "640", 0]);
        expect(spawnSync("stat", ["-c", "%G", path.join(logs, "postgres_backup.log")], { encoding: "utf8" }).stdout.trim()).toBe("adm");
        // notifempty: the fresh, empty log is not rotated again.
        expect(logrotate(config, "--force").status).toBe(0);
        expect(fs.readdirSync(logs).sort()).toEqual(["postgres-backup.log", "postgres_backup.log", "postgres_backup.log.1.gz"]);
    });
});
