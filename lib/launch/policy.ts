// The hunt's decisions as pure, seedable objects: what to do after each failed launch.
// Every mechanism (the error hook during `pulumi up`, the simulator, the benchmark) shares
// these; time and randomness come from the caller so tests and simulations are deterministic.
import { Classification } from "./classify";

/** User-tunable knobs (stack config `coinpilot:launch*`, see Pulumi.yaml). */
export interface LaunchRetrySettings {
    /** Pause between two capacity probes, whichever AD they hit. Defaults to 30 s. */
    readonly capacityIntervalSeconds: number;
    /** First ceiling of the full-jitter backoff after a 429 without Retry-After. Defaults to 480 s. */
    readonly throttleBaseSeconds: number;
    /** Largest ceiling the throttle backoff doubles up to. Defaults to 900 s. */
    readonly throttleMaxSeconds: number;
    /** Consecutive unclassified errors tolerated before the hunt stops. Defaults to 5. */
    readonly unknownRetries: number;
}

// Chosen from `npm run bench:hunt` sweeps (README "Capacity hunt"): freed A1 capacity is
// taken within seconds, so probes pay off in proportion to their rate; 30 s halves the seed's
// time to instance for the same number of calls while staying under a bucket that a 60 s
// poll plus background traffic already nearly fills. Throttle ceilings of 480 s then 900 s
// wait out a busy spell with ~3 429s where 60 s/120 s bases took 4-5.
export const DEFAULT_LAUNCH_RETRY: LaunchRetrySettings = {
    capacityIntervalSeconds: 30,
    throttleBaseSeconds: 480,
    throttleMaxSeconds: 900,
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
 * After a 429 the probe interval stretches (x2 per 429, up to x8) and shrinks back by 5% per
 * answered probe: the tenancy's spare request rate is unknown and shared with other tools,
 * so the hunt settles just under it instead of colliding with it again and again.
 */
const PACE_BACKOFF = 2;
const PACE_MAX = 8;
const PACE_RECOVERY = 0.95;

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

/** This project's policy: steady jittered probes cycling the ADs, full-jitter backoff on 429. */
export function createHuntPolicy(options: HuntPolicyOptions): LaunchPolicy {
    const settings = options.settings ?? DEFAULT_LAUNCH_RETRY;
    const { random, deadlineMs } = options;
    const maxAttempts = options.maxAttempts ?? Infinity;
    let throttleStreak = 0;
    let unknownStreak = 0;
    let pace = 1;

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
                const backoff = fullJitterMs(settings.throttleBaseSeconds * 1000, settings.throttleMaxSeconds * 1000, throttleStreak, random);
                throttleStreak += 1;
                pace = Math.min(PACE_MAX, pace * PACE_BACKOFF);
                delayMs = c.retryAfterMs !== undefined ? c.retryAfterMs + random() * RETRY_AFTER_SPREAD_MS : backoff;
                // A 429 never reached the capacity check, so that AD is still untested.
                adIndex = failed.adIndex;
            } else if (c.kind === "unknown") {
                throttleStreak = 0;
                unknownStreak += 1;
                if (unknownStreak > settings.unknownRetries) {
                    return stop(
                        "unknown-errors",
                        `${unknownStreak} unexpected launch errors in a row, last: ${c.summary}. Check OCI status and the message, then run \`pulumi up\` again (coinpilot:launchUnknownRetries allows more).`,
                    );
                }
                delayMs = fullJitterMs(settings.capacityIntervalSeconds * 1000, settings.throttleMaxSeconds * 1000, unknownStreak, random);
            } else {
                throttleStreak = 0;
                unknownStreak = 0;
                const interval = settings.capacityIntervalSeconds * 1000 * pace;
                pace = Math.max(1, pace * PACE_RECOVERY);
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
