// The hunt proven against the seeded simulator on a virtual clock: outcomes and invariants,
// never wall-clock timings.
import { createHuntPolicy, LaunchRetrySettings, DEFAULT_LAUNCH_RETRY, LearnedPace } from "../lib/launch/policy";
import { runHunt, HuntStopped } from "../lib/launch/hunt";
import { ErrorHookHunt, ErrorHookHuntOptions, ATTEMPTS_PER_UP, ENGINE_ERROR_HOOK_CAP } from "../lib/launch/engine-hook";
import { FakeOciLaunchApi, OciServiceError, ScenarioParams, VirtualClock, providerLaunch, renderProviderError, runEngineRetries, seededRandom } from "../lib/launch/simulator";
import { simulateDirect, simulateRealPath, PolicyFactory, SHIPPED_PATH } from "../lib/launch/simulate";
import { BENCH_WORLDS } from "../lib/launch/scenarios";
import { HuntSession } from "../lib/launch/session";
import { memoryStateStore, parseHuntState, serializeHuntState } from "../lib/launch/state";
import { classifyLaunchError } from "../lib/launch/classify";

const MIN = 60_000;
const ADS = ["Uocm:EU-FRANKFURT-1-AD-1", "Uocm:EU-FRANKFURT-1-AD-2", "Uocm:EU-FRANKFURT-1-AD-3"];
const CALM = { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0, retryAfter: false };

function scenario(over: Partial<ScenarioParams>): ScenarioParams {
    return { seed: 1, ads: ADS, windowsPerHour: 0, meanWindowMinutes: 5, competitorTakesPerHour: 0, rateLimit: CALM, horizonHours: 48, ...over };
}

const ours = (deadlineMs = Infinity, settings?: LaunchRetrySettings): PolicyFactory => (random, { maxAttempts, learned }) =>
    createHuntPolicy({ settings, deadlineMs, maxAttempts, learned, random });

