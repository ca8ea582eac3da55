// End to end: the real Pulumi CLI runs `pulumi up` on an empty stack, and every host step runs over
// real SSH on a booted systemd test host (tests/e2e/world.ts): the data volume (a loop device), Docker
// from an apt repository, the firewall, the app checkout from a git repository over HTTPS, the .env,
// the compose unit with a stack built and started through it, the health gate, the backups and their
// cron file. Then a second `pulumi up` must change nothing and run nothing.
import { createHash } from "crypto";
import { appendFileSync, readFileSync, readdirSync } from "fs";
import * as path from "path";
import { expectOk, previewJson } from "../engine/harness";
import { World } from "./world";

const world = new World();
const UNIT = "coinpilot-compose.service";
const APP = "/opt/coin-pilot";
const ENV_FILE = `${APP}/deploy/cloud/oci/.env`;
/** The stand-in app's compose project, as the unit runs it (prefix of a command on the host). */
const COMPOSE = `cd ${APP} && docker compose --env-file deploy/cloud/oci/.env -f deploy/cloud/oci/docker-compose.prod.yml`;

/** Runs a test body; on failure the error carries the host's journal, the step log and the request log. */
function withDiagnostics(body: () => void): () => void {
    return () => {
        try {
            body();
        } catch (error) {
            (error as Error).message += `\n${world.diagnostics()}`;
            throw error;
        }
    };
}

