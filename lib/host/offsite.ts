// The off-host copy of the backups (components/offsite.ts, assets/backup/lib.sh offsite_sync): an
// OCI Object Storage bucket the host can only write to, through a pre-authenticated request (PAR)
// whose URL it keeps in a root-only file. Pure: names, defaults, lifecycle rules and the remote
// command that installs the URL file, so tests check them without a cloud.
import { rootOnlyFileCommand, shellQuote } from "./shell";

/** Root-only file on the host holding the PAR URL (line 1) and its expiry (line 2); lib.sh reads the same path (a test keeps them equal). */
export const OFFSITE_URL_FILE = "/etc/coinpilot-ops/offsite-upload-par";

/** Defaults of the coinpilot:offsite* keys; Pulumi.yaml states the same (a test keeps them equal). */
export const OFFSITE_DEFAULTS = {
    offsiteCopy: true,
    offsiteBucketName: "coinpilot-backups",
    offsiteRetentionDays: 30,
    /**
     * Long on purpose (the host cannot renew it): about two years from this code's writing. Rotate
     * before it by setting a later date (README "Off-host copy"); the host warns 30 days ahead.
     */
    offsiteUploadExpires: "2028-12-31",
    /** Empty: looked up from the tenancy (getNamespace). */
    offsiteNamespace: "",
} as const;

/** OCI bucket names: 1-256 letters, digits, '-', '_' or '.'. */
export function checkBucketName(text: string): string | undefined {
    return /^[A-Za-z0-9._-]{1,256}$/.test(text) ? undefined : `"${text}" must be 1–256 letters, digits, '-', '_' or '.' (an Object Storage bucket name)`;
}

/** Object Storage namespaces are short lowercase alphanumeric names (`oci os ns get`). */
export function checkNamespace(text: string): string | undefined {
    return /^[a-z0-9]{1,64}$/.test(text) ? undefined : `"${text}" is not an Object Storage namespace (lowercase letters and digits, as \`oci os ns get\` prints it)`;
}

/** A date (YYYY-MM-DD, read as 00:00 UTC) or an RFC 3339 time in UTC, as OCI's timeExpires wants it; undefined when it is neither. */
export function normalizeExpiry(text: string): string | undefined {
    const value = text.trim();
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(iso) || Number.isNaN(Date.parse(iso))) return undefined;
    const normalized = new Date(Date.parse(iso)).toISOString().replace(/\.000Z$/, "Z");
    // Date.parse rolls 2028-02-30 over into March: a date that does not exist is refused.
    return normalized.slice(0, 19) === iso.slice(0, 19) ? normalized : undefined;
}

export interface LifecycleRule {
    readonly name: string;
    readonly action: "DELETE" | "ABORT";
    readonly target: "objects" | "previous-object-versions" | "multipart-uploads";
    readonly timeAmount: string;
    readonly timeUnit: "DAYS";
    readonly isEnabled: true;
}

/**
 * The bucket's lifecycle: every copy is deleted `days` after it was written; a version overwritten
 * through the PAR (the host cannot delete, only write a new version over one) is kept as long; a
 * multipart upload left unfinished goes after a day.
 */
export function lifecycleRules(days: number): LifecycleRule[] {
    return [
        { name: "delete-copies-after-retention", action: "DELETE", target: "objects", timeAmount: String(days), timeUnit: "DAYS", isEnabled: true },
        { name: "delete-overwritten-versions-after-retention", action: "DELETE", target: "previous-object-versions", timeAmount: String(days), timeUnit: "DAYS", isEnabled: true },
        { name: "abort-unfinished-uploads", action: "ABORT", target: "multipart-uploads", timeAmount: "1", timeUnit: "DAYS", isEnabled: true },
    ];
}

/**
 * Lifecycle rules only run when Object Storage itself may delete in the compartment (an IAM policy
 * naming the region's service principal); without it OCI refuses the lifecycle policy.
 */
export function lifecycleServiceStatement(region: string, compartmentId: string): string {
    const where = compartmentId.startsWith("ocid1.tenancy.") ? "tenancy" : `compartment id ${compartmentId}`;
    return `Allow service objectstorage-${region} to manage object-family in ${where}`;
}

/** The URL file's text: the PAR URL, then its expiry for the host's early warning. */
export function offsiteUrlFileText(url: string, expires: string): string {
    return `${url}\nexpires=${expires}\n`;
}

/** Installs the URL file from stdin (root-only); the URL never reaches a command line. */
export function offsiteUrlCommand(): string {
    return rootOnlyFileCommand(OFFSITE_URL_FILE);
}

/** Removes the URL file (the off-host copy switched off): the backups then say it is not configured. */
export function offsiteUrlDeleteCommand(): string {
    return `sudo rm -f ${shellQuote(OFFSITE_URL_FILE)}`;
}
