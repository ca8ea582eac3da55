// The end-to-end world of one test file: the booted test host (scripts/e2e/host.sh), the HTTPS server
// on this machine's end of its veth pair (scripts/e2e/serve.ts: Docker's apt repository and the
// stand-in CoinPilot git repository), a throwaway CA the host trusts, and a Pulumi project whose
// stand-in providers reach the host for real (COINPILOT_STANDIN_SSH=1). Everything lives under one
// temporary directory and `close()` stops and removes all of it, also after a failure.
import { ChildProcess, spawn, spawnSync } from "child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Project, ROOT, expectOk, initExampleStack, newProject } from "../engine/harness";

const HOST_SH = path.join(ROOT, "scripts", "e2e", "host.sh");
/** The image most stand-in services run: a static busybox, imported (no registry is reachable). */
export const BASE_IMAGE = "coinpilot-e2e/busybox:1";
/** The data services' image: Debian's PostgreSQL 15, Redis 7 and sqlite3 (scripts/e2e/host.sh build_services_image). */
export const SERVICES_IMAGE = "coinpilot-e2e/services:1";

export interface Sh {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

function sh(command: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Sh {
    const r = spawnSync(command, [...args], { encoding: "utf8", input: options.input ?? "", env: options.env ?? process.env, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw r.error;
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Sh, what: string): Sh {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
}

export class World {
    readonly dir = mkdtempSync(path.join(tmpdir(), "coinpilot-e2e-"));
    readonly run = path.join(this.dir, "host");
    readonly requestLog = path.join(this.dir, "requests.log");
    readonly stepLog = path.join(this.dir, "steps.log");
    /** The OCI control plane's request log (scripts/e2e/control-plane.ts), one JSON line per call. */
    readonly ociLog = path.join(this.dir, "oci-requests.log");
    /** The off-host bucket's objects as the host uploaded them: DIR/<bucket>/<kind>/<file> (scripts/e2e/serve.ts). */
    readonly bucketDir = path.join(this.dir, "bucket");
    /** Where the control plane reads the base URL of the pre-authenticated requests it makes: this world's server. */
    private readonly objectStorageFile = path.join(this.dir, "object-storage-url");
    private controlPlane?: ChildProcess;
    private controlPlanePort = 0;
    project!: Project;
    appRepoUrl = "";
    /** The host's address and this machine's end of its veth pair (a free /30 per run, host.sh). */
    hostAddr = "";
    outerAddr = "";
    private server?: ChildProcess;
    private serverPort = 0;

    /**
     * Builds (or reuses) the cached root, makes the project and the example stack pointed at the test
     * host (its throwaway key, the served repository, no swap file: swapon there would add swap to this
     * machine's kernel), boots the host for that key and serves the repositories.
     */
    start(options: { config?: Record<string, string>; launchFaults?: string } = {}): void {
        // Whose run this is, for scripts/e2e/test.sh's cleanup should this process die before close().
        writeFileSync(path.join(this.dir, "owner"), process.env.COINPILOT_E2E_OWNER ?? "");
        ok(sh("bash", [HOST_SH, "build"]), "host.sh build");
        this.makeAppRepository();
        this.startControlPlane(options.launchFaults ?? "");
        // The stand-ins read these when the engine starts them (the project's environment is copied now).
        process.env.COINPILOT_STANDIN_SSH = "1";
        process.env.COINPILOT_STANDIN_OCI_URL = `http://127.0.0.1:${this.controlPlanePort}`;
        process.env.COINPILOT_STANDIN_LOG = this.stepLog;
        // The capacity hunt's state across runs (lib/launch/state.ts): this world's, not ~/.pulumi-coinpilot.
        process.env.COINPILOT_HUNT_STATE_DIR = path.join(this.dir, "hunt-state");
        this.project = newProject("coinpilot-e2e-project-");
        writeFileSync(path.join(this.dir, "project-dir"), this.project.dir);
        initExampleStack(this.project, {
            "coinpilot:availabilityDomain": "Uocm:AP-CHUNCHEON-1-AD-1",
            "coinpilot:appRef": "v1.0.0",
            "coinpilot:swapSizeGb": "0",
            // The hunt's pace at the smallest values config allows, so scripted faults pass in seconds.
            "coinpilot:launchCapacityIntervalSeconds": "5",
            "coinpilot:launchCapacityIntervalMaxSeconds": "5",
            "coinpilot:launchThrottleBaseSeconds": "1",
            "coinpilot:launchThrottleMaxSeconds": "2",
            ...options.config,
        });
        const key = path.join(this.project.dir, "id_test");
        expectOk(this.project.pulumi(["config", "set", "coinpilot:sshPublicKey", readFileSync(`${key}.pub`, "utf8").trim()]), "set sshPublicKey");
        ok(sh("bash", [HOST_SH, "boot", this.run, key]), "host.sh boot");
        this.hostAddr = readFileSync(path.join(this.run, "host-addr"), "utf8").trim();
        this.outerAddr = readFileSync(path.join(this.run, "outer-addr"), "utf8").trim();
        this.makeCertificates();
        this.startServer();
        expectOk(this.project.pulumi(["config", "set", "coinpilot:appRepoUrl", this.appRepoUrl]), "set appRepoUrl");
        this.prepareHost();
        this.importBaseImage();
    }

    /** A command on the host as `ubuntu`, over SSH with the test's key. */
    ssh(command: string, input?: string): Sh {
        return sh("ssh", [
            "-q", "-i", path.join(this.project.dir, "id_test"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", `ubuntu@${this.hostAddr}`, "--", command,
        ], { input });
    }

    /**
     * A new VM in place of the old one, as `pulumi destroy` + `up` make it: a fresh copy of the root
     * (empty boot disk, new host keys), the same data volume (loop device) and Docker engine.
     */
    recreateHost(): void {
        ok(sh("bash", [HOST_SH, "recreate", this.run]), "host.sh recreate");
        this.prepareHost();
    }

    /**
     * The VM rebooted: its systemd shuts down (the units' stop commands run), then the same root boots
     * again. The data volume and the Docker engine stay, as a VM's disk and a real engine's state would.
     */
    rebootHost(): void {
        ok(sh("bash", [HOST_SH, "reboot", this.run]), "host.sh reboot");
    }

    /** The host's journal, read from its files (works when SSH does not). */
    journal(): string {
        return sh("bash", [HOST_SH, "journal", this.run]).stdout;
    }

    private diagnosed = false;

    /** What a failure prints (once per file): the host's journal tail, the step log and the HTTPS request log. */
    diagnostics(): string {
        if (this.diagnosed) return "(host journal, step and request logs: printed with the first failure)";
        this.diagnosed = true;
        const tail = (text: string, n: number) => text.trimEnd().split("\n").slice(-n).join("\n");
        const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "(none)");
        return [
            "=== host journal (last 150 lines)", tail(this.journal(), 150),
            "=== remote steps (engine/standin: phase, resource, exit)", read(this.stepLog),
            "=== HTTPS requests from the host", tail(read(this.requestLog), 80),
            "=== OCI control plane requests", tail(read(this.ociLog), 80),
        ].join("\n");
    }

    /** Stops the host (the machine, its engine, loop device, namespace), the server, and removes every file. */
    close(): void {
        this.server?.kill("SIGTERM");
        this.controlPlane?.kill("SIGTERM");
        sh("bash", [HOST_SH, "teardown", this.run]);
        this.project?.remove();
        if (!process.env.COINPILOT_E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
    }

    /** Pids of the servers, so scripts/e2e/test.sh can stop them if this process dies before close(). */
    private recordChild(child: ChildProcess): void {
        appendFileSync(path.join(this.dir, "children.pids"), `${child.pid}\n`);
    }

    /** The control plane's requests, in order. */
    ociRequests(): { method: string; path: string; operation: string; status: number }[] {
        return existsSync(this.ociLog) ? readFileSync(this.ociLog, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
    }

    /** Scripts the control plane's answers to the next LaunchInstance calls (the --launch-faults names). */
    scriptLaunchFaults(list: string): void {
        ok(sh("curl", ["-sf", "-X", "POST", "--data", JSON.stringify({ launch: list }), `http://127.0.0.1:${this.controlPlanePort}/__faults`]), "control plane faults");
    }

    /** Creates a resource in the control plane directly, as the console or the OCI CLI would (a signed request). */
    ociCreate(collection: string, body: Record<string, unknown>): { id: string; [key: string]: unknown } {
        return JSON.parse(ok(sh("curl", ["-sf", "-X", "POST", "-H", 'authorization: Signature keyId="e2e"', "-H", "content-type: application/json",
            "--data", JSON.stringify(body), `http://127.0.0.1:${this.controlPlanePort}/20160918/${collection}`]), `create ${collection}`).stdout);
    }

    /** Every resource the control plane holds, with its lifecycle state. */
    ociState(): { kind: string; id: string; lifecycleState: string; [key: string]: unknown }[] {
        return JSON.parse(ok(sh("curl", ["-sf", `http://127.0.0.1:${this.controlPlanePort}/__state`]), "control plane state").stdout);
    }

    private startControlPlane(launchFaults: string): void {
        const portFile = path.join(this.dir, "control-plane.port");
        writeFileSync(portFile, "");
        writeFileSync(this.objectStorageFile, "");
        this.controlPlane = spawn(
            "node",
            ["--require", "ts-node/register/transpile-only", path.join(ROOT, "scripts", "e2e", "control-plane.ts"),
                "--log", this.ociLog, "--port-file", portFile, "--public-ip-file", path.join(this.run, "host-addr"), "--launch-faults", launchFaults,
                "--object-storage-file", this.objectStorageFile],
            { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] },
        );
        this.recordChild(this.controlPlane);
        this.controlPlanePort = waitForPort(portFile, "scripts/e2e/control-plane.ts");
    }

    /** A throwaway CA and a server certificate for this machine's end of the pair; the host trusts the CA (prepareHost). */
    private makeCertificates(): void {
        const tls = path.join(this.dir, "tls");
        mkdirSync(tls);
        const openssl = (...args: string[]) => ok(sh("openssl", args, { cwd: tls }), `openssl ${args[0]}`);
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=coinpilot e2e CA", "-keyout", "ca.key", "-out", "ca.crt");
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${this.outerAddr}`, "-keyout", "server.key", "-out", "server.csr");
        writeFileSync(path.join(tls, "ext.cnf"), `subjectAltName=IP:${this.outerAddr}\n`);
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt");
    }

    /**
     * The stand-in CoinPilot repository, tagged v1.0.0: the seeds' layout (deploy/cloud/oci), one
     * service built from the checkout, image-only ones (their pull fails: no registry), internal ports
     * on 127.0.0.1, 80/443 published.
     */
    private makeAppRepository(): void {
        const src = path.join(this.dir, "app-src");
        mkdirSync(path.join(src, "deploy", "cloud", "oci"), { recursive: true });
        mkdirSync(path.join(src, "bot"));
        writeFileSync(path.join(src, "bot", "Dockerfile"), `FROM ${BASE_IMAGE}\nCOPY run.sh /run.sh\nCMD ["sh", "/run.sh"]\n`);
        writeFileSync(path.join(src, "bot", "run.sh"), botScript("v1.0.0"));
        writeFileSync(path.join(src, "deploy", "cloud", "oci", "docker-compose.prod.yml"), composeFile());
        writeFileSync(path.join(src, ".env.example"), "POSTGRES_PASSWORD=\nREDIS_PASSWORD=\n");
        const git = (...args: string[]) => ok(sh("git", ["-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", ...args], { cwd: src }), `git ${args[0]}`);
        git("init", "-q", "-b", "main");
        git("add", "-A");
        git("commit", "-q", "-m", "CoinPilot stand-in v1.0.0");
        git("tag", "v1.0.0");
        const bare = path.join(this.dir, "www", "coin-pilot.git");
        mkdirSync(path.dirname(bare), { recursive: true });
        ok(sh("git", ["clone", "-q", "--bare", src, bare]), "git clone --bare");
        ok(sh("git", ["update-server-info"], { cwd: bare }), "git update-server-info");
    }

    /** A new release of the stand-in app: the bot says its version; committed, tagged and served. */
    release(tag: string): string {
        const src = path.join(this.dir, "app-src");
        writeFileSync(path.join(src, "bot", "run.sh"), botScript(tag));
        const git = (...args: string[]) => ok(sh("git", ["-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", ...args], { cwd: src }), `git ${args[0]}`);
        git("commit", "-q", "-am", `CoinPilot stand-in ${tag}`);
        git("tag", tag);
        const bare = path.join(this.dir, "www", "coin-pilot.git");
        git("push", "-q", bare, "main", tag);
        ok(sh("git", ["update-server-info"], { cwd: bare }), "git update-server-info");
        return git("rev-parse", "HEAD").stdout.trim();
    }

    private startServer(): void {
        const dockerRepo = ok(sh("bash", [HOST_SH, "build"]), "host.sh build").stdout.trim().split("\n").pop()!;
        const tls = path.join(this.dir, "tls");
        const portFile = path.join(this.dir, "server.port");
        this.server = spawn(
            "node",
            ["--require", "ts-node/register/transpile-only", path.join(ROOT, "scripts", "e2e", "serve.ts"),
                "--listen", `${this.outerAddr}:0`, "--cert", path.join(tls, "server.crt"), "--key", path.join(tls, "server.key"), "--log", this.requestLog,
                "--route", `/docker=${dockerRepo}`, "--route", `/coin-pilot.git=${path.join(this.dir, "www", "coin-pilot.git")}`, "--bucket", this.bucketDir],
            // stdout to a file: the tests drive the CLI with spawnSync, so no event reaches this process.
            { cwd: ROOT, stdio: ["ignore", openSync(portFile, "w"), "inherit"] },
        );
        this.recordChild(this.server);
        this.serverPort = waitForPort(portFile, "scripts/e2e/serve.ts");
        this.appRepoUrl = `https://${this.outerAddr}:${this.serverPort}/coin-pilot.git`;
        writeFileSync(this.objectStorageFile, `https://${this.outerAddr}:${this.serverPort}`);
    }

    /**
     * What a test host needs that an OCI host gets elsewhere: trust in the test's CA, and the URL of the
     * local Docker repository in the environment of SSH sessions, kept by sudo (install-docker.sh's
     * DOCKER_APT_URL). Done again after every recreate.
     */
    prepareHost(): void {
        const ca = readFileSync(path.join(this.dir, "tls", "ca.crt"), "utf8");
        ok(this.ssh("sudo tee /usr/local/share/ca-certificates/coinpilot-e2e.crt >/dev/null && sudo update-ca-certificates >/dev/null", ca), "trust the test CA");
        const url = `https://${this.outerAddr}:${this.serverPort}/docker`;
        ok(this.ssh(`echo 'DOCKER_APT_URL=${url}' | sudo tee -a /etc/environment >/dev/null && echo 'Defaults env_keep += "DOCKER_APT_URL"' | sudo tee /etc/sudoers.d/coinpilot-e2e >/dev/null`), "DOCKER_APT_URL");
    }

    /** The images in the engine the host uses: a static busybox, imported from this machine's, and the data services' image. */
    private importBaseImage(): void {
        const rootfs = path.join(this.dir, "busybox-rootfs");
        mkdirSync(path.join(rootfs, "bin"), { recursive: true });
        ok(sh("cp", ["/bin/busybox", path.join(rootfs, "bin", "busybox")]), "cp busybox");
        // Relative links (`busybox --install -s` would point them at this machine's path).
        for (const applet of ok(sh("/bin/busybox", ["--list"]), "busybox --list").stdout.split("\n").filter((a) => a && a !== "busybox")) {
            symlinkSync("busybox", path.join(rootfs, "bin", applet));
        }
        const env = { ...process.env, DOCKER_HOST: `unix://${path.join(this.run, "docker-sock", "docker.sock")}` };
        ok(sh("bash", ["-c", `tar -C '${rootfs}' -c . | docker import - ${BASE_IMAGE}`], { env }), "docker import");
        const services = ok(sh("bash", [HOST_SH, "services-image"]), "host.sh services-image").stdout.trim();
        ok(sh("docker", ["import", "--change", `ENV PATH=${SERVICES_PATH}`, services, SERVICES_IMAGE], { env }), "docker import (services)");
    }
}

/** PostgreSQL's own programs first (not Debian's version-picking wrappers), as in the postgres image. */
const SERVICES_PATH = "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function botScript(version: string): string {
    return `echo "bot ${version} started"\nexec sleep 2147483647\n`;
}

/** The port a child announced as `listening PORT` in a file (polled: the tests block in spawnSync). */
function waitForPort(file: string, what: string): number {
    const deadline = Date.now() + 60_000;
    for (;;) {
        const match = existsSync(file) ? /listening (\d+)/.exec(readFileSync(file, "utf8")) : null;
        if (match) return Number(match[1]);
        if (Date.now() > deadline) throw new Error(`${what} did not start`);
        sh("sleep", ["0.2"]);
    }
}

/**
 * The seeds' services in small: `bot` built from the checkout; image-only `db` (PostgreSQL), `redis`
 * and `n8n` (a SQLite database in its data volume) with production's container names, which the
 * backup scripts use, and `dashboard`, with their ports on 127.0.0.1; `web` publishing 80 and 443 on
 * every interface; a run-once `migrate`.
 */
export function composeFile(): string {
    const busybox = (name: string, port: number) =>
        `  ${name}:\n    image: ${BASE_IMAGE}\n    command: ["httpd", "-f", "-p", "${port}", "-h", "/etc"]\n    restart: unless-stopped\n    ports: ["127.0.0.1:${port}:${port}"]\n`;
    const data = (name: string, command: string, volume: string, port?: number) =>
        [
            `  ${name}:`,
            `    image: ${SERVICES_IMAGE}`,
            `    container_name: coinpilot-${name}`,
            `    command: ${JSON.stringify(["sh", "-c", command])}`,
            "    env_file: .env",
            "    restart: unless-stopped",
            `    volumes: ["${name}-data:${volume}"]`,
            ...(port ? [`    ports: ["127.0.0.1:${port}:${port}"]`] : []),
        ].join("\n");
    return [
        "services:",
        "  bot:",
        "    build: ../../../bot",
        "    restart: unless-stopped",
        "    env_file: .env",
        data("db", "exec e2e-postgres", "/var/lib/postgresql/data", 5432),
        // $$: the variable is the container's (from env_file), not Compose's to interpolate.
        data("redis", 'exec redis-server --requirepass "$$REDIS_PASSWORD" --dir /data --bind 0.0.0.0 --protected-mode no', "/data", 6379),
        data("n8n", "sqlite3 /home/node/.n8n/database.sqlite 'PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS workflow_entity (id INTEGER PRIMARY KEY, name TEXT NOT NULL)' >/dev/null && exec sleep infinity", "/home/node/.n8n"),
        busybox("dashboard", 8501).trimEnd(),
        "  web:",
        `    image: ${BASE_IMAGE}`,
        '    command: ["httpd", "-f", "-p", "80", "-h", "/etc"]',
        "    restart: unless-stopped",
        '    ports: ["80:80", "443:443"]',
        "  migrate:",
        `    image: ${BASE_IMAGE}`,
        '    command: ["true"]',
        "volumes:",
        "  db-data:",
        "  redis-data:",
        "  n8n-data:",
        "",
    ].join("\n");
}
