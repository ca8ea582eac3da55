// The hunt's decisions as pure, seedable objects: what to do after each failed launch.
// Every mechanism (the error hook during `pulumi up`, the simulator, the benchmark) shares
// these; time and randomness come from the caller so tests and simulations are deterministic.
import { Classification } from "./classify";

/** User-tunable knobs (stack config `coinpilot:launch*`, see Pulumi.yaml). */
export interface LaunchRetrySettings {
    /** Fastest pace: the probe interval a hunt starts at and never goes below. Defaults to 30 s. */
    readonly capacityIntervalSeconds: number;
    /** Slowest pace the interval may grow to after 429s. Defaults to 300 s. */
    readonly capacityIntervalMaxSeconds: number;
    /** First ceiling of the equal-jitter cool-down after a 429 (the wait is half to all of it). Defaults to 1500 s. */
    readonly throttleBaseSeconds: number;
    /** Largest ceiling the cool-down doubles up to while 429s keep coming. Defaults to 3000 s. */
    readonly throttleMaxSeconds: number;
    /** Consecutive unclassified errors tolerated before the hunt stops. Defaults to 5. */
    readonly unknownRetries: number;
}

// Chosen from `npm run bench:hunt` sweeps on tuning seeds 1001-1300 (README "Capacity hunt"): freed
// A1 capacity is taken within seconds, so probes pay off in proportion to their rate; 30 s about
// halves the seed's time where the tenancy's bucket allows it, and the pace adapts (below) where
// it does not. A 429 after a clean stretch means other traffic owns the bucket for a while (~20 min
// spells): a 12.5-25 min cool-down, 25-50 min if the spell persists, outlasts most spells with ~1
// 429 each (10-20 min re-probed mid-spell more often: +0.4 429s per hunt in the busiest world).
export const DEFAULT_LAUNCH_RETRY: LaunchRetrySettings = {
    capacityIntervalSeconds: 30,
    capacityIntervalMaxSeconds: 300,
    throttleBaseSeconds: 1500,
    throttleMaxSeconds: 3000,
    unknownRetries: 5,
};

/**
 * Default budget of one `pulumi up` (`coinpilot:launchDeadlineMinutes`). The engine's cap of 99
 * retries per run ends a calm run after ~50 min at 30 s; the budget bounds how long a run slowed
 * by cool-downs keeps the stack locked. The hunt goes on in the next run.
 */
export const DEFAULT_LAUNCH_DEADLINE_MINUTES = 120;

/** Default budget of the whole hunt across runs (`coinpilot:launchHuntDeadlineHours`): a week. */
export const DEFAULT_HUNT_DEADLINE_HOURS = 168;

/** Spread of capacity probes around the interval so parallel hunters never fall into step. */
const CAPACITY_JITTER_RATIO = 0.2;
/** Spread added on top of a Retry-After hint, for the same reason. */
const RETRY_AFTER_SPREAD_MS = 2_000;
/**
 * 429s less than this apart belong to the same busy spell, so the cool-down keeps doubling:
 * one answered probe proves little, since a busy bucket still lets some requests through.
 */
const THROTTLE_SPELL_MEMORY_MS = 60 * 60_000;

/**
 * The adaptive pace (multiplicative slowdowns, slow additive recovery). A 429 met while probing at
 * pace (after a few answered probes) slows it, in one of two ways:
 * - soon after probing resumed (`drainWindowMs`): our own probes emptied the bucket. The interval
 *   grows by `increaseFactor`, and a short cool-down (`drainCoolDownMs`) lets the bucket refill;
 * - after a long clean stretch: other traffic took the bucket's last tokens. A clump of it, which a
 *   slower pace meets less often (the interval grows by `spellFactor`), or a busy spell, which a
 *   slower pace does not prevent. Either gets the long cool-down.
 * When the first probes after such a long cool-down meet a 429 again, a spell outlasted it: this
 * tenancy has busy spells, so its 429s say little about our pace. The pace goes back to the floor
 * and, for `spellHoldMs`, slows only for a drain from the floor itself.
 */
