// `npm run bench:hunt`: the capacity hunt against the seeded simulator, for our policy (run
// directly and through the error hook as `pulumi up` runs it) and the two baselines.
// Prints a table and JSON of simulated time-to-instance, API calls and 429s received.
import { createHitrovPolicy, createSeedScriptPolicy } from "../lib/launch/baselines";
import { createHuntPolicy, formatDuration } from "../lib/launch/policy";
import { BENCH_SCENARIOS } from "../lib/launch/scenarios";
import { PolicyFactory, SimulationResult, simulateDirect, simulateErrorHook } from "../lib/launch/simulate";
import { ScenarioParams } from "../lib/launch/simulator";

const SEEDS = Number(process.env.BENCH_SEEDS ?? 100);

interface Contender {
    readonly name: string;
    readonly run: (scenario: ScenarioParams) => Promise<SimulationResult>;
}

const ours: PolicyFactory = (random, { maxAttempts }) => createHuntPolicy({ deadlineMs: Infinity, maxAttempts, random });

const CONTENDERS: Contender[] = [
    { name: "coinpilot (policy)", run: (s) => simulateDirect(s, ours) },
    { name: "coinpilot (error hook)", run: (s) => simulateErrorHook(s, ours) },
    { name: "seed script", run: (s) => simulateDirect(s, (random) => createSeedScriptPolicy(random)) },
    { name: "hitrov cron", run: (s) => simulateDirect(s, () => createHitrovPolicy()) },
];

function quantile(sorted: number[], q: number): number {
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[i];
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Row {
    scenario: string;
    policy: string;
    runs: number;
    launched: number;
    medianMinutes: number;
    p90Minutes: number;
    meanCalls: number;
    medianCalls: number;
    mean429: number;
    median429: number;
}

async function main(): Promise<void> {
    const rows: Row[] = [];
    for (const [scenario, template] of Object.entries(BENCH_SCENARIOS)) {
        for (const contender of CONTENDERS) {
            // Runs are independent worlds; running them together overlaps p-retry's 1 ms ticks.
            const results = await Promise.all(Array.from({ length: SEEDS }, (_, seed) => contender.run({ ...template, seed: seed + 1 })));
            const times = results.map((r) => (r.launched ? r.elapsedMs : Infinity)).sort((a, b) => a - b);
            const calls = results.map((r) => r.calls).sort((a, b) => a - b);
            const throttled = results.map((r) => r.throttled).sort((a, b) => a - b);
            rows.push({
                scenario,
                policy: contender.name,
                runs: SEEDS,
                launched: results.filter((r) => r.launched).length,
                medianMinutes: quantile(times, 0.5) / 60_000,
                p90Minutes: quantile(times, 0.9) / 60_000,
                meanCalls: mean(calls),
                medianCalls: quantile(calls, 0.5),
                mean429: mean(throttled),
                median429: quantile(throttled, 0.5),
            });
        }
    }
    const fmt = (minutes: number): string => (Number.isFinite(minutes) ? formatDuration(minutes * 60_000) : "never");
    const header = ["scenario", "policy", "launched", "median TTI", "p90 TTI", "calls (median/mean)", "429s (median/mean)"];
    const table = rows.map((r) => [
        r.scenario,
        r.policy,
        `${r.launched}/${r.runs}`,
        fmt(r.medianMinutes),
        fmt(r.p90Minutes),
        `${r.medianCalls} / ${r.meanCalls.toFixed(1)}`,
        `${r.median429} / ${r.mean429.toFixed(1)}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    console.log(line(header));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const row of table) console.log(line(row));
    console.log();
    console.log(JSON.stringify({ seeds: SEEDS, rows }, (_, v) => (v === Infinity ? null : v), 2));
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
