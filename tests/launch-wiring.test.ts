// The capacity hunt as the program wires it: the hooks sit on the real oci.core.Instance, which gets
// its own OCI provider with the provider's retries off and the stack's oci:* config; the config keys
// are validated by name, and the Discord URL never reaches inputs, outputs or errors.
import { byName, byType, created, isSecretEnvelope, settle, useConfig, EXAMPLE_CONFIG } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import * as ociConfig from "@pulumi/oci/config";
import { A1Instance } from "../components/instance";
import { ConfigError, launchRetrySettings, validateConfig } from "../config";
import { DEFAULT_HUNT_DEADLINE_HOURS, DEFAULT_LAUNCH_DEADLINE_MINUTES, DEFAULT_LAUNCH_RETRY } from "../lib/launch/policy";
import { SecretText } from "../lib/launch/notify";
import { PASSED_OCI_CONFIG_KEYS } from "../lib/launch/provider";
import { ATTEMPTS_PER_UP, runPolicyFactory } from "../lib/launch/engine-hook";
import { classifyLaunchError } from "../lib/launch/classify";

const WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc";
const BASE = {
    compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample",
    subnetId: "ocid1.subnet.oc1.ap-chuncheon-1.aaaaaaaaexamplesubnet",
    imageId: "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexampleimage",
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};
const HUNT = { settings: DEFAULT_LAUNCH_RETRY, deadlineMinutes: 120, huntDeadlineHours: 168, discordWebhookUrl: new SecretText(WEBHOOK) };

function raw(over: Record<string, string | undefined>): Record<string, string | undefined> {
    const r: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(EXAMPLE_CONFIG)) if (k.startsWith("coinpilot:")) r[k.slice("coinpilot:".length)] = v;
    return { ...r, ...over };
}

describe("capacity hunt wiring", () => {
    beforeEach(() => useConfig({}));

    it("puts the named hooks on the instance itself, keeping hooks passed in", async () => {
        const other = new pulumi.ErrorHook("a1-other-hook", async () => false);
        const before = new pulumi.ResourceHook("a1-other-before", () => undefined);
        new A1Instance("a1", { ...BASE, capacityHunt: HUNT, instanceOptions: { hooks: { onError: [other], beforeCreate: [before] } } });
        await settle();
        const vm = byName("a1-vm");
        expect(vm.type).toBe("oci:Core/instance:Instance");
        expect(vm.options.errorHooks).toEqual(["a1-other-hook", "a1-capacity-hunt"]);
        expect(vm.options.beforeCreateHooks).toEqual(["a1-other-before", "a1-capacity-hunt-pace"]);
        expect(vm.options.afterCreateHooks).toEqual(["a1-capacity-hunt-launched"]);
        expect(JSON.stringify(created)).not.toContain("discord");
    });

    it("adds no hook and no provider when no hunt is asked for", async () => {
        new A1Instance("b1", BASE);
        await settle();
        expect(byName("b1-vm").options.errorHooks).toEqual([]);
        expect(byName("b1-vm").options.provider).toBeUndefined();
        expect(byType("pulumi:providers:oci")).toHaveLength(0);
    });
});

describe("each run's policy from stack config", () => {
    const capacity = classifyLaunchError("500-InternalError, Out of host capacity.");
    const policy = runPolicyFactory({ ...HUNT, deadlineMinutes: 60, huntDeadlineHours: 5 }, () => 0.5)({ startedAtMs: 1_000_000 });
    const at = (over: { attempt?: number; elapsedMs?: number; atMs?: number }) =>
        policy.afterFailure({ attempt: 1, adIndex: 0, adCount: 1, elapsedMs: 0, atMs: 1_000_000, classification: capacity, ...over });

    it("ends the run at its budget (coinpilot:launchDeadlineMinutes) and one short of the engine's cap", () => {
        expect(at({ elapsedMs: 59.9 * 60_000 })).toMatchObject({ action: "stop", reason: "run-budget" });
        expect(at({ attempt: ATTEMPTS_PER_UP })).toMatchObject({ action: "stop", reason: "attempt-cap" });
        expect(at({ elapsedMs: 30 * 60_000 }).action).toBe("retry");
    });

    it("ends the hunt at its deadline (coinpilot:launchHuntDeadlineHours), counted from the hunt's start", () => {
        expect(at({ atMs: 1_000_000 + 5 * 3_600_000 - 1000 })).toMatchObject({ action: "stop", reason: "deadline" });
    });
});