/** A command on the host as root; its stdout, failing the test when it fails. */
function onHost(command: string): string {
    const r = world.ssh("sudo bash -s", command);
    if (r.code !== 0) throw new Error(`on the host: ${command} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

function stepLines(): string[] {
    try {
        return readFileSync(world.stepLog, "utf8").trim().split("\n").filter(Boolean);
    } catch {
        return [];
    }
}

/** Every service of the stand-in app (tests/e2e/world.ts composeFile) as `compose ps` shows a healthy stack. */
const SERVICES_UP = { bot: "running 0", dashboard: "running 0", db: "running 0", migrate: "exited 0", n8n: "running 0", redis: "running 0", web: "running 0" };

/** LaunchInstance's scripted answers before it succeeds: two "Out of host capacity." and a 429. */
const LAUNCH_FAULTS = "capacity,capacity,throttle:1";

let up: { stdout: string; stderr: string };

// The first deploy runs for every selection of tests (`-t`): the later scenarios start from it.
beforeAll(withDiagnostics(() => {
    world.start({ launchFaults: LAUNCH_FAULTS });
    up = expectOk(world.project.pulumi(["up", "--yes", "--skip-preview"]), "pulumi up");
}));
afterAll(() => world.close());

describe("pulumi up on an empty stack", () => {

    it("ran every host step over SSH, each once, and all succeeded", withDiagnostics(() => {
        const lines = stepLines();
        const ran = lines.filter((l) => / create /.test(l));
        // The bootstrap's steps (components/host.ts) and the backups' install steps (components/backups.ts).
        for (const role of ["wait", "data-volume", "timezone", "memory-and-logs", "docker", "firewall", "checkout", "env", "unit", "health"]) {
            expect(ran.filter((l) => new RegExp(` create coinpilot-host-${role} exit=0 `).test(l))).toHaveLength(1);
        }
        expect(ran.some((l) => / create coinpilot-host-backups-/.test(l))).toBe(true);
        expect(lines.filter((l) => !/ exit=0( |$)/.test(l))).toEqual([]);
        expect(up.stdout).toMatch(/Resources:\s*\n\s*\+ \d+ created/);
    }));

    it("hunted capacity through two capacity errors and a 429, and the hunt's log agrees with the control plane", withDiagnostics(() => {
        const launches = world.ociRequests().filter((r) => r.operation === "LaunchInstance");
        expect(launches.map((r) => r.status)).toEqual([500, 500, 429, 200]);
        // The CLI prints each line live and again in its diagnostics summary: count distinct attempts.
        const attempts = [...new Set([...up.stdout.matchAll(/capacity hunt: attempt (\d+)[^\n]*?: (capacity|throttle) /g)].map((m) => `${m[1]} ${m[2]}`))];
        expect(attempts).toEqual(["1 capacity", "2 capacity", "3 throttle"]);
        // Every request was signed, and none went to a route the control plane does not know.
        expect(world.ociRequests().filter((r) => r.status === 401 || r.operation === "Unknown")).toEqual([]);
        const instances = world.ociState().filter((r) => r.kind === "instances");
        expect(instances.map((r) => r.lifecycleState)).toEqual(["RUNNING"]);
        expect(expectOk(world.project.pulumi(["stack", "output", "instanceId"]), "stack output").stdout.trim()).toBe(instances[0].id);
        expect(expectOk(world.project.pulumi(["stack", "output", "publicIp"]), "stack output").stdout.trim()).toBe(world.hostAddr);
    }));

    it("installed Docker from the repository at DOCKER_APT_URL, with Compose v2", withDiagnostics(() => {
        const requests = readFileSync(world.requestLog, "utf8");
        expect(requests).toContain('"path":"/docker/gpg","status":200');
        expect(requests).toMatch(/"path":"\/docker\/pool\/stable\/docker-compose-plugin_[^"]+\.deb","status":200/);
        expect(onHost("dpkg-query -W -f='${Status}\\n' docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin").trim().split("\n")).toEqual(Array(5).fill("install ok installed"));
        expect(onHost("docker compose version --short").trim()).toMatch(/^2\.\d+/);
        expect(onHost("id -nG ubuntu").split(/\s+/)).toContain("docker");
    }));

    it("mounted the data volume by UUID and put Docker's data root on it", withDiagnostics(() => {
        expect(onHost("findmnt -n -o SOURCE,FSTYPE /srv/coinpilot-data").trim()).toMatch(/^\/dev\/\S+\s+ext4$/);
        expect(onHost("grep ' /srv/coinpilot-data ' /etc/fstab")).toMatch(/^UUID=[0-9a-f-]+ \/srv\/coinpilot-data ext4 defaults,nofail,_netdev 0 2$/m);
        expect(JSON.parse(onHost("cat /etc/docker/daemon.json"))["data-root"]).toBe("/srv/coinpilot-data/docker");
    }));

    it("opened 80/443 above the REJECT, live and in rules.v4, and the web port answers from outside", withDiagnostics(() => {
        const live = onHost("iptables -S INPUT").trim().split("\n");
        const file = onHost("cat /etc/iptables/rules.v4").trim().split("\n").filter((l) => l.startsWith("-A INPUT"));
        for (const rules of [live.filter((l) => l.startsWith("-A INPUT")), file]) {
            const reject = rules.findIndex((l) => / -j REJECT/.test(l));
            expect(reject).toBeGreaterThan(0);
            for (const port of [80, 443]) {
                const at = rules.indexOf(`-A INPUT -p tcp -m state --state NEW -m tcp --dport ${port} -j ACCEPT`);
                expect(at).toBeGreaterThanOrEqual(0);
                expect(at).toBeLessThan(reject);
            }
        }
        // From this machine, through the host's firewall, to the stack's web service (busybox httpd).
        const r = world.project.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", `http://${world.hostAddr}/hostname`]);
        expect(r.stdout).toBe("200");
        // An internal port is published on the host's loopback only: refused from outside.
        expect(world.project.run("curl", ["-s", "--max-time", "10", `http://${world.hostAddr}:8501/`]).code).not.toBe(0);
    }));

    it("checked out the app at appRef and wrote the .env owned by ubuntu, mode 600, with generated passwords", withDiagnostics(() => {
        expect(onHost(`git -C ${APP} describe --tags`).trim()).toBe("v1.0.0");
        expect(onHost(`stat -c '%a %U' ${ENV_FILE}`).trim()).toBe("600 ubuntu");
        const env = onHost(`cat ${ENV_FILE}`);
        expect(env).toMatch(/^POSTGRES_PASSWORD=[A-Za-z0-9]{32}$/m);
        expect(env).toMatch(/^UPBIT_ACCESS_KEY=engine-test-access$/m);
    }));

    it("started the stack through the unit: active (exited), every service running, the run-once one exited 0", withDiagnostics(() => {
        expect(onHost(`systemctl is-active ${UNIT}`).trim()).toBe("active");
        expect(onHost(`systemctl show -p SubState -p RemainAfterExit -p UnitFileState ${UNIT}`).trim().split("\n").sort()).toEqual(["RemainAfterExit=yes", "SubState=exited", "UnitFileState=enabled"]);
        const ps = onHost(`${COMPOSE} ps --all --format '{{.Service}} {{.State}} {{.ExitCode}}'`);
        const states = Object.fromEntries(ps.trim().split("\n").map((l) => [l.split(" ")[0], l.split(" ").slice(1).join(" ")]));
        expect(states).toEqual(SERVICES_UP);
        // The bot was built from the checkout, not pulled.
        expect(onHost("docker image ls --format '{{.Repository}}'")).toMatch(/-bot$/m);
    }));

    it("installed the backup scripts and /etc/cron.d/coinpilot-backup", withDiagnostics(() => {
        const cron = onHost("cat /etc/cron.d/coinpilot-backup");
        expect(cron).toMatch(/^\S+ \S+ \* \* \* root \/opt\/coinpilot-ops\/backup\/\S+\.sh/m);
        for (const script of cron.matchAll(/ root (\/opt\/coinpilot-ops\/backup\/\S+\.sh)/g)) {
            expect(onHost(`test -x ${script[1]} && echo ok`).trim()).toBe("ok");
        }
        expect(onHost("stat -c %a /etc/cron.d/coinpilot-backup").trim()).toBe("644");
    }));
});

