// The instance's own OCI provider. terraform-provider-oci retries a 429 by itself for 10 minutes
// (quadratic backoff, Retry-After ignored) and other 500s for 2 minutes before an error reaches the
// error hook (internal/tfresource/retry.go), so under a tight rate limit the provider, not the hunt,
// would decide how hard to hit the API. `disable_auto_retries` turns those retries off (it zeroes the
// provider process's retry budgets; "Out of host capacity" is never retried either way), so every
// failed LaunchInstance reaches the hunt at once, with its status code.
//
// Only the instance uses this provider: the other resources keep the default one, whose retries
// ride out eventual consistency (a fresh VCN's subnet, a volume attachment) and brief 409s that no
// hook of ours would answer. An explicit provider reads none of the stack's `oci:*` config by
// itself, so it is given every key the default provider takes from there (`pulumi config set
// oci:region ...` still applies); environment variables and ~/.oci/config work as before, since the
// provider process reads them itself.
import * as pulumi from "@pulumi/pulumi";
import type { ProviderArgs } from "@pulumi/oci";

/** How the hunt's provider answers errors: never retried by the provider itself. */
export const HUNT_PROVIDER_RETRIES = { disableAutoRetries: true } as const;

/** The retry keys this provider sets itself (a user's `oci:` values for them apply to the other resources only). */
type RetryKeys = "disableAutoRetries" | "retryDurationSeconds";

/**
 * Every other key of the provider's config and how `pulumi config` stores it: plain text, a
 * secret, or JSON (booleans, lists). A Record over ProviderArgs' keys, so a provider upgrade that
 * adds a key fails the type check until it is listed here.
 */
const OCI_CONFIG_KEYS: Record<Exclude<keyof ProviderArgs, RetryKeys>, "text" | "secret" | "json"> = {
    auth: "text",
    configFileProfile: "text",
    dualStackEndpointEnabled: "json",
    fingerprint: "text",
    ignoreDefinedTags: "json",
    privateKey: "secret",
    privateKeyPassword: "secret",
    privateKeyPath: "text",
    realmSpecificServiceEndpointTemplateEnabled: "json",
    region: "text",
    retriesConfigFile: "text",
    tenancyOcid: "text",
    testTimeMaintenanceRebootDue: "text",
    tokenExchangeAuth: "text",
    tokenExchangeClientId: "text",
    tokenExchangeClientSecret: "secret",
    tokenExchangeDomainUrl: "text",
    tokenExchangePublicKey: "text",
    tokenExchangeRequestedTokenType: "text",
    tokenExchangeResourceType: "text",
    tokenExchangeRpstExp: "text",
    tokenExchangeSubjectTokenType: "text",
    userOcid: "text",
    workloadIdentityTokenPath: "text",
};

/** The keys passed through from the stack's `oci` namespace. */
export const PASSED_OCI_CONFIG_KEYS = Object.keys(OCI_CONFIG_KEYS) as readonly string[];

/** Arguments for the instance's provider: the stack's `oci:*` config as the default provider sees it, plus our retry setting. */
export function huntProviderArgs(config: pulumi.Config = new pulumi.Config("oci")): ProviderArgs {
    const args: Record<string, unknown> = {};
    for (const [key, kind] of Object.entries(OCI_CONFIG_KEYS)) {
        const value = kind === "secret" ? config.getSecret(key) : kind === "json" ? config.getObject(key) : config.get(key);
        if (value !== undefined) args[key] = value;
    }
    return { ...(args as ProviderArgs), ...HUNT_PROVIDER_RETRIES };
}
