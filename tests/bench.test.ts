// The benchmark scripts keep working as the code under them changes: each runs end to end on a
// small workload and prints its JSON. Only the shape is checked, never a timing.
import { spawnSync } from "child_process";
import * as path from "path";
import { PG_BIN, describeWithBinaries, requireBinaries } from "./helpers/servers";

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, "..");

function runScript(script: string, env: Record<string, string>) {
    const result = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", script], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, ...env },
    });
    expect({ status: result.status, stderr: result.status === 0 ? "" : result.stderr }).toEqual({ status: 0, stderr: "" });
    // The JSON document is the last thing each benchmark prints.
    return JSON.parse(result.stdout.slice(result.stdout.search(/^\{/m)));
}

describe("bench:hunt", () => {
    it("runs every world for the real path, its variants and both baselines, and judges the targets", () => {
        // The short worlds only: a smoke run, not a measurement.
        const out = runScript("scripts/bench-hunt.ts", { BENCH_SEEDS: "1", BENCH_WORLDS: "one AD, windows of seconds|tight rate limit \\(2" });
        expect(out.seeds).toBe(1);
        const pairs = new Set(out.rows.map((r: { world: string; policy: string }) => `${r.world} / ${r.policy}`));
        expect(pairs.size).toBe(out.rows.length);
        expect(new Set(out.rows.map((r: { world: string }) => r.world)).size).toBe(2);
        expect(out.rows.map((r: { policy: string }) => r.policy)).toEqual(
            expect.arrayContaining(["coinpilot (real path)", "coinpilot, provider retries on", "coinpilot, no state file", "seed script", "hitrov cron"]),
        );
        for (const row of out.rows) expect(row.meanCalls).toBeGreaterThan(0);
        expect(out.verdicts).toHaveLength(2);
    });
});

const BACKUP_TOOLS = [path.join(PG_BIN, "pg_dump"), path.join(PG_BIN, "initdb"), "redis-server", "redis-cli", "sqlite3", "tar", "gzip", "sha256sum", "flock"];

describeWithBinaries(BACKUP_TOOLS, "bench:backup", () => {
    it("round-trips postgres, redis and n8n and reports every step", () => {
        requireBinaries(BACKUP_TOOLS);
        const out = runScript("scripts/bench-backup.ts", { BENCH_ROWS: "500", BENCH_KEYS: "300", BENCH_N8N_MB: "1" });
        expect(out).toMatchObject({ rows: 500, keys: 300, n8nMiB: 1 });
        expect(out.results.map((r: { step: string }) => r.step.split(" ")[0])).toEqual(["postgres", "postgres", "redis", "redis", "n8n", "verify_backups.sh", "restore_rehearsal.sh"]);
        expect(out.results[1].detail).toBe("500 rows back, equal");
        expect(out.results[3].detail).toBe("300 keys back, digest equal");
    });
});
