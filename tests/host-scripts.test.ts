// The host scripts run for real here: real iptables in a private network namespace, real files,
// real git. Only what cannot exist in CI (systemd as PID 1, a Docker engine, cloud-init) is a
// recorded command standing in for it, through the variables each script reads.
import { spawnSync, SpawnSyncReturns } from "child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "fs";
import { userInfo } from "os";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";

const HOST = path.resolve(__dirname, "..", "assets", "host");
const ME = userInfo().username;

function requireBinary(name: string, apt: string): void {
    if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) throw new Error(`${name} is missing: apt-get install -y ${apt}`);
}

function run(script: string, args: string[], options: { env?: Record<string, string>; input?: string } = {}): SpawnSyncReturns<string> {
    return spawnSync("bash", [path.join(HOST, script), ...args], {
        encoding: "utf8",
        input: options.input ?? "",
        env: { ...process.env, ...options.env },
    });
}

/** An executable shell script standing in for a command. */
function fakeCommand(dir: string, name: string, body: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
}

describe("open-web-ports.sh (real iptables in a private network namespace)", () => {
    // The INPUT chain and rules file of OCI's Ubuntu images (InstanceServices shortened).
    const FIXTURE = readFileSync(path.join(__dirname, "fixtures", "oci-rules.v4"), "utf8");
    const ACCEPT = (port: number) => `-A INPUT -p tcp -m state --state NEW -m tcp --dport ${port} -j ACCEPT`;
    const REJECT = "-A INPUT -j REJECT --reject-with icmp-host-prohibited";

    beforeAll(() => {
        requireBinary("iptables", "iptables");
        requireBinary("unshare", "util-linux");
    });

    /** Loads `rules` live in a fresh netns, runs the script `times` times, and returns each run's state. */
    function inNamespace(rules: string, times: number) {
        const dir = scratchDir("fw");
        const rulesFile = path.join(dir, "rules.v4");
        writeFileSync(rulesFile, rules);
        chmodSync(rulesFile, 0o640);
        const driver = [
            "set -e",
            `iptables-restore < "${rulesFile}"`,
            `for i in $(seq ${times}); do`,
            `  RULES_FILE="${rulesFile}" bash "${HOST}/open-web-ports.sh" > "${dir}/out.$i"`,
            `  iptables -S INPUT > "${dir}/live.$i"`,
            `  cp -p "${rulesFile}" "${dir}/file.$i"`,
            "done",
        ].join("\n");
        // Root makes a network namespace directly; anyone else through a user namespace.
        const unshare = process.getuid?.() === 0 ? ["-n"] : ["-r", "-n"];
        const result = spawnSync("unshare", [...unshare, "bash", "-c", driver], { encoding: "utf8" });
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
        return {
            dir,
            runs: Array.from({ length: times }, (_, i) => ({ out: read(`out.${i + 1}`), live: read(`live.${i + 1}`).trim().split("\n"), file: read(`file.${i + 1}`) })),
            leftovers: readdirSync(dir).filter((f) => f.startsWith("rules.v4.")),
            mode: statSync(rulesFile).mode & 0o777,
        };
    }

    it("puts ACCEPT 80 and 443 right above the REJECT, live and in rules.v4, and changes nothing on a second run", () => {
        const { runs, leftovers, mode } = inNamespace(FIXTURE, 2);
        const [first, second] = runs;
        const reject = first.live.indexOf(REJECT);
        expect(first.live.slice(reject - 3, reject + 1)).toEqual([
            "-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT",
            ACCEPT(80),
            ACCEPT(443),
            REJECT,
        ]);
        const fileLines = first.file.split("\n");
        const fileReject = fileLines.indexOf("-A INPUT -j REJECT --reject-with icmp-host-prohibited");
        expect(fileLines.slice(fileReject - 2, fileReject)).toEqual([ACCEPT(80), ACCEPT(443)]);
        // Nothing else in the file moved: removing the two lines gives the fixture back.
        expect(fileLines.filter((l) => l !== ACCEPT(80) && l !== ACCEPT(443)).join("\n")).toBe(FIXTURE);
        expect(first.out).toMatch(/persisted in/);

        expect(second.out).toMatch(/live rules already accept: 80 443/);
        expect(second.out).toMatch(/already accepts: 80 443/);
        expect(second.live).toEqual(first.live);
        expect(second.file).toBe(first.file);
        expect(leftovers).toEqual([]);
        expect(mode).toBe(0o640);
    });

    it("moves an ACCEPT that was appended below the REJECT (the usual iptables -A mistake)", () => {
        const misplaced = FIXTURE.replace(`${REJECT}\n`, `${REJECT}\n${ACCEPT(80)}\n`);
        const { runs } = inNamespace(misplaced, 1);
        const { live, file } = runs[0];
        for (const rules of [live, file.split("\n")]) {
            expect(rules.filter((l) => l === ACCEPT(80))).toHaveLength(1);
            expect(rules.indexOf(ACCEPT(80))).toBeLessThan(rules.findIndex((l) => l.startsWith("-A INPUT") && l.includes("-j REJECT")));
        }
    });

    it("refuses a rules file it cannot place rules in, leaving it untouched", () => {
        const dir = scratchDir("fw-bad");
        const rulesFile = path.join(dir, "rules.v4");
        writeFileSync(rulesFile, "*nat\nCOMMIT\n");
        const unshare = process.getuid?.() === 0 ? ["-n"] : ["-r", "-n"];
        const result = spawnSync("unshare", [...unshare, "bash", "-c", `RULES_FILE="${rulesFile}" bash "${HOST}/open-web-ports.sh"`], { encoding: "utf8" });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/no \*filter table/);
        expect(readFileSync(rulesFile, "utf8")).toBe("*nat\nCOMMIT\n");
    });
});

