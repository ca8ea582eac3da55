// The hunt's decisions as pure, seedable objects: what to do after each failed launch.
// Every mechanism (the error hook during `pulumi up`, the simulator, the benchmark) shares
// these; time and randomness come from the caller so tests and simulations are deterministic.
import { Classification } from "./classify";

/** User-tunable knobs (stack config `coinpilot:launch*`, see Pulumi.yaml). */
export interface LaunchRetrySettings {
    /** Pause between two capacity probes, whichever AD they hit. Defaults to 30 s. */
    readonly capacityIntervalSeconds: number;
    /** First ceiling of the equal-jitter cool-down after a 429 (the wait is half to all of it). Defaults to 1200 s. */
    readonly throttleBaseSeconds: number;
    /** Largest ceiling the cool-down doubles up to while 429s keep coming. Defaults to 2400 s. */
    readonly throttleMaxSeconds: number;
    /** Consecutive unclassified errors tolerated before the hunt stops. Defaults to 5. */
    readonly unknownRetries: number;
}

// Chosen from `npm run bench:hunt` sweeps on held-out seeds (README "Capacity hunt"): freed A1
// capacity is taken within seconds, so probes pay off in proportion to their rate; 30 s about
// halves the seed's time while staying under a bucket that a 60 s poll plus background traffic
// already nearly fills (27 s drew 429s in calm worlds). A 429 means other traffic owns the
// bucket for a while (~20 min spells): a 10-20 min cool-down, 20-40 min if the spell persists,
// outlasts most spells with ~1 429 each, where short full-jitter waits re-probed mid-spell.
export const DEFAULT_LAUNCH_RETRY: LaunchRetrySettings = {
    capacityIntervalSeconds: 30,
    throttleBaseSeconds: 1200,
    throttleMaxSeconds: 2400,
    unknownRetries: 5,
};

/**
 * Default overall budget of one hunt (`coinpilot:launchDeadlineMinutes`). The engine's cap of
 * 99 retries per `pulumi up` ends a calm hunt after ~50 min at 30 s; the deadline is what
 * bounds a run slowed by 429 backoffs.
 */
export const DEFAULT_LAUNCH_DEADLINE_MINUTES = 120;

/** Spread of capacity probes around the interval so parallel hunters never fall into step. */
const CAPACITY_JITTER_RATIO = 0.2;
/** Spread added on top of a Retry-After hint, for the same reason. */
const RETRY_AFTER_SPREAD_MS = 2_000;
/**
 * 429s less than this apart belong to the same busy spell, so the cool-down keeps doubling:
 * one answered probe proves little, since a busy bucket still lets some requests through.
 */
const THROTTLE_SPELL_MEMORY_MS = 60 * 60_000;

export type StopReason = "fatal" | "deadline" | "unknown-errors" | "attempt-cap";

export type Decision =
    | { readonly action: "retry"; readonly delayMs: number; readonly adIndex: number }
    | { readonly action: "stop"; readonly reason: StopReason; readonly message: string };

export interface FailedAttempt {
    /** 1-based number of the attempt that just failed. */
    readonly attempt: number;
    readonly adIndex: number;
    readonly adCount: number;
    /** Time since the hunt's first attempt started. */
    readonly elapsedMs: number;
    readonly classification: Classification;
}

/** A stateful decision maker; create one per hunt. */
export interface LaunchPolicy {
    readonly name: string;
    firstAdIndex(adCount: number): number;
    afterFailure(failed: FailedAttempt): Decision;
}

/** Full jitter (uniform in [0, min(max, base * 2^step)]), the AWS-recommended spread for contended APIs. */
export function fullJitterMs(baseMs: number, maxMs: number, step: number, random: () => number): number {
    return random() * Math.min(maxMs, baseMs * 2 ** step);
}

/**
 * Equal jitter (uniform in [c/2, c], c = min(max, base * 2^step)): still spread, but never a
 * short wait, so a cool-down cannot end inside the busy spell that caused it by mere chance.
 */
