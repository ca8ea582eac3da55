// The .env values the stack generates itself (random.RandomPassword), and the optional stack config
// key that overrides each one. Retained data is bound to these values (Postgres keeps the password it
// was initialised with, n8n's stored credentials are encrypted with N8N_ENCRYPTION_KEY), so a
// recreate must reuse them: the RandomPasswords are protected, and a recreate into an empty stack
// reads the old values back from these config keys. Pure: no Pulumi resources here.

/** One generated secret: its .env variable and the RandomPassword's role (`${host}-<role>`; renaming it would replace the password). */
export interface GeneratedSecret {
    readonly envKey: string;
    readonly role: string;
}

/** In the order the .env lists them. */
export const GENERATED_SECRETS = [
    { envKey: "POSTGRES_PASSWORD", role: "postgres-password" },
    { envKey: "REDIS_PASSWORD", role: "redis-password" },
    { envKey: "N8N_BASIC_AUTH_PASSWORD", role: "n8n-password" },
    { envKey: "N8N_ENCRYPTION_KEY", role: "n8n-encryption-key" },
    { envKey: "N8N_WEBHOOK_SECRET", role: "n8n-webhook-secret" },
    { envKey: "GRAFANA_ADMIN_PASSWORD", role: "grafana-admin-password" },
] as const satisfies readonly GeneratedSecret[];

export type GeneratedEnvKey = (typeof GENERATED_SECRETS)[number]["envKey"];

/** The config key (without namespace) for an .env key: N8N_ENCRYPTION_KEY -> n8nEncryptionKey. */
export function overrideConfigKey(envKey: string): string {
    return envKey.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Every override key, in .env order: coinpilot:postgresPassword, redisPassword, ... */
export const OVERRIDE_CONFIG_KEYS = GENERATED_SECRETS.map((s) => overrideConfigKey(s.envKey));

/** Name of the secret stack output that holds the values in use (index.ts exports it). */
export const GENERATED_SECRETS_OUTPUT = "generatedSecrets";