describe("the seeds' incident, and a reboot", () => {
    /** Each service's container: id and state (the run-once one included). */
    const containers = () =>
        Object.fromEntries(onHost(`${COMPOSE} ps --all --format '{{.Service}} {{.ID}} {{.State}} {{.ExitCode}}'`).trim().split("\n").map((l) => {
            const [service, id, ...state] = l.split(" ");
            return [service, { id, state: state.join(" ") }];
        }));

    it("an image-only service's failed pull did not stop the unit, and the buildable bot was built, not pulled", withDiagnostics(() => {
        // This boot's journal of the unit, systemd's own lines included, in order.
        const journal = onHost(`journalctl -b -u ${UNIT} -o cat --no-pager`).split("\n");
        const pullFailed = journal.findIndex((l) => /registry-1\.docker\.io|pull access denied|dial tcp|no such host|network is unreachable/i.test(l));
        // A oneshot's start ends in "Finished" (systemd 252).
        const started = journal.findIndex((l) => /^Finished .*CoinPilot Docker Compose stack/.test(l));
        if (pullFailed < 0 || started < pullFailed) throw new Error(`expected a failed pull, then the unit started, in:\n${journal.join("\n")}`);
        expect(onHost(`systemctl is-active ${UNIT}`).trim()).toBe("active");
        expect(onHost(`systemctl show -p Result ${UNIT}`).trim()).toBe("Result=success");
        // --ignore-buildable: the pull skipped the bot and never tried it; its image exists with no
        // registry digest (a pulled image has one), built here from the checkout's bot/Dockerfile.
        expect(journal.map((l) => l.trim()).filter((l) => /^bot /.test(l) && /pull/i.test(l))).toEqual(["bot Skipped - No image to be pulled"]);
        expect(journal.some((l) => /\[bot \d+\/\d+\] COPY run\.sh/.test(l))).toBe(true);
        const botImage = onHost(`docker inspect --format '{{.Image}}' "$(${COMPOSE} ps -q bot)"`).trim();
        expect(onHost(`docker image inspect --format '{{json .RepoDigests}}' ${botImage}`).trim()).toBe("[]");
        expect(onHost(`docker image inspect --format '{{json .Config.Cmd}}' ${botImage}`).trim()).toBe('["sh","/run.sh"]');
    }));

    it("after a reboot the unit brings the stack back and the boot's health check runs and passes", withDiagnostics(() => {
        const before = containers();
        expect(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.state]))).toEqual(SERVICES_UP);
        const uuid = onHost("findmnt -n -o UUID /srv/coinpilot-data").trim();
        world.rebootHost();
        // Boot is over when every start job is done: the compose unit, then the health check after it. The
        // data volume is mounted again (fstab, by UUID), before Docker (its RequiresMountsFor=).
        const state = world.ssh("systemctl is-system-running --wait");
        const units = "-u 'srv-coinpilot\\x2ddata.mount' -u docker.service";
        expect(`${state.stdout.trim()} ${onHost(`findmnt -n -o UUID /srv/coinpilot-data || { systemctl status --no-pager ${units}; journalctl -b --no-pager ${units}; }`).trim()}`)
            .toBe(`running ${uuid}`);
        expect(onHost(`systemctl is-active ${UNIT}`).trim()).toBe("active");
        // The shutdown's ExecStop took the stack down; this boot's start made new containers.
        const after = containers();
        expect(Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v.state]))).toEqual(SERVICES_UP);
        for (const service of Object.keys(SERVICES_UP)) expect(after[service].id).not.toBe(before[service].id);
        const previous = onHost(`journalctl -b -1 -u ${UNIT} -o cat --no-pager`);
        expect(previous).toMatch(/^Stopped .*CoinPilot Docker Compose stack/m);
        // coinpilot-health.service ran in this boot, after the unit, and passed (a oneshot: inactive, success).
        expect(onHost("systemctl show -p Result -p ExecMainStatus -p ActiveState coinpilot-health.service").trim().split("\n").sort())
            .toEqual(["ActiveState=inactive", "ExecMainStatus=0", "Result=success"]);
        const health = onHost("journalctl -b -u coinpilot-health.service -o cat --no-pager");
        expect(health).toContain(`${UNIT} active (exited); all services running`);
        expect(health).toMatch(/^Finished .*CoinPilot health gate after boot/m);
        expect(onHost("systemctl list-units --failed --plain --no-legend").trim()).toBe("");
    }));
});

