// Builds the Compose `.env` text from a record. Pure: the host component feeds it Pulumi secrets
// inside an apply, and assets/host/write-env.sh writes the result on the host.

/** Where the stack's env file lives on the host (the seeds' location, next to the compose file). */
export const ENV_FILE_PATH = "/opt/coin-pilot/deploy/cloud/oci/.env";

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Written bare: means the same to Compose's parser, to `source` in bash and to `cut -d= -f2-`
// (the runbooks read values that way). No '$' (interpolation), '#', quotes, spaces or '\'.
const BARE = /^[A-Za-z0-9_.,:\/@+=%-]*$/;

/**
 * One `KEY=value` line. Values outside the bare charset are single-quoted, which Compose and bash
 * both take literally; a value holding `'` or `\` has no form both read the same, so it is rejected,
 * as are line breaks (they would start a new variable).
 */
export function envLine(key: string, value: string): string {
    if (!KEY.test(key)) throw new Error(`.env: invalid variable name ${JSON.stringify(key)} (letters, digits and '_', not starting with a digit)`);
    if (/[\r\n\0]/.test(value)) throw new Error(`.env: the value of ${key} contains a line break or NUL; remove it (check the config value for a trailing newline)`);
    if (BARE.test(value)) return `${key}=${value}`;
    if (/['\\]/.test(value)) throw new Error(`.env: the value of ${key} contains ' or \\, which Compose and bash would read differently; choose a value without them`);
    return `${key}='${value}'`;
}

/** The whole file: a header, then one line per entry in the record's order. */
export function buildEnvFile(values: Readonly<Record<string, string>>): string {
    const lines = [
        "# Managed by coinpilot-infra (pulumi up). Edits here are overwritten; change the stack config instead.",
        ...Object.entries(values).map(([key, value]) => envLine(key, value)),
    ];
    return lines.join("\n") + "\n";
}

/**
 * The keys the program writes itself (components/host.ts: constants, generated passwords and the
 * secrets of their own config keys). coinpilot:appEnv and coinpilot:appSecretEnv add others and may
 * not reuse these: a second value for one of them would silently lose to the first in Compose.
 */
export const PROGRAM_ENV_KEYS = [
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "REDIS_PASSWORD",
    "N8N_BASIC_AUTH_USER",
    "N8N_BASIC_AUTH_PASSWORD",
    "N8N_ENCRYPTION_KEY",
    "N8N_WEBHOOK_SECRET",
    "GRAFANA_ADMIN_USER",
    "GRAFANA_ADMIN_PASSWORD",
    "UPBIT_ACCESS_KEY",
    "UPBIT_SECRET_KEY",
    "OPENAI_API_KEY",
] as const;

/**
 * Reads one extra-keys map (the JSON text of coinpilot:appEnv or coinpilot:appSecretEnv): an object
 * of variable names to strings (numbers and booleans are written as text). Returns the entries in
 * name order and one problem per bad entry; a problem names the variable, never its value. `taken`
 * holds the names another source already writes.
 */
export function parseExtraEnv(text: string, taken: ReadonlySet<string>): { values: Record<string, string>; problems: string[] } {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text.trim() === "" ? "{}" : text);
    } catch {
        parsed = undefined;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return { values: {}, problems: ["must be a map of variable names to values, e.g. pulumi config set --path 'coinpilot:appEnv.LLM_MODE' <value>"] };
    }
    const values: Record<string, string> = {};
    const problems: string[] = [];
    for (const [key, raw] of Object.entries(parsed).sort(([a], [b]) => a.localeCompare(b))) {
        if (!KEY.test(key)) {
            problems.push(`${JSON.stringify(key)} is not a variable name (letters, digits and '_', not starting with a digit)`);
            continue;
        }
        if (taken.has(key)) {
            problems.push(`${key} is written by the program itself or by the other map; remove it here (see README, "The app's .env")`);
            continue;
        }
        if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
            problems.push(`${key} must be a text value, not ${raw === null ? "null" : Array.isArray(raw) ? "a list" : "a map"}`);
            continue;
        }
        const value = String(raw);
        try {
            envLine(key, value);
        } catch {
            problems.push(`the value of ${key} contains a line break, a quote (') or a backslash, which the .env cannot hold`);
            continue;
        }
        values[key] = value;
    }
    return { values, problems };
}
