// The two policies the benchmark measures ours against, written as LaunchPolicy objects so
// they run through the very same hunt loop and simulator.
import { Decision, FailedAttempt, LaunchPolicy, nextAdIndex } from "./policy";

const SECOND = 1000;

/**
 * A baseline script's shape: it stops on anything but capacity and throttling (neither script has an
 * unknown-error budget), and answers those two its own way.
 */
function baselinePolicy(name: string, answers: { throttle(failed: FailedAttempt): Decision; capacity(failed: FailedAttempt): Decision }): LaunchPolicy {
    return {
        name,
        firstAdIndex: () => 0,
        afterFailure(failed) {
            const c = failed.classification;
            if (c.kind === "fatal" || c.kind === "unknown") return { action: "stop", reason: "fatal", message: c.summary };
            return c.kind === "throttle" ? answers.throttle(failed) : answers.capacity(failed);
        },
    };
}

/**
 * The seed script (oci_retry_launch_a1_flex.sh): one AD, a fixed 60 s poll, and on 429 a
 * backoff of 900 s doubling up to 3600 s plus up to 120 s of jitter; anything else stops it.
 */
export function createSeedScriptPolicy(random: () => number): LaunchPolicy {
    let throttleStreak = 0;
    return baselinePolicy("seed script", {
        throttle(failed) {
            const delay = Math.min(3600, 900 * 2 ** throttleStreak) * SECOND + random() * 120 * SECOND;
            throttleStreak += 1;
            return { action: "retry", delayMs: delay, adIndex: failed.adIndex };
        },
        capacity(failed) {
            throttleStreak = 0;
            return { action: "retry", delayMs: 60 * SECOND, adIndex: failed.adIndex };
        },
    });
}

/**
 * hitrov/oci-arm-host-capacity run from cron every minute: each run tries every AD in turn
 * (a couple of seconds apart), and a 429 pauses the whole thing for 600 s.
 */
export function createHitrovPolicy(): LaunchPolicy {
    const CALL_GAP_MS = 2 * SECOND;
    let roundStartedMs = 0;
    return baselinePolicy("hitrov cron", {
        throttle(failed) {
            roundStartedMs = failed.elapsedMs + 600 * SECOND;
            return { action: "retry", delayMs: 600 * SECOND, adIndex: 0 };
        },
        capacity(failed) {
            if (failed.adIndex + 1 < failed.adCount) {
                return { action: "retry", delayMs: CALL_GAP_MS, adIndex: nextAdIndex(failed.adIndex, failed.adCount) };
            }
            // Next cron tick: a minute after this round began.
            const next = roundStartedMs + 60 * SECOND;
            const delay = Math.max(CALL_GAP_MS, next - failed.elapsedMs);
            roundStartedMs = failed.elapsedMs + delay;
            return { action: "retry", delayMs: delay, adIndex: 0 };
        },
    });
}
