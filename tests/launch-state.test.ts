// The hunt's state file and its per-hunt notices: what survives between `pulumi up` runs, what a
// corrupt or foreign file does (a warning, never a crash), and how a reset starts a new hunt.
import { readFileSync, existsSync, mkdirSync } from "fs";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";
import { defaultStatePath, fileStateStore, HuntState, HUNT_STATE_FORMAT, memoryStateStore, parseHuntState, serializeHuntState } from "../lib/launch/state";
import { CONTINUE_WITHIN_MS, DIGEST_EVERY_MS, HuntSession } from "../lib/launch/session";
import { AttemptEvent } from "../lib/launch/hunt";
import { classifyLaunchError } from "../lib/launch/classify";

const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const AD = "Uocm:AP-CHUNCHEON-1-AD-1";

const STATE: HuntState = {
    stack: "prod",
    startedAtMs: T0,
    runs: 3,
    attempts: 250,
    throttled: 2,
    lastAttemptAtMs: T0 + 2 * HOUR,
    pace: { intervalMs: 60_000, throttleStreak: 1, lastThrottleAtMs: T0 + HOUR, paceSinceMs: T0 + HOUR + 20 * MIN, slowingOffUntilMs: T0 + 3 * HOUR, lastAnsweredAtMs: T0 + 2 * HOUR, answeredSincePace: 40, nextAttemptAtMs: T0 + 2 * HOUR + MIN, lastThrottleWasSpell: true },
    notices: [{ kind: "start", atMs: T0 }],
};

function capacity(nextDelayMs?: number): AttemptEvent {
    return { attempt: 1, ad: AD, elapsedMs: 0, classification: classifyLaunchError("500-InternalError, Out of host capacity."), ...(nextDelayMs === undefined ? {} : { nextDelayMs, nextAd: AD }) };
}

function throttle(nextDelayMs: number): AttemptEvent {
    return { attempt: 1, ad: AD, elapsedMs: 0, classification: classifyLaunchError("429-TooManyRequests, Too many requests for the user"), nextDelayMs, nextAd: AD };
}

/** A session on a shared store and a settable clock, recording notices and warnings. */
function harness(store = memoryStateStore()) {
    let now = T0;
    const warnings: string[] = [];
    const notices: string[] = [];
    const session = () => new HuntSession({ stack: "prod", store, now: () => now, warn: (l) => warnings.push(l), notify: async (m) => void notices.push(m) });
    return { store, session, warnings, notices, advance: (ms: number) => void (now += ms), now: () => now };
}

describe("hunt state file", () => {
    test("round-trips every field, with readable dates", () => {
        const text = serializeHuntState(STATE);
        expect(JSON.parse(text)).toMatchObject({ format: HUNT_STATE_FORMAT, stack: "prod", startedAt: "2026-12-01T08:00:00.000Z" });
        expect(parseHuntState(text, "prod")).toEqual({ state: STATE });
    });

    test.each([
        ["not JSON", "{ half a file", /not JSON \(corrupt\)/],
        ["another tool's file", JSON.stringify({ format: "something-else/2", stack: "prod" }), /foreign/],
        ["another stack's hunt", serializeHuntState({ ...STATE, stack: "staging" }), /belongs to stack "staging", not "prod" \(foreign\)/],
        ["a mistyped count", serializeHuntState(STATE).replace('"attempts": 250', '"attempts": "many"'), /attempts is not a count \(corrupt\)/],
        ["a bad date", serializeHuntState(STATE).replace("2026-12-01T08:00:00.000Z", "yesterday"), /startedAt is not a date \(corrupt\)/],
        ["an unknown notice", serializeHuntState(STATE).replace('"kind": "start"', '"kind": "party"'), /notices\[0\]\.kind is unknown/],
        ["a JSON array", "[]", /is not an object \(corrupt\)/],
        ["a mistyped flag", serializeHuntState(STATE).replace('"lastThrottleWasSpell": true', '"lastThrottleWasSpell": "yes"'), /lastThrottleWasSpell is not true or false \(corrupt\)/],
    ])("reports %s as a problem instead of a state", (_, text, problem) => {
        const parsed = parseHuntState(text, "prod");
        expect("problem" in parsed && parsed.problem).toMatch(problem);
    });

    test("lives in ~/.pulumi-coinpilot per stack unless COINPILOT_HUNT_STATE_DIR says otherwise", () => {
        expect(defaultStatePath("prod", {})).toMatch(/\.pulumi-coinpilot[\\/]hunt-prod\.json$/);
        expect(defaultStatePath("org/prod", { COINPILOT_HUNT_STATE_DIR: "/tmp/x" })).toBe(path.join("/tmp/x", "hunt-org_prod.json"));
    });

    test("the file store writes whole files, reads them back and removes them", () => {
        const file = path.join(scratchDir("hunt"), "nested", "hunt-prod.json");
        const store = fileStateStore(file);
        expect(store.read()).toBeUndefined();
        store.write(serializeHuntState(STATE));
        expect(parseHuntState(store.read()!, "prod")).toEqual({ state: STATE });
        expect(readFileSync(file, "utf8")).toBe(serializeHuntState(STATE));
        store.remove();
        expect(existsSync(file)).toBe(false);
        expect(() => store.remove()).not.toThrow();
    });
});

