// What the Backups component ships to the host and where: the backup scripts, their shared
// library and the cron file, with modes and content hashes. Pure: callers pass the file contents
// in, so tests can change one asset's content and see which copy would re-run.
import { BACKUP_ROOT, DATA_MOUNT_POINT } from "./data-layout";
import { sha256 } from "./hash";
import { shellCommand, shellQuote } from "./shell";

/**
 * Where the scripts live on the host. Not under /opt/coin-pilot: that is the app's git checkout,
 * which has its own scripts/backup/ and is reset by deploys; this tree belongs to Pulumi alone.
 */
export const BACKUP_INSTALL_DIR = "/opt/coinpilot-ops/backup";
/** Backups land in BACKUP_ROOT/<kind>/ (mode 0700: they hold trading data and credentials), on the data volume. */
export { BACKUP_ROOT };
export const BACKUP_KINDS = ["postgres", "redis", "n8n"] as const;
export const LOG_DIR = "/var/log/coinpilot";
export const CRON_FILE_PATH = "/etc/cron.d/coinpilot-backup";
/** Rotates LOG_DIR/*.log weekly, 8 kept, compressed. */
export const LOGROTATE_FILE_PATH = "/etc/logrotate.d/coinpilot";
/**
 * The SSH user cannot write root-owned paths, so CopyToRemote uploads here and each file's own
 * install step copies it into place as root with its mode. Under /var/lib, which no tmpfiles.d
 * rule ages (Ubuntu cleans /var/tmp after 30 days untouched), and a staged copy is only ever read
 * by its own install step, so a missing sibling can never fail it.
 */
export const STAGING_DIR = "/var/lib/coinpilot-ops/staging/backup";

export interface BackupAsset {
    /** Short role, used in resource names (`${name}-copy-<role>`). */
    readonly role: string;
    /** Path relative to the repository root (Pulumi runs the program from there). */
    readonly source: string;
    /** Where the file is installed on the host. */
    readonly remotePath: string;
    /** Octal mode of the installed file, owner root:root. */
    readonly mode: "0755" | "0644";
    /** Shipped as text (a StringAsset), so `npm run plan` prints it for review. Defaults to false (a file). */
    readonly text?: boolean;
    /** A systemd unit: systemd re-reads its units after the install. Defaults to false. */
    readonly unit?: boolean;
}

/** Started by systemd when coinpilot-compose.service fails (its OnFailure=), with that unit's name as instance. */
export const ALERT_UNIT_PATH = "/etc/systemd/system/coinpilot-alert@.service";

function script(file: string, mode: "0755" | "0644" = "0755"): BackupAsset {
    return { role: file.replace(/(\.sh)$/, "").replace(/_/g, "-"), source: `assets/backup/${file}`, remotePath: `${BACKUP_INSTALL_DIR}/${file}`, mode };
}

/**
 * Every file shipped, in install order. The cron file is 0644 (cron ignores group/world-writable
 * files) and last, once the scripts it runs exist; logrotate also skips writable config files.
 */
export const BACKUP_ASSETS: readonly BackupAsset[] = [
    script("lib.sh", "0644"),
    script("postgres_backup.sh"),
    script("redis_backup.sh"),
    script("n8n_backup.sh"),
    script("verify_backups.sh"),
    script("restore_rehearsal.sh"),
    script("offsite_upload.sh"),
    script("backup_freshness.sh"),
    script("alert.sh"),
    { role: "alert-unit", source: "assets/systemd/coinpilot-alert@.service", remotePath: ALERT_UNIT_PATH, mode: "0644", text: true, unit: true },
    { role: "logrotate", source: "assets/logrotate/coinpilot", remotePath: LOGROTATE_FILE_PATH, mode: "0644", text: true },
    { role: "cron", source: "assets/cron/coinpilot-backup", remotePath: CRON_FILE_PATH, mode: "0644", text: true },
];

export function stagingPath(asset: BackupAsset): string {
    return `${STAGING_DIR}/${asset.remotePath.split("/").pop()}`;
}

export interface PlannedCopy extends BackupAsset {
    readonly stagingPath: string;
    readonly sha256: string;
}

/** The assets with their staging paths and content hashes; `read` returns a source file's content. */
export function planBackupCopies(read: (source: string) => string | Buffer): PlannedCopy[] {
    return BACKUP_ASSETS.map((asset) => ({ ...asset, stagingPath: stagingPath(asset), sha256: sha256(read(asset.source)) }));
}

function parent(dir: string): string {
    return dir.slice(0, dir.lastIndexOf("/"));
}