describe("the instance's own OCI provider", () => {
    it("turns the provider's retries off, carries the stack's oci:region, and is the instance's provider", async () => {
        useConfig({});
        new A1Instance("a1", { ...BASE, capacityHunt: HUNT });
        await settle();
        const providers = byType("pulumi:providers:oci");
        expect(providers.map((p) => p.name)).toEqual(["a1-provider"]);
        const provider = providers[0];
        // The SDK sends provider booleans JSON-encoded, as the engine hands them to the bridge.
        expect(provider.inputs).toMatchObject({ disableAutoRetries: "true", region: EXAMPLE_CONFIG["oci:region"] });
        expect(provider.inputs.retryDurationSeconds).toBeUndefined();
        expect(byName("a1-vm").options.provider?.startsWith(`${provider.urn}::`)).toBe(true);
        // Every other resource stays on the default provider.
        expect(created.filter((r) => r.options.provider !== undefined).map((r) => r.name)).toEqual(["a1-vm"]);
    });

    it("follows `pulumi config set oci:...`, keeping secrets secret and overriding only the retry keys", async () => {
        useConfig({ "oci:region": "eu-frankfurt-1", "oci:configFileProfile": "HUNT", "oci:privateKey": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----", "oci:disableAutoRetries": "false", "oci:retryDurationSeconds": "600", "oci:ignoreDefinedTags": '["Oracle-Tags.CreatedBy"]' });
        new A1Instance("a1", { ...BASE, capacityHunt: HUNT });
        await settle();
        const inputs = byName("a1-provider").inputs;
        expect(inputs).toMatchObject({ region: "eu-frankfurt-1", configFileProfile: "HUNT", disableAutoRetries: "true", ignoreDefinedTags: '["Oracle-Tags.CreatedBy"]' });
        expect(isSecretEnvelope(inputs.privateKey)).toBe(true);
        expect(inputs.retryDurationSeconds).toBeUndefined();
    });

    it("passes every config key the default provider reads, so none is silently dropped", () => {
        const defaultProviderKeys = Object.keys(ociConfig).sort();
        expect([...PASSED_OCI_CONFIG_KEYS, "disableAutoRetries", "retryDurationSeconds"].sort()).toEqual(defaultProviderKeys);
    });
});

describe("capacity hunt config", () => {
    it("defaults every hunt key", () => {
        const config = validateConfig(raw({}));
        expect(config.launchDeadlineMinutes).toBe(DEFAULT_LAUNCH_DEADLINE_MINUTES);
        expect(config.launchHuntDeadlineHours).toBe(DEFAULT_HUNT_DEADLINE_HOURS);
        expect(launchRetrySettings(config)).toEqual(DEFAULT_LAUNCH_RETRY);
        expect(config.discordWebhookUrl).toBeUndefined();
    });

    it("takes overrides and keeps the webhook out of any printout", () => {
        const config = validateConfig(raw({ launchDeadlineMinutes: "360", launchCapacityIntervalSeconds: "45", discordWebhookUrl: WEBHOOK }));
        expect(config.launchDeadlineMinutes).toBe(360);
        expect(launchRetrySettings(config).capacityIntervalSeconds).toBe(45);
        expect(config.discordWebhookUrl?.reveal()).toBe(WEBHOOK);
        expect(JSON.stringify(config)).not.toContain("discord.com");
    });

    it("names each bad key and never echoes the webhook", () => {
        const bad = WEBHOOK.replace("discord.com", "example.com");
        let error: unknown;
        try {
            validateConfig(raw({ launchDeadlineMinutes: "2", launchHuntDeadlineHours: "0", launchCapacityIntervalMaxSeconds: "20", launchThrottleBaseSeconds: "600", launchThrottleMaxSeconds: "300", launchUnknownRetries: "many", discordWebhookUrl: bad }));
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const problems = (error as ConfigError).problems;
        expect(problems).toEqual([
            "coinpilot:launchDeadlineMinutes: 2 is outside 5–1440",
            "coinpilot:launchHuntDeadlineHours: 0 is outside 1–2160",
            "coinpilot:launchCapacityIntervalMaxSeconds: 20 must be at least coinpilot:launchCapacityIntervalSeconds (30)",
            'coinpilot:launchUnknownRetries: "many" is not a number',
            "coinpilot:launchThrottleMaxSeconds: 300 must be at least coinpilot:launchThrottleBaseSeconds (600)",
            expect.stringMatching(/^coinpilot:discordWebhookUrl: is not a Discord webhook URL/),
        ]);
        expect((error as Error).message).not.toContain("example.com");
    });
});
