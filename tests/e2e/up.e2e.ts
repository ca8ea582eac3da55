// End to end: the real Pulumi CLI runs `pulumi up` on an empty stack, and every host step runs over
// real SSH on a booted systemd test host (tests/e2e/world.ts): the data volume (a loop device), Docker
// from an apt repository, the firewall, the app checkout from a git repository over HTTPS, the .env,
// the compose unit with a stack built and started through it, the health gate, the backups and their
// cron file. Then a second `pulumi up` must change nothing and run nothing.
import { readFileSync } from "fs";
import { expectOk } from "../engine/harness";
import { World } from "./world";

const world = new World();
const UNIT = "coinpilot-compose.service";
const APP = "/opt/coin-pilot";
const ENV_FILE = `${APP}/deploy/cloud/oci/.env`;

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
        const ps = onHost(`cd ${APP} && docker compose --env-file deploy/cloud/oci/.env -f deploy/cloud/oci/docker-compose.prod.yml ps --all --format '{{.Service}} {{.State}} {{.ExitCode}}'`);
        const states = Object.fromEntries(ps.trim().split("\n").map((l) => [l.split(" ")[0], l.split(" ").slice(1).join(" ")]));
        expect(states).toEqual({ bot: "running 0", dashboard: "running 0", db: "running 0", migrate: "exited 0", redis: "running 0", web: "running 0" });
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
        const logs = onHost(`cd ${APP} && docker logs "$(docker compose --env-file deploy/cloud/oci/.env -f deploy/cloud/oci/docker-compose.prod.yml ps -q bot)" 2>&1`);
        expect(logs.trim().split("\n").pop()).toBe("bot v1.1.0 started");
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
