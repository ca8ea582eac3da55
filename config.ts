// Reads and validates the stack config (namespace `coinpilot`) once. Validation is a pure function
// so every bad input is reported together, naming its key, before any resource is declared.
import * as pulumi from "@pulumi/pulumi";
import { checkNetworkCidrs, checkOcid, checkSshCidr, checkSshPublicKey, isPassphraseProtected, parseBoolean, parseNumber } from "./lib/rules/validate";
import { DEFAULT_HUNT_DEADLINE_HOURS, DEFAULT_LAUNCH_DEADLINE_MINUTES, DEFAULT_LAUNCH_RETRY, LaunchRetrySettings } from "./lib/launch/policy";
import { isDiscordWebhookUrl, SecretText } from "./lib/launch/notify";
import { PROGRAM_ENV_KEYS, envLine, parseExtraEnv } from "./lib/host/env-file";
import { checkTimezone } from "./lib/host/timezone";
import { GENERATED_SECRETS, GeneratedEnvKey, OVERRIDE_CONFIG_KEYS, overrideConfigKey } from "./lib/host/generated-secrets";
import { A1_FLEX, BLOCK_VOLUME, FREE_TIER } from "./lib/rules/limits";
import { OFFSITE_DEFAULTS, checkBucketName, checkNamespace, normalizeExpiry } from "./lib/host/offsite";

export const CONFIG_NAMESPACE = "coinpilot";

// Sizing limits (FREE_TIER, A1_FLEX, BLOCK_VOLUME) live in lib/rules/limits.ts, shared with the policy pack.
/** Alias kept until components/storage.ts imports BLOCK_VOLUME from lib/rules/limits. */

/** Defaults for optional keys; Pulumi.yaml documents the same values (a test keeps them equal). */
export const DEFAULTS = {
    ocpus: 2,
    memoryInGbs: 12,
    bootVolumeSizeInGbs: 50,
    instanceName: "coinpilot-ins",
    vcnCidr: "10.0.0.0/16",
    subnetCidr: "10.0.1.0/24",
    allowPaidShape: false,
    dataVolumeSizeInGbs: 50,
    reservePublicIp: false,
    launchDeadlineMinutes: DEFAULT_LAUNCH_DEADLINE_MINUTES,
    launchHuntDeadlineHours: DEFAULT_HUNT_DEADLINE_HOURS,
    launchCapacityIntervalSeconds: DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds,
    launchCapacityIntervalMaxSeconds: DEFAULT_LAUNCH_RETRY.capacityIntervalMaxSeconds,
    launchThrottleBaseSeconds: DEFAULT_LAUNCH_RETRY.throttleBaseSeconds,
    launchThrottleMaxSeconds: DEFAULT_LAUNCH_RETRY.throttleMaxSeconds,
    launchUnknownRetries: DEFAULT_LAUNCH_RETRY.unknownRetries,
} as const;

export interface StackConfig {
    readonly compartmentId: string;
    readonly sshAllowedCidr: string;
    readonly sshPublicKey: string;
    readonly imageId: string;
    readonly ocpus: number;
    readonly memoryInGbs: number;
    readonly bootVolumeSizeInGbs: number;
    readonly instanceName: string;
    readonly vcnCidr: string;
    readonly subnetCidr: string;
    readonly allowPaidShape: boolean;
    /** A full AD name, or undefined to pick by `availabilityDomainIndex`. */
    readonly availabilityDomain?: string;
    /** 1-based AD position in the region's list (used when no name is given). */
    readonly availabilityDomainIndex: number;
    /** Size of the data volume this stack creates (unused when dataVolumeId is set). */
    readonly dataVolumeSizeInGbs: number;
    /** An existing volume holding the data: attached instead of creating one. */
    readonly dataVolumeId?: string;
    readonly reservePublicIp: boolean;
    /** An existing reserved public IP to adopt (implies reservePublicIp). */
    readonly reservedPublicIpId?: string;
    /** Budget of one `pulumi up`'s part of the capacity hunt, from its first failed launch. */
    readonly launchDeadlineMinutes: number;
    /** Budget of the whole hunt across the rerun loop's runs. */
    readonly launchHuntDeadlineHours: number;
    readonly launchCapacityIntervalSeconds: number;
    readonly launchCapacityIntervalMaxSeconds: number;
    readonly launchThrottleBaseSeconds: number;
    readonly launchThrottleMaxSeconds: number;
    readonly launchUnknownRetries: number;
    /** Discord webhook for hunt results; prints as [secret], never exported. */
    readonly discordWebhookUrl?: SecretText;
}