export function equalJitterMs(baseMs: number, maxMs: number, step: number, random: () => number): number {
    const ceiling = Math.min(maxMs, baseMs * 2 ** step);
    return ceiling / 2 + (random() * ceiling) / 2;
}

/** Round-robin over the region's ADs; a single-AD region always answers 0. */
export function nextAdIndex(current: number, adCount: number): number {
    return (current + 1) % adCount;
}

export function formatDuration(ms: number): string {
    const total = Math.round(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`;
}

export interface HuntPolicyOptions {
    readonly settings?: LaunchRetrySettings;
    readonly deadlineMs: number;
    /** Hard cap on attempts, e.g. the engine's error-hook retry limit. Defaults to none. */
    readonly maxAttempts?: number;
    readonly random: () => number;
}

/** This project's policy: steady jittered probes cycling the ADs, an equal-jitter cool-down after a 429. */
export function createHuntPolicy(options: HuntPolicyOptions): LaunchPolicy {
    const settings = options.settings ?? DEFAULT_LAUNCH_RETRY;
    const { random, deadlineMs } = options;
    const maxAttempts = options.maxAttempts ?? Infinity;
    let throttleStreak = 0;
    let lastThrottleMs = -Infinity;
    let unknownStreak = 0;

    const stop = (reason: StopReason, message: string): Decision => ({ action: "stop", reason, message });

    return {
        name: "coinpilot",
        firstAdIndex: () => 0,
        afterFailure(failed) {
            const c = failed.classification;
            if (c.kind === "fatal") {
                return stop("fatal", `launch failed with ${c.summary}. Fix: ${c.fix}`);
            }
            let delayMs: number;
            let adIndex = nextAdIndex(failed.adIndex, failed.adCount);
            if (c.kind === "throttle") {
                unknownStreak = 0;
                if (failed.elapsedMs - lastThrottleMs > THROTTLE_SPELL_MEMORY_MS) throttleStreak = 0;
                lastThrottleMs = failed.elapsedMs;
                const coolDown = equalJitterMs(settings.throttleBaseSeconds * 1000, settings.throttleMaxSeconds * 1000, throttleStreak, random);
                throttleStreak += 1;
                // Retry-After only says when the bucket holds one token again, which busy traffic
                // takes first: it is a floor under the cool-down, never a shortcut.
                delayMs = c.retryAfterMs !== undefined ? Math.max(coolDown, c.retryAfterMs + random() * RETRY_AFTER_SPREAD_MS) : coolDown;
                // A 429 never reached the capacity check, so that AD is still untested.
                adIndex = failed.adIndex;
            } else if (c.kind === "unknown") {
                unknownStreak += 1;
                if (unknownStreak > settings.unknownRetries) {
                    return stop(
                        "unknown-errors",
                        `${unknownStreak} unexpected launch errors in a row, last: ${c.summary}. Check OCI status and the message, then run \`pulumi up\` again (coinpilot:launchUnknownRetries allows more).`,
                    );
                }
                delayMs = fullJitterMs(settings.capacityIntervalSeconds * 1000, settings.throttleMaxSeconds * 1000, unknownStreak, random);
            } else {
                unknownStreak = 0;
                const interval = settings.capacityIntervalSeconds * 1000;
                delayMs = interval * (1 - CAPACITY_JITTER_RATIO + 2 * CAPACITY_JITTER_RATIO * random());
            }
            if (failed.attempt >= maxAttempts) {
                return stop(
                    "attempt-cap",
                    `reached ${maxAttempts} attempts, the most Pulumi's engine retries one operation in a single \`pulumi up\`; run \`pulumi up\` again to continue the hunt (last: ${c.summary}).`,
                );
            }
            if (failed.elapsedMs + delayMs > deadlineMs) {
                return stop(
                    "deadline",
                    `no capacity within ${formatDuration(deadlineMs)} (coinpilot:launchDeadlineMinutes) after ${failed.attempt} attempts, last: ${c.summary}. Run \`pulumi up\` again to keep hunting.`,
                );
            }
            return { action: "retry", delayMs, adIndex };
        },
    };
}
