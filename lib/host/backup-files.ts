// What the Backups component ships to the host and where: the backup scripts, their shared
// library and the cron file, the alert and its unit, the boot-time health check and the ops check,
// with modes and content hashes. Pure: callers pass the file contents
// in, so tests can change one asset's content and see which copy would re-run.
import { BACKUP_ROOT, DATA_MOUNT_POINT } from "./data-layout";
import { sha256 } from "./hash";
import { shellCommand, shellQuote } from "./shell";

/**
 * Where the scripts live on the host (the backups in BACKUP_INSTALL_DIR, the health gate and the ops
 * check beside it in OPS_DIR). Not under /opt/coin-pilot: that is the app's git checkout,
 * which has its own scripts/backup/ and is reset by deploys; this tree belongs to Pulumi alone.
 */
export const OPS_DIR = "/opt/coinpilot-ops";
export const BACKUP_INSTALL_DIR = `${OPS_DIR}/backup`;
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
    /** A unit enabled after the install (started at the next boot, not now). Defaults to false. */
    readonly enable?: boolean;
}

/** Started by systemd when coinpilot-compose.service or coinpilot-health.service fails (their OnFailure=), with that unit's name as instance. */
export const ALERT_UNIT_PATH = "/etc/systemd/system/coinpilot-alert@.service";
/** The health gate's script, run at boot by HEALTH_UNIT_PATH and once by the ops check (the deploy runs its staged copy). */
export const HEALTH_CHECK_PATH = `${OPS_DIR}/health-check.sh`;
/** The runbook's 24-hour monitoring and Prometheus target check: `sudo /opt/coinpilot-ops/ops-check.sh [--since 24h]`. */
export const OPS_CHECK_PATH = `${OPS_DIR}/ops-check.sh`;
/**
 * The ops check from the operator's machine (the opsCheckCommand output): no `-t`, so its exit status
 * and output pass through ssh unchanged and a script or cron job can run it (the image's sudo asks
 * no password). Arguments appended to it reach the script: `$(pulumi stack output opsCheckCommand) --since 6h`.
 */
export function opsCheckCommand(address: string, user = "ubuntu"): string {
    return `ssh ${user}@${address} sudo ${OPS_CHECK_PATH}`;
}
/** The health gate at every boot, after coinpilot-compose.service; alerts through ALERT_UNIT_PATH when it fails. */
export const HEALTH_UNIT_PATH = "/etc/systemd/system/coinpilot-health.service";

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

/**
 * The ops tools installed beside the backups, after them (the health unit's OnFailure= needs the alert
 * unit): the deploy's health gate, the unit that runs it at every boot (enabled, not started), and
 * the runbook's 24-hour check. No cron runs them.
 */
export const OPS_ASSETS: readonly BackupAsset[] = [
    { role: "health-check", source: "assets/host/health-check.sh", remotePath: HEALTH_CHECK_PATH, mode: "0755" },
    { role: "health-unit", source: "assets/systemd/coinpilot-health.service", remotePath: HEALTH_UNIT_PATH, mode: "0644", text: true, unit: true, enable: true },
    { role: "ops-check", source: "assets/host/ops-check.sh", remotePath: OPS_CHECK_PATH, mode: "0755" },
];

/** Everything the Backups component ships, in install order. */
export const SHIPPED_ASSETS: readonly BackupAsset[] = [...BACKUP_ASSETS, ...OPS_ASSETS];

export function stagingPath(asset: BackupAsset): string {
    return `${STAGING_DIR}/${asset.remotePath.split("/").pop()}`;
}

export interface PlannedCopy extends BackupAsset {
    readonly stagingPath: string;
    readonly sha256: string;
}

/** Every shipped asset (SHIPPED_ASSETS) with its staging path and content hash; `read` returns a source file's content. */
export function planBackupCopies(read: (source: string) => string | Buffer): PlannedCopy[] {
    return SHIPPED_ASSETS.map((asset) => ({ ...asset, stagingPath: stagingPath(asset), sha256: sha256(read(asset.source)) }));
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
    const unitName = copy.remotePath.split("/").pop()!;
    if (!copy.unit) return install;
    return copy.enable ? `${install} && sudo systemctl daemon-reload && sudo systemctl enable --quiet ${shellQuote(unitName)}` : `${install} && sudo systemctl daemon-reload`;
}