describe("pulumi up again", () => {
    it("changes nothing and runs nothing on the host", withDiagnostics(() => {
        const before = stepLines().length;
        const again = expectOk(world.project.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]), "second pulumi up");
        expect(again.stdout).not.toMatch(/[+~-] \d+ (created|updated|deleted|replaced)/);
        expect(stepLines().length).toBe(before);
    }));

    it("with a new appRef re-runs only the checkout, the unit and the health gate, and the new commit runs", withDiagnostics(() => {
        const before = stepLines().length;
        const commit = world.release("v1.1.0");
        expectOk(world.project.pulumi(["config", "set", "coinpilot:appRef", "v1.1.0"]), "config set appRef");
        expectOk(world.project.pulumi(["up", "--yes", "--skip-preview"]), "pulumi up with a new appRef");
        const ran = stepLines().slice(before).map((l) => l.split(" ").slice(1, 3).join(" "));
        expect(ran.sort()).toEqual(["create coinpilot-host-checkout", "create coinpilot-host-health", "create coinpilot-host-unit"]);
        expect(onHost(`git -C ${APP} rev-parse HEAD`).trim()).toBe(commit);
        // The unit's reload rebuilt the bot from the new checkout and recreated it.
        // The container's own log (compose's log view adds terminal control codes).
        const logs = onHost(`docker logs "$(${COMPOSE} ps -q bot)" 2>&1`);
        expect(logs.trim().split("\n").pop()).toBe("bot v1.1.0 started");
    }));

    it("with one backup script changed re-runs only that script's copy and install, and the host has the new content", withDiagnostics(() => {
        const before = stepLines().length;
        // The asset the program hashes (components/backups.ts), edited in the test's copy of the program.
        const script = path.join(world.project.dir, "assets", "backup", "redis_backup.sh");
        appendFileSync(script, `# e2e: changed by a test at ${new Date().toISOString()}\n`);
        const changed = expectOk(world.project.pulumi(["up", "--yes", "--skip-preview"]), "pulumi up with a changed backup script");
        const ran = stepLines().slice(before).map((l) => l.split(" ").slice(1, 3).join(" "));
        expect(ran.sort()).toEqual(["copy coinpilot-host-backups-copy-redis-backup", "create coinpilot-host-backups-install-redis-backup"]);
        // The engine's own account: those two replaced (their triggers hold the file's hash), nothing else touched.
        const replaced = [...changed.stdout.matchAll(/^\s*\+-\s+command:remote:\S+ (\S+) replaced/gm)].map((m) => m[1]);
        expect([...new Set(replaced)].sort()).toEqual(["coinpilot-host-backups-copy-redis-backup", "coinpilot-host-backups-install-redis-backup"]);
        expect(changed.stdout).toMatch(/Resources:\s*\n\s*\+-2 replaced\n\s*\d+ unchanged/);
        const sha = createHash("sha256").update(readFileSync(script)).digest("hex");
        expect(onHost("sha256sum /opt/coinpilot-ops/backup/redis_backup.sh").split(" ")[0]).toBe(sha);
        expect(onHost("stat -c '%a %U' /opt/coinpilot-ops/backup/redis_backup.sh").trim()).toBe("755 root");
    }));
});