/** Raw config text by key (without the namespace), as `pulumi config` stores it. */
export type RawConfig = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            `Invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was created:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

export function keyName(key: string): string {
    return `${CONFIG_NAMESPACE}:${key}`;
}

/** Collects problems and typed values; each problem is prefixed with its full key name. */
export class ConfigReader {
    readonly problems: string[] = [];
    constructor(private readonly raw: RawConfig) {}

    problem(key: string, message: string): void {
        this.problems.push(`${keyName(key)}: ${message}`);
    }

    private present(key: string): string | undefined {
        const value = this.raw[key];
        return value === undefined || value.trim() === "" ? undefined : value;
    }

    require(key: string, how: string): string {
        const value = this.present(key);
        if (value === undefined) this.problem(key, `is required; ${how}`);
        return value ?? "";
    }

    string(key: string, fallback: string): string {
        return this.present(key)?.trim() ?? fallback;
    }

    number(key: string, fallback: number, check: { min: number; max: number; integer?: boolean }): number {
        const text = this.present(key);
        if (text === undefined) return fallback;
        const value = parseNumber(text);
        if (value === undefined) {
            this.problem(key, `"${text}" is not a number`);
            return fallback;
        }
        if (check.integer && !Number.isInteger(value)) this.problem(key, `${value} must be a whole number`);
        if (value < check.min || value > check.max) this.problem(key, `${value} is outside ${check.min}–${check.max}`);
        return value;
    }

    boolean(key: string, fallback: boolean): boolean {
        const text = this.present(key);
        if (text === undefined) return fallback;
        const value = parseBoolean(text);
        if (value === undefined) this.problem(key, `"${text}" is not true or false`);
        return value ?? fallback;
    }

    /** Runs a validator on a present value and records its problem. */
    check(key: string, value: string, validator: (text: string) => string | undefined): void {
        if (value === "") return;
        const message = validator(value);
        if (message) this.problem(key, message);
    }
}

/** Validates raw config text; throws ConfigError listing every problem at once. */
export function validateConfig(raw: RawConfig): StackConfig {
    const r = new ConfigReader(raw);
    const compartmentId = r.require("compartmentId", "set the OCID of the compartment to deploy into: pulumi config set coinpilot:compartmentId ocid1.compartment.oc1..…");
    r.check("compartmentId", compartmentId, (v) => checkOcid(v, ["compartment", "tenancy"]));
    const sshAllowedCidr = r.require("sshAllowedCidr", "set your public IPv4 address as a /32: pulumi config set coinpilot:sshAllowedCidr 198.51.100.7/32");
    r.check("sshAllowedCidr", sshAllowedCidr, checkSshCidr);
    const sshPublicKey = r.require("sshPublicKey", 'set your SSH public key: pulumi config set coinpilot:sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"');
    r.check("sshPublicKey", sshPublicKey, checkSshPublicKey);
    const imageId = r.require("imageId", "pin an arm64 (aarch64) Ubuntu image OCID for your region: see README 'Pinning the image'");
    r.check("imageId", imageId, (v) => checkOcid(v, ["image"]));

    const allowPaidShape = r.boolean("allowPaidShape", DEFAULTS.allowPaidShape);
    const ocpus = r.number("ocpus", DEFAULTS.ocpus, { min: 1, max: A1_FLEX.maxOcpus, integer: true });
    const memoryInGbs = r.number("memoryInGbs", DEFAULTS.memoryInGbs, { min: 1, max: A1_FLEX.maxMemoryInGbs, integer: true });
    const bootVolumeSizeInGbs = r.number("bootVolumeSizeInGbs", DEFAULTS.bootVolumeSizeInGbs, {
        min: BLOCK_VOLUME.minInGbs,
        max: BLOCK_VOLUME.maxInGbs,
        integer: true,
    });
    const perOcpu = memoryInGbs / ocpus;
    if (perOcpu < A1_FLEX.minMemoryPerOcpu || perOcpu > A1_FLEX.maxMemoryPerOcpu) {
        r.problem("memoryInGbs", `${memoryInGbs} GB for ${ocpus} OCPU is outside A1.Flex's ${A1_FLEX.minMemoryPerOcpu}–${A1_FLEX.maxMemoryPerOcpu} GB per OCPU`);
    }
    if (!allowPaidShape) {
        const paid = "beyond the Always Free allowance; lower it, or set coinpilot:allowPaidShape true to accept charges";
        if (ocpus > FREE_TIER.ocpus) r.problem("ocpus", `${ocpus} OCPU is ${paid} (${FREE_TIER.ocpus} OCPU in total)`);
        if (memoryInGbs > FREE_TIER.memoryInGbs) r.problem("memoryInGbs", `${memoryInGbs} GB is ${paid} (${FREE_TIER.memoryInGbs} GB in total)`);
        if (bootVolumeSizeInGbs > FREE_TIER.blockStorageInGbs) {
            r.problem("bootVolumeSizeInGbs", `${bootVolumeSizeInGbs} GB is ${paid} (${FREE_TIER.blockStorageInGbs} GB of block storage in total)`);
        }
    }

    const dataVolumeSizeInGbs = r.number("dataVolumeSizeInGbs", DEFAULTS.dataVolumeSizeInGbs, { min: BLOCK_VOLUME.minInGbs, max: BLOCK_VOLUME.maxInGbs, integer: true });
    const dataVolumeId = r.string("dataVolumeId", "");
    r.check("dataVolumeId", dataVolumeId, (v) => checkOcid(v, ["volume"]));
    const reservePublicIp = r.boolean("reservePublicIp", DEFAULTS.reservePublicIp);
    const reservedPublicIpId = r.string("reservedPublicIpId", "");
    r.check("reservedPublicIpId", reservedPublicIpId, (v) => checkOcid(v, ["publicip"]));
    // The boot volume and a new data volume share the free block storage (an existing volume is already counted).
    const blockStorage = bootVolumeSizeInGbs + (dataVolumeId ? 0 : dataVolumeSizeInGbs);
    if (!allowPaidShape && bootVolumeSizeInGbs <= FREE_TIER.blockStorageInGbs && blockStorage > FREE_TIER.blockStorageInGbs) {
        r.problem(
            "dataVolumeSizeInGbs",
            `${dataVolumeSizeInGbs} GB plus the ${bootVolumeSizeInGbs} GB boot volume is beyond the Always Free ${FREE_TIER.blockStorageInGbs} GB of block storage; lower it, or set coinpilot:allowPaidShape true to accept charges`,
        );
    }

    // A position ("2") or a full name ("Uocm:AP-CHUNCHEON-1-AD-1"); never changed under a running VM (it replaces it).
    const availabilityDomain = r.string("availabilityDomain", "");
    let availabilityDomainIndex = 1;
    if (/^\d+$/.test(availabilityDomain)) {
        availabilityDomainIndex = Number(availabilityDomain);
        if (availabilityDomainIndex < 1 || availabilityDomainIndex > 3) r.problem("availabilityDomain", `${availabilityDomain}: OCI regions have 1 to 3 availability domains; use 1, 2 or 3`);
    } else if (availabilityDomain && !/^[A-Za-z0-9]{4}:[A-Z0-9-]+-AD-[1-3]$/.test(availabilityDomain)) {
        r.problem("availabilityDomain", `"${availabilityDomain}" is neither a position (1, 2, 3) nor an AD name like Uocm:AP-CHUNCHEON-1-AD-1 (oci iam availability-domain list)`);
    }

    const instanceName = r.string("instanceName", DEFAULTS.instanceName);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(instanceName)) {
        r.problem("instanceName", `"${instanceName}" must be 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    }
    const vcnCidr = r.string("vcnCidr", DEFAULTS.vcnCidr);
    const subnetCidr = r.string("subnetCidr", DEFAULTS.subnetCidr);
    const cidrProblems = checkNetworkCidrs(vcnCidr, subnetCidr);
    if (cidrProblems.vcn) r.problem("vcnCidr", cidrProblems.vcn);
    if (cidrProblems.subnet) r.problem("subnetCidr", cidrProblems.subnet);

    const launchDeadlineMinutes = r.number("launchDeadlineMinutes", DEFAULTS.launchDeadlineMinutes, { min: 5, max: 1440, integer: true });
    const launchHuntDeadlineHours = r.number("launchHuntDeadlineHours", DEFAULTS.launchHuntDeadlineHours, { min: 1, max: 2160, integer: true });
    const launchCapacityIntervalSeconds = r.number("launchCapacityIntervalSeconds", DEFAULTS.launchCapacityIntervalSeconds, { min: 5, max: 3600, integer: true });
    const launchCapacityIntervalMaxSeconds = r.number("launchCapacityIntervalMaxSeconds", DEFAULTS.launchCapacityIntervalMaxSeconds, { min: 5, max: 3600, integer: true });
    if (launchCapacityIntervalMaxSeconds < launchCapacityIntervalSeconds) {
        r.problem("launchCapacityIntervalMaxSeconds", `${launchCapacityIntervalMaxSeconds} must be at least coinpilot:launchCapacityIntervalSeconds (${launchCapacityIntervalSeconds})`);
    }
    const launchThrottleBaseSeconds = r.number("launchThrottleBaseSeconds", DEFAULTS.launchThrottleBaseSeconds, { min: 1, max: 3600, integer: true });
    const launchThrottleMaxSeconds = r.number("launchThrottleMaxSeconds", DEFAULTS.launchThrottleMaxSeconds, { min: 1, max: 86400, integer: true });
    const launchUnknownRetries = r.number("launchUnknownRetries", DEFAULTS.launchUnknownRetries, { min: 0, max: 1000, integer: true });
    if (launchThrottleMaxSeconds < launchThrottleBaseSeconds) {
        r.problem("launchThrottleMaxSeconds", `${launchThrottleMaxSeconds} must be at least coinpilot:launchThrottleBaseSeconds (${launchThrottleBaseSeconds})`);
    }
    // The URL itself never goes into a message: it is a credential. (Pulumi.yaml marks the key
    // `secret: true`, so the CLI refuses a value stored in clear.)
    const discordWebhookUrl = r.string("discordWebhookUrl", "");
    if (discordWebhookUrl && !isDiscordWebhookUrl(discordWebhookUrl)) {
        r.problem("discordWebhookUrl", "is not a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>); copy it from the channel's Integrations > Webhooks");
    }

    if (r.problems.length > 0) throw new ConfigError(r.problems);
    return {
        compartmentId: compartmentId.trim(),
        sshAllowedCidr: sshAllowedCidr.trim(),
        sshPublicKey: sshPublicKey.trim(),
        imageId: imageId.trim(),
        ocpus,
        memoryInGbs,
        bootVolumeSizeInGbs,
        instanceName,
        vcnCidr,
        subnetCidr,
        allowPaidShape,
        ...(availabilityDomain && !/^\d+$/.test(availabilityDomain) ? { availabilityDomain } : {}),
        availabilityDomainIndex,
        dataVolumeSizeInGbs,
        ...(dataVolumeId ? { dataVolumeId } : {}),
        reservePublicIp: reservePublicIp || reservedPublicIpId !== "",
        ...(reservedPublicIpId ? { reservedPublicIpId } : {}),
        launchDeadlineMinutes,
        launchHuntDeadlineHours,
        launchCapacityIntervalSeconds,
        launchCapacityIntervalMaxSeconds,
        launchThrottleBaseSeconds,
        launchThrottleMaxSeconds,
        launchUnknownRetries,
        ...(discordWebhookUrl ? { discordWebhookUrl: new SecretText(discordWebhookUrl.trim()) } : {}),
    };
}

/** The capacity hunt's tunables from validated config. */
export function launchRetrySettings(config: StackConfig): LaunchRetrySettings {
    return {
        capacityIntervalSeconds: config.launchCapacityIntervalSeconds,
        capacityIntervalMaxSeconds: config.launchCapacityIntervalMaxSeconds,
        throttleBaseSeconds: config.launchThrottleBaseSeconds,
        throttleMaxSeconds: config.launchThrottleMaxSeconds,
        unknownRetries: config.launchUnknownRetries,
    };
}

// ---- Host bootstrap (components/host.ts) -------------------------------------------------------

/** Keys of the host bootstrap; the secret ones are declared `secret: true` in Pulumi.yaml, so Pulumi refuses them in clear. */
export const HOST_CONFIG_KEYS = ["appRepoUrl", "appRef", "appRepoToken", "sshPrivateKey", "upbitAccessKey", "upbitSecretKey", "openaiApiKey", "appEnv", "appSecretEnv", "timezone", "swapSizeGb", "opsWebhookUrl", ...OVERRIDE_CONFIG_KEYS] as const;
/** timezone "": the image's zone stays (UTC on OCI's images), so cron times are UTC. */
/** swapSizeGb 4: about the square root of an A1 host's 12 GB, room for a build's peak while 8 services run. */
export const HOST_DEFAULTS = { appRef: "main", timezone: "", swapSizeGb: 4 } as const;

export interface HostConfig {
    readonly appRepoUrl: string;
    readonly appRef: string;
    readonly appRepoToken?: SecretText;
    readonly sshPrivateKey: SecretText;
    readonly upbitAccessKey: SecretText;
    readonly upbitSecretKey: SecretText;
    readonly openaiApiKey?: SecretText;
    /** Saved values of the generated .env secrets (coinpilot:postgresPassword, ...), by .env key; only those set. */
    readonly generatedSecretOverrides: Readonly<Partial<Record<GeneratedEnvKey, SecretText>>>;
    /** The app's other .env variables, plain (coinpilot:appEnv), in name order. */
    readonly appEnv: Readonly<Record<string, string>>;
    /** The app's other .env variables that are secrets (coinpilot:appSecretEnv), in name order. */
    readonly appSecretEnv: Readonly<Record<string, SecretText>>;
    /** The host's IANA time zone (coinpilot:timezone), which cron follows; "" leaves the image's (UTC). */
    readonly timezone: string;
    /** Swap file size in GiB (coinpilot:swapSizeGb); 0: none. */
    readonly swapSizeGb: number;
    /** Discord webhook for the host's alerts only (coinpilot:opsWebhookUrl); unset, they go to coinpilot:discordWebhookUrl. */
    readonly opsWebhookUrl?: SecretText;
}

const PRIVATE_KEY_BLOCK = /^-----BEGIN ((?:OPENSSH|RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----\r?\n[A-Za-z0-9+\/=\s:,-]+\r?\n-----END \1?PRIVATE KEY-----\s*$/;

export function checkSshPrivateKey(text: string): string | undefined {
    const fix = "store the private key file's content: pulumi config set --secret coinpilot:sshPrivateKey < ~/.ssh/id_ed25519";
    const value = text.trim();
    if (/^(ssh-|ecdsa-)/.test(value)) return `is a public key; ${fix}`;
    if (!PRIVATE_KEY_BLOCK.test(value)) return `is not a PEM or OpenSSH private key block (-----BEGIN … PRIVATE KEY-----); ${fix}`;
    if (isPassphraseProtected(value)) {
        return "is protected by a passphrase, which the remote steps cannot type; use a deploy key without one (ssh-keygen -t ed25519 -N '' -f ~/.ssh/coinpilot_deploy, then set coinpilot:sshPublicKey and this key from it)";
    }
    return undefined;
}

export function checkAppRepoUrl(text: string): string | undefined {
    if (!/^https:\/\/[^\s'"@]+$/.test(text.trim())) {
        return `"${text}" must be an https:// URL without credentials, e.g. https://github.com/<owner>/coin-pilot.git (a private repository's token goes in coinpilot:appRepoToken)`;
    }
    return undefined;
}