describe("hunt session across runs", () => {
    test("carries the learned pace and a cool-down in force into the next run", async () => {
        const h = harness();
        const first = h.session();
        await first.beginRun(AD);
        const pace = { intervalMs: 60_000, throttleStreak: 1, lastThrottleAtMs: h.now(), nextAttemptAtMs: h.now() + 15 * MIN };
        await first.recordAttempt(throttle(15 * MIN), pace);
        await first.endRun({ kind: "stopped", reason: "attempt-cap", message: "cap", ad: AD });

        h.advance(90_000);
        const second = h.session();
        expect(second.pendingWaitMs()).toBe(15 * MIN - 90_000);
        const begun = await second.beginRun(AD);
        expect(begun).toEqual({ learned: pace, startedAtMs: T0 });
        expect(h.notices).toHaveLength(1);
    });

    test("a corrupt or foreign file is reported, ignored and replaced; the hunt starts afresh", async () => {
        for (const text of ["\u0000\u0001garbage", JSON.stringify({ format: "other/1" }), serializeHuntState({ ...STATE, stack: "staging" })]) {
            const h = harness();
            h.store.write(text);
            const session = h.session();
            expect(session.pendingWaitMs()).toBe(0);
            await expect(session.beginRun(AD)).resolves.toEqual({ learned: undefined, startedAtMs: T0 });
            expect(h.warnings).toEqual([expect.stringMatching(/ignoring the state file \(memory\): it .*(corrupt|foreign).*starts a new hunt and replaces it/)]);
            expect(h.notices).toEqual([expect.stringMatching(/capacity hunt started/)]);
            expect(parseHuntState(h.store.read()!, "prod")).toHaveProperty("state.runs", 1);
        }
    });

    test("an unreadable or unwritable file only warns", async () => {
        const dir = scratchDir("hunt");
        const file = path.join(dir, "hunt-prod.json");
        mkdirSync(file); // a directory where the file should be: reading and renaming onto it both fail
        const h = harness(fileStateStore(file));
        const session = h.session();
        expect(session.pendingWaitMs()).toBe(0);
        await expect(session.beginRun(AD)).resolves.toMatchObject({ startedAtMs: T0 });
        await expect(session.recordAttempt(capacity(30_000))).resolves.toBeUndefined();
        expect(h.warnings[0]).toMatch(/cannot read the state file/);
        expect(h.warnings.some((w) => /cannot write the state file .*a rerun will start over/.test(w))).toBe(true);
    });

    test("reset: without the file (or after a long pause) the next run starts a new hunt", async () => {
        const h = harness();
        await h.session().beginRun(AD);
        h.store.remove();
        await h.session().beginRun(AD);
        expect(h.notices.filter((n) => /started/.test(n))).toHaveLength(2);

        const stale = harness();
        const s = stale.session();
        await s.beginRun(AD);
        await s.recordAttempt(capacity(30_000), { intervalMs: 45_000, throttleStreak: 0 });
        stale.advance(CONTINUE_WITHIN_MS + MIN);
        const later = stale.session();
        expect(later.pendingWaitMs()).toBe(0);
        // The new hunt keeps only the pace learned about the tenancy.
        await expect(later.beginRun(AD)).resolves.toEqual({ learned: { intervalMs: 45_000, throttleStreak: 0 }, startedAtMs: stale.now() });
        expect(stale.notices.filter((n) => /started/.test(n))).toHaveLength(2);
    });
});