/**
 * Creates the install, backup, log and staging directories (idempotent; `install -d` also fixes
 * modes) and installs sqlite3, which the restore rehearsal runs on the host to check the n8n
 * database: the n8n image does not ship it, and the check must not depend on the container.
 */
export function directoriesCommand(): string {
    const backupDirs = [BACKUP_ROOT, ...BACKUP_KINDS.map((kind) => `${BACKUP_ROOT}/${kind}`)];
    const stagingParents = [parent(parent(STAGING_DIR)), parent(STAGING_DIR)];
    const apt = "sudo DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600";
    return [
        "set -eu",
        `sudo install -d -o root -g root -m 0755 ${shellCommand([parent(BACKUP_INSTALL_DIR), BACKUP_INSTALL_DIR])}`,
        // The mount point exists already when the data volume is mounted; without one it is a plain directory.
        `sudo install -d -o root -g root -m 0755 ${shellQuote(DATA_MOUNT_POINT)}`,
        `sudo install -d -o root -g root -m 0700 ${shellCommand(backupDirs)}`,
        `sudo install -d -o root -g root -m 0755 ${shellQuote(LOG_DIR)}`,
        `sudo install -d -o root -g root -m 0755 ${shellCommand(stagingParents)}`,
        `sudo install -d -o "$(id -un)" -m 0700 ${shellQuote(STAGING_DIR)}`,
        // Package lists may be older than the archive's current sqlite3: refresh them only when needed.
        `command -v sqlite3 >/dev/null || { ${apt} update && ${apt} install sqlite3; }`,
    ].join("\n");
}

/** The runbook's backup directory (seed 001: `sudo find /var/backups/coinpilot -type f`): BACKUP_ROOT bind-mounted there. */
export const RUNBOOK_BACKUP_DIR = "/var/backups/coinpilot";
/** The runbook's log names (seed 001's cron lines) for ours: `postgres-backup.log` -> `postgres_backup.log`. */
export const RUNBOOK_LOG_NAMES = BACKUP_KINDS.map((kind) => ({ runbook: `${kind}-backup.log`, ours: `${kind}_backup.log` }));

/**
 * Makes the runbook's paths work on our layout: BACKUP_ROOT bind-mounted at RUNBOOK_BACKUP_DIR (a
 * bind mount, not a symlink: `find DIR -type f` does not enter a symlink), in fstab after the data
 * volume for the next boot; and the runbook's log names as symlinks to ours (the logrotate glob
 * `*_*.log` leaves them out: logrotate refuses symlinks). A real directory already at
 * RUNBOOK_BACKUP_DIR (the app's own backups) is left alone, with a warning.
 */
export function runbookPathsCommand(): string {
    const fstabLine = `${BACKUP_ROOT} ${RUNBOOK_BACKUP_DIR} none bind,nofail,x-systemd.requires-mounts-for=${DATA_MOUNT_POINT} 0 0`;
    const dir = shellQuote(RUNBOOK_BACKUP_DIR);
    return [
        "set -eu",
        `if [ -d ${dir} ] && [ -n "$(sudo ls -A ${dir})" ] && ! mountpoint -q ${dir}; then`,
        `    echo "WARN: ${RUNBOOK_BACKUP_DIR} holds files of its own (the app's backups?): left alone; ours are in ${BACKUP_ROOT}" >&2`,
        "else",
        `    sudo install -d -o root -g root -m 0700 ${dir}`,
        // The line goes through stdin both times: only paths are arguments of sudo.
        `    printf '%s\\n' ${shellQuote(fstabLine)} | sudo grep -qxF -f - /etc/fstab || printf '%s\\n' ${shellQuote(fstabLine)} | sudo tee -a /etc/fstab >/dev/null`,
        `    mountpoint -q ${dir} || sudo mount --bind ${shellQuote(BACKUP_ROOT)} ${dir}`,
        "fi",
        ...RUNBOOK_LOG_NAMES.map(({ runbook, ours }) => `sudo ln -sfn ${shellQuote(ours)} ${shellQuote(`${LOG_DIR}/${runbook}`)}`),
    ].join("\n");
}

/**
 * Installs one staged file as root with its mode. One command per file: a changed asset re-runs
 * only its own install, which reads only its own staged copy.
 */
export function installCommand(copy: PlannedCopy): string {
    const install = `sudo install -o root -g root -m ${copy.mode} ${shellQuote(copy.stagingPath)} ${shellQuote(copy.remotePath)}`;
    return copy.unit ? `${install} && sudo systemctl daemon-reload` : install;
}