export function checkAppRef(text: string): string | undefined {
    const ref = text.trim();
    if (!/^[A-Za-z0-9._\/-]+$/.test(ref) || ref.startsWith("-") || ref.includes("..")) return `"${text}" must be a tag, branch or commit (letters, digits, '.', '_', '-', '/')`;
    return undefined;
}

/** Validates the host bootstrap's keys; throws ConfigError listing every problem at once. */
export function validateHostConfig(raw: RawConfig): HostConfig {
    const r = new ConfigReader(raw);
    const appRepoUrl = r.require("appRepoUrl", "set the HTTPS URL of the CoinPilot repository: pulumi config set coinpilot:appRepoUrl https://github.com/<owner>/coin-pilot.git");
    r.check("appRepoUrl", appRepoUrl, checkAppRepoUrl);
    const appRef = r.string("appRef", HOST_DEFAULTS.appRef);
    r.check("appRef", appRef, checkAppRef);
    const sshPrivateKey = r.require("sshPrivateKey", "set the private key matching coinpilot:sshPublicKey: pulumi config set --secret coinpilot:sshPrivateKey < ~/.ssh/id_ed25519");
    r.check("sshPrivateKey", sshPrivateKey, checkSshPrivateKey);
    const secret = (key: string, required: string | undefined) => {
        const value = required ? r.require(key, required) : r.string(key, "");
        // The value goes into the .env: refuse what it cannot hold, naming the key and never the value.
        r.check(key, value.trim(), (v) => {
            try {
                envLine("VALUE", v);
                return undefined;
            } catch {
                return "contains a line break, a quote (') or a backslash, which the .env cannot hold";
            }
        });
        return value.trim() ? new SecretText(value.trim()) : undefined;
    };
    const upbitAccessKey = secret("upbitAccessKey", "set the Upbit API access key: pulumi config set --secret coinpilot:upbitAccessKey <key>");
    const upbitSecretKey = secret("upbitSecretKey", "set the Upbit API secret key: pulumi config set --secret coinpilot:upbitSecretKey <key>");
    const openaiApiKey = secret("openaiApiKey", undefined);
    const appRepoToken = secret("appRepoToken", undefined);
    const generatedSecretOverrides: Partial<Record<GeneratedEnvKey, SecretText>> = {};
    for (const { envKey } of GENERATED_SECRETS) {
        const value = secret(overrideConfigKey(envKey), undefined);
        if (value) generatedSecretOverrides[envKey] = value;
    }
    // The app's other variables: neither map may rewrite a key the program writes, nor one of the other's.
    const appEnv = parseExtraEnv(r.string("appEnv", "{}"), new Set(PROGRAM_ENV_KEYS));
    for (const problem of appEnv.problems) r.problem("appEnv", problem);
    const appSecretEnv = parseExtraEnv(r.string("appSecretEnv", "{}"), new Set([...PROGRAM_ENV_KEYS, ...Object.keys(appEnv.values)]));
    for (const problem of appSecretEnv.problems) r.problem("appSecretEnv", problem);
    const timezone = r.string("timezone", HOST_DEFAULTS.timezone).trim();
    r.check("timezone", timezone, checkTimezone);
    const swapSizeGb = r.number("swapSizeGb", HOST_DEFAULTS.swapSizeGb, { min: 0, max: 64, integer: true });
    // alert.sh posts Discord's JSON; the URL itself never goes into a message.
    const opsWebhookUrl = r.string("opsWebhookUrl", "");
    if (opsWebhookUrl && !isDiscordWebhookUrl(opsWebhookUrl)) {
        r.problem("opsWebhookUrl", "is not a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>); copy it from the ops channel's Integrations > Webhooks");
    }
    if (r.problems.length > 0) throw new ConfigError(r.problems);
    return {
        appRepoUrl: appRepoUrl.trim(),
        appRef: appRef.trim(),
        sshPrivateKey: new SecretText(sshPrivateKey.trim() + "\n"),
        upbitAccessKey: upbitAccessKey!,
        upbitSecretKey: upbitSecretKey!,
        ...(openaiApiKey ? { openaiApiKey } : {}),
        ...(appRepoToken ? { appRepoToken } : {}),
        generatedSecretOverrides,
        appEnv: appEnv.values,
        appSecretEnv: Object.fromEntries(Object.entries(appSecretEnv.values).map(([key, value]) => [key, new SecretText(value)])),
        timezone,
        swapSizeGb,
        ...(opsWebhookUrl ? { opsWebhookUrl: new SecretText(opsWebhookUrl) } : {}),
    };
}