export interface PaceTuning {
    /** Interval multiplier after our own probes drained the bucket... */
    readonly increaseFactor: number;
    /** ...and after other traffic's 429 at pace. */
    readonly spellFactor: number;
    /** Answered probes at a pace before a 429 says anything about it (a busy bucket still answers one now and then). */
    readonly minAnswered: number;
    readonly drainWindowMs: number;
    readonly drainCoolDownMs: number;
    /** Other traffic's 429s never slow the pace past this multiple of the floor; only drains do. */
    readonly spellCapFactor: number;
    /** How long one sign of busy spells keeps slowdowns off. */
    readonly spellHoldMs: number;
    /** How much a full hour of answered probes shortens the interval. */
    readonly recoveryPerHourMs: number;
}

// Chosen on tuning seeds 1001-1400 (README "Capacity hunt"): 1.5 for other traffic's 429 keeps the
// 429s of day-long hunts within the target where 1.25 did not, and costs less time than 2 where
// 60 s is already near the limit; the cap at 3x the floor (90 s) keeps busy-world hunts that see no
// sign of spells for a while from slowing towards the ceiling (p90 13h47m -> 12h40m), where 2x let
// clumps through under a 1.5/min limit (2.9 429s per hunt against 2.2).
export const PACE: PaceTuning = {
    increaseFactor: 2,
    spellFactor: 1.5,
    minAnswered: 3,
    drainWindowMs: 20 * 60_000,
    drainCoolDownMs: 3 * 60_000,
    spellCapFactor: 3,
    spellHoldMs: 12 * 3_600_000,
    recoveryPerHourMs: 1_000,
};

export type StopReason =
    /** Fix something first: credentials, an OCID, the free allowance. */
    | "fatal"
    | "unknown-errors"
    /** The hunt as a whole ran out of time (`coinpilot:launchHuntDeadlineHours`). */
    | "deadline"
    /** The launch went through but a call after it failed: the instance exists, never launch again. */
    | "after-launch"
    /** This run ends, the hunt goes on in the next `pulumi up`: the engine's retry cap... */
    | "attempt-cap"
    /** ...or the run's own budget (`coinpilot:launchDeadlineMinutes`). */
    | "run-budget";

/** Stops after which the README's rerun loop continues the same hunt. */
export function endsOnlyTheRun(reason: StopReason): boolean {
    return reason === "attempt-cap" || reason === "run-budget";
}

export type Decision =
    | { readonly action: "retry"; readonly delayMs: number; readonly adIndex: number }
    | { readonly action: "stop"; readonly reason: StopReason; readonly message: string };

export interface FailedAttempt {
    /** 1-based number of the attempt that just failed (within this run). */
    readonly attempt: number;
    readonly adIndex: number;
    readonly adCount: number;
    /** Time since this run's first attempt. */
    readonly elapsedMs: number;
    /** The clock's reading when the attempt failed (the same clock as the learned pace). */
    readonly atMs: number;
    readonly classification: Classification;
}

/** What a hunt has learned about the tenancy, carried from one `pulumi up` to the next. */
export interface LearnedPace {
    /** Current probe interval, between the configured floor and ceiling. */
    readonly intervalMs: number;
    /** 429s in the current busy spell (sets the next cool-down's ceiling). */
    readonly throttleStreak: number;
    readonly lastThrottleAtMs?: number;
    /** First answered probe since the last 429 (or the hunt's start): when the current pace began. */
    readonly paceSinceMs?: number;
    /** Until when slowdowns are off (but a drain from the floor), after a sign of busy spells. */
    readonly slowingOffUntilMs?: number;
    /** Last answered probe since then, and how many were answered. */
    readonly lastAnsweredAtMs?: number;
    readonly answeredSincePace?: number;
    /** Whether the last 429 got the long cool-down of other traffic's spell (not a drain's short one). */
    readonly lastThrottleWasSpell?: boolean;
    /** When the policy allows the next probe (end of a cool-down or interval). */
    readonly nextAttemptAtMs?: number;
}

