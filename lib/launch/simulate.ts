// Runs one hunt against the simulator on a virtual clock, either directly (the hunt calls
// LaunchInstance itself) or the way `pulumi up` runs it (the engine retries the create and
// the error-hook adapter drives the same hunt; the user re-runs `pulumi up` after a pause).
import { ErrorHookHunt, ATTEMPTS_PER_UP, ENGINE_ERROR_HOOK_CAP } from "./engine-hook";
import { runHunt, HuntStopped, AttemptEvent } from "./hunt";
import { LaunchPolicy, StopReason } from "./policy";
import { FakeOciLaunchApi, runEngineRetries, ScenarioParams, VirtualClock, seededRandom } from "./simulator";

export interface SimulationResult {
    readonly launched: boolean;
    /** Virtual time from the first attempt to the instance (or to the stop). */
    readonly elapsedMs: number;
    readonly calls: number;
    readonly throttled: number;
    readonly stopReason?: StopReason | "horizon";
    readonly stopMessage?: string;
    readonly events: readonly AttemptEvent[];
    readonly api: FakeOciLaunchApi;
}

/** Builds a policy for one hunt; `random` is seeded per run. */
export type PolicyFactory = (random: () => number, options: { maxAttempts?: number }) => LaunchPolicy;

export async function simulateDirect(scenario: ScenarioParams, createPolicy: PolicyFactory): Promise<SimulationResult> {
    const clock = new VirtualClock();
    const api = new FakeOciLaunchApi(scenario, clock.now);
    const events: AttemptEvent[] = [];
    const horizonMs = scenario.horizonHours * 3_600_000;
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
            onAttempt: (e) => events.push(e),
        });
        return { launched: true, elapsedMs: clock.now(), calls: api.calls, throttled: api.throttled, events, api };
    } catch (error) {
        return stopped(error, clock.now(), api, events);
    }
}

class HorizonReached extends Error {}

function stopped(error: unknown, elapsedMs: number, api: FakeOciLaunchApi, events: AttemptEvent[]): SimulationResult {
    const base = { launched: false, elapsedMs, calls: api.calls, throttled: api.throttled, events, api };
    if (error instanceof HuntStopped) return { ...base, stopReason: error.reason, stopMessage: error.message };
    if (error instanceof HorizonReached) return { ...base, stopReason: "horizon" };
    throw error;
}

/** Pause the README's loop leaves between two `pulumi up` runs, plus the run's own start-up. */
export const RERUN_OVERHEAD_MS = 60_000;

/**
 * `pulumi up` in a loop: each run's engine retries the create in one AD under the error hook
 * (at most ENGINE_ERROR_HOOK_CAP tries); the next run moves to the next AD, as the README's
 * multi-AD recipe does. Stops on anything other than the per-run cap or deadline.
 */
export async function simulateErrorHook(scenario: ScenarioParams, createPolicy: PolicyFactory): Promise<SimulationResult> {
    const clock = new VirtualClock();
    const api = new FakeOciLaunchApi(scenario, clock.now);
    const events: AttemptEvent[] = [];
    const random = seededRandom(scenario.seed ^ 0x5eed);
    const horizonMs = scenario.horizonHours * 3_600_000;
    for (let run = 0; clock.now() < horizonMs; run++) {
        const ad = scenario.ads[run % scenario.ads.length];
        const hunt = new ErrorHookHunt({
            createPolicy: () => createPolicy(random, { maxAttempts: ATTEMPTS_PER_UP }),
            now: clock.now,
            sleep: clock.sleep,
            onAttempt: (e) => events.push(e),
        });
        try {
            await runEngineRetries(
                () => api.launch(ad),
                (errors) => hunt.onError({ failedOperation: "create", errors, newInputs: { availabilityDomain: ad } }),
                ENGINE_ERROR_HOOK_CAP,
            );
            hunt.created();
            return { launched: true, elapsedMs: clock.now(), calls: api.calls, throttled: api.throttled, events, api };
        } catch (error) {
            const stop = hunt.stoppedWith;
            if (stop?.reason !== "attempt-cap" && stop?.reason !== "deadline") {
                const base = { launched: false, elapsedMs: clock.now(), calls: api.calls, throttled: api.throttled, events, api };
                return { ...base, stopReason: stop?.reason ?? "unknown-errors", stopMessage: stop?.message ?? String(error) };
            }
        }
        await clock.sleep(RERUN_OVERHEAD_MS);
    }
    return { launched: false, elapsedMs: clock.now(), calls: api.calls, throttled: api.throttled, events, api, stopReason: "horizon" };
}