/** Where the host's alerts post: coinpilot:opsWebhookUrl when set, else the hunt's coinpilot:discordWebhookUrl, else nowhere (journal only). */
export function hostAlertWebhookUrl(stack: StackConfig, host: HostConfig): SecretText | undefined {
    return host.opsWebhookUrl ?? stack.discordWebhookUrl;
}

// ---- Off-host copy of the backups (components/offsite.ts) --------------------------------------

/** Keys of the off-host copy; their defaults are OFFSITE_DEFAULTS (lib/host/offsite.ts). */
export const OFFSITE_CONFIG_KEYS = ["offsiteCopy", "offsiteBucketName", "offsiteRetentionDays", "offsiteUploadExpires", "offsiteNamespace"] as const;

export interface OffsiteConfig {
    /** Create the bucket and ship the upload URL to the host. */
    readonly enabled: boolean;
    readonly bucketName: string;
    readonly retentionDays: number;
    /** When the host's upload PAR expires, RFC 3339 in UTC. */
    readonly uploadExpires: string;
    /** The tenancy's Object Storage namespace, when given; otherwise looked up (getNamespace). */
    readonly namespace?: string;
}

/**
 * Validates the off-host copy's keys; throws ConfigError listing every problem at once. The expiry
 * is checked for form only: a date already past is refused by OCI at `pulumi up`, and the host
 * warns 30 days ahead (README "Off-host copy").
 */