describe("write-env.sh (real files)", () => {
    const CONTENT = "# header\nPOSTGRES_USER=coinpilot\nPOSTGRES_PASSWORD=abc123\nOPENAI_API_KEY='sk-$not expanded'\n";

    it("writes atomically with mode 600 and the deploy user as owner, then leaves identical content alone", () => {
        const dir = scratchDir("env");
        const target = path.join(dir, ".env");
        const first = run("write-env.sh", [target, ME], { input: CONTENT });
        expect(first.stderr).toBe("");
        expect(first.stdout).toBe(`${target} written\n`);
        expect(readFileSync(target, "utf8")).toBe(CONTENT);
        const stat = statSync(target);
        expect(stat.mode & 0o777).toBe(0o600);
        expect(stat.uid).toBe(userInfo().uid);

        chmodSync(target, 0o644);
        const second = run("write-env.sh", [target, ME], { input: CONTENT });
        expect(second.stdout).toBe(`${target} unchanged\n`);
        expect(statSync(target).ino).toBe(stat.ino);
        expect(statSync(target).mode & 0o777).toBe(0o600);

        const changed = run("write-env.sh", [target, ME], { input: CONTENT + "REDIS_PASSWORD=xyz\n" });
        expect(changed.stdout).toBe(`${target} written\n`);
        expect(readFileSync(target, "utf8")).toBe(CONTENT + "REDIS_PASSWORD=xyz\n");
        expect(statSync(target).ino).not.toBe(stat.ino); // replaced by rename, never rewritten in place
        expect(readdirSync(dir)).toEqual([".env"]);
    });

    it("refuses empty input and keeps the existing file", () => {
        const dir = scratchDir("env-empty");
        const target = path.join(dir, ".env");
        writeFileSync(target, CONTENT, { mode: 0o600 });
        const result = run("write-env.sh", [target, ME], { input: "" });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/refusing to replace/);
        expect(readFileSync(target, "utf8")).toBe(CONTENT);
        expect(readdirSync(dir)).toEqual([".env"]);
    });

    it("fails before writing when the directory or the user does not exist", () => {
        const dir = scratchDir("env-missing");
        expect(run("write-env.sh", [path.join(dir, "nope", ".env"), ME], { input: CONTENT }).stderr).toMatch(/does not exist/);
        const noUser = run("write-env.sh", [path.join(dir, ".env"), "no-such-user-coinpilot"], { input: CONTENT });
        expect(noUser.status).not.toBe(0);
        expect(readdirSync(dir)).toEqual([]);
    });
});

