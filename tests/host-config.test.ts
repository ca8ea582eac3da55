// The host bootstrap's config keys: required ones named in the error, secrets never echoed.
import { spawnSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";
import { isPassphraseProtected } from "../lib/rules/validate";
import { ConfigError, HOST_DEFAULTS, RawConfig, SECRET_KEYS, clearSecretProblems, hostAlertWebhookUrl, validateConfig, validateHostConfig } from "../config";
import { OFFLINE_SECRET_PLACEHOLDER, offlineSecret } from "../lib/plan/plan";
import { GENERATED_SECRETS, OVERRIDE_CONFIG_KEYS } from "../lib/host/generated-secrets";
import { checkTimezone } from "../lib/host/timezone";

// A throwaway key made at test time; no private key lives in the repo.
const PRIVATE_KEY = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const RSA_KEY = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const GOOD: RawConfig = {
    appRepoUrl: "https://github.com/example/coin-pilot.git",
    sshPrivateKey: PRIVATE_KEY,
    upbitAccessKey: "access-EXAMPLE",
    upbitSecretKey: "secret-EXAMPLE",
};

function problems(raw: RawConfig): string[] {
    try {
        validateHostConfig(raw);
        return [];
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return [...(err as ConfigError).problems];
    }
}

describe("validateHostConfig", () => {
    it("accepts the required keys, defaults appRef and keeps secrets wrapped", () => {
        const config = validateHostConfig(GOOD);
        expect(config.appRef).toBe(HOST_DEFAULTS.appRef);
        expect(config.sshPrivateKey.reveal()).toBe(PRIVATE_KEY.trim() + "\n");
        expect(JSON.stringify(config)).not.toContain("access-EXAMPLE");
        expect(config.openaiApiKey).toBeUndefined();
        expect(config.appRepoToken).toBeUndefined();
    });

    it("accepts PKCS#1 RSA keys (OCI console downloads) and the offline plan's throwaway key", () => {
        expect(problems({ ...GOOD, sshPrivateKey: RSA_KEY })).toEqual([]);
        expect(problems({ ...GOOD, sshPrivateKey: offlineSecret("sshPrivateKey") })).toEqual([]);
        expect(problems({ ...GOOD, sshPrivateKey: OFFLINE_SECRET_PLACEHOLDER })).toEqual([expect.stringMatching(/^coinpilot:sshPrivateKey: is not a PEM or OpenSSH private key block/)]);
    });

    it("names every missing required key at once", () => {
        expect(problems({})).toEqual([
            expect.stringMatching(/^coinpilot:appRepoUrl: is required; set the HTTPS URL/),
            expect.stringMatching(/^coinpilot:sshPrivateKey: is required; .*--secret coinpilot:sshPrivateKey < ~\/\.ssh\/id_ed25519/),
            expect.stringMatching(/^coinpilot:upbitAccessKey: is required/),
            expect.stringMatching(/^coinpilot:upbitSecretKey: is required/),
        ]);
    });

    it.each([
        [{ sshPrivateKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host" }, /coinpilot:sshPrivateKey: is a public key/],
        [{ sshPrivateKey: "~/.ssh/id_ed25519" }, /coinpilot:sshPrivateKey: is not a PEM or OpenSSH private key block/],
        [{ appRepoUrl: "git@github.com:example/coin-pilot.git" }, /coinpilot:appRepoUrl: .* must be an https:\/\/ URL/],
        [{ appRepoUrl: "https://me:ghp_x@github.com/example/coin-pilot.git" }, /without credentials/],
        [{ appRef: "--upload-pack=evil" }, /coinpilot:appRef: .* must be a tag, branch or commit/],
        [{ upbitSecretKey: "abc\ndef" }, /coinpilot:upbitSecretKey: contains a line break/],
        [{ openaiApiKey: "sk-'quoted'" }, /coinpilot:openaiApiKey: contains .* quote/],
    ])("refuses %p", (override, message) => {
        const found = problems({ ...GOOD, ...override });
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(message);
    });

    it("never repeats a secret value in its messages", () => {
        const found = problems({ ...GOOD, upbitSecretKey: "TOPSECRET\nVALUE" });
        expect(found.join("\n")).not.toContain("TOPSECRET");
    });
});

describe("generated-secret overrides (coinpilot:postgresPassword, ...)", () => {
    it("derives one key per generated .env secret from its .env name", () => {
        expect(OVERRIDE_CONFIG_KEYS).toEqual(["postgresPassword", "redisPassword", "n8nBasicAuthPassword", "n8nEncryptionKey", "n8nWebhookSecret", "grafanaAdminPassword"]);
        expect(GENERATED_SECRETS.map((s) => s.envKey)).toEqual(["POSTGRES_PASSWORD", "REDIS_PASSWORD", "N8N_BASIC_AUTH_PASSWORD", "N8N_ENCRYPTION_KEY", "N8N_WEBHOOK_SECRET", "GRAFANA_ADMIN_PASSWORD"]);
    });

    it("keeps only the keys that are set, by .env key, wrapped so they never print", () => {
        const config = validateHostConfig({ ...GOOD, postgresPassword: "  TEST-ONLY-OLD-PG  ", n8nEncryptionKey: "TEST-ONLY-OLD-KEY", redisPassword: "" });
        expect(Object.keys(config.generatedSecretOverrides).sort()).toEqual(["N8N_ENCRYPTION_KEY", "POSTGRES_PASSWORD"]);
        expect(config.generatedSecretOverrides.POSTGRES_PASSWORD?.reveal()).toBe("TEST-ONLY-OLD-PG");
        expect(JSON.stringify(config)).not.toContain("TEST-ONLY-OLD");
        expect(String(config.generatedSecretOverrides.N8N_ENCRYPTION_KEY)).not.toContain("TEST-ONLY-OLD");
        expect(validateHostConfig(GOOD).generatedSecretOverrides).toEqual({});
    });

    it.each(OVERRIDE_CONFIG_KEYS.map((k) => [k]))("refuses a %s the .env cannot hold, naming the key and never the value", (key) => {
        const found = problems({ ...GOOD, [key]: "TOPSECRET'OVERRIDE" });
        expect(found).toEqual([expect.stringMatching(new RegExp(`^coinpilot:${key}: contains a line break, a quote`))]);
        expect(found.join("\n")).not.toContain("TOPSECRET");
    });

    it("counts every override key as a secret that the program refuses in clear", () => {
        for (const key of OVERRIDE_CONFIG_KEYS) expect(SECRET_KEYS).toContain(key);
        const found = clearSecretProblems({ ...GOOD, postgresPassword: "stored-in-clear" }, (key) => key !== "postgresPassword");
        expect(found).toEqual(["coinpilot:postgresPassword: is stored in clear in the stack file; set it encrypted: pulumi config set --secret coinpilot:postgresPassword <value>"]);
        expect(clearSecretProblems({ ...GOOD, postgresPassword: "" }, () => false).filter((p) => p.includes("postgresPassword"))).toEqual([]);
    });
});

describe("coinpilot:opsWebhookUrl (the host's alerts, apart from the launch notices)", () => {
    const OPS = "https://discord.com/api/webhooks/222222222222222222/TEST-ONLY-ops-channel-token-9876543210abc";
    const LAUNCH = "https://discord.com/api/webhooks/111111111111111111/TEST-ONLY-launch-channel-token-0123456789";
    const STACK: RawConfig = {
        compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample",
        sshAllowedCidr: "198.51.100.7/32",
        sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA example",
        imageId: "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexampleubuntu2404aarch64example",
    };

    it("is optional, kept wrapped, and takes precedence over discordWebhookUrl for the host's alerts only", () => {
        expect(validateHostConfig(GOOD).opsWebhookUrl).toBeUndefined();
        const host = validateHostConfig({ ...GOOD, opsWebhookUrl: ` ${OPS} ` });
        expect(host.opsWebhookUrl?.reveal()).toBe(OPS);
        expect(JSON.stringify(host)).not.toContain("ops-channel-token");
        const stack = validateConfig({ ...STACK, discordWebhookUrl: LAUNCH });
        expect(hostAlertWebhookUrl(stack, host)?.reveal()).toBe(OPS);
        expect(hostAlertWebhookUrl(stack, validateHostConfig(GOOD))?.reveal()).toBe(LAUNCH);
        expect(hostAlertWebhookUrl(validateConfig(STACK), validateHostConfig(GOOD))).toBeUndefined();
        // The launch hunt reads the stack's key, which opsWebhookUrl leaves alone.
        expect(stack.discordWebhookUrl?.reveal()).toBe(LAUNCH);
    });

    it("refuses what is not a Discord webhook, never echoing it", () => {
        const found = problems({ ...GOOD, opsWebhookUrl: "https://hooks.example.com/TEST-ONLY-not-discord" });
        expect(found).toEqual([expect.stringMatching(/^coinpilot:opsWebhookUrl: is not a Discord webhook URL \(https:\/\/discord\.com\/api\/webhooks\/<id>\/<token>\)/)]);
        expect(found.join("\n")).not.toContain("TEST-ONLY");
    });

    it("is a secret the program refuses in clear, but not its empty default", () => {
        expect(SECRET_KEYS).toContain("opsWebhookUrl");
        expect(clearSecretProblems({ ...GOOD, opsWebhookUrl: OPS }, (key) => key !== "opsWebhookUrl")).toEqual([
            "coinpilot:opsWebhookUrl: is stored in clear in the stack file; set it encrypted: pulumi config set --secret coinpilot:opsWebhookUrl <value>",
        ]);
        expect(clearSecretProblems({ ...GOOD, opsWebhookUrl: "" }, () => false).filter((p) => p.includes("opsWebhookUrl"))).toEqual([]);
    });
});

describe("coinpilot:appEnv and coinpilot:appSecretEnv", () => {
    it("reads both maps in name order, the secret one wrapped", () => {
        const config = validateHostConfig({ ...GOOD, appEnv: '{"N8N_URL":"http://n8n:5678","LLM_MODE":"hybrid","PORT":8000,"DEBUG":false}', appSecretEnv: '{"APP_TOKEN":"TEST-ONLY-APP-TOKEN"}' });
        expect(config.appEnv).toEqual({ DEBUG: "false", LLM_MODE: "hybrid", N8N_URL: "http://n8n:5678", PORT: "8000" });
        expect(Object.keys(config.appEnv)).toEqual(["DEBUG", "LLM_MODE", "N8N_URL", "PORT"]);
        expect(config.appSecretEnv.APP_TOKEN.reveal()).toBe("TEST-ONLY-APP-TOKEN");
        expect(JSON.stringify(config)).not.toContain("TEST-ONLY-APP-TOKEN");
        expect(validateHostConfig({ ...GOOD, appEnv: "{}", appSecretEnv: "{}" })).toEqual(expect.objectContaining({ appEnv: {}, appSecretEnv: {} }));
    });

    it("refuses bad names, line breaks, clashes with the program's keys or between the maps, and non-maps, all at once, never echoing a secret value", () => {
        const found = problems({
            ...GOOD,
            appEnv: '{"1ABC":"x","LLM MODE":"x","REDIS_PASSWORD":"x","SHARED":"x","NESTED":{"a":1},"QUOTED":"it\'s"}',
            appSecretEnv: '{"SHARED":"TEST-ONLY-S1","MULTI":"TEST-ONLY-a\\nb","UPBIT_SECRET_KEY":"TEST-ONLY-S2"}',
        });
        expect(found).toEqual([
            'coinpilot:appEnv: "1ABC" is not a variable name (letters, digits and \'_\', not starting with a digit)',
            'coinpilot:appEnv: "LLM MODE" is not a variable name (letters, digits and \'_\', not starting with a digit)',
            "coinpilot:appEnv: NESTED must be a text value, not a map",
            "coinpilot:appEnv: the value of QUOTED contains a line break, a quote (') or a backslash, which the .env cannot hold",
            `coinpilot:appEnv: REDIS_PASSWORD is written by the program itself or by the other map; remove it here (see README, "The app's .env")`,
            "coinpilot:appSecretEnv: the value of MULTI contains a line break, a quote (') or a backslash, which the .env cannot hold",
            `coinpilot:appSecretEnv: SHARED is written by the program itself or by the other map; remove it here (see README, "The app's .env")`,
            `coinpilot:appSecretEnv: UPBIT_SECRET_KEY is written by the program itself or by the other map; remove it here (see README, "The app's .env")`,
        ]);
        expect(found.join("\n")).not.toContain("TEST-ONLY");
        expect(problems({ ...GOOD, appEnv: '["LLM_MODE"]' })).toEqual([expect.stringMatching(/^coinpilot:appEnv: must be a map of variable names to values/)]);
    });

    it("refuses appSecretEnv stored in clear, but not its empty default", () => {
        expect(SECRET_KEYS).toContain("appSecretEnv");
        expect(clearSecretProblems({ ...GOOD, appSecretEnv: '{"A":"b"}' }, () => false)).toContain(
            "coinpilot:appSecretEnv: is stored in clear in the stack file; set it encrypted: pulumi config set --secret coinpilot:appSecretEnv <value>",
        );
        expect(clearSecretProblems({ ...GOOD, appSecretEnv: "{}" }, () => false).filter((p) => p.includes("appSecretEnv"))).toEqual([]);
    });
});

describe("coinpilot:timezone", () => {
    it("defaults to empty (the image's zone, UTC) and takes IANA names", () => {
        expect(validateHostConfig(GOOD).timezone).toBe("");
        expect(validateHostConfig({ ...GOOD, timezone: " Asia/Seoul " }).timezone).toBe("Asia/Seoul");
        for (const zone of ["UTC", "Etc/UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+9"]) expect(checkTimezone(zone)).toBeUndefined();
    });

    it.each([
        ["KST", /is not an IANA Area\/Location time zone name; use an IANA name such as Asia\/Seoul/],
        ["+09:00", /is not an IANA Area\/Location time zone name/],
        ["Japan", /is not an IANA Area\/Location time zone name/],
        ["Asia/Seol", /"Asia\/Seol" is not a known time zone/],
        ["asia/seoul", /must be spelt Asia\/Seoul \(the host's zone files are case-sensitive\)/],
        ["Asia/Seoul; rm -rf /", /is not an IANA Area\/Location time zone name/],
    ])("refuses %p", (zone, message) => {
        expect(problems({ ...GOOD, timezone: zone })).toEqual([expect.stringMatching(new RegExp(`^coinpilot:timezone: .*${message.source}`))]);
    });
});

describe("coinpilot:swapSizeGb", () => {
    it("defaults to 4 GiB and takes 0 (no swap) to 64", () => {
        expect(validateHostConfig(GOOD).swapSizeGb).toBe(4);
        expect(validateHostConfig({ ...GOOD, swapSizeGb: "0" }).swapSizeGb).toBe(0);
        expect(validateHostConfig({ ...GOOD, swapSizeGb: "64" }).swapSizeGb).toBe(64);
    });

    it.each(["-1", "65", "2.5", "4G"])("refuses %p", (size) => {
        expect(problems({ ...GOOD, swapSizeGb: size })).toEqual([expect.stringMatching(/^coinpilot:swapSizeGb: /)]);
    });
});

describe("a passphrase-protected SSH key", () => {
    const dir = scratchDir("sshkey");
    /** A real key file from ssh-keygen: OpenSSH format, or PEM/PKCS#8 with -m. */
    const keygen = (name: string, passphrase: string, format: string[] = []): string => {
        const file = path.join(dir, name);
        const run = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", file, "-C", "test", ...format], { encoding: "utf8" });
        expect(run.status).toBe(0);
        return readFileSync(file, "utf8");
    };

    it.each([
        ["OpenSSH", [] as string[]],
        ["PKCS#8", ["-m", "PKCS8"]],
    ])("is refused in validation (%s), naming the fix, while the same key without a passphrase passes", (_format, args) => {
        expect(isPassphraseProtected(keygen(`locked-${args.length}`, "correct horse", args))).toBe(true);
        expect(isPassphraseProtected(keygen(`open-${args.length}`, "", args))).toBe(false);
        const found = problems({ ...GOOD, sshPrivateKey: keygen(`locked2-${args.length}`, "correct horse", args) });
        expect(found).toEqual([expect.stringMatching(/^coinpilot:sshPrivateKey: is protected by a passphrase, which the remote steps cannot type; use a deploy key without one/)]);
    });
});
