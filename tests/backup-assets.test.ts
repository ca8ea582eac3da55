// Static checks of the backup assets: shellcheck on every script, the cron file through Debian's
// `crontab -n` plus the fields crontab cannot check for a /etc/cron.d file (user, command paths,
// log files, schedule), and the defaults the scripts share with the TypeScript side.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { BACKUP_ASSETS, BACKUP_ROOT, CRON_FILE_PATH, LOG_DIR } from "../lib/host/backup-files";
import { ENV_FILE_PATH } from "../lib/host/env-file";
import { DATA_MOUNT_POINT } from "../lib/host/data-layout";
import { REPO_ROOT, describeWithBinaries, requireBinaries } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";
import { shellDefault } from "./helpers/shell";

const scripts = BACKUP_ASSETS.filter((a) => a.source.endsWith(".sh"));
const cronAsset = BACKUP_ASSETS.find((a) => a.remotePath === CRON_FILE_PATH)!;
const cronText = fs.readFileSync(path.join(REPO_ROOT, cronAsset.source), "utf8");
const read = (source: string) => fs.readFileSync(path.join(REPO_ROOT, source), "utf8");

describeWithBinaries(["shellcheck"], "backup scripts", () => {
    beforeAll(() => requireBinaries(["shellcheck"]));

    it("ships every script in assets/backup, and nothing there is left unshipped", () => {
        const onDisk = fs.readdirSync(path.join(REPO_ROOT, "assets", "backup")).sort();
        expect(scripts.map((s) => path.basename(s.source)).sort()).toEqual(onDisk);
    });

    it.each(scripts.map((s) => [s.source]))("%s is shellcheck-clean (following lib.sh)", (source) => {
        const result = spawnSync("shellcheck", ["--external-sources", "--severity=style", source], { cwd: REPO_ROOT, encoding: "utf8" });
        expect(result.stdout + result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    it("shellcheck does catch a problem in a copy of a script (the check can fail)", () => {
        const dir = scratchDir("shellcheck");
        try {
            const copy = path.join(dir, "postgres_backup.sh");
            fs.copyFileSync(path.join(REPO_ROOT, "assets", "backup", "lib.sh"), path.join(dir, "lib.sh"));
            fs.writeFileSync(copy, read("assets/backup/postgres_backup.sh").replace('"${pg_dump_cmd[@]}"', "${pg_dump_cmd[@]}"));
            const result = spawnSync("shellcheck", ["--external-sources", copy], { encoding: "utf8" });
            expect(result.status).not.toBe(0);
            expect(result.stdout).toContain("SC2068");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("marks the runnable scripts executable (0755) and the sourced library 0644", () => {
        for (const script of scripts) {
            const executable = (fs.statSync(path.join(REPO_ROOT, script.source)).mode & 0o111) !== 0;
            expect([script.source, script.mode]).toEqual([script.source, executable ? "0755" : "0644"]);
            expect(read(script.source).startsWith(executable ? "#!/usr/bin/env bash\n" : "# shellcheck shell=bash\n")).toBe(true);
        }
        expect(scripts.find((s) => s.source.endsWith("/lib.sh"))?.mode).toBe("0644");
    });

    it("share their defaults with the TypeScript side: backup root, log dir and the .env the host writes", () => {
        const lib = read("assets/backup/lib.sh");
        expect(shellDefault(lib, "BACKUP_ROOT")).toBe(BACKUP_ROOT);
        expect(shellDefault(lib, "LOG_DIR")).toBe(LOG_DIR);
        expect(shellDefault(lib, "ENV_FILE")).toBe(ENV_FILE_PATH);
        // On the data volume, beside Docker's root, so the backups survive a recreate of the VM.
        expect(BACKUP_ROOT).toBe(`${DATA_MOUNT_POINT}/backups`);
    });
});

interface CronJob {
    readonly schedule: string;
    readonly user: string;
    readonly command: string;
    readonly log: string | undefined;
}

function cronJobs(text: string): { env: Record<string, string>; jobs: CronJob[] } {
    const env: Record<string, string> = {};
    const jobs: CronJob[] = [];
    for (const line of text.split("\n")) {
        if (!line.trim() || line.startsWith("#")) continue;
        const assignment = line.match(/^([A-Z_]+)=(.*)$/);
        if (assignment) {
            env[assignment[1]] = assignment[2];
            continue;
        }
        const fields = line.trim().split(/\s+/);
        jobs.push({ schedule: fields.slice(0, 5).join(" "), user: fields[5], command: fields[6], log: line.match(/>> (\S+) 2>&1$/)?.[1] });
    }
    return { env, jobs };
}

describeWithBinaries(["crontab"], "cron file /etc/cron.d/coinpilot-backup", () => {
    const { env, jobs } = cronJobs(cronText);
    const crontabCheck = (text: string) => {
        const dir = scratchDir("cron");
        try {
            fs.writeFileSync(path.join(dir, "coinpilot-backup"), text);
            return spawnSync("crontab", ["-n", path.join(dir, "coinpilot-backup")], { encoding: "utf8" });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };

    beforeAll(() => requireBinaries(["crontab"]));

    it("passes `crontab -n`, which rejects a broken copy", () => {
        const good = crontabCheck(cronText);
        expect(good.status).toBe(0);
        const broken = crontabCheck(cronText.replace(/^5 3 \* \* \*/m, "65 3 * * *"));
        expect(broken.status).not.toBe(0);
        expect(broken.stdout + broken.stderr).toContain("bad minute");
    });

    it("sets SHELL and a PATH that finds docker and the coreutils the scripts use", () => {
        expect(env.SHELL).toBe("/bin/bash");
        expect(env.PATH.split(":")).toEqual(expect.arrayContaining(["/usr/bin", "/bin", "/usr/sbin"]));
        // cron.d ignores file names with dots, and a file without a final newline loses its last job.
        expect(path.basename(CRON_FILE_PATH)).not.toContain(".");
        expect(cronText.endsWith("\n")).toBe(true);
        expect(cronAsset.mode).toBe("0644");
    });

    it("runs the seeds' schedule: postgres 03:05, redis 03:15, n8n 03:25, the off-host catch-up, daily verification, the freshness heartbeat, weekly rehearsal on Sunday", () => {
        expect(jobs.map((j) => `${j.schedule} ${path.basename(j.command)}`)).toEqual([
            "5 3 * * * postgres_backup.sh",
            "15 3 * * * redis_backup.sh",
            "25 3 * * * n8n_backup.sh",
            "35 3 * * * offsite_upload.sh",
            "45 3 * * * verify_backups.sh",
            "55 3 * * * backup_freshness.sh",
            "0 4 * * 0 restore_rehearsal.sh",
        ]);
    });

    it("runs every job as root (the user field crontab -n reads as part of the command)", () => {
        expect(jobs.map((j) => j.user)).toEqual(jobs.map(() => "root"));
    });

    it("points every command at a script the component installs there, executable, and every script is scheduled", () => {
        const runnable = scripts.filter((s) => s.mode === "0755");
        for (const job of jobs) {
            const installed = runnable.find((s) => s.remotePath === job.command);
            expect([job.command, installed?.source]).toEqual([job.command, expect.stringMatching(/^assets\/backup\/.+\.sh$/)]);
            expect(fs.existsSync(path.join(REPO_ROOT, installed!.source))).toBe(true);
        }
        // alert.sh is no job of its own: failed jobs and the compose unit's OnFailure= run it.
        expect(jobs.map((j) => j.command).sort()).toEqual(runnable.map((s) => s.remotePath).filter((p) => !p.endsWith("/alert.sh")).sort());
    });

    it("appends each job's output to the log file the script itself writes", () => {
        for (const job of jobs) {
            const source = read(scripts.find((s) => s.remotePath === job.command)!.source);
            const logName = source.match(/^backup_init (\w+) /m)?.[1].concat("_backup") ?? source.match(/^log_init (\w+)$/m)?.[1];
            expect([job.command, job.log]).toEqual([job.command, `${LOG_DIR}/${logName}.log`]);
        }
    });
});
