import { classifyLaunchError } from "../lib/launch/classify";
import { createHuntPolicy, DEFAULT_LAUNCH_RETRY, fullJitterMs, FailedAttempt } from "../lib/launch/policy";
import { seededRandom } from "../lib/launch/simulator";

const CAPACITY = classifyLaunchError("500-InternalError, Out of host capacity.");
const THROTTLE = classifyLaunchError("429-TooManyRequests, Too many requests for the user");
const UNKNOWN = classifyLaunchError("502-BadGateway, upstream failed");

function failed(over: Partial<FailedAttempt>): FailedAttempt {
    return { attempt: 1, adIndex: 0, adCount: 3, elapsedMs: 0, classification: CAPACITY, ...over };
}

describe("hunt policy", () => {
    test("full jitter stays within [0, min(max, base * 2^step)]", () => {
        const random = seededRandom(7);
        for (let step = 0; step < 12; step++) {
            const d = fullJitterMs(60_000, 900_000, step, random);
            expect(d).toBeGreaterThanOrEqual(0);
            expect(d).toBeLessThanOrEqual(Math.min(900_000, 60_000 * 2 ** step));
        }
        expect(fullJitterMs(1000, 5000, 10, () => 0.999999)).toBeLessThanOrEqual(5000);
    });

    test("capacity errors cycle the ADs round-robin, around the configured interval", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: seededRandom(1) });
        const order: number[] = [];
        let ad = policy.firstAdIndex(3);
        for (let attempt = 1; attempt <= 6; attempt++) {
            const d = policy.afterFailure(failed({ attempt, adIndex: ad }));
            if (d.action !== "retry") throw new Error("expected a retry");
            expect(d.delayMs).toBeGreaterThanOrEqual(DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 800);
            expect(d.delayMs).toBeLessThanOrEqual(DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1200);
            ad = d.adIndex;
            order.push(ad);
        }
        expect(order).toEqual([1, 2, 0, 1, 2, 0]);
    });

    test("a 429 keeps the untested AD, backs off with growing ceilings, and honours Retry-After", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.999 });
        const first = policy.afterFailure(failed({ adIndex: 2, classification: THROTTLE }));
        const second = policy.afterFailure(failed({ attempt: 2, adIndex: 2, classification: THROTTLE }));
        expect(first).toMatchObject({ action: "retry", adIndex: 2 });
        if (first.action !== "retry" || second.action !== "retry") throw new Error("expected retries");
        expect(first.delayMs).toBeLessThanOrEqual(DEFAULT_LAUNCH_RETRY.throttleBaseSeconds * 1000);
        expect(second.delayMs).toBeGreaterThan(first.delayMs);
        const hinted = policy.afterFailure(failed({ attempt: 3, classification: { ...THROTTLE, retryAfterMs: 45_000 } }));
        if (hinted.action !== "retry") throw new Error("expected a retry");
        expect(hinted.delayMs).toBeGreaterThanOrEqual(45_000);
    });

    test("after a 429 the capacity pace slows, then recovers", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 });
        const interval = DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1000;
        policy.afterFailure(failed({ classification: THROTTLE }));
        const slowed = policy.afterFailure(failed({ attempt: 2 }));
        expect(slowed).toMatchObject({ action: "retry", delayMs: 2 * interval });
        let last = slowed;
        for (let i = 0; i < 40; i++) last = policy.afterFailure(failed({ attempt: 3 + i }));
        expect(last).toMatchObject({ action: "retry", delayMs: interval });
    });

    test("fatal stops at once with the fix in the message", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: Math.random });
        const d = policy.afterFailure(failed({ classification: classifyLaunchError("400-LimitExceeded, The following service limits were exceeded: standard-a1-core-count") }));
        expect(d).toMatchObject({ action: "stop", reason: "fatal" });
        if (d.action === "stop") expect(d.message).toMatch(/LimitExceeded.*existing A1 instance/);
    });

    test("unknown errors get a bounded number of consecutive retries", () => {
        const policy = createHuntPolicy({ settings: { ...DEFAULT_LAUNCH_RETRY, unknownRetries: 2 }, deadlineMs: Infinity, random: Math.random });
        expect(policy.afterFailure(failed({ classification: UNKNOWN })).action).toBe("retry");
        expect(policy.afterFailure(failed({ classification: UNKNOWN })).action).toBe("retry");
        // A capacity answer in between proves the API is alive and resets the count.
        expect(policy.afterFailure(failed({})).action).toBe("retry");
        expect(policy.afterFailure(failed({ classification: UNKNOWN })).action).toBe("retry");
        expect(policy.afterFailure(failed({ classification: UNKNOWN })).action).toBe("retry");
        expect(policy.afterFailure(failed({ classification: UNKNOWN }))).toMatchObject({ action: "stop", reason: "unknown-errors" });
    });

    test("stops instead of sleeping past the deadline, and at the attempt cap", () => {
        const policy = createHuntPolicy({ deadlineMs: 60 * 60_000, maxAttempts: 99, random: () => 0.5 });
        expect(policy.afterFailure(failed({ elapsedMs: 60 * 60_000 - (DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1000) / 2 }))).toMatchObject({ action: "stop", reason: "deadline" });
        expect(policy.afterFailure(failed({ attempt: 99 }))).toMatchObject({ action: "stop", reason: "attempt-cap" });
        expect(policy.afterFailure(failed({ attempt: 98, elapsedMs: 0 })).action).toBe("retry");
    });
});