export function validateOffsiteConfig(raw: RawConfig): OffsiteConfig {
    const r = new ConfigReader(raw);
    const enabled = r.boolean("offsiteCopy", OFFSITE_DEFAULTS.offsiteCopy);
    const bucketName = r.string("offsiteBucketName", OFFSITE_DEFAULTS.offsiteBucketName);
    r.check("offsiteBucketName", bucketName, checkBucketName);
    // 1 day to 10 years; within the free 20 GB at 30 days (README "Off-host copy").
    const retentionDays = r.number("offsiteRetentionDays", OFFSITE_DEFAULTS.offsiteRetentionDays, { min: 1, max: 3650, integer: true });
    const expiresText = r.string("offsiteUploadExpires", OFFSITE_DEFAULTS.offsiteUploadExpires);
    const uploadExpires = normalizeExpiry(expiresText);
    if (!uploadExpires) r.problem("offsiteUploadExpires", `"${expiresText}" is neither a date (2028-12-31) nor an RFC 3339 time in UTC (2028-12-31T00:00:00Z)`);
    const namespace = r.string("offsiteNamespace", OFFSITE_DEFAULTS.offsiteNamespace);
    r.check("offsiteNamespace", namespace, checkNamespace);
    if (r.problems.length > 0) throw new ConfigError(r.problems);
    return { enabled, bucketName, retentionDays, uploadExpires: uploadExpires!, ...(namespace ? { namespace } : {}) };
}

