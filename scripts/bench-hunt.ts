// `npm run bench:hunt`: the capacity hunt against the seeded simulator, on the path `pulumi up`
// really takes (the README's rerun loop, the engine's retry cap, the OCI provider's own retries
// when they are on, the state file carried between runs or not), beside the two baselines run as
// the scripts they are. Prints a table per world, the targets of issue 12, and then JSON.
//
// BENCH_SEEDS (default 30) hunts per world and contender, on seeds BENCH_SEED_BASE (default 1, which
// no tuning used) onwards; the defaults were tuned on seeds 1001-1400, the README's table is 3001-3400.
// BENCH_WORLDS / BENCH_CONTENDERS: regular expressions selecting rows; BENCH_PACE / BENCH_SETTINGS:
// JSON overrides of the policy's PaceTuning / LaunchRetrySettings, for tuning runs.
import { createHitrovPolicy, createSeedScriptPolicy } from "../lib/launch/baselines";
import { createHuntPolicy, DEFAULT_LAUNCH_RETRY, formatDuration, PACE } from "../lib/launch/policy";
import { BENCH_WORLDS } from "../lib/launch/scenarios";
import { PolicyFactory, SHIPPED_PATH, SimulationResult, simulateDirect, simulateRealPath } from "../lib/launch/simulate";
import { ScenarioParams, seededRandom } from "../lib/launch/simulator";

const SEEDS = Number(process.env.BENCH_SEEDS ?? 30);
const SEED_BASE = Number(process.env.BENCH_SEED_BASE ?? 1);
const pick = (name: string, env: string | undefined): boolean => !env || new RegExp(env, "i").test(name);

const ours: PolicyFactory = (random, { maxAttempts, learned }) =>
    createHuntPolicy({
        settings: { ...DEFAULT_LAUNCH_RETRY, ...JSON.parse(process.env.BENCH_SETTINGS ?? "{}") },
        pace: { ...PACE, ...JSON.parse(process.env.BENCH_PACE ?? "{}") },
        deadlineMs: 120 * 60_000,
        maxAttempts,
        learned,
        random,
    });

const OURS = "coinpilot (real path)";
const SEED = "seed script";
const HITROV = "hitrov cron";

/** What a row needs of one hunt (results are cut down as they come, so thousands of hunts fit in memory). */
type Outcome = Pick<SimulationResult, "launched" | "elapsedMs" | "calls" | "throttled" | "runs"> & { notices: number };

interface Contender {
    readonly name: string;
    readonly run: (scenario: ScenarioParams) => Promise<SimulationResult>;
}

const outcome = (r: SimulationResult): Outcome => ({ launched: r.launched, elapsedMs: r.elapsedMs, calls: r.calls, throttled: r.throttled, runs: r.runs, notices: r.notices.length });

const ALL_CONTENDERS: Contender[] = [
    { name: OURS, run: (s) => simulateRealPath(s, ours) },
    { name: "coinpilot, provider retries on", run: (s) => simulateRealPath(s, ours, { ...SHIPPED_PATH, providerRetries: true }) },
    { name: "coinpilot, no state file", run: (s) => simulateRealPath(s, ours, { ...SHIPPED_PATH, carryState: false }) },
    { name: SEED, run: (s) => simulateDirect(s, (random) => createSeedScriptPolicy(random)) },
    { name: HITROV, run: (s) => simulateDirect(s, () => createHitrovPolicy()) },
];
const CONTENDERS = ALL_CONTENDERS.filter((c) => pick(c.name, process.env.BENCH_CONTENDERS));

