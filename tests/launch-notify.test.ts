import { inspect } from "util";
import { FetchLike, isDiscordWebhookUrl, notifyDiscord, SecretText } from "../lib/launch/notify";

const URL = "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc";

describe("Discord notification", () => {
    test("posts the message as JSON content without pinging anyone", async () => {
        const calls: { url: string; body: string; method: string }[] = [];
        const fetch: FetchLike = async (url, init) => {
            calls.push({ url, body: init.body, method: init.method });
            return { ok: true, status: 204 };
        };
        await expect(notifyDiscord(URL, "instance launched", { fetch })).resolves.toBe(true);
        expect(calls).toEqual([{ url: URL, method: "POST", body: JSON.stringify({ content: "instance launched", allowed_mentions: { parse: [] } }) }]);
    });

    test("does nothing without a URL", async () => {
        const fetch = jest.fn<ReturnType<FetchLike>, Parameters<FetchLike>>();
        await expect(notifyDiscord(undefined, "x", { fetch })).resolves.toBe(false);
        expect(fetch).not.toHaveBeenCalled();
    });

    test("never throws and never prints the URL when delivery fails", async () => {
        const warnings: string[] = [];
        const warn = (l: string) => warnings.push(l);
        const refusing: FetchLike = async () => ({ ok: false, status: 404 });
        const throwing: FetchLike = async (url) => {
            throw new TypeError(`fetch failed for ${url}`);
        };
        const hanging: FetchLike = (_url, init) => new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
        await expect(notifyDiscord(URL, "x", { fetch: refusing, warn })).resolves.toBe(false);
        await expect(notifyDiscord(URL, "x", { fetch: throwing, warn })).resolves.toBe(false);
        await expect(notifyDiscord(URL, "x", { fetch: hanging, warn, timeoutMs: 10 })).resolves.toBe(false);
        expect(warnings).toEqual([
            expect.stringContaining("HTTP 404"),
            expect.stringContaining("(TypeError)"),
            expect.stringContaining("(AbortError)"),
        ]);
        for (const w of warnings) {
            expect(w).not.toContain("discord.com");
            expect(w).not.toContain("123456789012345678");
        }
    });

    test("recognises webhook URLs and rejects look-alikes", () => {
        expect(isDiscordWebhookUrl(URL)).toBe(true);
        expect(isDiscordWebhookUrl(URL.replace("discord.com", "discordapp.com"))).toBe(true);
        expect(isDiscordWebhookUrl(URL.replace("https:", "http:"))).toBe(false);
        expect(isDiscordWebhookUrl(URL.replace("discord.com", "discord.com.example.net"))).toBe(false);
        expect(isDiscordWebhookUrl("https://discord.com/api/webhooks/123456789012345678")).toBe(false);
        expect(isDiscordWebhookUrl("https://hooks.slack.com/services/T000/B000/XXXX")).toBe(false);
    });

    test("the URL holder prints as [secret] everywhere", () => {
        const secret = new SecretText(URL);
        expect(`${secret}`).toBe("[secret]");
        expect(JSON.stringify({ secret })).toBe('{"secret":"[secret]"}');
        expect(inspect({ secret })).not.toContain("discord");
        expect(secret.reveal()).toBe(URL);
    });
});
