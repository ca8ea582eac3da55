// Runs the capacity hunt through Pulumi resource hooks on the real oci.core.Instance. The engine
// owns the actual LaunchInstance calls: each failed create calls the error hook with all errors so
// far (newest first) and retries the same create when the hook answers true. This adapter turns
// those calls into attempts of the shared p-retry hunt, so the same policy (classification, waits,
// deadline) decides, and the wait happens inside the hook. A before-create hook waits out whatever
// pace or cool-down an earlier run of the same hunt left in force (session.ts).
import * as pulumi from "@pulumi/pulumi";
import { runHunt, HuntStopped, AttemptEvent } from "./hunt";
import { createHuntPolicy, LaunchPolicy, LaunchRetrySettings, LearnedPace, formatDuration } from "./policy";
import { notifyDiscord, SecretText } from "./notify";
import { HuntSession } from "./session";
import { defaultStatePath, fileStateStore } from "./state";

/**
 * The engine gives up on an operation after this many failures and then stops calling the
 * hook (`maxErrorHookRetries` in pulumi/pkg/resource/deploy/retries.go).
 */
export const ENGINE_ERROR_HOOK_CAP = 100;

/** Attempts one `pulumi up` can make: the hunt stops itself one short of the engine cap so it can report why. */
export const ATTEMPTS_PER_UP = ENGINE_ERROR_HOOK_CAP - 1;

export interface ErrorHookHuntOptions {
    /** The policy for this run (built with maxAttempts: ATTEMPTS_PER_UP), from what earlier runs learned. */
    readonly createPolicy: (hunt: { learned?: LearnedPace; startedAtMs: number }) => LaunchPolicy;
    /** The hunt across runs: state file and notices. */
    readonly session: HuntSession;
    readonly now: () => number;
    readonly sleep: (ms: number) => Promise<void>;
    readonly log?: (line: string) => void;
    readonly onAttempt?: (event: AttemptEvent) => void;
    /** Longest wait the before-create hook honours (a file from elsewhere could name any time). Defaults to 1 hour. */
    readonly maxWaitMs?: number;
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
    private ad = "the configured AD";
    /** The engine call waiting for our answer. */
    private answerEngine?: (retry: boolean) => void;
    /** The hunt's attempt waiting for the engine's next result. */
    private inFlight?: { resolve: () => void; reject: (error: Error) => void };

    constructor(private readonly options: ErrorHookHuntOptions) {}

    /** The before-create hook: the run's first launch keeps the pace an earlier run left in force. */
    readonly beforeCreate = async (inputs?: Record<string, unknown>): Promise<void> => {
        if (inputs?.availabilityDomain) this.ad = String(inputs.availabilityDomain);
        const waitMs = Math.min(this.options.session.pendingWaitMs(), this.options.maxWaitMs ?? 3_600_000);
        if (waitMs <= 0) return;
        this.options.log?.(`capacity hunt: continuing the hunt of an earlier run; first attempt in ${formatDuration(waitMs)} (cool-down or pace in force)`);
        await this.options.sleep(waitMs);
    };

    /** The error hook callback: true makes the engine run the failed create again. */
    readonly onError = (call: ErrorHookCall): Promise<boolean> => {
        // Only a failed launch is a capacity question; failed updates and deletes surface as is.
        if (call.failedOperation !== "create") return Promise.resolve(false);
        return new Promise<boolean>((answer) => {
            this.answerEngine = answer;
            const latest = call.errors[0] ?? "unknown error";
            if (!this.hunt) {
                this.firstError = latest;
                this.ad = String(call.newInputs?.availabilityDomain ?? this.ad);
                this.hunt = this.start();
            } else if (this.inFlight) {
                const attempt = this.inFlight;
                this.inFlight = undefined;
                attempt.reject(new Error(latest));
            }
        });
    };

    /**
     * The after-create hook: the launch went through. It ends this run's hunt, or, when the run's
     * first launch succeeded before any retry, the hunt an earlier run left in the state file.
     */
    readonly created = (inputs?: Record<string, unknown>): Promise<void> => {
        if (inputs?.availabilityDomain) this.ad = String(inputs.availabilityDomain);
        const attempt = this.inFlight;
        this.inFlight = undefined;
        if (attempt) attempt.resolve();
        else if (!this.hunt) this.hunt = this.options.session.captured(this.ad);
        return this.finished();
    };

