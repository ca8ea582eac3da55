// The hunt's memory between `pulumi up` runs: one small JSON file per stack. The README's rerun
// loop starts a fresh program every ~50 minutes; this file lets it continue one hunt (learned pace,
// a cool-down in force, notices already sent) instead of starting over. Reading it never throws:
// a corrupt or foreign file is reported and ignored, and the next save replaces it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LearnedPace } from "./policy";

/** Marks our files; anything else at the path is foreign. */
export const HUNT_STATE_FORMAT = "coinpilot-capacity-hunt/1";

/** Files larger than this are not ours (ours stay around 1 KB). */
const MAX_STATE_BYTES = 64 * 1024;
/** Notices kept in the history (newest last). */
const NOTICE_HISTORY = 20;

export type NoticeKind = "start" | "digest" | "capture" | "after-launch" | "fatal" | "deadline";

export interface SentNotice {
    readonly kind: NoticeKind;
    readonly atMs: number;
}

export interface HuntState {
    readonly stack: string;
    readonly startedAtMs: number;
    /** `pulumi up` runs this hunt has taken so far, the current one included. */
    readonly runs: number;
    readonly attempts: number;
    /** 429s received over the hunt. */
    readonly throttled: number;
    readonly lastAttemptAtMs?: number;
    readonly pace?: LearnedPace;
    readonly notices: readonly SentNotice[];
    /** Set when the hunt stopped for good (fatal, deadline): the next run starts a new hunt. */
    readonly ended?: { readonly atMs: number; readonly reason: string };
}

/** Where one stack's state lives; the file operations the session needs. */
export interface HuntStateStore {
    /** For messages ("reset it with rm <location>"). */
    readonly location: string;
    /** The stored text, or undefined when there is none. */
    read(): string | undefined;
    write(text: string): void;
    remove(): void;
}

