// One capacity hunt across the `pulumi up` runs it takes: keeps the state file (state.ts) and
// sends the hunt's notices. A hunt tells the user when it starts, when it ends (the instance
// launched, a fatal error, the hunt's deadline) and in between at most one progress digest every
// few hours; a run that merely hits the engine's retry cap or its own budget is silent, since the
// rerun loop continues the same hunt.
import { AttemptEvent } from "./hunt";
import { endsOnlyTheRun, formatDuration, LearnedPace, StopReason } from "./policy";
import { HuntState, HuntStateStore, NoticeKind, parseHuntState, serializeHuntState } from "./state";

/** Default spacing of progress digests. */
export const DIGEST_EVERY_MS = 6 * 3_600_000;
/**
 * A run that starts more than this after the hunt's last attempt starts a new hunt: the rerun
 * loop pauses a minute or two between runs, so a longer gap means someone stopped it.
 */
export const CONTINUE_WITHIN_MS = 12 * 3_600_000;

export interface HuntSessionOptions {
    readonly stack: string;
    readonly store: HuntStateStore;
    readonly now: () => number;
    /** Delivers a notice (Discord); failures are the callee's to report, never the hunt's. */
    readonly notify?: (message: string) => Promise<void>;
    /** Problems with the state file (never fatal). */
    readonly warn?: (line: string) => void;
    readonly digestEveryMs?: number;
}

export type RunOutcome =
    | { readonly kind: "launched"; readonly ad: string }
    | { readonly kind: "stopped"; readonly reason: StopReason; readonly message: string; readonly ad: string };

const NOTICE_FOR: Partial<Record<StopReason, NoticeKind>> = { fatal: "fatal", "unknown-errors": "fatal", deadline: "deadline", "after-launch": "after-launch" };

export class HuntSession {
    private state?: HuntState;
    private loaded = false;
    /** Notices this process sent (what the benchmark counts). */
    readonly sent: { kind: NoticeKind; message: string }[] = [];

    constructor(private readonly options: HuntSessionOptions) {}

    private warn(line: string): void {
        this.options.warn?.(`capacity hunt: ${line}`);
    }

    /** The stored state of this stack's hunt, read once; undefined when none is usable. */
    private stored(): HuntState | undefined {
        if (this.loaded) return this.state;
        this.loaded = true;
        const { store, stack } = this.options;
        try {
            const text = store.read();
            if (text === undefined) return undefined;
            const parsed = parseHuntState(text, stack);
            if ("problem" in parsed) {
                this.warn(`ignoring the state file ${store.location}: it ${parsed.problem}; this run starts a new hunt and replaces it.`);
                return undefined;
            }
            this.state = parsed.state;
        } catch (error) {
            this.warn(`cannot read the state file ${store.location} (${(error as Error).message}); this run starts a new hunt.`);
        }
        return this.state;
    }

    private save(): void {
        if (!this.state) return;
        try {
            this.options.store.write(serializeHuntState(this.state));
        } catch (error) {
            this.warn(`cannot write the state file ${this.options.store.location} (${(error as Error).message}); a rerun will start over.`);
        }
    }

    private async notice(kind: NoticeKind, message: string): Promise<void> {
        if (this.state) this.state = { ...this.state, notices: [...this.state.notices, { kind, atMs: this.options.now() }] };
        this.sent.push({ kind, message });
        try {
            await this.options.notify?.(message);
        } catch {
            // A notice is a courtesy; it must never change the hunt's outcome.
        }
    }

    /** The hunt in progress, if the stored one may be continued. */
    private continuing(): HuntState | undefined {
        const state = this.stored();
        if (!state || state.ended) return undefined;
        const last = state.lastAttemptAtMs ?? state.startedAtMs;
        return this.options.now() - last <= CONTINUE_WITHIN_MS ? state : undefined;
    }

    /** How long the first launch of this run must wait: a cool-down or probe interval an earlier run left in force. */
    pendingWaitMs(): number {
        const next = this.continuing()?.pace?.nextAttemptAtMs;
        return next === undefined ? 0 : Math.max(0, next - this.options.now());
    }

