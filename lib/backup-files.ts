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

/**
 * Installs one staged file as root with its mode. One command per file: a changed asset re-runs
 * only its own install, which reads only its own staged copy.
 */
export function installCommand(copy: PlannedCopy): string {
    const install = `sudo install -o root -g root -m ${copy.mode} ${shellQuote(copy.stagingPath)} ${shellQuote(copy.remotePath)}`;
    return copy.unit ? `${install} && sudo systemctl daemon-reload` : install;
}
