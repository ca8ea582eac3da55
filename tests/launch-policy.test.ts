import { classifyLaunchError } from "../lib/launch/classify";
import { createHuntPolicy, DEFAULT_LAUNCH_RETRY, equalJitterMs, fullJitterMs, FailedAttempt, LaunchPolicy, PACE, endsOnlyTheRun } from "../lib/launch/policy";
import { seededRandom } from "../lib/launch/simulator";

const CAPACITY = classifyLaunchError("500-InternalError, Out of host capacity.");
const THROTTLE = classifyLaunchError("429-TooManyRequests, Too many requests for the user");
const UNKNOWN = classifyLaunchError("502-BadGateway, upstream failed");
const FLOOR_MS = DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1000;
const CEILING_MS = DEFAULT_LAUNCH_RETRY.capacityIntervalMaxSeconds * 1000;
const MIN = 60_000;
const BASE_MS = DEFAULT_LAUNCH_RETRY.throttleBaseSeconds * 1000;
const MAX_MS = DEFAULT_LAUNCH_RETRY.throttleMaxSeconds * 1000;

function failed(over: Partial<FailedAttempt>): FailedAttempt {
    return { attempt: 1, adIndex: 0, adCount: 3, elapsedMs: 0, atMs: over.elapsedMs ?? 0, classification: CAPACITY, ...over };
}

const delayOf = (d: ReturnType<LaunchPolicy["afterFailure"]>): number => {
    if (d.action !== "retry") throw new Error(`expected a retry, got ${d.reason}`);
    return d.delayMs;
};

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
            const decision = policy.afterFailure(failed({ attempt, adIndex: ad }));
            expect(delayOf(decision)).toBeGreaterThanOrEqual(FLOOR_MS * 0.8);
            expect(delayOf(decision)).toBeLessThanOrEqual(FLOOR_MS * 1.2);
            if (decision.action === "retry") ad = decision.adIndex;
            order.push(ad);
        }
        expect(order).toEqual([1, 2, 0, 1, 2, 0]);
    });

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

    test("a failure of any call but LaunchInstance stops for good: the instance exists", () => {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: Math.random });
        const d = policy.afterFailure(failed({ classification: classifyLaunchError("429-TooManyRequests, Too many requests\nService: Core Instance \nOperation Name: GetInstance \n") }));
        expect(d).toMatchObject({ action: "stop", reason: "after-launch" });
        if (d.action === "stop") expect(d.message).toMatch(/GetInstance failed afterwards.*Run `pulumi up` again/);
        expect(delayOf(policy.afterFailure(failed({ classification: classifyLaunchError("500-InternalError, Out of host capacity.\nOperation Name: LaunchInstance") })))).toBeGreaterThan(0);
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

    test("after a 503 the wait is never 0 s, and its Retry-After is honoured", () => {
        const unavailable = classifyLaunchError({ statusCode: 503, serviceCode: "ServiceUnavailable", message: "try later", headers: { "retry-after": "90" } });
        expect(unavailable).toMatchObject({ kind: "unknown", retryAfterMs: 90_000 });
        for (const draw of [0, 0.5, 0.999999]) {
            const bare = delayOf(createHuntPolicy({ deadlineMs: Infinity, random: () => draw }).afterFailure(failed({ classification: classifyLaunchError("503-ServiceUnavailable, try later") })));
            expect(bare).toBeGreaterThanOrEqual(FLOOR_MS);
            expect(delayOf(createHuntPolicy({ deadlineMs: Infinity, random: () => draw }).afterFailure(failed({ classification: unavailable })))).toBeGreaterThanOrEqual(90_000);
        }
    });

    test("stops at this run's budget, at the attempt cap, and at the hunt's deadline", () => {
        const policy = createHuntPolicy({ deadlineMs: 60 * MIN, maxAttempts: 99, random: () => 0.5 });
        expect(policy.afterFailure(failed({ elapsedMs: 60 * MIN - FLOOR_MS / 2 }))).toMatchObject({ action: "stop", reason: "run-budget" });
        expect(policy.afterFailure(failed({ attempt: 99 }))).toMatchObject({ action: "stop", reason: "attempt-cap" });
        expect(policy.afterFailure(failed({ attempt: 98, elapsedMs: 0 })).action).toBe("retry");
        const hunt = createHuntPolicy({ deadlineMs: Infinity, huntDeadlineAtMs: 10 * MIN, random: () => 0.5 });
        const stop = hunt.afterFailure(failed({ atMs: 10 * MIN - 1000, elapsedMs: 0 }));
        expect(stop).toMatchObject({ action: "stop", reason: "deadline" });
        if (stop.action === "stop") expect(stop.message).toMatch(/coinpilot:launchHuntDeadlineHours/);
        // Only the cap and the budget leave the hunt to the next `pulumi up`.
        expect(["attempt-cap", "run-budget", "deadline", "fatal", "unknown-errors", "after-launch"].filter((r) => endsOnlyTheRun(r as never))).toEqual(["attempt-cap", "run-budget"]);
    });
});

