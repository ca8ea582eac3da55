// Optional Discord messages about a hunt (which ones and when: session.ts). Best effort by
// design: it never throws, times out on its own, and never prints the webhook URL (it is a
// credential: anyone holding it can post to the channel).

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{ ok: boolean; status: number }>;

const WEBHOOK = /^https:\/\/(?:(?:canary|ptb)\.)?discord(?:app)?\.com\/api(?:\/v\d+)?\/webhooks\/\d{5,25}\/[A-Za-z0-9_-]{20,100}$/;

/** True for URLs shaped like a Discord webhook (https://discord.com/api/webhooks/<id>/<token>). */
export function isDiscordWebhookUrl(url: string): boolean {
    return WEBHOOK.test(url.trim());
}

export interface NotifyOptions {
    readonly fetch?: FetchLike;
    /** Where a failed delivery is reported (never with the URL). */
    readonly warn?: (line: string) => void;
    readonly timeoutMs?: number;
}

/** Posts `message` to the webhook; resolves to whether Discord accepted it. */
export async function notifyDiscord(url: string | undefined, message: string, options: NotifyOptions = {}): Promise<boolean> {
    if (!url) return false;
    const warn = options.warn ?? (() => undefined);
    const doFetch = options.fetch ?? (globalThis.fetch as unknown as FetchLike);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
    try {
        // Discord rejects content over 2000 characters.
        const body = JSON.stringify({ content: message.slice(0, 1900), allowed_mentions: { parse: [] } });
        const response = await doFetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: controller.signal });
        if (!response.ok) warn(`Discord notification was refused (HTTP ${response.status}); the hunt result stands.`);
        return response.ok;
    } catch (error) {
        // Error texts from fetch can embed the request URL; report only the error's kind.
        const name = (error as { name?: unknown } | null)?.name;
        const kind = typeof name === "string" ? name : typeof error;
        warn(`Discord notification could not be sent (${kind}); the hunt result stands.`);
        return false;
    } finally {
        clearTimeout(timer);
    }
}

/** Holds the webhook URL in memory so that printing, logging or serialising it shows "[secret]". */
export class SecretText {
    readonly #value: string;
    constructor(value: string) {
        this.#value = value;
    }
    reveal(): string {
        return this.#value;
    }
    toString(): string {
        return "[secret]";
    }
    toJSON(): string {
        return "[secret]";
    }
    [Symbol.for("nodejs.util.inspect.custom")](): string {
        return "[secret]";
    }
}