    /** Starts this run's part of the hunt (a new hunt sends its start notice); returns the pace learned so far. */
    async beginRun(ad: string): Promise<{ learned?: LearnedPace; startedAtMs: number }> {
        const now = this.options.now();
        const ongoing = this.continuing();
        if (ongoing) {
            this.state = { ...ongoing, runs: ongoing.runs + 1 };
            this.save();
            return { learned: ongoing.pace, startedAtMs: ongoing.startedAtMs };
        }
        // A new hunt keeps only the pace a previous one learned about this tenancy.
        const previous = this.stored()?.pace;
        const learned = previous && { intervalMs: previous.intervalMs, throttleStreak: 0 };
        this.state = { stack: this.options.stack, startedAtMs: now, runs: 1, attempts: 0, throttled: 0, notices: [], ...(learned ? { pace: learned } : {}) };
        await this.notice(
            "start",
            `CoinPilot capacity hunt started in ${ad}: no A1.Flex capacity yet. You will hear when the instance launches or the hunt stops, and at most every ${formatDuration(this.digestEveryMs)} how it goes.`,
        );
        this.save();
        return { learned, startedAtMs: now };
    }

    private get digestEveryMs(): number {
        return this.options.digestEveryMs ?? DIGEST_EVERY_MS;
    }

    /** After each failed attempt of the run: counts it, keeps the pace, and sends a digest when one is due. */
    async recordAttempt(event: AttemptEvent, pace?: LearnedPace): Promise<void> {
        if (!this.state) return;
        const now = this.options.now();
        const s = this.state;
        this.state = {
            ...s,
            attempts: s.attempts + 1,
            throttled: s.throttled + (event.classification.kind === "throttle" ? 1 : 0),
            lastAttemptAtMs: now,
            ...(pace ? { pace } : {}),
        };
        const lastNews = Math.max(s.startedAtMs, ...s.notices.filter((n) => n.kind === "start" || n.kind === "digest").map((n) => n.atMs));
        if (event.nextDelayMs !== undefined && now - lastNews >= this.digestEveryMs) {
            const st = this.state;
            const interval = st.pace ? `; probing every ${formatDuration(st.pace.intervalMs)}` : "";
            await this.notice(
                "digest",
                `CoinPilot capacity hunt still running after ${formatDuration(now - st.startedAtMs)}: ${st.attempts} attempts in ${st.runs} runs, ${st.throttled} throttled (429)${interval}; last: ${event.classification.summary}.`,
            );
        }
        this.save();
    }

    /** The run's first launch went through before any retry: ends the hunt an earlier run left going, if any. */
    async captured(ad: string): Promise<void> {
        const ongoing = this.continuing();
        if (!ongoing) return;
        this.state = { ...ongoing, runs: ongoing.runs + 1 };
        await this.endRun({ kind: "launched", ad });
    }

    /** The run is over. A launch or a stop for good ends the hunt (with its notice); a per-run stop keeps it going silently. */
    async endRun(outcome: RunOutcome): Promise<void> {
        const s = this.state;
        const elapsed = s ? ` after ${s.attempts} attempts in ${s.runs} runs (${formatDuration(this.options.now() - s.startedAtMs)})` : "";
        if (outcome.kind === "launched") {
            await this.notice("capture", `CoinPilot A1.Flex instance launched in ${outcome.ad}${elapsed}.`);
            this.forget();
            return;
        }
        if (endsOnlyTheRun(outcome.reason)) {
            this.save();
            return;
        }
        const kind = NOTICE_FOR[outcome.reason] ?? "fatal";
        await this.notice(kind, `CoinPilot capacity hunt stopped (${outcome.reason})${elapsed}: ${outcome.message}`);
        if (outcome.reason === "after-launch") {
            this.forget();
            return;
        }
        if (this.state) this.state = { ...this.state, ended: { atMs: this.options.now(), reason: outcome.reason } };
        this.save();
    }

    /** The hunt is over: its file goes (a later hunt starts afresh). */
    private forget(): void {
        this.state = undefined;
        try {
            this.options.store.remove();
        } catch (error) {
            this.warn(`cannot remove the state file ${this.options.store.location} (${(error as Error).message}); delete it by hand.`);
        }
    }
}
