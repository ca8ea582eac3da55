import { classifyLaunchError } from "../lib/launch/classify";
import { createHuntPolicy, DEFAULT_LAUNCH_RETRY, equalJitterMs, fullJitterMs, FailedAttempt } from "../lib/launch/policy";
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

    test("equal jitter stays within [c/2, c] for c = min(max, base * 2^step)", () => {
        const random = seededRandom(11);
        for (let step = 0; step < 12; step++) {
            const ceiling = Math.min(2_400_000, 1_200_000 * 2 ** step);
            const d = equalJitterMs(1_200_000, 2_400_000, step, random);
            expect(d).toBeGreaterThanOrEqual(ceiling / 2);
            expect(d).toBeLessThanOrEqual(ceiling);
        }
        expect(equalJitterMs(1000, 5000, 0, () => 0)).toBe(500);
        expect(equalJitterMs(1000, 5000, 10, () => 0.999999)).toBeLessThanOrEqual(5000);
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

    const delayOf = (d: ReturnType<ReturnType<typeof createHuntPolicy>["afterFailure"]>): number => {
        if (d.action !== "retry") throw new Error(`expected a retry, got ${d.reason}`);
        return d.delayMs;
    };
    const BASE_MS = DEFAULT_LAUNCH_RETRY.throttleBaseSeconds * 1000;
    const MAX_MS = DEFAULT_LAUNCH_RETRY.throttleMaxSeconds * 1000;

    test("a 429 keeps the untested AD and cools down for half to all of the base, whatever the draw", () => {
        for (const draw of [0, 0.999]) {
            const policy = createHuntPolicy({ deadlineMs: Infinity, random: () => draw });
            const d = policy.afterFailure(failed({ adIndex: 2, classification: THROTTLE }));
            expect(d).toMatchObject({ action: "retry", adIndex: 2 });
            expect(delayOf(d)).toBeGreaterThanOrEqual(BASE_MS / 2);
            expect(delayOf(d)).toBeLessThanOrEqual(BASE_MS);
        }
    });

    test("429s within a busy spell double the cool-down up to the max, answered probes in between notwithstanding", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 });
        let t = 0;
        const throttled = (): number => {
            const d = delayOf(policy.afterFailure(failed({ elapsedMs: t, classification: THROTTLE })));
            t += d;
            // The probe after the cool-down gets through (a busy bucket lets some requests pass)...
            expect(delayOf(policy.afterFailure(failed({ elapsedMs: t })))).toBeLessThan(BASE_MS / 10);
            t += 30_000;
            return d;
        };
        // ...yet the next 429 within the hour still counts as the same spell.
        expect([throttled(), throttled(), throttled()]).toEqual([0.75 * BASE_MS, 0.75 * Math.min(MAX_MS, 2 * BASE_MS), 0.75 * MAX_MS]);
        // A 429 more than an hour after the last one starts over at the base.
        t += 61 * 60_000;
        expect(throttled()).toBe(0.75 * BASE_MS);
    });

    test("capacity probes keep their interval after a 429 (the cool-down alone absorbs it)", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 });
        policy.afterFailure(failed({ classification: THROTTLE }));
        expect(policy.afterFailure(failed({ attempt: 2, elapsedMs: BASE_MS }))).toMatchObject({ action: "retry", delayMs: DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1000 });
    });

    test("Retry-After is a floor under the cool-down: never sooner than the hint, never shorter than the cool-down", () => {
        const short = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 }).afterFailure(failed({ classification: { ...THROTTLE, retryAfterMs: 45_000 } }));
        expect(delayOf(short)).toBe(0.75 * BASE_MS);
        const long = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 }).afterFailure(failed({ classification: { ...THROTTLE, retryAfterMs: 3 * MAX_MS } }));
        expect(delayOf(long)).toBeGreaterThanOrEqual(3 * MAX_MS);
        expect(delayOf(long)).toBeLessThanOrEqual(3 * MAX_MS + 2_000);
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