/** Every key this program reads; Pulumi.yaml documents each (a test keeps the two lists equal). */
export const CONFIG_KEYS = [
    "availabilityDomain",
    "compartmentId",
    "sshAllowedCidr",
    "sshPublicKey",
    "imageId",
    "ocpus",
    "memoryInGbs",
    "bootVolumeSizeInGbs",
    "instanceName",
    "vcnCidr",
    "subnetCidr",
    "allowPaidShape",
    "dataVolumeSizeInGbs",
    "dataVolumeId",
    "reservePublicIp",
    "reservedPublicIpId",
    "launchDeadlineMinutes",
    "launchHuntDeadlineHours",
    "launchCapacityIntervalSeconds",
    "launchCapacityIntervalMaxSeconds",
    "launchThrottleBaseSeconds",
    "launchThrottleMaxSeconds",
    "launchUnknownRetries",
    "discordWebhookUrl",
    ...HOST_CONFIG_KEYS,
    ...OFFSITE_CONFIG_KEYS,
] as const;

/**
 * Keys that hold secrets. Pulumi itself refuses the required ones in clear (typed `secret: true` in
 * Pulumi.yaml); the optional ones cannot be typed that way (their empty default is a clear value), so
 * the program refuses them in clear instead.
 */
export const SECRET_KEYS = ["discordWebhookUrl", "opsWebhookUrl", "appRepoToken", "sshPrivateKey", "upbitAccessKey", "upbitSecretKey", "openaiApiKey", "appSecretEnv", ...OVERRIDE_CONFIG_KEYS] as const;