describe("the backup jobs as cron runs them, then the restore rehearsal", () => {
    const BACKUPS = "/srv/coinpilot-data/backups";
    /** The job lines of /etc/cron.d/coinpilot-backup in schedule order: user and command, and the file's variables. */
    function cronJobs(): { env: Record<string, string>; jobs: { at: string; user: string; command: string }[] } {
        const env: Record<string, string> = {};
        const jobs: { at: string; user: string; command: string }[] = [];
        for (const line of onHost("cat /etc/cron.d/coinpilot-backup").split("\n")) {
            const variable = /^([A-Z]+)=(.*)$/.exec(line);
            if (variable) env[variable[1]] = variable[2];
            const job = /^(\d+) (\d+) \* \* (\*|[0-7]) (\S+) (.+)$/.exec(line);
            // Sorted by hour and minute; the weekly job (a day of week) falls in its night like the others.
            if (job) jobs.push({ at: `${job[2].padStart(2, "0")}:${job[1].padStart(2, "0")}`, user: job[4], command: job[5] });
        }
        return { env, jobs: jobs.sort((a, b) => a.at.localeCompare(b.at)) };
    }
    const q = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
    let ran: { command: string; code: number; output: string }[] = [];

    beforeAll(withDiagnostics(() => {
        // What the app would have written: rows in its key table, keys in redis, a workflow in n8n.
        onHost(`set -a; . ${ENV_FILE}; set +a
            for i in $(seq 1 60); do docker exec coinpilot-db pg_isready -q && break; sleep 0.5; done
            docker exec -i coinpilot-db psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<'SQL'
CREATE TABLE daily_risk_state (day date PRIMARY KEY, realized_pnl numeric NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO daily_risk_state (day, realized_pnl) VALUES ('2026-11-29', 12.5), ('2026-11-30', -3.25), ('2026-12-01', 7);
SQL
            for key in bot:status bot:last_trade risk:halted; do docker exec -e REDISCLI_AUTH="$REDIS_PASSWORD" coinpilot-redis redis-cli SET "$key" e2e >/dev/null; done
            docker exec coinpilot-n8n sqlite3 /home/node/.n8n/database.sqlite "INSERT INTO workflow_entity (name) VALUES ('daily report')"`);
        // Each job as cron starts it: its user, the file's SHELL and PATH, HOME and LOGNAME, no terminal.
        const { env, jobs } = cronJobs();
        ran = jobs.map(({ user, command }) => {
            const r = world.ssh(`sudo -u ${user} env -i HOME=$(getent passwd ${user} | cut -d: -f6) LOGNAME=${user} SHELL=${env.SHELL} PATH=${q(env.PATH)} ${env.SHELL} -c ${q(command)}; echo "exit=$?"`);
            const code = Number(/exit=(\d+)\s*$/.exec(r.stdout)?.[1] ?? -1);
            return { command, code, output: r.stdout + r.stderr };
        });
    }));

    it("cron is running on the host and every job of the file exited 0, the rehearsal last", withDiagnostics(() => {
        expect(onHost("systemctl is-active cron").trim()).toBe("active");
        const failed = ran.filter((r) => r.code !== 0);
        if (failed.length) throw new Error(`jobs failed:\n${failed.map((r) => `${r.command} (exit ${r.code})\n${r.output}`).join("\n")}\n${onHost("tail -n 30 /var/log/coinpilot/*.log")}`);
        expect(ran.map((r) => /\/(\w+)\.sh /.exec(r.command)?.[1])).toEqual([
            "postgres_backup", "redis_backup", "n8n_backup", "offsite_upload", "verify_backups", "backup_freshness", "restore_rehearsal",
        ]);
    }));

    it("wrote one checked backup of each kind, with its .sha256, on the data volume", withDiagnostics(() => {
        for (const kind of ["postgres", "redis", "n8n"]) {
            const names = onHost(`ls ${BACKUPS}/${kind}`).trim().split("\n").filter((n) => n.startsWith(`${kind}_`));
            expect(names).toHaveLength(2);
            const backup = names.find((n) => !n.endsWith(".sha256"))!;
            expect(onHost(`cd ${BACKUPS}/${kind} && sha256sum -c ${backup}.sha256`).trim()).toBe(`${backup}: OK`);
        }
        // On the data volume, not the boot disk.
        expect(onHost(`findmnt -n -o TARGET -T ${BACKUPS}`).trim()).toBe("/srv/coinpilot-data");
        expect(onHost("tail -n 1 /var/log/coinpilot/verify_backups.log").trim()).toMatch(/ INFO verification passed$/);
        // n8n was paused for its copy and is running again.
        expect(onHost("docker inspect -f '{{.State.Status}}' coinpilot-n8n").trim()).toBe("running");
    }));

    it("copied every backup off the host, through the write-only URL, byte for byte", withDiagnostics(() => {
        for (const kind of ["postgres", "redis", "n8n"]) {
            const backup = onHost(`ls ${BACKUPS}/${kind} | grep -v sha256$ | grep '^${kind}_'`).trim();
            const [uploaded] = readdirSync(world.bucketDir).map((bucket) => path.join(world.bucketDir, bucket, kind, backup));
            expect(createHash("sha256").update(readFileSync(uploaded)).digest("hex")).toBe(onHost(`sha256sum ${BACKUPS}/${kind}/${backup}`).split(" ")[0]);
            expect(readFileSync(`${uploaded}.sha256`, "utf8")).toBe(onHost(`cat ${BACKUPS}/${kind}/${backup}.sha256`));
        }
    }));

    it("restore_rehearsal.sh restored what the app wrote: the key table's rows, redis's keys, n8n's database", withDiagnostics(() => {
        const log = onHost("cat /var/log/coinpilot/restore_rehearsal.log");
        expect(log).toMatch(/ INFO postgres: key table daily_risk_state: 3 rows, newest updated_at: /);
        expect(log).toMatch(/ INFO redis: redis_\S+ loaded into a throwaway redis on port \d+: 3 keys$/m);
        expect(log).toMatch(/ INFO n8n: database\.sqlite in n8n_\S+ passes PRAGMA integrity_check \(1 tables\)$/m);
        expect(log.trim().split("\n").pop()).toMatch(/ INFO restore rehearsal passed for: postgres redis n8n$/);
        expect(onHost("tail -n 1 /var/log/coinpilot/backup_freshness.log")).toMatch(/ INFO /);
    }));
});

