// The runbook's 24-hour check (seed 001, 11.3/13.4) and its metric checks (6.3), run for real:
// ops-check.sh with the real health-check.sh and backup_freshness.sh under it, against Prometheus and
// Grafana stand-ins on 127.0.0.1 (/api/v1/targets, /api/prometheus/grafana/api/v1/rules) and a
// recorded `docker` on PATH (compose config/ps/logs, inspect, the Redis scan), as the other asset
// tests do.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { COMPOSE_UNIT_DEFAULTS, UNIT_NAME } from "../lib/host/systemd-unit";
import { BACKUP_ASSETS, HEALTH_CHECK_PATH, OPS_CHECK_PATH, SHIPPED_ASSETS, opsCheckCommand } from "../lib/host/backup-files";
import { BACKUP_DIR, REPO_ROOT, describeWithBinaries, requireBinaries } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";
import { startHttpStandIn } from "./helpers/http-stand-in";
import { shellDefault } from "./helpers/shell";

const HOST_DIR = path.join(REPO_ROOT, "assets", "host");
const OPS_CHECK = path.join(HOST_DIR, "ops-check.sh");
const SERVICES = ["db", "redis", "collector", "bot", "dashboard", "n8n", "prometheus", "grafana"];
const REDIS_PASSWORD = "TEST-ONLY-redis-pw-9f8e7d";
const GRAFANA_PASSWORD = "TEST-ONLY-grafana-pw-4c3b2a";
const SEED_RULES = ["BotDown", "ApiLatencyP95High", "VolatilityMetricMissing"];
const HOUR = 3600 * 1000;

/** Docker's RFC 3339 with nanoseconds, as `logs --timestamps` and `inspect` write it. */
const stamp = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace(/\.(\d{3})Z$/, ".$1456789Z");

interface Target {
    job: string;
    instance: string;
    health: "up" | "down" | "unknown";
    lastError?: string;
}

/** Prometheus' HTTP API as far as the check reads it: GET /api/v1/targets. */
async function startPrometheus(): Promise<{ url: string; targets: Target[]; requests: string[]; close: () => Promise<void> }> {
    const targets: Target[] = [];
    const requests: string[] = [];
    const server = await startHttpStandIn((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        if (!req.url?.startsWith("/api/v1/targets")) return void res.writeHead(404).end("404 page not found");
        const activeTargets = targets.map((t) => ({
            labels: { job: t.job, instance: t.instance },
            scrapePool: t.job,
            scrapeUrl: `http://${t.instance}/metrics`,
            health: t.health,
            lastError: t.lastError ?? "",
        }));
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ status: "success", data: { activeTargets, droppedTargets: [] } }));
    });
    return { ...server, targets, requests };
}

interface Rule {
    name: string;
    state: "inactive" | "pending" | "firing";
    health: "ok" | "nodata" | "error";
    lastError?: string;
}

/** Grafana's Prometheus-style rules API (GET /api/prometheus/grafana/api/v1/rules), behind basic auth as admin. */
async function startGrafana(): Promise<{ url: string; rules: Rule[]; requests: string[]; close: () => Promise<void> }> {
    const rules: Rule[] = [];
    const requests: string[] = [];
    const server = await startHttpStandIn((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        if (req.headers.authorization !== `Basic ${Buffer.from(`admin:${GRAFANA_PASSWORD}`).toString("base64")}`) return void res.writeHead(401).end('{"message":"Invalid username or password"}');
        if (req.url !== "/api/prometheus/grafana/api/v1/rules") return void res.writeHead(404).end();
        const groups = [{ name: "coinpilot", file: "CoinPilot", rules: rules.map((r) => ({ ...r, type: "alerting", query: "", lastError: r.lastError ?? "" })) }];
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ status: "success", data: { groups } }));
    });
    return { ...server, rules, requests };
}

/** What the stand-ins answer; each test edits a fresh copy. */
interface HostState {
    unit: string;
    ps: { Service: string; State: string; Health: string; ExitCode?: number }[];
    containers: { Name: string; RestartCount: number; State: { Status: string; StartedAt: string; OOMKilled: boolean; ExitCode: number } }[];
    logs: Record<string, string[]>;
    botStatusKeys: string[];
    backupAgeHours: Record<string, number>;
    /** REDIS_PASSWORD in the app's .env (the Redis stand-in accepts REDIS_PASSWORD only). */
    envRedisPassword: string;
    /** GRAFANA_ADMIN_PASSWORD in the app's .env (the Grafana stand-in accepts GRAFANA_PASSWORD only). */
    envGrafanaPassword: string;
}