/** An error-hook hunt on a virtual clock with an in-memory state file; notices collected. */
function hookHunt(clock: VirtualClock, over: Partial<ErrorHookHuntOptions> & { store?: ReturnType<typeof memoryStateStore>; random?: () => number } = {}) {
    const notices: string[] = [];
    const session = new HuntSession({ stack: "test", store: over.store ?? memoryStateStore(), now: clock.now, notify: async (m) => void notices.push(m) });
    const hunt = new ErrorHookHunt({
        createPolicy: ({ learned }: { learned?: LearnedPace }) => createHuntPolicy({ deadlineMs: Infinity, maxAttempts: ATTEMPTS_PER_UP, learned, random: over.random ?? (() => 0.5) }),
        session,
        now: clock.now,
        sleep: clock.sleep,
        ...over,
    });
    return { hunt, notices, session };
}

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
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ fatal: { atCall: 4, code } }), clock.now);
        const hunt = runHunt({
            availabilityDomains: ADS,
            policy: createHuntPolicy({ deadlineMs: Infinity, random: seededRandom(3) }),
            attempt: (ad) => api.launch(ad),
            now: clock.now,
            sleep: clock.sleep,
        });
        await expect(hunt).rejects.toThrow(HuntStopped);
        await hunt.catch((e: HuntStopped) => {
            expect(e.reason).toBe("fatal");
            expect(e.message).toMatch(code);
            expect(e.message).toMatch(fix);
            expect(e.attempts).toBe(4);
        });
        expect(api.calls).toBe(4);
    });

    test("stops at the run's budget without sleeping past it", async () => {
        const result = await simulateDirect(scenario({}), ours(90 * MIN));
        expect(result).toMatchObject({ launched: false, stopReason: "run-budget" });
        expect(result.stopMessage).toMatch(/coinpilot:launchDeadlineMinutes/);
        expect(result.elapsedMs).toBeLessThanOrEqual(90 * MIN);
        expect(result.api.requests.at(-1)!.atMs).toBeLessThanOrEqual(90 * MIN);
        // It used the budget: the last probe was within one (stretched) interval of the deadline.
        expect(result.elapsedMs).toBeGreaterThan(90 * MIN - 2 * DEFAULT_LAUNCH_RETRY.capacityIntervalSeconds * 1000);
    });

    test.each([true, false, "http-date"] as const)("sends no request while a 429 backoff is pending (Retry-After: %s)", async (retryAfter) => {
        const s = BENCH_WORLDS["busy spells (20 min, hourly)"].scenario;
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
    test("retries the same create until capacity appears, then reports success once per hunt", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]], windows: [[{ openMs: 20 * MIN, closeMs: 21 * MIN }]] }), clock.now);
        const { hunt, notices } = hookHunt(clock);
        let hookCalls = 0;
        const id = await runEngineRetries(() => api.launch(ADS[0]), (errors) => { hookCalls += 1; expect(errors).toHaveLength(hookCalls); return hunt.onError({ failedOperation: "create", errors, newInputs: { availabilityDomain: ADS[0] } }); }, ENGINE_ERROR_HOOK_CAP);
        await hunt.created({ availabilityDomain: ADS[0] });
        expect(id).toMatch(/^ocid1\.instance/);
        expect(api.calls).toBe(hookCalls + 1);
        expect(notices).toEqual([expect.stringMatching(/capacity hunt started in .*AD-1/), expect.stringMatching(/launched in .*AD-1 after \d+ attempts in 1 runs/)]);
        expect(hunt.stoppedWith).toBeUndefined();
    });

    test("answers false on a fatal error, with the fix logged and one notice", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]], fatal: { atCall: 3, code: "LimitExceeded" } }), clock.now);
        const lines: string[] = [];
        const { hunt, notices } = hookHunt(clock, { log: (l) => void lines.push(l) });
        await expect(runEngineRetries(() => api.launch(ADS[0]), (errors) => hunt.onError({ failedOperation: "create", errors }), ENGINE_ERROR_HOOK_CAP)).rejects.toThrow(/LimitExceeded/);
        await hunt.finished();
        expect(api.calls).toBe(3);
        expect(hunt.stoppedWith?.reason).toBe("fatal");
        expect(lines.at(-1)).toMatch(/stopped \(fatal\).*existing A1 instance/);
        expect(notices.at(-1)).toMatch(/stopped \(fatal\)/);
    });

    test("stops itself one short of the engine's cap, silently: the next run continues the hunt", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]] }), clock.now);
        const { hunt, notices } = hookHunt(clock);
        await expect(runEngineRetries(() => api.launch(ADS[0]), (errors) => hunt.onError({ failedOperation: "create", errors }), ENGINE_ERROR_HOOK_CAP)).rejects.toThrow(/Out of host capacity/);
        await hunt.finished();
        expect(api.calls).toBe(ATTEMPTS_PER_UP);
        expect(hunt.stoppedWith?.reason).toBe("attempt-cap");
        expect(hunt.stoppedWith?.message).toMatch(/run `pulumi up` again/);
        expect(notices).toEqual([expect.stringMatching(/started/)]);
    });

    test("leaves failed updates and deletes alone", async () => {
        const { hunt } = hookHunt(new VirtualClock());
        await expect(hunt.onError({ failedOperation: "update", errors: ["500-InternalError, Out of host capacity."] })).resolves.toBe(false);
        await expect(hunt.onError({ failedOperation: "delete", errors: ["429-TooManyRequests, Too many requests for the user"] })).resolves.toBe(false);
    });

    test("never launches again once a call after the launch failed", async () => {
        const { hunt, notices } = hookHunt(new VirtualClock());
        const afterLaunch = renderProviderError(new OciServiceError(429, "TooManyRequests", "Too many requests for the user"), "GetInstance");
        await expect(hunt.onError({ failedOperation: "create", errors: [afterLaunch] })).resolves.toBe(false);
        await hunt.finished();
        expect(hunt.stoppedWith?.reason).toBe("after-launch");
        expect(notices.at(-1)).toMatch(/stopped \(after-launch\).*GetInstance failed afterwards/);
    });

    test("the next run waits out a cool-down the last one left in force before its first launch", async () => {
        const clock = new VirtualClock();
        const store = memoryStateStore();
        // Run 1: the bucket is empty, so the first retry meets a 429; the run then ends on its budget.
        const first = hookHunt(clock, { store, createPolicy: ({ learned }) => createHuntPolicy({ deadlineMs: 5 * MIN, maxAttempts: ATTEMPTS_PER_UP, learned, random: () => 0.5 }) });
        const throttled = renderProviderError(new OciServiceError(429, "TooManyRequests", "Too many requests for the user"));
        await expect(first.hunt.onError({ failedOperation: "create", errors: [throttled] })).resolves.toBe(false);
        await first.hunt.finished();
        expect(first.hunt.stoppedWith?.reason).toBe("run-budget");
        const coolDownEnds = parseHuntState(store.text!, "test");
        expect("state" in coolDownEnds && coolDownEnds.state.pace?.nextAttemptAtMs).toBe(0.75 * DEFAULT_LAUNCH_RETRY.throttleBaseSeconds * 1000);

        // Run 2, ninety seconds later: its before-create hook waits until the cool-down is over.
        await clock.sleep(90_000);
        const second = hookHunt(clock, { store });
        await second.hunt.beforeCreate();
        expect(clock.now()).toBe(0.75 * DEFAULT_LAUNCH_RETRY.throttleBaseSeconds * 1000);
        // Without a state file there is nothing to wait for.
        const fresh = hookHunt(clock);
        const before = clock.now();
        await fresh.hunt.beforeCreate();
        expect(clock.now()).toBe(before);
        // A file naming a far-off time never holds `pulumi up` longer than the longest cool-down.
        const state = parseHuntState(store.text!, "test");
        if (!("state" in state)) throw new Error("state expected");
        store.text = serializeHuntState({ ...state.state, pace: { ...state.state.pace!, nextAttemptAtMs: clock.now() + 30 * 24 * 60 * MIN } });
        const bounded = hookHunt(clock, { store, maxWaitMs: 50 * MIN });
        await bounded.hunt.beforeCreate();
        expect(clock.now()).toBe(before + 50 * MIN);
    });

    test("a later run whose first launch goes through ends the hunt the earlier runs left, with its notice", async () => {
        const clock = new VirtualClock();
        const store = memoryStateStore();
        const first = hookHunt(clock, { store });
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]] }), clock.now);
        await expect(runEngineRetries(() => api.launch(ADS[0]), (errors) => first.hunt.onError({ failedOperation: "create", errors }), ENGINE_ERROR_HOOK_CAP)).rejects.toThrow();
        await first.hunt.finished();
        expect(store.text).toBeDefined();

        const second = hookHunt(clock, { store });
        await second.hunt.beforeCreate({ availabilityDomain: ADS[0] });
        await second.hunt.created({ availabilityDomain: ADS[0] });
        expect(second.notices).toEqual([expect.stringMatching(/launched in .*AD-1 after 99 attempts in 2 runs/)]);
        expect(store.text).toBeUndefined();
        // An instance created with no hunt behind it sends nothing.
        const plain = hookHunt(clock);
        await plain.hunt.created({ availabilityDomain: ADS[0] });
        expect(plain.notices).toEqual([]);
    });

    test("re-runs across `pulumi up` reach capacity that the first run could not, as one hunt", async () => {
        const result = await simulateRealPath(scenario({ ads: [ADS[0]], windows: [[{ openMs: 200 * MIN, closeMs: 202 * MIN }]] }), ours(120 * MIN));
        expect(result.launched).toBe(true);
        expect(result.runs).toBeGreaterThan(2);
        expect(result.elapsedMs).toBeGreaterThan(ATTEMPTS_PER_UP * 30_000);
        expect(result.notices).toEqual(["start", "capture"]);
        // Without the state file every run starts a hunt of its own and says so.
        const forgetful = await simulateRealPath(scenario({ ads: [ADS[0]], windows: [[{ openMs: 200 * MIN, closeMs: 202 * MIN }]] }), ours(120 * MIN), { ...SHIPPED_PATH, carryState: false });
        expect(forgetful.notices.filter((n) => n === "start")).toHaveLength(forgetful.runs);
    });
});

