// The benchmark's seeded worlds. Numbers are assumptions, stated so they can be argued with:
// OCI publishes neither A1 capacity behaviour nor LaunchInstance rate limits.
// - Freed A1 capacity is usually contested by many tenants running minute-by-minute scripts, so a
//   window is taken by someone else within ~15 s on average (competitorTakesPerHour 240); two
//   worlds let it last minutes instead (few competitors, or capacity only at one hour of the day).
// - The tenancy's bucket is shared with background traffic (console, CLI, other tools); the
//   seed notes (002) report 429s from a 60 s poll during long hunts: some worlds add busy spells
//   in which other traffic takes every token, one a bucket that a 30 s pace drains on its own.
import { ScenarioParams } from "./simulator";

const AD = (region: string, n: number): string[] => Array.from({ length: n }, (_, i) => `Uocm:${region}-AD-${i + 1}`);

export type ScenarioTemplate = Omit<ScenarioParams, "seed">;

export interface BenchWorld {
    readonly scenario: ScenarioTemplate;
    /** Capacity windows last seconds: where probing faster pays (the 0.6x-of-the-seed target). */
    readonly secondsWindows: boolean;
}

const TWO_WEEKS = 24 * 14;
/** Windows of seconds: one an hour per AD, taken by other tenants within ~15 s. */
const CONTESTED = { windowsPerHour: 1, meanWindowMinutes: 4, competitorTakesPerHour: 240 };
/** A bucket a 60 s poll and a 30 s pace both fit into, beside a little background traffic. */
const ROOMY = { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0.5, retryAfter: false };

export const BENCH_WORLDS: Record<string, BenchWorld> = {
    // One AD (e.g. ap-chuncheon-1); a window about every hour.
    "one AD, windows of seconds": {
        secondsWindows: true,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), ...CONTESTED, rateLimit: ROOMY, horizonHours: TWO_WEEKS },
    },
    // Three ADs, each even scarcer.
    "three ADs, windows of seconds": {
        secondsWindows: true,
        scenario: { ads: AD("EU-FRANKFURT-1", 3), ...CONTESTED, windowsPerHour: 0.4, rateLimit: ROOMY, horizonHours: TWO_WEEKS },
    },
    // A busy tenancy: about once an hour, for ~20 min, other automation drains the bucket.
    "busy spells (20 min, hourly)": {
        secondsWindows: true,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), ...CONTESTED, rateLimit: { ...ROOMY, busy: { perHour: 1, meanMinutes: 20, perMinute: 6 }, retryAfter: true }, horizonHours: TWO_WEEKS },
    },
    // Throttle storms of ~2 h every ~8 h (a nightly bulk job, a runaway script).
    "long throttle storms (2 h)": {
        secondsWindows: true,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), ...CONTESTED, rateLimit: { ...ROOMY, busy: { perHour: 1 / 8, meanMinutes: 120, perMinute: 6 } }, horizonHours: TWO_WEEKS },
    },
    // A tight tenancy limit: 2 requests/min with a burst of 3; a 60 s poll fits, a 30 s pace does not.
    "tight rate limit (2/min)": {
        secondsWindows: true,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), ...CONTESTED, rateLimit: { burst: 3, refillPerMinute: 2, backgroundPerMinute: 0.25, retryAfter: false }, horizonHours: TWO_WEEKS },
    },
    // Tighter still: 1.5/min, which a 60 s poll uses to 83%, so bursts of other traffic throttle it too.
    "very tight rate limit (1.5/min)": {
        secondsWindows: true,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), ...CONTESTED, rateLimit: { burst: 3, refillPerMinute: 1.5, backgroundPerMinute: 0.25, retryAfter: false }, horizonHours: TWO_WEEKS },
    },
    // Few competitors: a window every ~3 h that lasts ~4 min.
    "one AD, windows of minutes": {
        secondsWindows: false,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), windowsPerHour: 0.3, meanWindowMinutes: 12, competitorTakesPerHour: 10, rateLimit: ROOMY, horizonHours: TWO_WEEKS },
    },
    // Capacity freed by a daily batch: three contested windows within one hour of each day.
    "capacity one hour a day": {
        secondsWindows: true,
        scenario: { ads: AD("AP-CHUNCHEON-1", 1), ...CONTESTED, windowsPerHour: 3, daily: { fromHour: 3, hours: 1 }, rateLimit: ROOMY, horizonHours: TWO_WEEKS },
    },
};
