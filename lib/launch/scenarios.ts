// The benchmark's seeded worlds. Numbers are assumptions, stated so they can be argued with:
// OCI publishes neither A1 capacity behaviour nor LaunchInstance rate limits.
// - Freed A1 capacity is contested by many tenants running minute-by-minute scripts, so a
//   window is taken by someone else within ~15 s on average (competitorTakesPerHour 240).
// - The tenancy's bucket is shared with background traffic (console, CLI, other tools); the
//   seed notes (002) report 429s from a 60 s poll during long hunts: the heavy scenarios
//   add busy spells in which other traffic takes every token.
import { ScenarioParams } from "./simulator";

const AD = (region: string, n: number): string[] => Array.from({ length: n }, (_, i) => `Uocm:${region}-AD-${i + 1}`);

export type ScenarioTemplate = Omit<ScenarioParams, "seed">;

export const BENCH_SCENARIOS: Record<string, ScenarioTemplate> = {
    // One AD (e.g. ap-chuncheon-1); a window about every hour.
    "single AD scarce": {
        ads: AD("AP-CHUNCHEON-1", 1),
        windowsPerHour: 1,
        meanWindowMinutes: 4,
        competitorTakesPerHour: 240,
        rateLimit: { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0.5, retryAfter: false },
        horizonHours: 24 * 14,
    },
    // Three ADs, each even scarcer.
    "three ADs scarce": {
        ads: AD("EU-FRANKFURT-1", 3),
        windowsPerHour: 0.4,
        meanWindowMinutes: 4,
        competitorTakesPerHour: 240,
        rateLimit: { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0.5, retryAfter: false },
        horizonHours: 24 * 14,
    },
    // A busy tenancy: about once an hour, for ~20 min, other automation drains the bucket.
    "heavy throttling (Retry-After)": {
        ads: AD("AP-CHUNCHEON-1", 1),
        windowsPerHour: 1,
        meanWindowMinutes: 4,
        competitorTakesPerHour: 240,
        rateLimit: { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0.5, busy: { perHour: 1, meanMinutes: 20, perMinute: 6 }, retryAfter: true },
        horizonHours: 24 * 14,
    },
    // The same, but 429s come bare (what an error hook always sees).
    "heavy throttling (no Retry-After)": {
        ads: AD("AP-CHUNCHEON-1", 1),
        windowsPerHour: 1,
        meanWindowMinutes: 4,
        competitorTakesPerHour: 240,
        rateLimit: { burst: 5, refillPerMinute: 3, backgroundPerMinute: 0.5, busy: { perHour: 1, meanMinutes: 20, perMinute: 6 }, retryAfter: false },
        horizonHours: 24 * 14,
    },
};