describe("the OCI provider's own retries (terraform-provider-oci internal/tfresource/retry.go)", () => {
    const throttledOnly = (): { api: FakeOciLaunchApi; clock: VirtualClock } => {
        const clock = new VirtualClock();
        // A bucket that never refills: every call after the first is a 429.
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]], rateLimit: { burst: 1, refillPerMinute: 1e-9, backgroundPerMinute: 0, retryAfter: true } }), clock.now);
        return { api, clock };
    };

    test("with retries on, a 429 is retried for about 10 minutes, ignoring Retry-After", async () => {
        const { api, clock } = throttledOnly();
        await api.launch(ADS[0]).catch(() => undefined);
        await expect(providerLaunch(api, ADS[0], clock, seededRandom(5), true)).rejects.toThrow(OciServiceError);
        const throttled = api.requests.filter((r) => r.outcome === "throttled");
        expect(throttled.length).toBeGreaterThan(5);
        expect(clock.now()).toBeGreaterThanOrEqual(10 * MIN);
        expect(clock.now()).toBeLessThan(11 * MIN);
        // Quadratic backoff: never more than 2 * n^2 s between tries.
        throttled.slice(1).forEach((r, i) => expect(r.atMs - throttled[i].atMs).toBeLessThanOrEqual(2 * (i + 1) ** 2 * 1000 + 0.05 * 10 * MIN + 1000));
    });

    test("out of host capacity is never retried, and disableAutoRetries makes every error reach the hook at once", async () => {
        const clock = new VirtualClock();
        const api = new FakeOciLaunchApi(scenario({ ads: [ADS[0]] }), clock.now);
        await expect(providerLaunch(api, ADS[0], clock, seededRandom(5), true)).rejects.toThrow(/Out of host capacity/);
        expect(api.calls).toBe(1);
        const t = throttledOnly();
        await t.api.launch(ADS[0]).catch(() => undefined);
        await expect(providerLaunch(t.api, ADS[0], t.clock, seededRandom(5), false)).rejects.toThrow(/Too many requests/);
        expect(t.api.calls).toBe(2);
        expect(t.clock.now()).toBe(0);
    });

    test("what the hook receives carries the status code and the operation, never Retry-After", () => {
        const text = renderProviderError(new OciServiceError(429, "TooManyRequests", "Too many requests for the user", { "retry-after": "30" }));
        expect(classifyLaunchError(text)).toMatchObject({ kind: "throttle", status: 429, operation: "LaunchInstance" });
        expect(classifyLaunchError(text).retryAfterMs).toBeUndefined();
    });

    test("on the path `pulumi up` takes, the provider's retries multiply the 429s of a tight bucket", async () => {
        const tight = { ...BENCH_WORLDS["tight rate limit (2/min)"].scenario, seed: 3 };
        const ownRetries = await simulateRealPath(tight, ours(120 * MIN), { ...SHIPPED_PATH, providerRetries: true });
        const shipped = await simulateRealPath(tight, ours(120 * MIN));
        expect(shipped.throttled).toBeLessThan(ownRetries.throttled / 5);
    });
});

