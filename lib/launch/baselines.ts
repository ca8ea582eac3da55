// The two policies the benchmark measures ours against, written as LaunchPolicy objects so
// they run through the very same hunt loop and simulator.
import { Decision, LaunchPolicy, nextAdIndex } from "./policy";

const SECOND = 1000;

function stopUnlessRetryable(kind: string, summary: string): Decision | undefined {
    return kind === "fatal" || kind === "unknown" ? { action: "stop", reason: "fatal", message: summary } : undefined;
}

/**
 * The seed script (oci_retry_launch_a1_flex.sh): one AD, a fixed 60 s poll, and on 429 a
 * backoff of 900 s doubling up to 3600 s plus up to 120 s of jitter; anything else stops it.
 */
export function createSeedScriptPolicy(random: () => number): LaunchPolicy {
    let throttleStreak = 0;
    return {
        name: "seed script",
        firstAdIndex: () => 0,
        afterFailure(failed) {
            const c = failed.classification;
            const stop = stopUnlessRetryable(c.kind, c.summary);
            if (stop) return stop;
            if (c.kind === "throttle") {
                const delay = Math.min(3600, 900 * 2 ** throttleStreak) * SECOND + random() * 120 * SECOND;
                throttleStreak += 1;
                return { action: "retry", delayMs: delay, adIndex: failed.adIndex };
            }
            throttleStreak = 0;
            return { action: "retry", delayMs: 60 * SECOND, adIndex: failed.adIndex };
        },
    };
}

/**
 * hitrov/oci-arm-host-capacity run from cron every minute: each run tries every AD in turn
 * (a couple of seconds apart), and a 429 pauses the whole thing for 600 s.
 */
export function createHitrovPolicy(): LaunchPolicy {
    const CALL_GAP_MS = 2 * SECOND;
    let roundStartedMs = 0;
    return {
        name: "hitrov cron",
        firstAdIndex: () => 0,
        afterFailure(failed) {
            const c = failed.classification;
            const stop = stopUnlessRetryable(c.kind, c.summary);
            if (stop) return stop;
            if (c.kind === "throttle") {
                roundStartedMs = failed.elapsedMs + 600 * SECOND;
                return { action: "retry", delayMs: 600 * SECOND, adIndex: 0 };
            }
            if (failed.adIndex + 1 < failed.adCount) {
                return { action: "retry", delayMs: CALL_GAP_MS, adIndex: nextAdIndex(failed.adIndex, failed.adCount) };
            }
            // Next cron tick: a minute after this round began.
            const next = roundStartedMs + 60 * SECOND;
            const delay = Math.max(CALL_GAP_MS, next - failed.elapsedMs);
            roundStartedMs = failed.elapsedMs + delay;
            return { action: "retry", delayMs: delay, adIndex: 0 };
        },
    };
}
