// The hunt proven against the seeded simulator on a virtual clock: outcomes and invariants,
// never wall-clock timings.
import { createHuntPolicy, LaunchRetrySettings, DEFAULT_LAUNCH_RETRY } from "../lib/launch/policy";
import { runHunt, HuntStopped } from "../lib/launch/hunt";
import { ErrorHookHunt, ATTEMPTS_PER_UP, ENGINE_ERROR_HOOK_CAP } from "../lib/launch/engine-hook";
import { FakeOciLaunchApi, ScenarioParams, VirtualClock, runEngineRetries, seededRandom } from "../lib/launch/simulator";
import { simulateDirect, simulateErrorHook, PolicyFactory } from "../lib/launch/simulate";
import { BENCH_SCENARIOS } from "../lib/launch/scenarios";

const MIN = 60_000;
const ADS = ["Uocm:EU-FRANKFURT-1-AD-1", "Uocm:EU-FRANKFURT-1-AD-2", "Uocm:EU-FRANKFURT-1-AD-3"];
const CALM = { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0, retryAfter: false };

function scenario(over: Partial<ScenarioParams>): ScenarioParams {
    return { seed: 1, ads: ADS, windowsPerHour: 0, meanWindowMinutes: 5, competitorTakesPerHour: 0, rateLimit: CALM, horizonHours: 48, ...over };
}

const ours = (deadlineMs = Infinity, settings?: LaunchRetrySettings): PolicyFactory => (random, { maxAttempts }) =>
    createHuntPolicy({ settings, deadlineMs, maxAttempts, random });

describe("capacity hunt on the simulator", () => {
    test("captures capacity when it appears, in the AD where it appears", async () => {
        // Only AD-3 gets capacity, for 3 minutes, 5 hours in.
        const windows = [[], [], [{ openMs: 300 * MIN, closeMs: 303 * MIN }]];
        const result = await simulateDirect(scenario({ windows }), ours());
        expect(result.launched).toBe(true);
        const launch = result.api.requests.at(-1)!;
        expect(launch).toMatchObject({ outcome: "launched", ad: ADS[2] });
        expect(launch.atMs).toBeGreaterThanOrEqual(300 * MIN);
        expect(launch.atMs).toBeLessThan(303 * MIN);
        // Every earlier request found no capacity, and none came after the launch.
        expect(result.api.requests.slice(0, -1).every((r) => r.outcome === "capacity")).toBe(true);
        expect(result.elapsedMs).toBe(launch.atMs);
    });

    test("cycles every AD in turn on capacity errors", async () => {
        const result = await simulateDirect(scenario({ windows: [[], [], [{ openMs: 60 * MIN, closeMs: 61 * MIN }]] }), ours());
        const ads = result.api.requests.map((r) => ADS.indexOf(r.ad));
        expect(ads.slice(0, 9)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
        for (const ad of [0, 1, 2]) expect(ads.filter((a) => a === ad).length).toBeGreaterThan(10);
    });

    test("a single-AD region always asks the one AD", async () => {
        const result = await simulateDirect(scenario({ ads: [ADS[0]], windows: [[{ openMs: 30 * MIN, closeMs: 32 * MIN }]] }), ours());
        expect(result.launched).toBe(true);
        expect(new Set(result.api.requests.map((r) => r.ad))).toEqual(new Set([ADS[0]]));
    });

    test.each([
        ["LimitExceeded", /existing A1 instance .*boot volume/],
        ["NotAuthenticated", /fingerprint/],
        ["NotAuthorizedOrNotFound", /coinpilot:compartmentId/],
        ["InvalidParameter", /aarch64/],
    ] as const)("stops on %s at once, with the fix in the message", async (code, fix) => {
        const notes: string[] = [];
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ fatal: { atCall: 4, code } }), clock.now);
        const hunt = runHunt({
            availabilityDomains: ADS,
            policy: createHuntPolicy({ deadlineMs: Infinity, random: seededRandom(3) }),
            attempt: (ad) => api.launch(ad),
            now: clock.now,
            sleep: clock.sleep,
            notify: async (m) => void notes.push(m),
        });
        await expect(hunt).rejects.toThrow(HuntStopped);
        await hunt.catch((e: HuntStopped) => {
            expect(e.reason).toBe("fatal");
            expect(e.message).toMatch(code);
            expect(e.message).toMatch(fix);
            expect(e.attempts).toBe(4);
        });
        expect(api.calls).toBe(4);
        expect(notes).toHaveLength(1);
        expect(notes[0]).toMatch(/stopped \(fatal\)/);
    });

    test("stops at the deadline without sleeping past it", async () => {
        const result = await simulateDirect(scenario({}), ours(90 * MIN));
        expect(result).toMatchObject({ launched: false, stopReason: "deadline" });
        expect(result.stopMessage).toMatch(/coinpilot:launchDeadlineMinutes/);
        expect(result.elapsedMs).toBeLessThanOrEqual(90 * MIN);
        expect(result.api.requests.at(-1)!.atMs).toBeLessThanOrEqual(90 * MIN);
        // It used the budget: the last probe was within one (stretched) interval of the deadline.
        expect(result.elapsedMs).toBeGreaterThan(90 * MIN - 2 * DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1000);
    });

    test.each([true, false])("sends no request while a 429 backoff is pending (Retry-After: %s)", async (retryAfter) => {
        const s = BENCH_SCENARIOS["heavy throttling (Retry-After)"];
        let seen = 0;
        for (const seed of [1, 2, 3, 4, 5]) {
            const result = await simulateDirect({ ...s, seed, rateLimit: { ...s.rateLimit, retryAfter } }, ours());
            const throttles = result.events.filter((e) => e.classification.kind === "throttle");
            seen += throttles.length;
            const requests = result.api.requests;
            for (const e of throttles) {
                const i = requests.findIndex((r) => r.atMs === e.elapsedMs && r.outcome === "throttled");
                expect(i).toBeGreaterThanOrEqual(0);
                const next = requests[i + 1];
                if (!next) continue;
                // The next request waits out the chosen backoff, and at least the server's hint.
                expect(next.atMs - requests[i].atMs).toBeCloseTo(e.nextDelayMs!, 6);
                expect(next.atMs - requests[i].atMs).toBeGreaterThanOrEqual(requests[i].retryAfterMs ?? 0);
                expect(next.ad).toBe(requests[i].ad);
            }
        }
        expect(seen).toBeGreaterThan(5);
    });

    test("log lines carry attempt number, class, next wait and elapsed time", async () => {
        const lines: string[] = [];
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ windows: [[], [{ openMs: 2 * MIN, closeMs: 10 * MIN }], []] }), clock.now);
        await runHunt({ availabilityDomains: ADS, policy: createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 }), attempt: (ad) => api.launch(ad), now: clock.now, sleep: clock.sleep, log: (l) => lines.push(l) });
        expect(lines[0]).toBe(`capacity hunt: attempt 1 in ${ADS[0]}: capacity (500 InternalError Out of host capacity.); next attempt in 30s in ${ADS[1]}; elapsed 0s`);
        expect(lines.at(-1)).toMatch(/^capacity hunt: attempt \d+ in .*AD-2 launched the instance after \dm\d\ds$/);
    });
});

