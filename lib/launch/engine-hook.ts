// Runs the capacity hunt through a Pulumi error hook on the real oci.core.Instance. The
// engine owns the actual LaunchInstance calls: each failed create calls the hook with all
// errors so far (newest first) and retries the same create when the hook answers true.
// This adapter turns those calls into attempts of the shared p-retry hunt, so the same
// policy (classification, waits, deadline) decides, and the wait happens inside the hook.
import * as pulumi from "@pulumi/pulumi";
import { runHunt, HuntStopped, AttemptEvent } from "./hunt";
import { createHuntPolicy, LaunchPolicy, LaunchRetrySettings } from "./policy";
import { notifyDiscord, SecretText } from "./notify";

/**
 * The engine gives up on an operation after this many failures and then stops calling the
 * hook (`maxErrorHookRetries` in pulumi/pkg/resource/deploy/retries.go).
 */
export const ENGINE_ERROR_HOOK_CAP = 100;

/** Attempts one `pulumi up` can make: the hunt stops itself one short of the engine cap so it can report why. */
export const ATTEMPTS_PER_UP = ENGINE_ERROR_HOOK_CAP - 1;

export interface ErrorHookHuntOptions {
    /** A fresh policy for the hunt (built with maxAttempts: ATTEMPTS_PER_UP). */
    readonly createPolicy: () => LaunchPolicy;
    readonly now: () => number;
    readonly sleep: (ms: number) => Promise<void>;
    readonly log?: (line: string) => void;
    readonly notify?: (message: string) => Promise<void>;
    readonly onAttempt?: (event: AttemptEvent) => void;
}

export interface ErrorHookCall {
    readonly failedOperation: string;
    readonly errors: string[];
    readonly newInputs?: Record<string, unknown>;
}

export class ErrorHookHunt {
    private hunt?: Promise<void>;
    /** Why the hunt gave up, once it has. */
    stoppedWith?: HuntStopped;
    private firstError = "";
    /** The engine call waiting for our answer. */
    private answerEngine?: (retry: boolean) => void;
    /** The hunt's attempt waiting for the engine's next result. */
    private inFlight?: { resolve: () => void; reject: (error: Error) => void };

    constructor(private readonly options: ErrorHookHuntOptions) {}

    /** The error hook callback: true makes the engine run the failed create again. */
    readonly onError = (call: ErrorHookCall): Promise<boolean> => {
        // Only a failed launch is a capacity question; failed updates and deletes surface as is.
        if (call.failedOperation !== "create") return Promise.resolve(false);
        return new Promise<boolean>((answer) => {
            this.answerEngine = answer;
            const latest = call.errors[0] ?? "unknown error";
            if (!this.hunt) {
                this.firstError = latest;
                this.start(String(call.newInputs?.availabilityDomain ?? "the configured AD"));
            } else if (this.inFlight) {
                const attempt = this.inFlight;
                this.inFlight = undefined;
                attempt.reject(new Error(latest));
            }
        });
    };

    /** Call when the instance's id resolves: during `pulumi up` that means the create succeeded. */
    readonly created = (): void => {
        const attempt = this.inFlight;
        this.inFlight = undefined;
        attempt?.resolve();
    };

    private answer(retry: boolean): void {
        const answer = this.answerEngine;
        this.answerEngine = undefined;
        answer?.(retry);
    }

    private start(ad: string): void {
        this.hunt = runHunt<void>({
            // The engine can only retry the same inputs, so one `pulumi up` hunts one AD.
            availabilityDomains: [ad],
            policy: this.options.createPolicy(),
            now: this.options.now,
            sleep: this.options.sleep,
            log: this.options.log,
            notify: this.options.notify,
            onAttempt: this.options.onAttempt,
            attempt: (_ad, attemptNumber) => {
                // The engine already ran attempt 1 before it called the hook.
                if (attemptNumber === 1) return Promise.reject(new Error(this.firstError));
                return new Promise<void>((resolve, reject) => {
                    this.inFlight = { resolve, reject };
                    this.answer(true);
                });
            },
        }).then(
            () => undefined,
            (error: unknown) => {
                if (error instanceof HuntStopped) this.stoppedWith = error;
                else this.options.log?.(`capacity hunt failed unexpectedly: ${String(error)}`);
                this.answer(false);
            },
        );
    }
}

/**
 * The named hook for the instance's resource options, plus `watch`, which must be given the
 * instance id so a successful retry ends the hunt (and sends the success notification).
 */
export function createCapacityHuntHook(name: string, options: ErrorHookHuntOptions): { hook: pulumi.ErrorHook; watch: (id: pulumi.Output<string>) => void } {
    const hunt = new ErrorHookHunt(options);
    const hook = new pulumi.ErrorHook(name, (args) => hunt.onError(args));
    return { hook, watch: (id) => void id.apply(() => hunt.created()) };
}

/** What A1Instance needs to hunt capacity for its launch (from stack config). */
export interface CapacityHuntArgs {
    readonly settings: LaunchRetrySettings;
    readonly deadlineMinutes: number;
    readonly discordWebhookUrl?: SecretText;
}

/** The production wiring: real time, progress via pulumi.log, results to Discord if configured. */
export function createInstanceCapacityHunt(name: string, args: CapacityHuntArgs): ReturnType<typeof createCapacityHuntHook> {
    return createCapacityHuntHook(name, {
        createPolicy: () =>
            createHuntPolicy({ settings: args.settings, deadlineMs: args.deadlineMinutes * 60_000, maxAttempts: ATTEMPTS_PER_UP, random: Math.random }),
        now: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        log: (line) => void pulumi.log.info(line),
        notify: async (message) => void (await notifyDiscord(args.discordWebhookUrl?.reveal(), message, { warn: (line) => void pulumi.log.warn(line) })),
    });
}
