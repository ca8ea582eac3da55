// One run of the capacity hunt loop. p-retry runs it; the shared policy decides after every
// failure whether to stop or how long to wait and which AD to try next. Attempts, clock and sleep
// are injected: the simulator passes a fake API and a virtual clock, the error-hook adapter passes
// "let the engine try again" and real time. What outlives a run (learned pace, notices) is the
// session's business (session.ts).
import pRetry from "p-retry";
import { classifyLaunchError, Classification } from "./classify";
import { formatDuration, LaunchPolicy, StopReason } from "./policy";

export interface AttemptEvent {
    readonly attempt: number;
    readonly ad: string;
    readonly elapsedMs: number;
    readonly classification: Classification;
    /** Wait chosen before the next attempt; absent when the hunt stops. */
    readonly nextDelayMs?: number;
    readonly nextAd?: string;
}

export interface HuntOptions<T> {
    readonly availabilityDomains: readonly string[];
    readonly policy: LaunchPolicy;
    /** One launch try in the given AD; throws the OCI error on failure. */
    readonly attempt: (ad: string, attemptNumber: number) => Promise<T>;
    readonly now: () => number;
    readonly sleep: (ms: number) => Promise<void>;
    /** Progress lines for the user (pulumi.log.info during `pulumi up`). */
    readonly log?: (line: string) => void;
    /** After each failed attempt, once the policy has decided (awaited before the wait). */
    readonly onAttempt?: (event: AttemptEvent) => void | Promise<void>;
}

export interface HuntSuccess<T> {
    readonly value: T;
    readonly ad: string;
    readonly attempts: number;
    readonly elapsedMs: number;
}

export class HuntStopped extends Error {
    constructor(
        readonly reason: StopReason,
        message: string,
        readonly attempts: number,
        readonly elapsedMs: number,
    ) {
        super(message);
        this.name = "HuntStopped";
    }
}

/** Carries whatever the attempt threw, so p-retry (which only retries Errors) sees one. */
class AttemptFailed extends Error {
    constructor(readonly original: unknown) {
        super(original instanceof Error ? original.message : String(original));
    }
}

// The waits come from the policy inside onFailedAttempt; p-retry's own timer is the
// 1 ms minimum the `retry` package allows, so it never adds a real delay of its own.
const P_RETRY_FOREVER = { forever: true, retries: 0, minTimeout: 0, maxTimeout: 1, factor: 1 } as const;

export async function runHunt<T>(options: HuntOptions<T>): Promise<HuntSuccess<T>> {
    const ads = options.availabilityDomains;
    if (ads.length === 0) throw new Error("capacity hunt needs at least one availability domain");
    const log = options.log ?? (() => undefined);
    const started = options.now();
    const elapsed = (): number => options.now() - started;
    let adIndex = options.policy.firstAdIndex(ads.length);
    let attempts = 0;

    const tryOnce = async (attemptNumber: number): Promise<T> => {
        attempts = attemptNumber;
        try {
            return await options.attempt(ads[adIndex], attemptNumber);
        } catch (error) {
            throw new AttemptFailed(error);
        }
    };

    const onFailedAttempt = async (error: Error): Promise<void> => {
        const atMs = options.now();
        const classification = classifyLaunchError(error instanceof AttemptFailed ? error.original : error, atMs);
        const base = { attempt: attempts, ad: ads[adIndex], elapsedMs: atMs - started, classification };
        const decision = options.policy.afterFailure({ ...base, atMs, adIndex, adCount: ads.length });
        if (decision.action === "stop") {
            await options.onAttempt?.(base);
            log(`capacity hunt: attempt ${attempts} in ${ads[adIndex]}: ${classification.kind}; stopped (${decision.reason}) after ${formatDuration(base.elapsedMs)}: ${decision.message}`);
            throw new HuntStopped(decision.reason, decision.message, attempts, base.elapsedMs);
        }
        const nextAd = ads[decision.adIndex];
        await options.onAttempt?.({ ...base, nextDelayMs: decision.delayMs, nextAd });
        log(
            `capacity hunt: attempt ${attempts} in ${ads[adIndex]}: ${classification.kind} (${classification.summary}); ` +
                `next attempt in ${formatDuration(decision.delayMs)} in ${nextAd}; elapsed ${formatDuration(base.elapsedMs)}`,
        );
        await options.sleep(decision.delayMs);
        adIndex = decision.adIndex;
    };

    const value = await pRetry(tryOnce, { ...P_RETRY_FOREVER, onFailedAttempt });
    const success = { value, ad: ads[adIndex], attempts, elapsedMs: elapsed() };
    log(`capacity hunt: attempt ${attempts} in ${success.ad} launched the instance after ${formatDuration(success.elapsedMs)}`);
    return success;
}