describe("the error-hook mechanism, driven the way the engine drives it", () => {
    test("retries the same create until capacity appears, then reports success once", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]], windows: [[{ openMs: 20 * MIN, closeMs: 21 * MIN }]] }), clock.now);
        const notes: string[] = [];
        const hunt = new ErrorHookHunt({ createPolicy: () => createHuntPolicy({ deadlineMs: Infinity, maxAttempts: ATTEMPTS_PER_UP, random: () => 0.5 }), now: clock.now, sleep: clock.sleep, notify: async (m) => void notes.push(m) });
        let hookCalls = 0;
        const id = await runEngineRetries(() => api.launch(ADS[0]), (errors) => { hookCalls += 1; expect(errors).toHaveLength(hookCalls); return hunt.onError({ failedOperation: "create", errors, newInputs: { availabilityDomain: ADS[0] } }); }, ENGINE_ERROR_HOOK_CAP);
        hunt.created();
        await new Promise((r) => setImmediate(r));
        expect(id).toMatch(/^ocid1\.instance/);
        expect(api.calls).toBe(hookCalls + 1);
        expect(notes).toEqual([expect.stringMatching(/launched in .*AD-1 after \d+ attempts/)]);
        expect(hunt.stoppedWith).toBeUndefined();
    });

    test("answers false on a fatal error, with the fix logged", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]], fatal: { atCall: 3, code: "LimitExceeded" } }), clock.now);
        const lines: string[] = [];
        const hunt = new ErrorHookHunt({ createPolicy: () => createHuntPolicy({ deadlineMs: Infinity, random: () => 0.5 }), now: clock.now, sleep: clock.sleep, log: (l) => lines.push(l) });
        await expect(runEngineRetries(() => api.launch(ADS[0]), (errors) => hunt.onError({ failedOperation: "create", errors }), ENGINE_ERROR_HOOK_CAP)).rejects.toThrow(/LimitExceeded/);
        expect(api.calls).toBe(3);
        expect(hunt.stoppedWith?.reason).toBe("fatal");
        expect(lines.at(-1)).toMatch(/stopped \(fatal\).*existing A1 instance/);
    });

    test("stops itself one short of the engine's cap so the user learns to re-run", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]] }), clock.now);
        const hunt = new ErrorHookHunt({ createPolicy: () => createHuntPolicy({ deadlineMs: Infinity, maxAttempts: ATTEMPTS_PER_UP, random: () => 0.5 }), now: clock.now, sleep: clock.sleep });
        await expect(runEngineRetries(() => api.launch(ADS[0]), (errors) => hunt.onError({ failedOperation: "create", errors }), ENGINE_ERROR_HOOK_CAP)).rejects.toThrow(/Out of host capacity/);
        expect(api.calls).toBe(ATTEMPTS_PER_UP);
        expect(hunt.stoppedWith?.reason).toBe("attempt-cap");
        expect(hunt.stoppedWith?.message).toMatch(/run `pulumi up` again/);
    });

    test("leaves failed updates and deletes alone", async () => {
        const hunt = new ErrorHookHunt({ createPolicy: () => createHuntPolicy({ deadlineMs: Infinity, random: Math.random }), now: Date.now, sleep: async () => undefined });
        await expect(hunt.onError({ failedOperation: "update", errors: ["500-InternalError, Out of host capacity."] })).resolves.toBe(false);
        await expect(hunt.onError({ failedOperation: "delete", errors: ["429-TooManyRequests, Too many requests for the user"] })).resolves.toBe(false);
    });

    test("re-runs across `pulumi up` reach capacity that the first run could not", async () => {
        const result = await simulateErrorHook(scenario({ ads: [ADS[0]], windows: [[{ openMs: 200 * MIN, closeMs: 202 * MIN }]] }), ours());
        expect(result.launched).toBe(true);
        expect(result.elapsedMs).toBeGreaterThan(ATTEMPTS_PER_UP * 30_000);
    });
});