/** A problem for each secret key that holds a value stored in clear (set without --secret). */
export function clearSecretProblems(raw: RawConfig, isStoredSecret: (key: string) => boolean): string[] {
    // A map's default is "{}": unset as much as an empty string.
    return SECRET_KEYS.filter((key) => !["", "{}"].includes((raw[key] ?? "").trim()) && !isStoredSecret(key)).map(
        (key) => `${keyName(key)}: is stored in clear in the stack file; set it encrypted: pulumi config set --secret ${keyName(key)} <value>`,
    );
}

/** Validates every key at once: one ConfigError lists the problems of the network, instance and host parts together. */
export function validateProgramConfig(raw: RawConfig, clearSecrets: readonly string[] = []): { stack: StackConfig; host: HostConfig; offsite: OffsiteConfig } {
    const problems: string[] = [...clearSecrets];
    const collect = <T>(validate: (raw: RawConfig) => T): T | undefined => {
        try {
            return validate(raw);
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            problems.push(...err.problems);
            return undefined;
        }
    };
    const stack = collect(validateConfig);
    const host = collect(validateHostConfig);
    const offsite = collect(validateOffsiteConfig);
    if (!stack || !host || !offsite || problems.length > 0) throw new ConfigError(problems);
    return { stack, host, offsite };
}