describe("checkout-app.sh (real git, local repository)", () => {
    function git(cwd: string, ...args: string[]): string {
        const result = spawnSync("git", args, {
            cwd,
            encoding: "utf8",
            env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
        });
        if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
        return result.stdout.trim();
    }

    /** A bare "origin" with v1 (tagged) and a later commit on main. */
    function origin() {
        const dir = scratchDir("origin");
        const work = path.join(dir, "work");
        mkdirSync(work);
        git(work, "init", "-q", "-b", "main");
        mkdirSync(path.join(work, "deploy/cloud/oci"), { recursive: true });
        writeFileSync(path.join(work, "deploy/cloud/oci/docker-compose.prod.yml"), "services: {}\n");
        writeFileSync(path.join(work, "VERSION"), "1\n");
        git(work, "add", ".");
        git(work, "commit", "-q", "-m", "v1");
        git(work, "tag", "v1");
        const v1 = git(work, "rev-parse", "HEAD");
        writeFileSync(path.join(work, "VERSION"), "2\n");
        git(work, "commit", "-q", "-am", "v2");
        const v2 = git(work, "rev-parse", "HEAD");
        git(dir, "clone", "-q", "--bare", work, "origin.git");
        return { url: `file://${path.join(dir, "origin.git")}`, v1, v2 };
    }

    beforeAll(() => requireBinary("git", "git"));

    it("checks out a tag, is a no-op the second time, follows a new ref and keeps the untracked .env", () => {
        const { url, v1, v2 } = origin();
        const app = path.join(scratchDir("app"), "coin-pilot");
        const first = run("checkout-app.sh", [url, "v1", app, ME], { input: "\n" });
        expect(first.stderr).toBe("");
        expect(first.stdout).toBe(`checked out v1 (${v1})\n`);
        expect(readFileSync(path.join(app, "VERSION"), "utf8")).toBe("1\n");

        const again = run("checkout-app.sh", [url, "v1", app, ME], { input: "\n" });
        expect(again.stdout).toBe(`already at v1 (${v1})\n`);

        writeFileSync(path.join(app, "deploy/cloud/oci/.env"), "KEEP=1\n");
        writeFileSync(path.join(app, "VERSION"), "edited on the host\n");
        const main = run("checkout-app.sh", [url, "main", app, ME], { input: "\n" });
        expect(main.stdout).toBe(`checked out main (${v2})\n`);
        expect(readFileSync(path.join(app, "VERSION"), "utf8")).toBe("2\n");
        expect(readFileSync(path.join(app, "deploy/cloud/oci/.env"), "utf8")).toBe("KEEP=1\n");

        const bySha = run("checkout-app.sh", [url, v1, app, ME], { input: "\n" });
        expect(bySha.stdout).toBe(`checked out ${v1} (${v1})\n`);
        expect(git(app, "remote", "get-url", "origin")).toBe(url);
    });

    it("rejects a ref that could be read as an option", () => {
        const { url } = origin();
        const result = run("checkout-app.sh", [url, "--upload-pack=evil", path.join(scratchDir("app"), "x"), ME], { input: "\n" });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/invalid ref/);
    });

    it("hands the stdin token to git only through GIT_ASKPASS: not in argv, the URL or .git/config", () => {
        const { url, v1 } = origin();
        const bin = scratchDir("git-spy");
        const log = path.join(bin, "argv.log");
        const answers = path.join(bin, "askpass.log");
        // A git that records its argv and, on fetch, asks for credentials the way git does over HTTPS.
        fakeCommand(bin, "git", [
            `printf '%s\\n' "$*" >> "${log}"`,
            `if [[ " $* " == *" fetch "* ]]; then`,
            `  { "$GIT_ASKPASS" "Username for 'https://github.com': "; "$GIT_ASKPASS" "Password for 'https://x-access-token@github.com': "; } >> "${answers}"`,
            "fi",
            `exec /usr/bin/git "$@"`,
        ].join("\n"));
        const token = "ghp_exampleTokenValue123";
        const app = path.join(scratchDir("app"), "coin-pilot");
        const result = run("checkout-app.sh", [url, "v1", app, ME], { input: `${token}\n`, env: { PATH: `${bin}:${process.env.PATH}` } });
        expect(result.stdout).toBe(`checked out v1 (${v1})\n`);
        expect(readFileSync(answers, "utf8")).toBe(`x-access-token\n${token}\n`);
        expect(readFileSync(log, "utf8")).not.toContain(token);
        expect(readFileSync(path.join(app, ".git/config"), "utf8")).not.toContain(token);
        expect(result.stdout + result.stderr).not.toContain(token);
    });
});