function healthyState(): HostState {
    const minutes = (m: number) => m * 60 * 1000;
    return {
        unit: "active/exited",
        ps: SERVICES.map((s) => ({ Service: s, State: "running", Health: s === "db" ? "healthy" : "" })),
        containers: SERVICES.map((s) => ({ Name: `/coinpilot-${s}`, RestartCount: 0, State: { Status: "running", StartedAt: stamp(30 * HOUR), OOMKilled: false, ExitCode: 0 } })),
        logs: {
            // A line every 10 minutes over the day: no silence longer than the 30 minutes allowed.
            bot: Array.from({ length: 144 }, (_, i) => `${stamp(minutes(10 * (143 - i) + 3))} INFO [Entry] KRW-BTC evaluated, no signal`),
            n8n: [`${stamp(2 * HOUR)} Webhook "POST trade" registered`],
        },
        botStatusKeys: ["bot:status:KRW-BTC", "bot:status:KRW-ETH"],
        backupAgeHours: { postgres: 2, redis: 2, n8n: 2 },
        envRedisPassword: REDIS_PASSWORD,
        envGrafanaPassword: GRAFANA_PASSWORD,
    };
}

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** Every argv the `docker` stand-in was called with, one line each. */
    dockerCalls: string;
    /** Every argv curl was called with, and its stdin. */
    curlCalls: string;
}