describe("adaptive pace", () => {
    /** Drives a policy on a clock: answered probes at its pace, 429s, and what it decides. */
    function driver(options: Partial<Parameters<typeof createHuntPolicy>[0]> = {}) {
        const policy = createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5, ...options });
        let t = options.learned?.nextAttemptAtMs ?? 0;
        const step = (classification = CAPACITY): number => {
            const d = delayOf(policy.afterFailure(failed({ atMs: t, classification })));
            t += d;
            return d;
        };
        /** Answered probes for about `ms`, at least `minAnswered` of them. */
        const cleanFor = (ms: number): void => {
            const until = t + ms;
            let n = 0;
            while (t < until || n < PACE.minAnswered) {
                step();
                n += 1;
            }
        };
        return { policy, step, cleanFor, interval: () => policy.learned!().intervalMs, at: () => t };
    }

    test("starts at the fastest pace (the floor)", () => {
        const d = driver();
        expect([d.step(), d.step(), d.step()]).toEqual([FLOOR_MS, FLOOR_MS, FLOOR_MS]);
    });

    test("a 429 met at pace multiplies the interval, up to the ceiling", () => {
        const d = driver();
        d.cleanFor(10 * MIN);
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS * PACE.increaseFactor);
        // Probes after the cool-down keep the slower pace.
        expect(d.step()).toBeCloseTo(FLOOR_MS * PACE.increaseFactor, -3);
        const capped = driver({ settings: { ...DEFAULT_LAUNCH_RETRY, capacityIntervalMaxSeconds: 45 } });
        capped.cleanFor(10 * MIN);
        capped.step(THROTTLE);
        expect(capped.interval()).toBe(45_000);
    });

    test("a 429 before a few probes were answered is the spell still on: the pace stays", () => {
        const d = driver();
        d.step(THROTTLE);
        for (let i = 1; i < PACE.minAnswered; i++) d.step();
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS);
    });

    test("other traffic's 429 after a long clean stretch slows the pace by the smaller factor, and each later one again", () => {
        const d = driver();
        d.cleanFor(3_600_000);
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS * PACE.spellFactor);
        expect(PACE.spellFactor).toBeLessThan(PACE.increaseFactor);
        d.cleanFor(4 * 3_600_000);
        const before = d.interval();
        d.step(THROTTLE);
        expect(before).toBeLessThan(FLOOR_MS * PACE.spellFactor);
        expect(d.interval()).toBe(before * PACE.spellFactor);
        // Never past spellCapFactor x the floor for other traffic's 429s; drains still go on up.
        for (let i = 0; i < 10; i++) {
            d.cleanFor(4 * 3_600_000);
            d.step(THROTTLE);
        }
        expect(d.interval()).toBe(FLOOR_MS * PACE.spellCapFactor);
        d.cleanFor(10 * MIN);
        d.step(THROTTLE);
        expect(d.interval()).toBeCloseTo(FLOOR_MS * PACE.spellCapFactor * PACE.increaseFactor, -3);
    });

    test("a 429 on the first probes after a spell's long cool-down shows busy spells: back to the floor, and for a while only a drain from the floor slows", () => {
        const d = driver();
        d.cleanFor(2 * 3_600_000);
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS * PACE.spellFactor);
        d.step();
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS);
        expect(d.policy.learned!().slowingOffUntilMs).toBe(d.at() - 0.75 * Math.min(MAX_MS, 2 * BASE_MS) + PACE.spellHoldMs);
        // While it holds, other traffic's 429s leave the pace alone...
        d.cleanFor(40 * MIN);
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS);
        // ...a drain from the floor still slows it (our own probes are too fast for this bucket)...
        d.cleanFor(10 * MIN);
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS * PACE.increaseFactor);
        // ...but only that once (the interval only recovers a little).
        d.cleanFor(10 * MIN);
        d.step(THROTTLE);
        expect(d.interval()).toBeLessThanOrEqual(FLOOR_MS * PACE.increaseFactor);
        expect(d.interval()).toBeGreaterThan(FLOOR_MS * PACE.increaseFactor - PACE.recoveryPerHourMs);
        // Once the hold is over, other traffic's 429 slows the pace again.
        d.cleanFor(PACE.spellHoldMs);
        const before = d.interval();
        d.step(THROTTLE);
        expect(d.interval()).toBe(before * PACE.spellFactor);
    });

    test("a 429 right after a drain's short cool-down is no sign of spells: the drained pace stays", () => {
        const d = driver();
        d.cleanFor(10 * MIN);
        d.step(THROTTLE);
        d.step();
        d.step(THROTTLE);
        expect(d.interval()).toBe(FLOOR_MS * PACE.increaseFactor);
        expect(d.policy.learned!().slowingOffUntilMs).toBeUndefined();
    });

    test("a 429 soon after probing resumed means our probes drained the bucket: a short cool-down, and the spell's count stays", () => {
        const d = driver();
        d.cleanFor(5 * MIN);
        const coolDown = d.step(THROTTLE);
        expect(coolDown).toBeGreaterThanOrEqual(d.interval());
        expect(coolDown).toBeLessThanOrEqual(Math.max(d.interval(), PACE.drainCoolDownMs));
        expect(d.policy.learned!().throttleStreak).toBe(0);
        // A 429 after a long clean stretch gets the usual cool-down.
        d.cleanFor(2 * 3_600_000);
        expect(d.step(THROTTLE)).toBe(0.75 * BASE_MS);
    });

    test("answered probes bring the pace back towards the floor, slowly, and never past it", () => {
        const d = driver();
        d.cleanFor(10 * MIN);
        d.step(THROTTLE);
        const slowed = d.interval();
        const before = d.at();
        d.cleanFor(3_600_000);
        const hours = (d.at() - before) / 3_600_000;
        expect(slowed - d.interval()).toBeCloseTo(PACE.recoveryPerHourMs * hours, -2);
        d.cleanFor(1000 * 3_600_000);
        expect(d.interval()).toBe(FLOOR_MS);
    });

    test("what one run learned, the next continues: pace, spell memory and the probe it scheduled", () => {
        const first = driver();
        first.cleanFor(2 * 3_600_000);
        first.step(THROTTLE);
        const learned = first.policy.learned!();
        expect(learned).toMatchObject({ intervalMs: FLOOR_MS * PACE.spellFactor, throttleStreak: 1, nextAttemptAtMs: first.at(), lastThrottleWasSpell: true });
        const second = driver({ learned });
        expect(second.interval()).toBe(learned.intervalMs);
        // A 429 right at the start of the next run is still the same spell: the cool-down doubles.
        expect(second.step(THROTTLE)).toBe(0.75 * Math.min(MAX_MS, 2 * BASE_MS));
        // A pace learned under other settings is clamped into the configured floor and ceiling.
        expect(driver({ learned: { intervalMs: 10 * CEILING_MS, throttleStreak: 0 } }).interval()).toBe(CEILING_MS);
        expect(driver({ learned: { intervalMs: 1, throttleStreak: 0 } }).interval()).toBe(FLOOR_MS);
    });
});