describe("pulumi destroy --exclude-protected, then pulumi up", () => {
    const live = () => world.ociState().filter((r) => !["TERMINATED", "DETACHED"].includes(r.lifecycleState));
    let before: { volumeId: string; instanceId: string; passwords: string; uuid: string };

    beforeAll(withDiagnostics(() => {
        before = {
            volumeId: expectOk(world.project.pulumi(["stack", "output", "dataVolumeId"]), "stack output").stdout.trim(),
            instanceId: expectOk(world.project.pulumi(["stack", "output", "instanceId"]), "stack output").stdout.trim(),
            passwords: onHost(`grep -E '^(POSTGRES|REDIS|N8N|GRAFANA)_[A-Z_]*(PASSWORD|KEY|SECRET)=' ${ENV_FILE}`),
            uuid: onHost("findmnt -n -o UUID /srv/coinpilot-data").trim(),
        };
        onHost("echo kept > /srv/coinpilot-data/backups/postgres/marker-before-destroy");
        expectOk(world.project.pulumi(["destroy", "--yes", "--skip-preview", "--exclude-protected"]), "pulumi destroy --exclude-protected");
    }));

    it("keeps exactly what docs/disaster-recovery.md promises: the data volume and the off-host bucket", withDiagnostics(() => {
        expect(live().map((r) => r.kind).sort()).toEqual(["buckets", "volumes"]);
        expect(live().find((r) => r.kind === "volumes")?.id).toBe(before.volumeId);
        expect(world.ociState().find((r) => r.id === before.instanceId)?.lifecycleState).toBe("TERMINATED");
    }));

    it("recreates the VM on the same volume: the same filesystem, backups and generated passwords", withDiagnostics(() => {
        world.recreateHost();
        expectOk(world.project.pulumi(["up", "--yes", "--skip-preview"]), "pulumi up after destroy");
        const instanceId = expectOk(world.project.pulumi(["stack", "output", "instanceId"]), "stack output").stdout.trim();
        expect(instanceId).not.toBe(before.instanceId);
        const attachments = live().filter((r) => r.kind === "volumeAttachments");
        expect(attachments.map((r) => [r.volumeId, r.instanceId])).toEqual([[before.volumeId, instanceId]]);
        expect(onHost("findmnt -n -o UUID /srv/coinpilot-data").trim()).toBe(before.uuid);
        expect(onHost("cat /srv/coinpilot-data/backups/postgres/marker-before-destroy").trim()).toBe("kept");
        expect(onHost(`grep -E '^(POSTGRES|REDIS|N8N|GRAFANA)_[A-Z_]*(PASSWORD|KEY|SECRET)=' ${ENV_FILE}`)).toBe(before.passwords);
        expect(onHost(`systemctl is-active ${UNIT}`).trim()).toBe("active");
    }));
});

