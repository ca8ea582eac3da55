// The capacity hunt as the program wires it: the hook sits on the real oci.core.Instance, the
// config keys are validated by name, and the Discord URL never reaches inputs, outputs or errors.
import { byName, created, settle, useConfig, EXAMPLE_CONFIG } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { A1Instance } from "../components/instance";
import { ConfigError, launchRetrySettings, validateConfig } from "../config";
import { DEFAULT_LAUNCH_DEADLINE_MINUTES, DEFAULT_LAUNCH_RETRY } from "../lib/launch/policy";
import { SecretText } from "../lib/launch/notify";

const WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc";
const BASE = {
    compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample",
    subnetId: "ocid1.subnet.oc1.ap-chuncheon-1.aaaaaaaaexamplesubnet",
    imageId: "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexampleimage",
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};
const HUNT = { settings: DEFAULT_LAUNCH_RETRY, deadlineMinutes: 120, discordWebhookUrl: new SecretText(WEBHOOK) };

function raw(over: Record<string, string | undefined>): Record<string, string | undefined> {
    const r: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(EXAMPLE_CONFIG)) if (k.startsWith("coinpilot:")) r[k.slice("coinpilot:".length)] = v;
    return { ...r, ...over };
}

describe("capacity hunt wiring", () => {
    beforeEach(() => useConfig({}));

    it("puts the named error hook on the instance itself, keeping hooks passed in", async () => {
        const other = new pulumi.ErrorHook("a1-other-hook", async () => false);
        new A1Instance("a1", { ...BASE, capacityHunt: HUNT, instanceOptions: { hooks: { onError: [other] } } });
        await settle();
        const vm = byName("a1-vm");
        expect(vm.type).toBe("oci:Core/instance:Instance");
        expect(vm.options.errorHooks).toEqual(["a1-other-hook", "a1-capacity-hunt"]);
        expect(JSON.stringify(created)).not.toContain("discord");
    });

    it("adds no hook when no hunt is asked for", async () => {
        new A1Instance("b1", BASE);
        await settle();
        expect(byName("b1-vm").options.errorHooks).toEqual([]);
    });
});

describe("capacity hunt config", () => {
    it("defaults every hunt key", () => {
        const config = validateConfig(raw({}));
        expect(config.launchDeadlineMinutes).toBe(DEFAULT_LAUNCH_DEADLINE_MINUTES);
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
            validateConfig(raw({ launchDeadlineMinutes: "2", launchThrottleBaseSeconds: "600", launchThrottleMaxSeconds: "300", launchUnknownRetries: "many", discordWebhookUrl: bad }));
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const problems = (error as ConfigError).problems;
        expect(problems).toEqual([
            "coinpilot:launchDeadlineMinutes: 2 is outside 5–1440",
            'coinpilot:launchUnknownRetries: "many" is not a number',
            "coinpilot:launchThrottleMaxSeconds: 300 must be at least coinpilot:launchThrottleBaseSeconds (600)",
            expect.stringMatching(/^coinpilot:discordWebhookUrl: is not a Discord webhook URL/),
        ]);
        expect((error as Error).message).not.toContain("example.com");
    });
});