describe("install-unit.sh (systemctl recorded)", () => {
    function setup(failReload = false) {
        const dir = scratchDir("unit");
        const unitDir = path.join(dir, "system");
        mkdirSync(unitDir);
        const log = path.join(dir, "systemctl.log");
        const systemctl = fakeCommand(dir, "systemctl", `echo "$*" >> "${log}"\ncase "$1" in is-active) echo active ;; reload-or-restart) exit ${failReload ? 1 : 0} ;; esac`);
        const journalctl = fakeCommand(dir, "journalctl", 'echo "journal tail for $2"');
        const staged = path.join(dir, "coinpilot-compose.service");
        writeFileSync(staged, "[Unit]\nDescription=test\n");
        const env = { SYSTEMCTL: systemctl, JOURNALCTL: journalctl, UNIT_DIR: unitDir };
        return { dir, unitDir, log, staged, env };
    }

    it("installs, reloads systemd only when the file changed, enables and applies every time", () => {
        const { unitDir, log, staged, env } = setup();
        const first = run("install-unit.sh", [staged, "coinpilot-compose.service"], { env });
        expect(first.status).toBe(0);
        const installed = path.join(unitDir, "coinpilot-compose.service");
        expect(readFileSync(installed, "utf8")).toBe(readFileSync(staged, "utf8"));
        expect(statSync(installed).mode & 0o777).toBe(0o644);
        expect(readFileSync(log, "utf8").trim().split("\n")).toEqual([
            "daemon-reload",
            "enable --quiet coinpilot-compose.service",
            "reload-or-restart coinpilot-compose.service",
            "is-active coinpilot-compose.service",
        ]);
        writeFileSync(log, "");
        const second = run("install-unit.sh", [staged, "coinpilot-compose.service"], { env });
        expect(second.stdout).toMatch(/unchanged/);
        expect(readFileSync(log, "utf8")).not.toMatch(/daemon-reload/);
    });

    it("fails with the unit's journal tail when the stack does not start", () => {
        const { staged, env } = setup(true);
        const result = run("install-unit.sh", [staged, "coinpilot-compose.service"], { env });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/failed to start/);
        expect(result.stderr).toMatch(/journal tail for coinpilot-compose.service/);
    });
});