describe("simulator invariants", () => {
    test("the same seed yields the same world, whatever the client does", () => {
        const clockA = new VirtualClock();
        const a = new FakeOciLaunchApi({ ...BENCH_SCENARIOS["three ADs scarce"], seed: 42 }, clockA.now);
        const b = new FakeOciLaunchApi({ ...BENCH_SCENARIOS["three ADs scarce"], seed: 42 }, new VirtualClock().now);
        const c = new FakeOciLaunchApi({ ...BENCH_SCENARIOS["three ADs scarce"], seed: 43 }, new VirtualClock().now);
        expect(a.windowsOf(1)).toEqual(b.windowsOf(1));
        expect(a.windowsOf(1)).not.toEqual(c.windowsOf(1));
    });

    test("windows are well formed and competitors shorten them", () => {
        const base = { ...BENCH_SCENARIOS["single AD scarce"], seed: 9 };
        const api = new FakeOciLaunchApi(base, new VirtualClock().now);
        const ws = api.windowsOf(0);
        expect(ws.length).toBeGreaterThan(100);
        for (let i = 0; i < ws.length; i++) {
            expect(ws[i].closeMs).toBeGreaterThan(ws[i].openMs);
            if (i > 0) expect(ws[i].openMs).toBeGreaterThanOrEqual(ws[i - 1].openMs);
        }
        const meanLength = (w: readonly { openMs: number; closeMs: number }[]) => w.reduce((s, x) => s + x.closeMs - x.openMs, 0) / w.length;
        const uncontested = new FakeOciLaunchApi({ ...base, competitorTakesPerHour: 0 }, new VirtualClock().now).windowsOf(0);
        expect(meanLength(ws)).toBeLessThan(meanLength(uncontested) / 4);
    });

    test("the token bucket never lets more than burst + refill through, and 429s carry Retry-After only when configured", async () => {
        for (const retryAfter of [true, false]) {
            const clock = new VirtualClock();
            const api = new FakeOciLaunchApi(scenario({ rateLimit: { burst: 4, refillPerMinute: 2, backgroundPerMinute: 0, retryAfter } }), clock.now);
            for (let i = 0; i < 200; i++) {
                await api.launch(ADS[i % 3]).catch(() => undefined);
                await clock.sleep(5_000);
            }
            const served = api.requests.filter((r) => r.outcome !== "throttled").length;
            expect(served).toBeLessThanOrEqual(4 + Math.floor((clock.now() / MIN) * 2));
            expect(api.throttled).toBeGreaterThan(0);
            const throttled = api.requests.filter((r) => r.outcome === "throttled");
            expect(throttled.every((r) => (r.retryAfterMs !== undefined) === retryAfter)).toBe(true);
        }
    });

    test("the virtual clock refuses to run backwards", async () => {
        await expect(new VirtualClock().sleep(-1)).rejects.toThrow(/cannot sleep/);
    });
});