/** Keys of this program's namespace that it does not read (a misspelt key would silently fall back to its default). */
export function undeclaredKeys(keys: readonly string[]): string[] {
    const known = new Set<string>(CONFIG_KEYS.map(keyName));
    return keys.filter((key) => key.startsWith(`${CONFIG_NAMESPACE}:`) && !known.has(key)).sort();
}

// Pulumi's runtime knows which config values arrived encrypted (PULUMI_CONFIG_SECRET_KEYS) but marks the
// lookup internal, so it is reached by name and the check is skipped if an SDK ever drops it.
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (fullKey: string) => boolean };

/** Reads the stack's config once and validates it. */
export function loadConfig(): { stack: StackConfig; host: HostConfig; offsite: OffsiteConfig } {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const raw: Record<string, string | undefined> = {};
    for (const key of CONFIG_KEYS) raw[key] = config.get(key);
    for (const key of undeclaredKeys(Object.keys(pulumi.runtime.allConfig()))) {
        pulumi.log.warn(`${key} is set but Pulumi.yaml does not declare it; nothing reads it (misspelt?)`);
    }
    const isSecret = runtimeConfig.isConfigSecret;
    return validateProgramConfig(raw, isSecret ? clearSecretProblems(raw, (key) => isSecret(keyName(key))) : []);
}