describe("health-check.sh (recorded compose output)", () => {
    const SERVICES = ["db", "redis", "collector", "bot", "dashboard", "n8n", "prometheus", "grafana"];
    const LOOPBACK: Record<string, number> = { db: 5432, redis: 6379, dashboard: 8501, n8n: 5678, prometheus: 9090, grafana: 3000 };

    function composeConfig(edit: (services: Record<string, any>) => void = () => {}): string {
        const services: Record<string, any> = {};
        for (const name of SERVICES) {
            const port = LOOPBACK[name];
            services[name] = port ? { ports: [{ mode: "ingress", host_ip: "127.0.0.1", target: port, published: String(port), protocol: "tcp" }] } : {};
        }
        edit(services);
        return JSON.stringify({ name: "oci", services });
    }

    function psRows(state: (name: string) => { State: string; Health?: string } = () => ({ State: "running", Health: "" })) {
        return SERVICES.map((name) => ({ Name: `coinpilot-${name}`, Service: name, Health: "", ...state(name) }));
    }

    function check(opts: { config?: string; ps?: string; unit?: string; attempts?: number; appFiles?: Record<string, string>; env?: Record<string, string> }) {
        const dir = scratchDir("health");
        writeFileSync(path.join(dir, "config.json"), opts.config ?? composeConfig());
        writeFileSync(path.join(dir, "ps.json"), opts.ps ?? psRows().map((r) => JSON.stringify(r)).join("\n"));
        const docker = fakeCommand(dir, "docker", [
            `[[ " $* " == *" config --format json "* ]] && exec cat "${dir}/config.json"`,
            `[[ " $* " == *" ps --all --format json "* ]] && exec cat "${dir}/ps.json"`,
            'echo "docker $*"',
        ].join("\n"));
        const systemctl = fakeCommand(dir, "systemctl", `printf '%s\\n' ${(opts.unit ?? "active/exited").split("/").join(" ")}`);
        const journalctl = fakeCommand(dir, "journalctl", 'echo "journal tail for $2"');
        const app = path.join(dir, "app");
        mkdirSync(app);
        for (const [file, text] of Object.entries(opts.appFiles ?? {})) {
            mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
            writeFileSync(path.join(app, file), text);
        }
        return run("health-check.sh", ["coinpilot-compose.service", app, "deploy/cloud/oci/docker-compose.prod.yml", "deploy/cloud/oci/.env"], {
            env: {
                DOCKER: docker,
                SYSTEMCTL: systemctl,
                JOURNALCTL: journalctl,
                HEALTH_ATTEMPTS: String(opts.attempts ?? 2),
                HEALTH_INTERVAL: "0",
                // The cron tables of this test, not the machine's.
                CRON_PATHS: path.join(dir, "cron.d"),
                OUR_CRON: path.join(dir, "cron.d", "coinpilot-backup"),
                ...opts.env,
            },
        });
    }

    beforeAll(() => requireBinary("python3", "python3"));

    it("passes when the unit is active (exited) and every service runs (Compose >= 2.21 line format)", () => {
        const result = check({});
        expect(result.stderr).toBe("");
        expect(result.stdout).toMatch(/^headroom: .*\ncoinpilot-compose.service active \(exited\); all services running\n$/);
    });

    it("reports memory, swap and disk headroom (the OOM and full disk of seed 003)", () => {
        const dir = scratchDir("meminfo");
        writeFileSync(path.join(dir, "meminfo"), "MemTotal:       12175360 kB\nMemFree:          512000 kB\nMemAvailable:    9437184 kB\nSwapTotal:       4194300 kB\nSwapFree:        4096000 kB\n");
        const result = check({ env: { MEMINFO: path.join(dir, "meminfo"), DISK_PATHS: `${dir} /nonexistent-data-volume` } });
        expect(result.status).toBe(0);
        const line = result.stdout.split("\n")[0];
        expect(line).toMatch(new RegExp(`^headroom: memory 9216 MiB available of 11890 MiB, swap 4000 MiB free of 4095 MiB; disk ${dir} \\S+ free of \\S+ \\(\\d+% used\\)$`));
    });

    it("names the keys the app's .env.example lists that the .env lacks (a warning, not a failure)", () => {
        const env = "POSTGRES_USER=coinpilot\nLLM_MODE=hybrid\n";
        const example = "# comment\nPOSTGRES_USER=\nexport LLM_MODE=rule\nN8N_URL=http://n8n:5678\nUPBIT_ACCESS_KEY=\n";
        const beside = check({ appFiles: { "deploy/cloud/oci/.env": env, "deploy/cloud/oci/.env.example": example } });
        expect(beside.status).toBe(0);
        expect(beside.stdout).toContain("WARN: deploy/cloud/oci/.env.example lists keys the .env lacks (add them to coinpilot:appEnv or coinpilot:appSecretEnv): N8N_URL UPBIT_ACCESS_KEY\n");
        const top = check({ appFiles: { "deploy/cloud/oci/.env": `${env}N8N_URL=x\nUPBIT_ACCESS_KEY=y\n`, ".env.example": example } });
        expect(top.stdout).toContain("the .env has every key .env.example lists\n");
    });

    it("names a backup cron besides ours, installed or shipped by the app (a second, parallel system)", () => {
        const dir = scratchDir("crons");
        mkdirSync(path.join(dir, "cron.d"));
        writeFileSync(path.join(dir, "cron.d", "coinpilot-backup"), "5 3 * * * root /opt/coinpilot-ops/backup/postgres_backup.sh\n");
        writeFileSync(path.join(dir, "cron.d", "app-backup"), "# 1 1 * * * root /opt/coin-pilot/scripts/backup/old.sh\n5 3 * * * root /opt/coin-pilot/scripts/backup/postgres_backup.sh >> /var/log/coinpilot/postgres-backup.log 2>&1\n");
        writeFileSync(path.join(dir, "cron.d", "other"), "0 * * * * root /usr/bin/true\n");
        const env = { CRON_PATHS: path.join(dir, "cron.d"), OUR_CRON: path.join(dir, "cron.d", "coinpilot-backup") };
        const result = check({ env, appFiles: { "deploy/cloud/oci/cron/coinpilot-backup.cron": "5 3 * * * root /opt/coin-pilot/scripts/backup/postgres_backup.sh\n" } });
        expect(result.status).toBe(0);
        const warnings = result.stdout.split("\n").filter((l) => l.startsWith("WARN:"));
        expect(warnings).toEqual([
            `WARN: ${path.join(dir, "cron.d", "app-backup")} schedules backups besides ours (${env.OUR_CRON}): a second, parallel backup system; remove it (README, 'The runbook on this layout')`,
            `WARN: the app ships a backup cron (deploy/cloud/oci/cron/coinpilot-backup.cron); do not install it: ${env.OUR_CRON} runs the backups`,
        ]);
        // Ours alone: no warning.
        expect(check({ env: { ...env, CRON_PATHS: path.join(dir, "cron.d", "coinpilot-backup") } }).stdout).not.toContain("WARN");
    });

    it.each([
        ["passes", 'echo "[CHECK] env file $1"; echo "[RESULT] PASSED"', 0, /scripts\/security\/preflight_security_check\.sh: \[RESULT\] PASSED\n/],
        ["fails", 'echo "[FAIL] GRAFANA_ADMIN_PASSWORD is weak"; echo "[RESULT] FAILED"; exit 1', 1, /failed \(exit 1, no "\[RESULT\] PASSED" line\); its last lines:\n\[FAIL\] GRAFANA_ADMIN_PASSWORD is weak\n\[RESULT\] FAILED/],
        ["exits 0 without the PASSED line", 'echo "[RESULT] PASSED WITH WARNINGS"', 1, /failed \(exit 0, no "\[RESULT\] PASSED" line\)/],
    ])("runs the app's security preflight against the .env (seed 001, 5.3): it %s", (_label, body, status, output) => {
        const result = check({ appFiles: { "scripts/security/preflight_security_check.sh": `[ "$1" = "$PWD/deploy/cloud/oci/.env" ] || { echo "wrong argument $1"; exit 9; }\n${body}\n` } });
        expect(result.status).toBe(status);
        expect(status === 0 ? result.stdout : result.stderr).toMatch(output);
    });

    it("reads the JSON array format of older Compose too, and allows 80/443 on all interfaces", () => {
        const config = composeConfig((s) => (s.proxy = { ports: [{ target: 80, published: "80", protocol: "tcp" }] }));
        const ps = JSON.stringify([...psRows(), { Service: "proxy", State: "running", Health: "" }]);
        expect(check({ config, ps }).status).toBe(0);
    });

    it.each([
        ["no host_ip (Compose's default: every interface)", (s: Record<string, any>) => delete s.db.ports[0].host_ip, "db: 5432->5432/tcp on 0.0.0.0"],
        ["0.0.0.0", (s: Record<string, any>) => (s.n8n.ports[0].host_ip = "0.0.0.0"), "n8n: 5678->5678/tcp on 0.0.0.0"],
        ["::", (s: Record<string, any>) => (s.grafana.ports[0].host_ip = "::"), "grafana: 3000->3000/tcp on ::"],
    ])("fails loudly when an internal port is published with %s", (_label, edit, line) => {
        const result = check({ config: composeConfig(edit) });
        expect(result.status).toBe(1);
        // The reason comes last, after the journal and `compose ps`: the tail of the output says why.
        expect(result.stderr).toMatch(/\n--- docker compose ps\n[\s\S]*\nEXPOSED: published on all interfaces[^\n]*\n[\s\S]*\n$/);
        expect(result.stderr.trimEnd().split("\n").pop()).toBe(line);
    });

    it("fails at once with the journal tail when the unit failed", () => {
        const result = check({ unit: "failed/failed", attempts: 5 });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/journal tail for coinpilot-compose.service/);
        expect(result.stderr.trimEnd().split("\n").pop()).toBe("coinpilot-compose.service failed (failed/failed)");
    });

    it("names the services that are not running or unhealthy when the checks run out", () => {
        const ps = psRows((name) => (name === "bot" ? { State: "exited" } : name === "grafana" ? { State: "running", Health: "unhealthy" } : { State: "running" }));
        const result = check({ ps: ps.map((r) => JSON.stringify(r)).join("\n") });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/not healthy after 2 checks:\nbot: exited\ngrafana: running unhealthy/);
    });

    describe("a run-once service (migrations, init)", () => {
        const withMigrate = (edit: (migrate: Record<string, any>) => void = () => {}) =>
            composeConfig((s) => {
                s.migrate = {};
                edit(s.migrate);
            });
        const psWith = (migrate: Record<string, unknown>) => [...psRows(), { Name: "coinpilot-migrate", Service: "migrate", Health: "", ...migrate }].map((r) => JSON.stringify(r)).join("\n");

        it.each([
            ["no restart key (Compose's default)", () => {}],
            ['restart: "no"', (m: Record<string, any>) => (m.restart = "no")],
        ])("counts as done once its container exited 0, with %s", (_label, edit) => {
            const result = check({ config: withMigrate(edit), ps: psWith({ State: "exited", ExitCode: 0 }) });
            expect(result.stderr).toBe("");
            expect(result.status).toBe(0);
        });

        it("still fails when it exited non-zero, and names the exit code", () => {
            const result = check({ config: withMigrate((m) => (m.restart = "no")), ps: psWith({ State: "exited", ExitCode: 3 }) });
            expect(result.status).toBe(1);
            expect(result.stderr).toMatch(/not healthy after 2 checks:\nmigrate: exited \(exit 3\)\n/);
        });

        it.each([
            ['restart: "unless-stopped"', (m: Record<string, any>) => (m.restart = "unless-stopped")],
            ["a deploy restart policy", (m: Record<string, any>) => (m.deploy = { restart_policy: { condition: "any" } })],
        ])("is no run-once service with %s: exited 0 fails", (_label, edit) => {
            const result = check({ config: withMigrate(edit), ps: psWith({ State: "exited", ExitCode: 0 }) });
            expect(result.status).toBe(1);
            expect(result.stderr).toMatch(/migrate: exited \(exit 0\)/);
        });
    });

    it("waits while the unit is still starting", () => {
        const result = check({ unit: "activating/start", attempts: 2 });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/coinpilot-compose.service is activating\/start/);
    });
});