function quantile(sorted: number[], q: number): number {
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[i];
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Row {
    world: string;
    policy: string;
    runs: number;
    launched: number;
    medianMinutes: number;
    p90Minutes: number;
    meanCalls: number;
    medianCalls: number;
    mean429: number;
    median429: number;
    meanNotices: number;
    meanUpRuns: number;
}

function summarize(world: string, policy: string, results: Outcome[]): Row {
    const times = results.map((r) => (r.launched ? r.elapsedMs : Infinity)).sort((a, b) => a - b);
    const calls = results.map((r) => r.calls).sort((a, b) => a - b);
    const throttled = results.map((r) => r.throttled).sort((a, b) => a - b);
    return {
        world,
        policy,
        runs: results.length,
        launched: results.filter((r) => r.launched).length,
        medianMinutes: quantile(times, 0.5) / 60_000,
        p90Minutes: quantile(times, 0.9) / 60_000,
        meanCalls: mean(calls),
        medianCalls: quantile(calls, 0.5),
        mean429: mean(throttled),
        median429: quantile(throttled, 0.5),
        meanNotices: mean(results.map((r) => r.notices)),
        meanUpRuns: mean(results.map((r) => r.runs)),
    };
}

interface Verdict {
    world: string;
    timeVsBetter: number;
    /** 90% interval of timeVsBetter over resampled seeds: how much of the verdict is luck of the draw. */
    timeVsBetterInterval: [number, number];
    time: boolean;
    throttled: boolean;
    timeVsSeed: number;
    seedTarget?: boolean;
    callsVsSeed: number;
}

const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
const ttiOf = (o: Outcome): number => (o.launched ? o.elapsedMs : Infinity);

/**
 * Ratio of our median time to the better baseline's, and its 90% interval from a paired bootstrap:
 * seeds are drawn with replacement and every contender keeps its own hunt of each drawn seed.
 */
function timeRatio(us: Outcome[], seed: Outcome[], hitrov: Outcome[]): { ratio: number; interval: [number, number] } {
    const ratioOf = (pick: number[]): number => {
        const m = (xs: Outcome[]) => median(pick.map((i) => ttiOf(xs[i])));
        return m(us) / Math.min(m(seed), m(hitrov));
    };
    const random = seededRandom(12);
    const ratios = Array.from({ length: 400 }, () => ratioOf(us.map(() => Math.floor(random() * us.length)))).sort((a, b) => a - b);
    return { ratio: ratioOf(us.map((_, i) => i)), interval: [quantile(ratios, 0.05), quantile(ratios, 0.95)] };
}

/** Issue 12's targets for one world: time against the better baseline, 429s against the fewer of the two (+1), and 0.6x the seed's time where windows last seconds. */
function verdict(world: string, rows: Row[], outcomes: Map<string, Outcome[]>): Verdict | undefined {
    const row = (name: string) => rows.find((r) => r.world === world && r.policy === name);
    const [us, seed, hitrov] = [row(OURS), row(SEED), row(HITROV)];
    if (!us || !seed || !hitrov) return undefined;
    const better = Math.min(seed.medianMinutes, hitrov.medianMinutes);
    const { interval } = timeRatio(outcomes.get(`${world}/${OURS}`)!, outcomes.get(`${world}/${SEED}`)!, outcomes.get(`${world}/${HITROV}`)!);
    return {
        world,
        timeVsBetter: us.medianMinutes / better,
        timeVsBetterInterval: interval,
        time: us.medianMinutes <= better,
        throttled: us.mean429 <= Math.min(seed.mean429, hitrov.mean429) + 1,
        timeVsSeed: us.medianMinutes / seed.medianMinutes,
        ...(BENCH_WORLDS[world].secondsWindows ? { seedTarget: us.medianMinutes <= 0.6 * seed.medianMinutes } : {}),
        callsVsSeed: us.meanCalls / seed.meanCalls,
    };
}

async function main(): Promise<void> {
    const worlds = Object.entries(BENCH_WORLDS).filter(([name]) => pick(name, process.env.BENCH_WORLDS));
    const seeds = Array.from({ length: SEEDS }, (_, i) => SEED_BASE + i);
    // Every hunt at once: each waits on p-retry's 1 ms timer per attempt, so running them side by
    // side keeps the wall time near the CPU time.
    const outcomes = new Map<string, Outcome[]>();
    const rows = await Promise.all(
        worlds.flatMap(([world, { scenario }]) =>
            CONTENDERS.map(async (c) => {
                const results = await Promise.all(seeds.map((seed) => c.run({ ...scenario, seed }).then(outcome)));
                outcomes.set(`${world}/${c.name}`, results);
                return summarize(world, c.name, results);
            }),
        ),
    );
    const fmt = (minutes: number): string => (Number.isFinite(minutes) ? formatDuration(minutes * 60_000) : "never");
    const header = ["world", "policy", "launched", "median TTI", "p90 TTI", "calls (median/mean)", "429s (median/mean)", "notices", "`pulumi up` runs"];
    const table = rows.map((r) => [
        r.world,
        r.policy,
        `${r.launched}/${r.runs}`,
        fmt(r.medianMinutes),
        fmt(r.p90Minutes),
        `${r.medianCalls} / ${r.meanCalls.toFixed(1)}`,
        `${r.median429} / ${r.mean429.toFixed(1)}`,
        r.policy.startsWith("coinpilot") ? r.meanNotices.toFixed(1) : "-",
        r.policy.startsWith("coinpilot") ? r.meanUpRuns.toFixed(1) : "-",
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    console.log(`seeds ${SEED_BASE}-${SEED_BASE + SEEDS - 1}`);
    console.log(line(header));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const row of table) console.log(line(row));
    const verdicts = worlds.map(([world]) => verdict(world, rows, outcomes)).filter((v): v is Verdict => v !== undefined);
    if (verdicts.length > 0) {
        console.log();
        console.log("targets (real path): time <= better baseline | 429s <= fewer baseline's + 1 | time <= 0.6x seed where windows last seconds | calls vs seed");
        const mark = (ok: boolean | undefined): string => (ok === undefined ? "n/a" : ok ? "holds" : "MISSED");
        for (const v of verdicts) {
            console.log(
                `- ${v.world}: time ${v.timeVsBetter.toFixed(2)}x better baseline (90% ${v.timeVsBetterInterval.map((x) => x.toFixed(2)).join("-")}; ${mark(v.time)}); 429s ${mark(v.throttled)}; ` +
                    `${v.timeVsSeed.toFixed(2)}x seed (${mark(v.seedTarget)}); calls ${v.callsVsSeed.toFixed(2)}x seed`,
            );
        }
    }
    console.log();
    console.log(JSON.stringify({ seeds: SEEDS, seedBase: SEED_BASE, rows, verdicts }, (_, v) => (v === Infinity ? null : v), 2));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