describe("notices per hunt, none per run", () => {
    test("start once, a digest at most every few hours, the launch once; runs that hit the cap stay silent", async () => {
        const h = harness();
        for (let run = 0; run < 20; run++) {
            const session = h.session();
            await session.beginRun(AD);
            for (let attempt = 0; attempt < 99; attempt++) {
                h.advance(30_000);
                await session.recordAttempt(capacity(30_000), { intervalMs: 30_000, throttleStreak: 0 });
            }
            await session.endRun({ kind: "stopped", reason: "attempt-cap", message: "reached 99 attempts", ad: AD });
            h.advance(90_000);
        }
        const session = h.session();
        await session.beginRun(AD);
        await session.endRun({ kind: "launched", ad: AD });

        const hours = (h.now() - T0) / HOUR;
        expect(hours).toBeGreaterThan(16);
        expect(h.notices[0]).toMatch(/^CoinPilot capacity hunt started in .*AD-1/);
        const digests = h.notices.filter((n) => /still running/.test(n));
        expect(digests.length).toBe(Math.floor(hours / (DIGEST_EVERY_MS / HOUR)));
        expect(digests[0]).toMatch(/still running after 6h0\dm: \d+ attempts in \d+ runs, 0 throttled \(429\); probing every 30s/);
        expect(h.notices.at(-1)).toMatch(/^CoinPilot A1.Flex instance launched in .*AD-1 after 1980 attempts in 21 runs/);
        expect(h.notices).toHaveLength(1 + digests.length + 1);
        // The hunt is over: its file is gone, and a later hunt starts afresh.
        expect(h.store.read()).toBeUndefined();
    });

    test.each([
        ["fatal", "fatal"],
        ["unknown-errors", "fatal"],
        ["deadline", "deadline"],
    ] as const)("a stop for good (%s) ends the hunt with one notice; the next run starts a new one", async (reason, kind) => {
        const h = harness();
        const session = h.session();
        await session.beginRun(AD);
        await session.endRun({ kind: "stopped", reason, message: "what to fix", ad: AD });
        expect(h.notices.at(-1)).toBe(`CoinPilot capacity hunt stopped (${reason}) after 0 attempts in 1 runs (0s): what to fix`);
        expect(session.sent.map((n) => n.kind)).toEqual(["start", kind]);
        h.advance(MIN);
        await h.session().beginRun(AD);
        expect(h.notices.at(-1)).toMatch(/started/);
    });

    test("the run budget ends a run silently, like the attempt cap", async () => {
        const h = harness();
        const session = h.session();
        await session.beginRun(AD);
        await session.endRun({ kind: "stopped", reason: "run-budget", message: "budget", ad: AD });
        expect(session.sent.map((n) => n.kind)).toEqual(["start"]);
    });

    test("a failure after the launch went through ends the hunt and says to re-run", async () => {
        const h = harness();
        const session = h.session();
        await session.beginRun(AD);
        await session.endRun({ kind: "stopped", reason: "after-launch", message: "GetInstance failed", ad: AD });
        expect(session.sent.map((n) => n.kind)).toEqual(["start", "after-launch"]);
        expect(h.store.read()).toBeUndefined();
    });

    test("a notice that cannot be delivered changes nothing", async () => {
        const store = memoryStateStore();
        const session = new HuntSession({ stack: "prod", store, now: () => T0, notify: async () => Promise.reject(new Error("discord down")) });
        await expect(session.beginRun(AD)).resolves.toMatchObject({ startedAtMs: T0 });
        await expect(session.endRun({ kind: "launched", ad: AD })).resolves.toBeUndefined();
    });
});