describe("wait-for-cloud-init.sh", () => {
    it.each([
        [0, 0, /cloud-init finished\n/],
        [2, 0, /recoverable errors; continuing/],
        [1, 1, /^$/],
    ])("cloud-init exit %i -> exit %i", (cloudInitExit, expected, stdout) => {
        const dir = scratchDir("ci");
        const fake = fakeCommand(dir, "cloud-init", `[ "$1 $2" = "status --wait" ] && exit ${cloudInitExit}; echo "status: long"`);
        const staging = path.join(dir, "staging");
        const result = run("wait-for-cloud-init.sh", [staging], { env: { CLOUD_INIT: fake } });
        expect(result.status).toBe(expected);
        expect(result.stdout).toMatch(stdout);
        expect(existsSync(staging)).toBe(expected === 0);
        if (expected === 0) expect(statSync(staging).mode & 0o777).toBe(0o700);
        else expect(result.stderr).toMatch(/cloud-init failed \(exit 1\)/);
    });
});

describe("install-docker.sh version gate", () => {
    it.each([
        ["2.15.0", true],
        ["v2.29.7", true],
        ["2.14.2", false],
        ["2.9.0", false],
        ["10.0.1", true],
    ])("compose %s >= 2.15.0 is %p", (version, ok) => {
        const result = spawnSync("bash", ["-c", `source "${HOST}/install-docker.sh"; version_at_least "$1" 2.15.0`, "_", version]);
        expect(result.status === 0).toBe(ok);
    });
});