describe("simulator invariants", () => {
    test("the same seed yields the same world, whatever the client does", () => {
        const clockA = new VirtualClock();
        const threeAds = BENCH_WORLDS["three ADs, windows of seconds"].scenario;
        const a = new FakeOciLaunchApi({ ...threeAds, seed: 42 }, clockA.now);
        const b = new FakeOciLaunchApi({ ...threeAds, seed: 42 }, new VirtualClock().now);
        const c = new FakeOciLaunchApi({ ...threeAds, seed: 43 }, new VirtualClock().now);
        expect(a.windowsOf(1)).toEqual(b.windowsOf(1));
        expect(a.windowsOf(1)).not.toEqual(c.windowsOf(1));
    });

    test("windows are well formed and competitors shorten them", () => {
        const base = { ...BENCH_WORLDS["one AD, windows of seconds"].scenario, seed: 9 };
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
        for (const retryAfter of [true, false, "http-date"] as const) {
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
            expect(throttled.every((r) => (r.retryAfterMs !== undefined) === Boolean(retryAfter))).toBe(true);
        }
    });

    test("an HTTP-date Retry-After names the instant the delta-seconds form counts to", async () => {
        for (const form of [true, "http-date"] as const) {
            const clock = new VirtualClock();
            await clock.sleep(1234);
            const api = new FakeOciLaunchApi(scenario({ rateLimit: { burst: 1, refillPerMinute: 2, backgroundPerMinute: 0, retryAfter: form } }), clock.now);
            await api.launch(ADS[0]).catch(() => undefined);
            const error = await api.launch(ADS[0]).catch((e: OciServiceError) => e);
            const header = (error as OciServiceError).headers["retry-after"];
            expect(header).toMatch(form === "http-date" ? /^Thu, 01 Jan 1970 00:00:3\d GMT$/ : /^\d+$/);
            const hint = classifyLaunchError(error, clock.now()).retryAfterMs!;
            expect(hint).toBe(api.requests.at(-1)!.retryAfterMs);
            expect(hint).toBeGreaterThanOrEqual(30_000 - 1234);
        }
    });

    test("a daily world opens capacity only in its hour of the day", () => {
        const daily = BENCH_WORLDS["capacity one hour a day"].scenario;
        for (const seed of [1, 2, 3]) {
            const windows = new FakeOciLaunchApi({ ...daily, seed }, new VirtualClock().now).windowsOf(0);
            expect(windows.length).toBeGreaterThan(14);
            // All openings of a day fall within one hour of each other, at the same time every day.
            const hourOfDay = windows.map((w) => (w.openMs % (24 * 60 * MIN)) / (60 * MIN));
            const first = hourOfDay[0];
            for (const h of hourOfDay) expect(((h - first + 24 + 1) % 24) - 1).toBeLessThan(1);
            for (const h of hourOfDay) expect(((h - first + 24 + 1) % 24) - 1).toBeGreaterThan(-1);
        }
    });

    test("the virtual clock refuses to run backwards", async () => {
        await expect(new VirtualClock().sleep(-1)).rejects.toThrow(/cannot sleep/);
    });
});