describeWithBinaries(["python3", "curl", "flock"], "ops-check.sh, against Prometheus and Grafana stand-ins and a recorded docker", () => {
    let prometheus: Awaited<ReturnType<typeof startPrometheus>>;
    let grafana: Awaited<ReturnType<typeof startGrafana>>;
    let work: string;

    beforeAll(async () => {
        requireBinaries(["python3", "curl", "flock"]);
        prometheus = await startPrometheus();
        grafana = await startGrafana();
    });
    afterAll(async () => {
        await prometheus.close();
        await grafana.close();
    });
    beforeEach(() => {
        work = scratchDir("ops-check");
        prometheus.requests.length = 0;
        grafana.requests.length = 0;
        grafana.rules.splice(0, grafana.rules.length, ...SEED_RULES.map((name): Rule => ({ name, state: "inactive", health: "ok" })));
        prometheus.targets.splice(0, prometheus.targets.length, { job: "coinpilot-core", instance: "bot:8000", health: "up" }, { job: "prometheus", instance: "localhost:9090", health: "up" });
    });
    afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

    /** Lays the state out as files the stand-ins read, runs the check (asynchronously: the stand-in Prometheus is in this process). */
    async function check(state: HostState, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
        const bin = path.join(work, "bin");
        const app = path.join(work, "app");
        const envDir = path.join(app, path.dirname(COMPOSE_UNIT_DEFAULTS.envFile));
        for (const dir of [bin, envDir, path.join(work, "logs"), path.join(work, "cron.d")]) fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(app, COMPOSE_UNIT_DEFAULTS.envFile), `POSTGRES_USER=coinpilot\nREDIS_PASSWORD=${state.envRedisPassword}\nGRAFANA_ADMIN_USER=admin\nGRAFANA_ADMIN_PASSWORD=${state.envGrafanaPassword}\n`);
        const services = Object.fromEntries(SERVICES.map((s) => [s, { restart: "unless-stopped" }]));
        fs.writeFileSync(path.join(work, "config.json"), JSON.stringify({ name: "oci", services }));
        fs.writeFileSync(path.join(work, "ps.json"), state.ps.map((r) => JSON.stringify({ Name: `coinpilot-${r.Service}`, ...r })).join("\n"));
        fs.writeFileSync(path.join(work, "ids"), state.containers.map((_, i) => `c0ffee${i}`).join("\n") + "\n");
        fs.writeFileSync(path.join(work, "inspect.json"), JSON.stringify(state.containers));
        for (const [service, lines] of Object.entries(state.logs)) fs.writeFileSync(path.join(work, "logs", `${service}.log`), lines.map((l) => `${l}\n`).join(""));
        fs.writeFileSync(path.join(work, "keys"), state.botStatusKeys.map((k) => `${k}\n`).join(""));
        const backups = path.join(work, "backups");
        for (const [kind, hours] of Object.entries(state.backupAgeHours)) {
            fs.mkdirSync(path.join(backups, kind), { recursive: true });
            const file = path.join(backups, kind, `${kind}_20260301T030500Z.${kind === "postgres" ? "dump" : kind === "redis" ? "rdb" : "tar.gz"}`);
            fs.writeFileSync(file, "x");
            const when = new Date(Date.now() - hours * HOUR);
            fs.utimesSync(file, when, when);
        }
        const docker = path.join(bin, "docker");
        fs.writeFileSync(
            docker,
            [
                "#!/usr/bin/env bash",
                `printf '%s\\n' "$*" >>"${work}/docker-calls"`,
                'args=" $* "',
                `case $args in`,
                `    *" config --format json "*) exec cat "${work}/config.json" ;;`,
                `    *" ps --all --format json "*) exec cat "${work}/ps.json" ;;`,
                `    *" ps --all --quiet "*) exec cat "${work}/ids" ;;`,
                `    *" ps --all "*) echo "NAME  SERVICE  STATUS"; exit 0 ;;`,
                `    *" logs "*) f="${work}/logs/\${*: -1}.log"; [ -f "$f" ] || { echo "no such service: \${*: -1}" >&2; exit 1; }; exec cat "$f" ;;`,
                `    " inspect "*) exec cat "${work}/inspect.json" ;;`,
                // The Redis scan answers only with the .env's password, which must arrive in the environment.
                `    " exec -e REDISCLI_AUTH coinpilot-redis redis-cli --scan --pattern bot:status:* ") [ "$REDISCLI_AUTH" = "${REDIS_PASSWORD}" ] || { echo "AUTH failed: WRONGPASS invalid username-password pair" >&2; exit 1; }; exec cat "${work}/keys" ;;`,
                "esac",
                'echo "docker stand-in: unexpected call: $*" >&2; exit 64',
            ].join("\n"),
            { mode: 0o755 },
        );
        // curl as itself, its argv and stdin recorded on the way.
        const curl = path.join(bin, "curl");
        fs.writeFileSync(curl, `#!/usr/bin/env bash\nprintf 'argv: %s\\n' "$*" >>"${work}/curl-calls"\nif [[ " $* " == *" --config - "* ]]; then stdin=$(cat); printf 'stdin: %s\\n' "$stdin" >>"${work}/curl-calls"; exec curl "$@" <<<"$stdin"; fi\nexec curl "$@"\n`, { mode: 0o755 });
        const [active, sub] = state.unit.split("/");
        fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\nprintf '%s\\n' ${active} ${sub}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "journalctl"), `#!/bin/sh\necho "journal line of $2"\n`, { mode: 0o755 });
        const child = spawn("bash", [OPS_CHECK, ...args], {
            env: {
                PATH: process.env.PATH ?? "",
                DOCKER: docker,
                SYSTEMCTL: path.join(bin, "systemctl"),
                JOURNALCTL: path.join(bin, "journalctl"),
                APP_DIR: app,
                HEALTH_CHECK: path.join(HOST_DIR, "health-check.sh"),
                FRESHNESS_CHECK: path.join(BACKUP_DIR, "backup_freshness.sh"),
                PROMETHEUS_URL: prometheus.url,
                GRAFANA_URL: grafana.url,
                CURL: curl,
                BACKUP_ROOT: backups,
                // The health gate's reports read this test's cron tables, not the machine's.
                CRON_PATHS: path.join(work, "cron.d"),
                OUR_CRON: path.join(work, "cron.d", "coinpilot-backup"),
                ...env,
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
        const recorded = (file: string) => (fs.existsSync(path.join(work, file)) ? fs.readFileSync(path.join(work, file), "utf8") : "");
        return { status, stdout, stderr, dockerCalls: recorded("docker-calls"), curlCalls: recorded("curl-calls") };
    }

    /** The verdict line of each check, by name. */
    const verdicts = (stdout: string) => Object.fromEntries([...stdout.matchAll(/^(PASS|FAIL) {2}(\S+) +(.*)$/gm)].map((m) => [m[2], `${m[1]} ${m[3]}`]));

    it("passes a healthy host: seven checks PASS, [RESULT] PASSED, exit 0", async () => {
        const run = await check(healthyState());
        expect(run.stderr).toBe("");
        expect(run.status).toBe(0);
        const lines = run.stdout.trimEnd().split("\n");
        expect(lines[0]).toMatch(/^CoinPilot ops check on \S+ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, window 24h$/);
        expect(lines[lines.length - 1]).toBe("[RESULT] PASSED");
        expect(verdicts(run.stdout)).toEqual({
            health: `PASS ${UNIT_NAME} active (exited); all services running`,
            restarts: "PASS 8 containers, none restarted by Docker or OOM-killed in the window",
            logs: "PASS bot: no line matches critical|traceback|undefined|failed; n8n: no line matches error|failed|not registered",
            bot: expect.stringMatching(/^PASS the bot's last log line is [34]m old, its longest silence 10m \(limit 30m\)$/),
            targets: "PASS 2 targets up: coinpilot-core (bot:8000), prometheus (localhost:9090)",
            grafana: "PASS 3 alert rules Normal: ApiLatencyP95High, BotDown, VolatilityMetricMissing",
            backups: expect.stringMatching(/^PASS backups fresh: postgres 2h \(postgres_20260301T030500Z\.dump\) redis 2h \(\S+\) n8n 2h \(\S+\); \S+ free on the backup volume$/),
        });
        // The health gate's own report (headroom) follows its verdict; the bot's status keys follow its.
        expect(run.stdout).toMatch(/^PASS {2}health .*\n {16}headroom: memory \d+ MiB available/m);
        expect(run.stdout).toContain("\n                2 bot:status:* key(s) in Redis: bot:status:KRW-BTC bot:status:KRW-ETH\n");
        // Prometheus asked on its API, the logs of the window, the Redis password never on a command line.
        expect(prometheus.requests).toEqual(["GET /api/v1/targets?state=active"]);
        expect(grafana.requests).toEqual(["GET /api/prometheus/grafana/api/v1/rules"]);
        // Grafana's admin password reaches curl on stdin only.
        expect(run.curlCalls).toContain(`stdin: user = "admin:${GRAFANA_PASSWORD}"`);
        expect(run.curlCalls.split("\n").filter((l) => l.startsWith("argv:")).join("\n")).not.toContain(GRAFANA_PASSWORD);
        expect(run.stdout).not.toContain(GRAFANA_PASSWORD);
        expect(run.dockerCalls).toContain("compose --env-file deploy/cloud/oci/.env -f deploy/cloud/oci/docker-compose.prod.yml logs --no-color --no-log-prefix --timestamps --since 24h bot\n");
        expect(run.dockerCalls).toContain("inspect c0ffee0 c0ffee1 c0ffee2 c0ffee3 c0ffee4 c0ffee5 c0ffee6 c0ffee7\n");
        expect(run.dockerCalls).not.toContain(REDIS_PASSWORD);
        expect(run.stdout).not.toContain(REDIS_PASSWORD);
    });

    it("fails with what is wrong: a target down and a job missing, a firing and a failing rule and one missing, errors in the logs, a restarted and an OOM-killed container, a silent bot, stale backups", async () => {
        prometheus.targets.splice(0, prometheus.targets.length, { job: "node", instance: "host:9100", health: "up" }, { job: "prometheus", instance: "localhost:9090", health: "down", lastError: 'Get "http://localhost:9090/metrics": context deadline exceeded' });
        const state = healthyState();
        state.containers[3] = { Name: "/coinpilot-bot", RestartCount: 2, State: { Status: "running", StartedAt: stamp(HOUR), OOMKilled: false, ExitCode: 0 } };
        state.containers[2] = { Name: "/coinpilot-collector", RestartCount: 0, State: { Status: "exited", StartedAt: stamp(5 * HOUR), OOMKilled: true, ExitCode: 137 } };
        // The bot's lines stop 2 hours ago, the last of them a traceback.
        state.logs.bot = [...state.logs.bot.filter((l) => Date.parse(l.split(" ")[0]) < Date.now() - 2 * HOUR), `${stamp(2 * HOUR)} CRITICAL Traceback (most recent call last):`];
        state.logs.n8n.push(`${stamp(HOUR)} Received request for unknown webhook: The requested webhook "POST trade" is not registered.`);
        state.botStatusKeys = [];
        state.backupAgeHours.redis = 30;
        grafana.rules.splice(0, grafana.rules.length, { name: "BotDown", state: "firing", health: "ok" }, { name: "ApiLatencyP95High", state: "inactive", health: "error", lastError: "datasource not found" });
        const run = await check(state);
        expect(run.status).toBe(1);
        expect(run.stdout.trimEnd().split("\n").pop()).toBe("[RESULT] FAILED: restarts logs bot targets grafana backups");
        const v = verdicts(run.stdout);
        expect(v.health).toMatch(/^PASS /);
        expect(v.restarts).toBe("FAIL 2 of 8 containers restarted or OOM-killed");
        expect(run.stdout).toContain("                coinpilot-collector: killed by the OOM killer (exited, exit 137)\n                coinpilot-bot: restarted by Docker (2 restarts since it was created, the last 1h00m ago)\n");
        expect(v.logs).toBe("FAIL bot: 1 line(s) match critical|traceback|undefined|failed; n8n: 1 line(s) match error|failed|not registered");
        expect(run.stdout).toMatch(/--- bot, the last of them:\n {16}\S+ CRITICAL Traceback \(most recent call last\):\n/);
        expect(run.stdout).toContain('is not registered.');
        expect(v.bot).toMatch(/^FAIL the bot's last log line is 2h00m old, its longest silence 2h00m \(limit 30m\), from \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
        expect(run.stdout).toContain("                no bot:status:* key in Redis: the bot has not written its status\n");
        expect(v.targets).toBe("FAIL 1 of 2 targets not up, 1 required job(s) without a target");
        expect(run.stdout).toContain('                prometheus (localhost:9090): down: Get "http://localhost:9090/metrics": context deadline exceeded\n                job coinpilot-core: no active target (is it in prometheus.yml?)\n');
        expect(v.grafana).toBe("FAIL 2 of 2 alert rules not Normal, 1 required rule(s) missing");
        expect(run.stdout).toContain(
            "                BotDown: firing\n                ApiLatencyP95High: Normal, health error: datasource not found\n                VolatilityMetricMissing: no such alert rule (seed 001, 9.1)\n",
        );
        expect(v.backups).toMatch(/^FAIL backups are STALE: redis: newest backup redis_20260301T030500Z\.rdb is 30h old \(limit 26h\)$/);
    });

    it("passes a rule without data that is Normal (9.2's No data policy), naming it; fails when Grafana refuses the .env's admin password", async () => {
        grafana.rules[2].health = "nodata";
        const nodata = await check(healthyState());
        expect(nodata.status).toBe(0);
        expect(nodata.stdout).toContain("                VolatilityMetricMissing: Normal, health nodata (9.2: its No data handling is Normal)\n");
        const state = healthyState();
        state.envGrafanaPassword = "not-the-grafana-one";
        const refused = await check(state);
        expect(refused.status).toBe(1);
        expect(verdicts(refused.stdout).grafana).toBe("FAIL Grafana refused the .env's GRAFANA_ADMIN_USER/GRAFANA_ADMIN_PASSWORD (HTTP 401; changed in the UI?)");
        expect(refused.stdout).not.toContain("not-the-grafana-one");
    });

    it("only counts restarts within the window: --since 6h passes a restart 7 hours ago that the default 24h fails", async () => {
        const state = healthyState();
        state.containers[3].RestartCount = 1;
        state.containers[3].State.StartedAt = stamp(7 * HOUR);
        const day = await check(state);
        expect(verdicts(day.stdout).restarts).toBe("FAIL 1 of 8 containers restarted or OOM-killed");
        expect(day.stdout).toContain("coinpilot-bot: restarted by Docker (1 restart since it was created, the last 7h00m ago)");
        fs.rmSync(path.join(work, "docker-calls"));
        const six = await check(state, ["--since", "6h"]);
        expect(six.status).toBe(0);
        expect(verdicts(six.stdout).restarts).toMatch(/^PASS /);
        expect(six.stdout.split("\n")[0]).toMatch(/, window 6h$/);
        expect(six.dockerCalls).toContain(" logs --no-color --no-log-prefix --timestamps --since 6h bot\n");
        expect(six.dockerCalls).toContain(" logs --no-color --no-log-prefix --timestamps --since 6h n8n\n");
    });

    it("fails the health check with the gate's reason, without the unit's whole journal", async () => {
        const state = healthyState();
        state.unit = "failed/failed";
        const run = await check(state);
        expect(run.status).toBe(1);
        expect(verdicts(run.stdout).health).toBe("FAIL the deploy's health gate fails (exit 1); its last lines say why:");
        expect(run.stdout).toContain(`                ${UNIT_NAME} failed (failed/failed)\n`);
        expect(run.stdout).toContain("                --- docker compose ps\n");
        expect(run.stdout).not.toContain("journal line of");
        expect(run.stdout.trimEnd().split("\n").pop()).toBe("[RESULT] FAILED: health");
    });

    it("fails the target check when Prometheus does not answer, or answers an error", async () => {
        const closed = await check(healthyState(), [], { PROMETHEUS_URL: "http://127.0.0.1:1" });
        expect(verdicts(closed.stdout).targets).toMatch(/^FAIL Prometheus does not answer at http:\/\/127\.0\.0\.1:1: curl: \(7\) Failed to connect/);
        const wrongPath = await check(healthyState(), [], { PROMETHEUS_URL: `${prometheus.url}/prefix` });
        expect(verdicts(wrongPath.stdout).targets).toBe(`FAIL Prometheus answered HTTP 404 at ${prometheus.url}/prefix/api/v1/targets`);
        expect(wrongPath.status).toBe(1);
    });

    it("fails the bot check when Redis refuses the .env's password, naming no password", async () => {
        const state = healthyState();
        state.envRedisPassword = "not-the-one";
        const run = await check(state);
        expect(run.status).toBe(1);
        expect(verdicts(run.stdout).bot).toMatch(/^FAIL the bot's last log line/);
        expect(run.stdout).toContain("                reading bot:status:* from coinpilot-redis failed: AUTH failed: WRONGPASS invalid username-password pair\n");
        expect(run.stdout + run.dockerCalls).not.toContain("not-the-one");
    });

    it("fails the logs and bot checks, saying why, when a service's logs cannot be read", async () => {
        const run = await check(healthyState(), [], { BOT_SERVICE: "trader" });
        expect(run.status).toBe(1);
        const v = verdicts(run.stdout);
        expect(v.logs).toBe("FAIL docker compose logs trader failed: no such service: trader");
        expect(run.stdout).toContain("\n                n8n: no line matches error|failed|not registered\n");
        expect(v.bot).toBe("FAIL docker compose logs trader failed: no such service: trader");
        // No empty detail lines.
        expect(run.stdout).not.toMatch(/\n {16}\n/);
    });

    it("appends the report to --output, and refuses bad usage with exit 2", async () => {
        const out = path.join(work, "monitoring-24h.log");
        const run = await check(healthyState(), ["--output", out]);
        expect(run.status).toBe(0);
        expect(fs.readFileSync(out, "utf8")).toBe(run.stdout);
        for (const args of [["--since", "1d"], ["--since", "0h"], ["--since"], ["--verbose"]]) {
            const bad = await check(healthyState(), args);
            expect([args, bad.status]).toEqual([args, 2]);
            expect(bad.stderr).toMatch(/usage: ops-check\.sh \[--since DURATION\] \[--output FILE\]/);
            expect(bad.stdout).toBe("");
        }
    });
});

describe("the ops check on the host", () => {
    const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");

    it("is installed as root's 0755 script beside the health gate, whose paths and layout it uses", () => {
        expect(SHIPPED_ASSETS.find((a) => a.source === "assets/host/ops-check.sh")).toMatchObject({ remotePath: OPS_CHECK_PATH, mode: "0755" });
        expect(SHIPPED_ASSETS.find((a) => a.source === "assets/host/health-check.sh")).toMatchObject({ remotePath: HEALTH_CHECK_PATH, mode: "0755" });
        const script = read("assets/host/ops-check.sh");
        expect(shellDefault(script, "HEALTH_CHECK")).toBe(HEALTH_CHECK_PATH);
        const freshness = BACKUP_ASSETS.find((a) => a.source === "assets/backup/backup_freshness.sh")!;
        expect(shellDefault(script, "FRESHNESS_CHECK")).toBe(freshness.remotePath);
        expect(shellDefault(script, "APP_DIR")).toBe(COMPOSE_UNIT_DEFAULTS.appDir);
        expect(shellDefault(script, "COMPOSE_FILE")).toBe(COMPOSE_UNIT_DEFAULTS.composeFile);
        expect(shellDefault(script, "COMPOSE_ENV_FILE")).toBe(COMPOSE_UNIT_DEFAULTS.envFile);
        expect(shellDefault(script, "UNIT")).toBe(UNIT_NAME);
        // Prometheus on the host's loopback, where the compose file publishes it (README "Reaching the internal UIs").
        expect(shellDefault(script, "PROMETHEUS_URL")).toBe("http://127.0.0.1:9090");
    });

    it("opsCheckCommand runs it over ssh, extra arguments appended", () => {
        expect(opsCheckCommand("203.0.113.10")).toBe("ssh ubuntu@203.0.113.10 sudo /opt/coinpilot-ops/ops-check.sh");
    });
});