describe("set-timezone.sh (stand-in timedatectl and systemctl)", () => {
    function setZone(zone: string, current: string) {
        const dir = scratchDir("tz");
        const zoneinfo = path.join(dir, "zoneinfo");
        mkdirSync(path.join(zoneinfo, "Asia"), { recursive: true });
        writeFileSync(path.join(zoneinfo, "Asia", "Seoul"), "TZif");
        writeFileSync(path.join(zoneinfo, "UTC"), "TZif");
        const calls = path.join(dir, "calls");
        const timedatectl = fakeCommand(dir, "timedatectl", `echo "timedatectl $*" >>"${calls}"; [ "$1" = show ] && echo "${current}"; true`);
        const systemctl = fakeCommand(dir, "systemctl", `echo "systemctl $*" >>"${calls}"`);
        const result = run("set-timezone.sh", [zone], { env: { TIMEDATECTL: timedatectl, SYSTEMCTL: systemctl, ZONEINFO_DIR: zoneinfo } });
        return { result, calls: existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [] };
    }

    it("sets the zone and restarts cron, so the backup times follow it", () => {
        const { result, calls } = setZone("Asia/Seoul", "Etc/UTC");
        expect(result.status).toBe(0);
        expect(calls).toEqual(["timedatectl show -p Timezone --value", "timedatectl set-timezone Asia/Seoul", "systemctl try-restart cron.service"]);
        expect(result.stdout).toContain("time zone Etc/UTC -> Asia/Seoul");
    });

    it("changes nothing when the zone is in place already", () => {
        const { result, calls } = setZone("Asia/Seoul", "Asia/Seoul");
        expect(result.status).toBe(0);
        expect(calls).toEqual(["timedatectl show -p Timezone --value"]);
    });

    it.each(["Asia/Seol", "../../etc/passwd", "asia/seoul"])("refuses %p, which the host has no zone file for, before changing anything", (zone) => {
        const { result, calls } = setZone(zone, "Etc/UTC");
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`unknown time zone '${zone}'`);
        expect(calls).toEqual([]);
    });
});

