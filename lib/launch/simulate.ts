// Runs one hunt against the simulator on a virtual clock, either directly (a script calls
// LaunchInstance itself, as the baselines do) or on the path `pulumi up` really takes: the README's
// rerun loop starts `pulumi up`, the engine runs the create through the OCI provider (with or
// without the provider's own retries), the error hook drives the hunt until the engine's retry cap,
// and the state file carries the hunt (or not) into the next run.
import { ErrorHookHunt, ATTEMPTS_PER_UP, ENGINE_ERROR_HOOK_CAP } from "./engine-hook";
import { runHunt, HuntStopped, AttemptEvent } from "./hunt";
import { endsOnlyTheRun, LaunchPolicy, LearnedPace, StopReason } from "./policy";
import { HuntSession } from "./session";
import { memoryStateStore, NoticeKind } from "./state";
import { FakeOciLaunchApi, providerLaunch, runEngineRetries, ScenarioParams, VirtualClock, seededRandom } from "./simulator";

export interface SimulationResult {
    readonly launched: boolean;
    /** Virtual time from the first `pulumi up` (or the script's start) to the instance, or to the stop. */
    readonly elapsedMs: number;
    readonly calls: number;
    readonly throttled: number;
    readonly stopReason?: StopReason | "horizon";
    readonly stopMessage?: string;
    /** What the hunt saw and decided, attempt by attempt (direct hunts only: long real-path hunts would hold thousands). */
    readonly events: readonly AttemptEvent[];
    /** Notices the hunt sent (real path only). */
    readonly notices: readonly NoticeKind[];
    /** `pulumi up` runs taken (real path only; 1 for a direct hunt). */
    readonly runs: number;
    readonly api: FakeOciLaunchApi;
}

/** Builds a policy for one run; `random` is seeded per hunt. */
export type PolicyFactory = (random: () => number, options: { maxAttempts?: number; learned?: LearnedPace }) => LaunchPolicy;

export async function simulateDirect(scenario: ScenarioParams, createPolicy: PolicyFactory): Promise<SimulationResult> {
    const clock = new VirtualClock();
    const api = new FakeOciLaunchApi(scenario, clock.now);
    const events: AttemptEvent[] = [];
    const horizonMs = scenario.horizonHours * 3_600_000;
    const base = { events, api, notices: [], runs: 1 };
    // Policies without a deadline would run past the generated timeline; stop them there.
    const sleep = async (ms: number): Promise<void> => {
        if (clock.now() + ms > horizonMs) throw new HorizonReached();
        await clock.sleep(ms);
    };
    try {
        await runHunt({
            availabilityDomains: scenario.ads,
            policy: createPolicy(seededRandom(scenario.seed ^ 0x5eed), {}),
            attempt: (ad) => api.launch(ad),
            now: clock.now,
            sleep,
            onAttempt: (e) => void events.push(e),
        });
        return { ...base, launched: true, elapsedMs: clock.now(), calls: api.calls, throttled: api.throttled };
    } catch (error) {
        const stopped = { ...base, launched: false, elapsedMs: clock.now(), calls: api.calls, throttled: api.throttled };
        if (error instanceof HuntStopped) return { ...stopped, stopReason: error.reason, stopMessage: error.message };
        if (error instanceof HorizonReached) return { ...stopped, stopReason: "horizon" };
        throw error;
    }
}

class HorizonReached extends Error {}

export interface RealPathOptions {
    /** The instance's OCI provider retries 429s itself (the default provider; ours sets disableAutoRetries). */
    readonly providerRetries: boolean;
    /** The state file survives from one `pulumi up` to the next. */
    readonly carryState: boolean;
    /** From `pulumi up` to its first create: CLI, plugins, the program, the other resources. */
    readonly startupMs: number;
    /** The README loop's `sleep` between two runs. */
    readonly loopPauseMs: number;
}

/** The wiring as shipped: provider retries off, state carried, the README's loop. */
export const SHIPPED_PATH: RealPathOptions = { providerRetries: false, carryState: true, startupMs: 30_000, loopPauseMs: 10_000 };

/**
 * `pulumi up` in the README's loop: each run waits out what the state file says is in force, then
 * the engine creates the instance in one AD (retrying under the error hook, at most
 * ENGINE_ERROR_HOOK_CAP tries); the next run moves to the next AD, as the README's multi-AD recipe
 * does. Stops when the instance exists or the hunt stops for good.
 */
export async function simulateRealPath(scenario: ScenarioParams, createPolicy: PolicyFactory, options: RealPathOptions = SHIPPED_PATH): Promise<SimulationResult> {
    const clock = new VirtualClock();
    const api = new FakeOciLaunchApi(scenario, clock.now);
    const notices: NoticeKind[] = [];
    const random = seededRandom(scenario.seed ^ 0x5eed);
    const providerRandom = seededRandom(scenario.seed ^ 0x0c1);
    const horizonMs = scenario.horizonHours * 3_600_000;
    let store = memoryStateStore();
    let runs = 0;
    const result = (launched: boolean, extra: Partial<SimulationResult> = {}): SimulationResult => ({
        launched,
        elapsedMs: clock.now(),
        calls: api.calls,
        throttled: api.throttled,
        events: [],
        notices,
        runs,
        api,
        ...extra,
    });
    while (clock.now() < horizonMs) {
        if (!options.carryState) store = memoryStateStore();
        await clock.sleep(options.startupMs);
        const ad = scenario.ads[runs % scenario.ads.length];
        runs += 1;
        const session = new HuntSession({ stack: "sim", store, now: clock.now });
        const hunt = new ErrorHookHunt({
            createPolicy: ({ learned }) => createPolicy(random, { maxAttempts: ATTEMPTS_PER_UP, learned }),
            session,
            now: clock.now,
            sleep: clock.sleep,
        });
        await hunt.beforeCreate({ availabilityDomain: ad });
        try {
            await runEngineRetries(
                () => providerLaunch(api, ad, clock, providerRandom, options.providerRetries),
                (errors) => hunt.onError({ failedOperation: "create", errors, newInputs: { availabilityDomain: ad } }),
                ENGINE_ERROR_HOOK_CAP,
            );
            await hunt.created({ availabilityDomain: ad });
            notices.push(...session.sent.map((n) => n.kind));
            return result(true);
        } catch (error) {
            await hunt.finished();
            notices.push(...session.sent.map((n) => n.kind));
            const stop = hunt.stoppedWith;
            if (!stop || !endsOnlyTheRun(stop.reason)) return result(false, { stopReason: stop?.reason ?? "unknown-errors", stopMessage: stop?.message ?? String(error) });
        }
        await clock.sleep(options.loopPauseMs);
    }
    return result(false, { stopReason: "horizon" });
}