    /** Settles once the hunt of this run has ended and its notices and state are written. */
    readonly finished = (): Promise<void> => this.hunt ?? Promise.resolve();

    private answer(retry: boolean): void {
        const answer = this.answerEngine;
        this.answerEngine = undefined;
        answer?.(retry);
    }

    private async start(): Promise<void> {
        const { session } = this.options;
        const ad = this.ad;
        const hunt = await session.beginRun(ad);
        const policy = this.options.createPolicy(hunt);
        try {
            await runHunt<void>({
                // The engine can only retry the same inputs, so one `pulumi up` hunts one AD.
                availabilityDomains: [ad],
                policy,
                now: this.options.now,
                sleep: this.options.sleep,
                log: this.options.log,
                onAttempt: async (event) => {
                    this.options.onAttempt?.(event);
                    await session.recordAttempt(event, policy.learned?.());
                },
                attempt: (_ad, attemptNumber) => {
                    // The engine already ran attempt 1 before it called the hook.
                    if (attemptNumber === 1) return Promise.reject(new Error(this.firstError));
                    return new Promise<void>((resolve, reject) => {
                        this.inFlight = { resolve, reject };
                        this.answer(true);
                    });
                },
            });
            await session.endRun({ kind: "launched", ad });
        } catch (error) {
            if (error instanceof HuntStopped) {
                this.stoppedWith = error;
                await session.endRun({ kind: "stopped", reason: error.reason, message: error.message, ad });
            } else {
                this.options.log?.(`capacity hunt failed unexpectedly: ${String(error)}`);
            }
            this.answer(false);
        }
    }
}

/** The named hooks for the instance's resource options (none runs on preview: a preview creates nothing). */
export function createCapacityHuntHooks(name: string, options: ErrorHookHuntOptions): pulumi.ResourceHookBinding {
    const hunt = new ErrorHookHunt(options);
    return {
        beforeCreate: [new pulumi.ResourceHook(`${name}-pace`, (args) => hunt.beforeCreate(args.newInputs))],
        afterCreate: [new pulumi.ResourceHook(`${name}-launched`, (args) => hunt.created(args.newInputs))],
        onError: [new pulumi.ErrorHook(name, (args) => hunt.onError(args))],
    };
}

/** What A1Instance needs to hunt capacity for its launch (from stack config). */
export interface CapacityHuntArgs {
    readonly settings: LaunchRetrySettings;
    /** Budget of one `pulumi up`. */
    readonly deadlineMinutes: number;
    /** Budget of the whole hunt across runs. */
    readonly huntDeadlineHours: number;
    readonly discordWebhookUrl?: SecretText;
}

/** Each run's policy from stack config: its budget, the engine's cap, the hunt's deadline, the pace learned so far. */
export function runPolicyFactory(args: CapacityHuntArgs, random: () => number = Math.random): ErrorHookHuntOptions["createPolicy"] {
    return ({ learned, startedAtMs }) =>
        createHuntPolicy({
            settings: args.settings,
            deadlineMs: args.deadlineMinutes * 60_000,
            huntDeadlineAtMs: startedAtMs + args.huntDeadlineHours * 3_600_000,
            maxAttempts: ATTEMPTS_PER_UP,
            learned,
            random,
        });
}

/** The production wiring: real time, the stack's state file, progress via pulumi.log, notices to Discord if configured. */
export function createInstanceCapacityHunt(name: string, args: CapacityHuntArgs): ReturnType<typeof createCapacityHuntHooks> {
    const warn = (line: string): void => void pulumi.log.warn(line);
    const stack = pulumi.getStack();
    return createCapacityHuntHooks(name, {
        createPolicy: runPolicyFactory(args),
        session: new HuntSession({
            stack,
            store: fileStateStore(defaultStatePath(stack)),
            now: Date.now,
            warn,
            notify: async (message) => void (await notifyDiscord(args.discordWebhookUrl?.reveal(), message, { warn })),
        }),
        now: Date.now,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        log: (line) => void pulumi.log.info(line),
        maxWaitMs: Math.max(args.settings.throttleMaxSeconds, args.settings.capacityIntervalMaxSeconds) * 1000,
    });
}