describe("memory-and-logs.sh (temp root, stand-in swap commands)", () => {
    function guard(gb: string, setup: (dir: string) => void = () => {}) {
        const dir = scratchDir("guards");
        const calls = path.join(dir, "calls");
        const active = path.join(dir, "active");
        setup(dir);
        const cmd = (name: string, body = "") => fakeCommand(dir, name, `echo "${name} $*" >>"${calls}"\n${body}`);
        const env = {
            SWAP_FILE: path.join(dir, "coinpilot.swap"),
            FSTAB: path.join(dir, "fstab"),
            SYSCTL_CONF: path.join(dir, "60-coinpilot-swap.conf"),
            DOCKER_DAEMON_JSON: path.join(dir, "docker", "daemon.json"),
            MKSWAP: cmd("mkswap"),
            // swapon with a file: active from then on; --show: lists what is active.
            SWAPON: cmd("swapon", `if [ "$1" = --show=NAME ]; then cat "${active}" 2>/dev/null; else echo "$1" >>"${active}"; fi`),
            SWAPOFF: cmd("swapoff", `rm -f "${active}"`),
            SYSCTL: cmd("sysctl"),
            SYSTEMCTL: cmd("systemctl", "exit 3"),
        };
        const result = run("memory-and-logs.sh", [gb], { env });
        const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : "");
        return { dir, env, result, calls: read(calls).trim().split("\n").filter(Boolean), again: () => run("memory-and-logs.sh", [gb], { env }), read };
    }

    beforeAll(() => requireBinary("python3", "python3"));

    it("creates, enables and persists a swap file of the given size, and limits container logs while keeping daemon.json's other keys", () => {
        const { env, result, calls, read } = guard("1", (dir) => {
            mkdirSync(path.join(dir, "docker"));
            writeFileSync(path.join(dir, "docker", "daemon.json"), JSON.stringify({ "data-root": "/srv/coinpilot-data/docker" }));
            writeFileSync(path.join(dir, "fstab"), "LABEL=cloudimg-rootfs / ext4 defaults 0 1\n");
        });
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(statSync(env.SWAP_FILE).size).toBe(1024 ** 3);
        expect((statSync(env.SWAP_FILE).mode & 0o777).toString(8)).toBe("600");
        expect(calls.filter((c) => !c.startsWith("swapon --show"))).toEqual([`mkswap ${env.SWAP_FILE}`, `swapon ${env.SWAP_FILE}`, `sysctl -q -p ${env.SYSCTL_CONF}`, "systemctl is-active --quiet docker.service"]);
        expect(read(env.FSTAB)).toBe(`LABEL=cloudimg-rootfs / ext4 defaults 0 1\n${env.SWAP_FILE} none swap sw 0 0\n`);
        expect(read(env.SYSCTL_CONF)).toBe("vm.swappiness=10\n");
        expect(JSON.parse(read(env.DOCKER_DAEMON_JSON))).toEqual({ "data-root": "/srv/coinpilot-data/docker", "log-driver": "json-file", "log-opts": { "max-size": "20m", "max-file": "5" } });
        expect(result.stdout).toContain("limits container logs (json-file, max-size 20m, max-file 5)");
    });

    it("changes nothing on a second run", () => {
        const first = guard("1");
        const fstab = first.read(first.env.FSTAB);
        const second = first.again();
        expect(second.status).toBe(0);
        expect(second.stdout).toContain("already limits container logs");
        expect(second.stdout).not.toContain("created");
        expect(first.read(first.env.FSTAB)).toBe(fstab);
    });

    it("with 0, removes a swap file of ours (off, out of fstab) and still limits the logs", () => {
        const first = guard("1");
        const off = run("memory-and-logs.sh", ["0"], { env: first.env });
        expect(off.status).toBe(0);
        expect(existsSync(first.env.SWAP_FILE)).toBe(false);
        expect(first.read(first.env.FSTAB)).toBe("");
        expect(existsSync(first.env.SYSCTL_CONF)).toBe(false);
        expect(first.read(path.join(first.dir, "calls"))).toContain(`swapoff ${first.env.SWAP_FILE}`);
        expect(JSON.parse(first.read(first.env.DOCKER_DAEMON_JSON))["log-opts"]).toEqual({ "max-size": "20m", "max-file": "5" });
    });

    it("refuses a daemon.json that is not JSON, and a size that is not a number", () => {
        const bad = guard("0", (dir) => {
            mkdirSync(path.join(dir, "docker"));
            writeFileSync(path.join(dir, "docker", "daemon.json"), "{not json");
        });
        expect(bad.result.status).toBe(1);
        expect(bad.result.stderr).toContain("is not valid JSON; fix it by hand");
        expect(guard("4G").result.status).toBe(2);
    });
});