/** A stateful decision maker; create one per run of a hunt. */
export interface LaunchPolicy {
    readonly name: string;
    firstAdIndex(adCount: number): number;
    afterFailure(failed: FailedAttempt): Decision;
    /** What to carry into the next run; absent for policies that learn nothing. */
    learned?(): LearnedPace;
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
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (d > 0) return `${d}d${String(h).padStart(2, "0")}h`;
    return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(s).padStart(2, "0")}s` : `${s}s`;
}

export interface HuntPolicyOptions {
    readonly settings?: LaunchRetrySettings;
    /** This run's budget, counted from its first attempt. */
    readonly deadlineMs: number;
    /** Hard cap on attempts in this run, e.g. the engine's error-hook retry limit. Defaults to none. */
    readonly maxAttempts?: number;
    /** When the whole hunt must end, on the `atMs` clock. Defaults to never. */
    readonly huntDeadlineAtMs?: number;
    /** The pace learned by earlier runs of this hunt. Defaults to a fresh start at the floor. */
    readonly learned?: LearnedPace;
    /** Defaults to PACE; the benchmark's tuning runs vary it. */
    readonly pace?: PaceTuning;
    readonly random: () => number;
}

const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

/** This project's policy: jittered probes at an adaptive pace cycling the ADs, an equal-jitter cool-down after a 429. */
export function createHuntPolicy(options: HuntPolicyOptions): LaunchPolicy {
    const settings = options.settings ?? DEFAULT_LAUNCH_RETRY;
    const { random, deadlineMs } = options;
    const maxAttempts = options.maxAttempts ?? Infinity;
    const huntDeadlineAtMs = options.huntDeadlineAtMs ?? Infinity;
    const floorMs = settings.capacityIntervalSeconds * 1000;
    const ceilingMs = Math.max(floorMs, settings.capacityIntervalMaxSeconds * 1000);
    const learned = options.learned;
    let intervalMs = clamp(learned?.intervalMs ?? floorMs, floorMs, ceilingMs);
    let throttleStreak = learned?.throttleStreak ?? 0;
    let lastThrottleAtMs = learned?.lastThrottleAtMs ?? -Infinity;
    let nextAttemptAtMs = learned?.nextAttemptAtMs;
    let paceSinceMs = learned?.paceSinceMs;
    let slowingOffUntilMs = learned?.slowingOffUntilMs ?? -Infinity;
    let lastAnsweredAtMs = learned?.lastAnsweredAtMs;
    let answered = learned?.answeredSincePace ?? 0;
    const pace = options.pace ?? PACE;
    let unknownStreak = 0;
    let lastThrottleWasSpell = learned?.lastThrottleWasSpell ?? false;

    const stop = (reason: StopReason, message: string): Decision => ({ action: "stop", reason, message });

    /** Adjusts the pace to what this failure says about it; true when our own probes drained the bucket. */
    const paceAfter = (failed: FailedAttempt): boolean => {
        const c = failed.classification;
        const at = failed.atMs;
        if (c.kind === "capacity") {
            if (lastAnsweredAtMs !== undefined) {
                intervalMs = Math.max(floorMs, intervalMs - (pace.recoveryPerHourMs * (at - lastAnsweredAtMs)) / 3_600_000);
            }
            paceSinceMs ??= at;
            lastAnsweredAtMs = at;
            answered += 1;
            return false;
        }
        if (c.kind !== "throttle") return false;
        // A pace starts with its first answered probe. A 429 before a few were answered (the first
        // probes after a cool-down, with the spell still on) says nothing about the pace.
        const clean = paceSinceMs !== undefined && answered >= pace.minAnswered ? at - paceSinceMs : undefined;
        paceSinceMs = lastAnsweredAtMs = undefined;
        answered = 0;
        if (clean === undefined) {
            if (lastThrottleWasSpell) {
                intervalMs = floorMs;
                slowingOffUntilMs = at + pace.spellHoldMs;
            }
            lastThrottleWasSpell = true;
            return false;
        }
        const drained = clean <= pace.drainWindowMs;
        lastThrottleWasSpell = !drained;
        const holding = at < slowingOffUntilMs;
        if (holding ? drained && intervalMs <= floorMs : intervalMs < ceilingMs) {
            const slowed = drained ? intervalMs * pace.increaseFactor : Math.max(intervalMs, Math.min(intervalMs * pace.spellFactor, floorMs * pace.spellCapFactor));
            intervalMs = Math.min(ceilingMs, slowed);
        }
        return drained;
    };

    return {
        name: "coinpilot",
        firstAdIndex: () => 0,
        learned: () => ({
            intervalMs,
            throttleStreak,
            ...(Number.isFinite(lastThrottleAtMs) ? { lastThrottleAtMs } : {}),
            ...(paceSinceMs !== undefined ? { paceSinceMs } : {}),
            ...(Number.isFinite(slowingOffUntilMs) ? { slowingOffUntilMs } : {}),
            ...(lastAnsweredAtMs !== undefined ? { lastAnsweredAtMs, answeredSincePace: answered } : {}),
            ...(nextAttemptAtMs !== undefined ? { nextAttemptAtMs } : {}),
            ...(lastThrottleWasSpell ? { lastThrottleWasSpell } : {}),
        }),
        afterFailure(failed) {
            const c = failed.classification;
            if (c.operation !== undefined && c.operation !== "LaunchInstance") {
                return stop(
                    "after-launch",
                    `the launch went through but ${c.operation} failed afterwards (${c.summary}): the instance exists in OCI and is recorded in the stack. Run \`pulumi up\` again to finish it; do not delete it by hand.`,
                );
            }
            if (c.kind === "fatal") {
                return stop("fatal", `launch failed with ${c.summary}. Fix: ${c.fix}`);
            }
            const drained = paceAfter(failed);
            let delayMs: number;
            let adIndex = nextAdIndex(failed.adIndex, failed.adCount);
            if (c.kind === "throttle") {
                unknownStreak = 0;
                if (failed.atMs - lastThrottleAtMs > THROTTLE_SPELL_MEMORY_MS) throttleStreak = 0;
                lastThrottleAtMs = failed.atMs;
                let coolDown: number;
                if (drained && pace.drainCoolDownMs > 0) {
                    coolDown = Math.max(intervalMs, equalJitterMs(pace.drainCoolDownMs, pace.drainCoolDownMs, 0, random));
                } else {
                    coolDown = equalJitterMs(settings.throttleBaseSeconds * 1000, settings.throttleMaxSeconds * 1000, throttleStreak, random);
                    throttleStreak += 1;
                }
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
                // Equal jitter from the current pace up: a 503 or a network error never earns a
                // 0 s retry, and a Retry-After the error carries is honoured.
                delayMs = Math.max(equalJitterMs(intervalMs, settings.throttleMaxSeconds * 1000, unknownStreak, random), c.retryAfterMs ?? 0);
            } else {
                unknownStreak = 0;
                delayMs = intervalMs * (1 - CAPACITY_JITTER_RATIO + 2 * CAPACITY_JITTER_RATIO * random());
            }
            nextAttemptAtMs = failed.atMs + delayMs;
            if (failed.atMs + delayMs > huntDeadlineAtMs) {
                return stop(
                    "deadline",
                    `no capacity before the hunt's deadline (coinpilot:launchHuntDeadlineHours), last: ${c.summary}. Raise the deadline or reset the hunt (README "Capacity hunt") and run \`pulumi up\` again.`,
                );
            }
            if (failed.attempt >= maxAttempts) {
                return stop(
                    "attempt-cap",
                    `reached ${maxAttempts} attempts, the most Pulumi's engine retries one operation in a single \`pulumi up\`; run \`pulumi up\` again to continue the hunt (last: ${c.summary}).`,
                );
            }
            if (failed.elapsedMs + delayMs > deadlineMs) {
                return stop(
                    "run-budget",
                    `this run used its ${formatDuration(deadlineMs)} (coinpilot:launchDeadlineMinutes) after ${failed.attempt} attempts, last: ${c.summary}. Run \`pulumi up\` again to continue the hunt.`,
                );
            }
            return { action: "retry", delayMs, adIndex };
        },
    };
}