describe("a fatal launch error stops pulumi up at once, and the runbook's pulumi import adopts the retained volume", () => {
    // A second stack of the same program on the same control plane (`dr`, with prod's config): what
    // docs/disaster-recovery.md section 3 makes after the state is lost. prod stays the selected stack.
    const dr = (args: readonly string[], input?: string) => world.project.pulumi([...args, "--stack", "dr"], input);
    const initDr = () => {
        expectOk(world.project.pulumi(["stack", "init", "dr", "--copy-config-from", "prod"]), "pulumi stack init dr");
        expectOk(world.project.pulumi(["stack", "select", "prod"]), "pulumi stack select prod");
    };
    const resources = () => (JSON.parse(expectOk(dr(["stack", "export"]), "stack export").stdout).deployment.resources ?? []) as { type: string; urn: string; id?: string; parent?: string; protect?: boolean }[];
    let volumeId = "";
    /** The runbook's first step: the URN of the component the imports go under (`pulumi stack --show-urns`). */
    const dataStorageUrn = (): string => {
        const urns = expectOk(dr(["stack", "--show-urns"]), "pulumi stack --show-urns").stdout;
        const urn = /(urn:pulumi:\S+coinpilot:storage:DataStorage::coinpilot-data)$/m.exec(urns)?.[1];
        if (!urn) throw new Error(`no DataStorage URN in:\n${urns}`);
        return urn;
    };

    /** `pulumi up` of dr with the next launch failing as scripted: the run, its LaunchInstance calls and host steps. */
    function upFailingWith(fault: "limit" | "notfound") {
        const requests = world.ociRequests().length;
        const steps = stepLines().length;
        world.scriptLaunchFaults(fault);
        const run = dr(["up", "--yes", "--skip-preview"]);
        const output = `${run.stdout}\n${run.stderr}`;
        if (run.code === 0) throw new Error(`pulumi up succeeded despite the scripted ${fault}:\n${output}`);
        const calls = world.ociRequests().slice(requests);
        // The CLI prints each line live and again in its diagnostics summary: count distinct attempts.
        const attempts = [...new Set([...output.matchAll(/capacity hunt: attempt (\d+) in \S+: (\w+)/g)].map((m) => `${m[1]} ${m[2]}`))];
        return { output, calls, launches: calls.filter((r) => r.operation === "LaunchInstance").map((r) => r.status), attempts, steps: stepLines().slice(steps) };
    }

    beforeAll(withDiagnostics(initDr));

    it("LimitExceeded: one LaunchInstance, no retry, the error and its fix printed, no host step", withDiagnostics(() => {
        const up = upFailingWith("limit");
        expect(up.launches).toEqual([400]);
        expect(up.attempts).toEqual(["1 fatal"]);
        expect(up.output).toContain("LimitExceeded");
        expect(up.output).toContain("The following service limits were exceeded: standard-a1-core-count.");
        expect(up.output).toMatch(/stopped \(fatal\)[^\n]*Fix: The tenancy's free allowance or service limit is used up/);
        expect(up.steps).toEqual([]);
        expect(resources().filter((r) => r.type === "oci:Core/instance:Instance")).toEqual([]);
        // What the runbook finds again after losing the state: this stack's volume (protected, retained).
        volumeId = resources().find((r) => r.type === "oci:Core/volume:Volume")?.id ?? "";
        expect(volumeId).toMatch(/^ocid1\.volume\./);
    }));

    it("NotAuthorizedOrNotFound on a stack that lost its state and attaches the retained volume: the same, and no new volume", withDiagnostics(() => {
        // Losing the state file: the stack's record is gone, the cloud objects stay (section 3).
        expectOk(world.project.pulumi(["stack", "rm", "dr", "--force", "--yes"]), "pulumi stack rm dr");
        initDr();
        expectOk(dr(["config", "set", "coinpilot:dataVolumeId", volumeId]), "config set dataVolumeId");
        const up = upFailingWith("notfound");
        expect(up.launches).toEqual([404]);
        expect(up.attempts).toEqual(["1 fatal"]);
        expect(up.output).toContain("NotAuthorizedOrNotFound");
        expect(up.output).toContain("Authorization failed or requested resource not found.");
        expect(up.output).toMatch(/stopped \(fatal\)[^\n]*Fix: An OCID in the launch request does not exist/);
        expect(up.steps).toEqual([]);
        expect(up.calls.filter((r) => r.operation === "Create volumes")).toEqual([]);
    }));

    it("pulumi import of the volume (docs/disaster-recovery.md section 4): protected, under coinpilot-data, and the preview keeps it", withDiagnostics(() => {
        // The runbook's commands, in order.
        const parent = dataStorageUrn();
        const reads = world.ociRequests().length;
        expectOk(dr(["import", "oci:Core/volume:Volume", "coinpilot-data-volume", volumeId, "--parent", `coinpilot-data=${parent}`, "--protect", "--generate-code=false", "--yes"]), "pulumi import");
        // Read from the control plane, not made up.
        expect(world.ociRequests().slice(reads).map((r) => `${r.operation} ${r.status}`)).toContain("GET volumes/{id} 200");
        const imported = resources().find((r) => r.type === "oci:Core/volume:Volume");
        expect(imported).toMatchObject({ id: volumeId, parent, protect: true });
        expectOk(dr(["config", "rm", "coinpilot:dataVolumeId"]), "config rm dataVolumeId");
        // "the volume must show as same or update, never create or replace"
        const steps = previewJson(world.project, ["--stack", "dr", "--show-sames"]).steps.filter((s) => s.urn.endsWith("::coinpilot-data-volume"));
        expect(steps.map((s) => s.op)).toEqual(["same"]);
    }));

    it("pulumi import of a reserved public IP the same way: read from the control plane, protected, under coinpilot-data", withDiagnostics(() => {
        // An IP the lost stack reserved (made here as the console would: this stack's config has none).
        const compartmentId = expectOk(dr(["config", "get", "coinpilot:compartmentId"]), "config get").stdout.trim();
        const ip = world.ociCreate("publicIps", { compartmentId, lifetime: "RESERVED", displayName: "coinpilot-data-ip" });
        const parent = dataStorageUrn();
        expectOk(dr(["import", "oci:Core/publicIp:PublicIp", "coinpilot-data-ip", ip.id, "--parent", `coinpilot-data=${parent}`, "--protect", "--generate-code=false", "--yes"]), "pulumi import (ip)");
        const imported = resources().find((r) => r.type === "oci:Core/publicIp:PublicIp") as { id?: string; parent?: string; protect?: boolean; inputs?: Record<string, unknown> };
        expect(imported).toMatchObject({ id: ip.id, parent, protect: true, inputs: { compartmentId, lifetime: "RESERVED", displayName: "coinpilot-data-ip" } });
    }));
});
