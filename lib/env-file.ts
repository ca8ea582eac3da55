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