/** `~/.pulumi-coinpilot/hunt-<stack>.json`, or under COINPILOT_HUNT_STATE_DIR when set. */
export function defaultStatePath(stack: string, env: NodeJS.ProcessEnv = process.env): string {
    const dir = env.COINPILOT_HUNT_STATE_DIR || path.join(os.homedir(), ".pulumi-coinpilot");
    return path.join(dir, `hunt-${stack.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

/** The file store. Writes go to a temporary file first, so a crash never leaves half a file. */
export function fileStateStore(file: string): HuntStateStore {
    return {
        location: file,
        read() {
            try {
                if (fs.statSync(file).size > MAX_STATE_BYTES) return "(larger than a hunt state file)";
                return fs.readFileSync(file, "utf8");
            } catch (error) {
                if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
                throw error;
            }
        },
        write(text) {
            fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
            const temp = `${file}.${process.pid}.tmp`;
            fs.writeFileSync(temp, text, { mode: 0o600 });
            fs.renameSync(temp, file);
        },
        remove() {
            fs.rmSync(file, { force: true });
        },
    };
}

/** An in-memory store: the simulator's stand-in for the file (shared between runs, or not). */
export function memoryStateStore(): HuntStateStore & { text?: string } {
    const store: HuntStateStore & { text?: string } = {
        location: "(memory)",
        read: () => store.text,
        write: (text) => void (store.text = text),
        remove: () => void (store.text = undefined),
    };
    return store;
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The file's text: times as ISO dates so a person can read it. */
export function serializeHuntState(state: HuntState): string {
    const pace = state.pace;
    return (
        JSON.stringify(
            {
                format: HUNT_STATE_FORMAT,
                stack: state.stack,
                startedAt: iso(state.startedAtMs),
                runs: state.runs,
                attempts: state.attempts,
                throttled: state.throttled,
                lastAttemptAt: iso(state.lastAttemptAtMs),
                pace: pace && {
                    intervalMs: Math.round(pace.intervalMs),
                    throttleStreak: pace.throttleStreak,
                    lastThrottleAt: iso(pace.lastThrottleAtMs),
                    paceSince: iso(pace.paceSinceMs),
                    slowingOffUntil: iso(pace.slowingOffUntilMs),
                    lastAnsweredAt: iso(pace.lastAnsweredAtMs),
                    answeredSincePace: pace.answeredSincePace,
                    nextAttemptAt: iso(pace.nextAttemptAtMs),
                    lastThrottleWasSpell: pace.lastThrottleWasSpell,
                },
                notices: state.notices.slice(-NOTICE_HISTORY).map((n) => ({ kind: n.kind, at: iso(n.atMs) })),
                ended: state.ended && { at: iso(state.ended.atMs), reason: state.ended.reason },
            },
            null,
            2,
        ) + "\n"
    );
}

class Invalid extends Error {}

const NOTICE_KINDS: readonly string[] = ["start", "digest", "capture", "after-launch", "fatal", "deadline"];

function object(value: unknown, what: string): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Invalid(`${what} is not an object`);
    return value as Record<string, unknown>;
}

function count(value: unknown, what: string): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new Invalid(`${what} is not a count`);
    return value;
}

function time(value: unknown, what: string): number;
function time(value: unknown, what: string, optional: true): number | undefined;
function time(value: unknown, what: string, optional = false): number | undefined {
    if (value === undefined && optional) return undefined;
    const ms = typeof value === "string" ? Date.parse(value) : NaN;
    if (!Number.isFinite(ms)) throw new Invalid(`${what} is not a date`);
    return ms;
}

function flag(value: unknown, what: string): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") throw new Invalid(`${what} is not true or false`);
    return value;
}

function parsePace(value: unknown): LearnedPace | undefined {
    if (value === undefined) return undefined;
    const p = object(value, "pace");
    if (typeof p.intervalMs !== "number" || !(p.intervalMs > 0)) throw new Invalid("pace.intervalMs is not a positive number");
    const optional = (key: string): number | undefined => time(p[key], `pace.${key}`, true);
    const pace = {
        intervalMs: p.intervalMs,
        throttleStreak: count(p.throttleStreak, "pace.throttleStreak"),
        lastThrottleAtMs: optional("lastThrottleAt"),
        paceSinceMs: optional("paceSince"),
        slowingOffUntilMs: optional("slowingOffUntil"),
        lastAnsweredAtMs: optional("lastAnsweredAt"),
        answeredSincePace: p.answeredSincePace === undefined ? undefined : count(p.answeredSincePace, "pace.answeredSincePace"),
        nextAttemptAtMs: optional("nextAttemptAt"),
        lastThrottleWasSpell: flag(p.lastThrottleWasSpell, "pace.lastThrottleWasSpell"),
    };
    return Object.fromEntries(Object.entries(pace).filter(([, v]) => v !== undefined)) as unknown as LearnedPace;
}

export type ParsedState = { readonly state: HuntState } | { readonly problem: string };

/** Reads a state file's text for `stack`; any doubt yields a problem to report instead of a state. */
export function parseHuntState(text: string, stack: string): ParsedState {
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch {
        return { problem: "is not JSON (corrupt)" };
    }
    try {
        const doc = object(raw, "the file");
        if (doc.format !== HUNT_STATE_FORMAT) return { problem: `is not a ${HUNT_STATE_FORMAT} file (foreign)` };
        if (doc.stack !== stack) return { problem: `belongs to stack ${JSON.stringify(doc.stack)}, not ${JSON.stringify(stack)} (foreign)` };
        if (!Array.isArray(doc.notices)) throw new Invalid("notices is not a list");
        const notices = doc.notices.map((n, i) => {
            const notice = object(n, `notices[${i}]`);
            if (typeof notice.kind !== "string" || !NOTICE_KINDS.includes(notice.kind)) throw new Invalid(`notices[${i}].kind is unknown`);
            return { kind: notice.kind as NoticeKind, atMs: time(notice.at, `notices[${i}].at`) };
        });
        const ended = doc.ended === undefined ? undefined : object(doc.ended, "ended");
        const lastAttemptAtMs = time(doc.lastAttemptAt, "lastAttemptAt", true);
        const pace = parsePace(doc.pace);
        const state: HuntState = {
            stack,
            startedAtMs: time(doc.startedAt, "startedAt"),
            runs: count(doc.runs, "runs"),
            attempts: count(doc.attempts, "attempts"),
            throttled: count(doc.throttled, "throttled"),
            notices,
            ...(lastAttemptAtMs !== undefined ? { lastAttemptAtMs } : {}),
            ...(pace ? { pace } : {}),
            ...(ended ? { ended: { atMs: time(ended.at, "ended.at"), reason: String(ended.reason) } } : {}),
        };
        return { state };
    } catch (error) {
        if (error instanceof Invalid) return { problem: `${error.message} (corrupt)` };
        throw error;
    }
}
