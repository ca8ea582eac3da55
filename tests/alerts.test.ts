// Host-side alerts, end to end: a failing backup job runs alert.sh through lib.sh's exit handler,
// which posts to a Discord stand-in on 127.0.0.1 at most once per job per hour, writes the journal
// (a stand-in logger) always, and never puts the webhook URL in argv or any log. Also the daily
// freshness heartbeat, the compose unit's OnFailure= path (--unit), the boot health check's failure
// reaching the webhook through its unit's OnFailure=, the step that installs the webhook file on the
// host, and which webhook (coinpilot:opsWebhookUrl or discordWebhookUrl) the program ships there.
import { byName, created, isSecretEnvelope, parentOf, plainStrings, settle, useConfig } from "./mocks";
import * as fs from "fs";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Backups } from "../components/backups";
import { ALERT_WEBHOOK_FILE, alertWebhookCommand } from "../lib/host/alerts";
import { ALERT_UNIT_PATH, BACKUP_ASSETS, BACKUP_INSTALL_DIR, HEALTH_UNIT_PATH, SHIPPED_ASSETS } from "../lib/host/backup-files";
import { COMPOSE_UNIT_DEFAULTS, renderComposeUnit } from "../lib/host/systemd-unit";
import { buildPlan, formatPlan } from "../lib/plan/plan";
import { BACKUP_DIR, REPO_ROOT, describeWithBinaries, requireBinaries, runBackupScriptAsync } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";
import { startHttpStandIn } from "./helpers/http-stand-in";
import { shellDefault } from "./helpers/shell";

const TOKEN = "TEST-ONLY-WEBHOOK-TOKEN-d41d8cd98f00";
const ALERT_SH = path.join(BACKUP_DIR, "alert.sh");
const read = (p: string) => fs.readFileSync(path.join(REPO_ROOT, p), "utf8");

interface Received {
    readonly path: string;
    readonly contentType: string | undefined;
    readonly body: { content: string; allowed_mentions: unknown };
}

/** Discord's webhook endpoint, as far as alert.sh uses it: POST JSON, answer 204. */
async function startWebhook(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
    const received: Received[] = [];
    const server = await startHttpStandIn((req, res) => {
        let data = "";
        req.on("data", (d) => (data += d));
        req.on("end", () => {
            received.push({ path: req.url ?? "", contentType: req.headers["content-type"], body: JSON.parse(data) });
            res.writeHead(204).end();
        });
    });
    return { url: `${server.url}/api/webhooks/4242/${TOKEN}`, received, close: server.close };
}

/** A unit's directive values (Key=value lines), in order. */
function directives(unitText: string, key: string): string[] {
    return unitText.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

/** systemd's specifiers as our units use them: %N the unit's name without its suffix, %i a template's instance. */
function expandSpecifiers(value: string, unitName: string): string {
    const prefix = unitName.replace(/\.service$/, "");
    const instance = prefix.includes("@") ? prefix.slice(prefix.indexOf("@") + 1) : "";
    return value.replace(/%N/g, prefix).replace(/%i/g, instance);
}

/** The repository file installed at a host path (the ExecStart= of a unit names host paths). */
function sourceOf(hostPath: string): string {
    const shipped = SHIPPED_ASSETS.find((a) => a.remotePath === hostPath);
    if (!shipped) throw new Error(`nothing is installed at ${hostPath}`);
    return path.join(REPO_ROOT, shipped.source);
}

/** Runs a command asynchronously (a stand-in server in this process must keep answering); stdout and stderr together, as the journal gets them. */
async function runAsync(argv: string[], env: Record<string, string>): Promise<{ status: number | null; output: string }> {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { status, output };
}

describeWithBinaries(["curl", "flock"], "alerts from the backup jobs, against a Discord stand-in", () => {
    let webhook: Awaited<ReturnType<typeof startWebhook>>;
    let work: string;
    let env: Record<string, string>;
    const journal = () => (fs.existsSync(path.join(work, "journal")) ? fs.readFileSync(path.join(work, "journal"), "utf8") : "");
    const argvs = () => (fs.existsSync(path.join(work, "argv")) ? fs.readFileSync(path.join(work, "argv"), "utf8") : "");
    const logs = () => fs.readdirSync(path.join(work, "log")).map((f) => fs.readFileSync(path.join(work, "log", f), "utf8")).join("");

    beforeAll(async () => {
        requireBinaries(["curl", "flock"]);
        webhook = await startWebhook();
    });
    afterAll(() => webhook.close());

    beforeEach(() => {
        webhook.received.length = 0;
        work = scratchDir("alerts");
        for (const dir of ["log", "backups", "bin"]) fs.mkdirSync(path.join(work, dir));
        // Stand-ins that record: the journal writer (stdin), and curl's argv before the real curl runs.
        fs.writeFileSync(path.join(work, "bin", "logger"), `#!/bin/sh\ncat >>"${work}/journal"\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(work, "bin", "curl"), `#!/bin/sh\nprintf '%s\\n' "$*" >>"${work}/argv"\nexec curl "$@"\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(work, "webhook"), `${webhook.url}\n`, { mode: 0o600 });
        env = {
            BACKUP_ROOT: path.join(work, "backups"),
            LOG_DIR: path.join(work, "log"),
            ENV_FILE: "",
            BACKUP_KINDS: "postgres",
            OFFSITE_URL_FILE: path.join(work, "no-offsite"),
            ALERT_CMD: ALERT_SH,
            ALERT_WEBHOOK_FILE: path.join(work, "webhook"),
            ALERT_STATE_DIR: path.join(work, "state"),
            ALERT_LOGGER: path.join(work, "bin", "logger"),
            CURL: path.join(work, "bin", "curl"),
        };
    });
    afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

    it("a failing job posts once with host, job, exit code and its ERROR line; a second failure within the hour does not; after the hour it posts again", async () => {
        const first = await runBackupScriptAsync("verify_backups.sh", env);
        expect(first.status).toBe(1);
        expect(webhook.received).toHaveLength(1);
        const [post] = webhook.received;
        expect(post.path).toBe(`/api/webhooks/4242/${TOKEN}`);
        expect(post.contentType).toBe("application/json");
        expect(post.body.content).toMatch(/^FAILED: verify_backups on \S+, exit 1\n```\n/);
        expect(post.body.content).toContain(first.logged.split("\n").find((l) => / ERROR /.test(l))!);
        // Nobody is pinged by an alert's text.
        expect(post.body.allowed_mentions).toEqual({ parse: [] });
        expect(journal()).toContain("FAILED: verify_backups");

        const second = await runBackupScriptAsync("verify_backups.sh", env);
        expect(second.status).toBe(1);
        expect(webhook.received).toHaveLength(1);
        expect(journal()).toMatch(/verify_backups: not posted to Discord, its last post was \d+s ago \(at most one per 3600s\)/);

        // The hour is over (the stamp says so): the next failure posts again.
        fs.writeFileSync(path.join(work, "state", "verify_backups.last"), `${Math.floor(Date.now() / 1000) - 3601}\n`);
        await runBackupScriptAsync("verify_backups.sh", env);
        expect(webhook.received).toHaveLength(2);

        // The URL's token is nowhere but in the root-only file: not in argv, the logs, the journal or the output.
        expect(argvs()).toContain("--config -");
        for (const text of [argvs(), logs(), journal(), first.output, second.output]) expect(text).not.toContain(TOKEN);
        expect((fs.statSync(path.join(work, "state")).mode & 0o777).toString(8)).toBe("700");
    });

    it("the limit is per job: another job's failure in the same hour still posts", async () => {
        await runBackupScriptAsync("verify_backups.sh", env);
        await runBackupScriptAsync("backup_freshness.sh", env);
        expect(webhook.received.map((r) => r.body.content.split("\n")[0].replace(/ on \S+,/, ","))).toEqual(["FAILED: verify_backups, exit 1", "FAILED: backup_freshness, exit 1"]);
    });

    it("with no webhook file, the alert goes to the journal only", async () => {
        fs.rmSync(path.join(work, "webhook"));
        const run = await runBackupScriptAsync("verify_backups.sh", env);
        expect(run.status).toBe(1);
        expect(webhook.received).toHaveLength(0);
        expect(argvs()).toBe("");
        expect(journal()).toMatch(/^FAILED: verify_backups on \S+, exit 1\nlast lines of .*verify_backups\.log:\n[\s\S]* ERROR verification FAILED/);
    });

    it("a webhook that refuses the post is noted in the journal (never the URL), and the next failure tries again", async () => {
        // A closed port: no answer at all.
        fs.writeFileSync(path.join(work, "webhook"), `http://127.0.0.1:1/api/webhooks/4242/${TOKEN}\n`);
        await runBackupScriptAsync("verify_backups.sh", env);
        expect(journal()).toMatch(/verify_backups: posting to Discord failed \(.*Failed to connect.*\); the next failure tries again/);
        expect(fs.existsSync(path.join(work, "state", "verify_backups.last"))).toBe(false);
        expect(journal() + argvs()).not.toContain(TOKEN);
    });

    it("a successful job sends nothing", async () => {
        const dir = path.join(work, "backups", "postgres");
        fs.mkdirSync(dir);
        const run = await runBackupScriptAsync("offsite_upload.sh", env);
        expect(run.status).toBe(0);
        expect(webhook.received).toHaveLength(0);
        expect(journal()).toBe("");
    });

    it("the daily heartbeat posts OK with each kind's age when the backups are fresh, and an alert when one is stale", async () => {
        const dir = path.join(work, "backups", "postgres");
        fs.mkdirSync(dir);
        const file = path.join(dir, "postgres_20260301T030500Z.dump");
        fs.writeFileSync(file, "x");
        const fresh = await runBackupScriptAsync("backup_freshness.sh", env);
        expect(fresh.status).toBe(0);
        expect(fresh.logged).toMatch(/INFO backups fresh: postgres 0h \(postgres_20260301T030500Z\.dump\); \S+ free on the backup volume/);
        expect(webhook.received.map((r) => r.body.content.split("\n")[0])).toEqual([expect.stringMatching(/^OK: backup_freshness on \S+ \(heartbeat\)$/)]);

        const old = new Date(Date.now() - 27 * 3600 * 1000);
        fs.utimesSync(file, old, old);
        fs.rmSync(path.join(work, "state"), { recursive: true });
        const stale = await runBackupScriptAsync("backup_freshness.sh", env);
        expect(stale.status).toBe(1);
        expect(stale.logged).toMatch(/ERROR backups are STALE: postgres: newest backup postgres_20260301T030500Z\.dump is 27h old \(limit 26h\)/);
        expect(webhook.received[1].body.content).toMatch(/^FAILED: backup_freshness on \S+, exit 1\n/);
    });

    it("--unit sends the failed unit's last journal lines (the compose unit's OnFailure= path)", () => {
        // Journal only here: a synchronous run would block the in-process stand-in.
        fs.rmSync(path.join(work, "webhook"));
        fs.writeFileSync(path.join(work, "bin", "journalctl"), `#!/bin/sh\nprintf 'args: %s\\n' "$*"\necho "compose: pull access denied"\n`, { mode: 0o755 });
        const run = spawnSync("bash", [ALERT_SH, "coinpilot-compose", "1", "--unit", "coinpilot-compose.service"], {
            env: { ...env, PATH: process.env.PATH ?? "", JOURNALCTL: path.join(work, "bin", "journalctl") },
            encoding: "utf8",
        });
        expect(run.status).toBe(0);
        expect(journal()).toContain("FAILED: coinpilot-compose on");
        expect(journal()).toContain("args: -u coinpilot-compose.service -n 15 --no-pager -o cat");
        expect(journal()).toContain("compose: pull access denied");
    });

    it("a boot health check that fails posts its reason: coinpilot-health.service's ExecStart fails, its OnFailure= unit runs alert.sh", async () => {
        // The two units as shipped, run the way systemd would: ExecStart= of coinpilot-health.service
        // (host paths mapped to this repository's files, the app directory to a temp one), its output
        // kept as the unit's journal, then, on a non-zero exit, the ExecStart= of the OnFailure= unit.
        const healthName = path.basename(HEALTH_UNIT_PATH);
        const healthUnit = read(SHIPPED_ASSETS.find((a) => a.remotePath === HEALTH_UNIT_PATH)!.source);
        const [execStart] = directives(healthUnit, "ExecStart").map((v) => expandSpecifiers(v, healthName).split(" "));
        const app = path.join(work, "app");
        fs.mkdirSync(app);
        const bin = path.join(work, "bin");
        // The compose unit failed at boot: health-check.sh fails at once, naming it.
        fs.writeFileSync(path.join(bin, "systemctl"), "#!/bin/sh\nprintf 'failed\\nfailed\\n'\n", { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\ncase " $* " in *" config --format json "*) echo '{"services":{"bot":{}}}' ;; *) echo "NAME SERVICE STATUS" ;; esac\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "journalctl"), `#!/bin/sh\n[ "$2" = "${healthName}" ] && exec cat "${work}/health-journal"\necho "-- No entries --"\n`, { mode: 0o755 });
        const hostEnv = { ...env, PATH: process.env.PATH ?? "", SYSTEMCTL: path.join(bin, "systemctl"), DOCKER: path.join(bin, "docker"), JOURNALCTL: path.join(bin, "journalctl"), CRON_PATHS: path.join(work, "no-cron") };
        const args = execStart.slice(1).map((a) => (a === COMPOSE_UNIT_DEFAULTS.appDir ? app : a));
        const health = await runAsync(["bash", sourceOf(execStart[0]), ...args], hostEnv);
        expect(health.status).toBe(1);
        fs.writeFileSync(path.join(work, "health-journal"), health.output);
        expect(webhook.received).toHaveLength(0);

        const [onFailure] = directives(healthUnit, "OnFailure").map((v) => expandSpecifiers(v, healthName));
        expect(onFailure).toBe("coinpilot-alert@coinpilot-health.service");
        const alertUnit = read(BACKUP_ASSETS.find((a) => a.remotePath === ALERT_UNIT_PATH)!.source);
        const [alertStart] = directives(alertUnit, "ExecStart").map((v) => expandSpecifiers(v, onFailure).split(" "));
        const alert = await runAsync(["bash", sourceOf(alertStart[0]), ...alertStart.slice(1)], hostEnv);
        expect(alert.status).toBe(0);
        expect(webhook.received).toHaveLength(1);
        const message = webhook.received[0].body.content;
        expect(message).toMatch(/^FAILED: coinpilot-health on \S+, exit 1\n```\n/);
        // The reason is the gate's last line, so it is among the lines sent.
        expect(message).toMatch(/\ncoinpilot-compose\.service failed \(failed\/failed\)\n```$/);
        expect(journal()).toContain("FAILED: coinpilot-health on");
        expect(argvs() + journal()).not.toContain(TOKEN);
    });

    it("a boot health check that passes exits 0, so systemd starts no OnFailure= unit", async () => {
        const healthUnit = read(SHIPPED_ASSETS.find((a) => a.remotePath === HEALTH_UNIT_PATH)!.source);
        const [execStart] = directives(healthUnit, "ExecStart").map((v) => v.split(" "));
        const app = path.join(work, "app");
        fs.mkdirSync(app);
        const bin = path.join(work, "bin");
        fs.writeFileSync(path.join(bin, "systemctl"), "#!/bin/sh\nprintf 'active\\nexited\\n'\n", { mode: 0o755 });
        fs.writeFileSync(
            path.join(bin, "docker"),
            `#!/bin/sh\ncase " $* " in *" config --format json "*) echo '{"services":{"bot":{}}}' ;; *" ps --all --format json "*) echo '{"Service":"bot","State":"running","Health":""}' ;; esac\n`,
            { mode: 0o755 },
        );
        const args = execStart.slice(1).map((a) => (a === COMPOSE_UNIT_DEFAULTS.appDir ? app : a));
        const health = await runAsync(["bash", sourceOf(execStart[0]), ...args], { ...env, PATH: process.env.PATH ?? "", SYSTEMCTL: path.join(bin, "systemctl"), DOCKER: path.join(bin, "docker"), CRON_PATHS: path.join(work, "no-cron") });
        expect(health.output).toContain("coinpilot-compose.service active (exited); all services running");
        expect(health.status).toBe(0);
    });

    it("refuses a bad job name or status (usage, exit 2)", () => {
        const run = spawnSync("bash", [ALERT_SH, "a b", "x", "/dev/null"], { env: { ...env, PATH: process.env.PATH ?? "" }, encoding: "utf8" });
        expect(run.status).toBe(2);
    });
});

describe("the alert wiring on the host", () => {
    it("alert.sh, lib.sh and the unit agree with the TypeScript paths", () => {
        expect(shellDefault(read("assets/backup/alert.sh"), "ALERT_WEBHOOK_FILE")).toBe(ALERT_WEBHOOK_FILE);
        const alertAsset = BACKUP_ASSETS.find((a) => a.source === "assets/backup/alert.sh")!;
        expect(shellDefault(read("assets/backup/lib.sh"), "ALERT_CMD")).toBe(alertAsset.remotePath);
        expect(alertAsset.remotePath).toBe(`${BACKUP_INSTALL_DIR}/alert.sh`);
        const unitAsset = BACKUP_ASSETS.find((a) => a.remotePath === ALERT_UNIT_PATH)!;
        expect(read(unitAsset.source)).toContain(`ExecStart=${alertAsset.remotePath} %i 1 --unit %i.service`);
        // %N is the failing unit's name without .service: coinpilot-alert@coinpilot-compose.service.
        expect(renderComposeUnit(COMPOSE_UNIT_DEFAULTS)).toContain(`OnFailure=${path.basename(ALERT_UNIT_PATH).replace("@.service", "@%N.service")}\n`);
    });

    it("installs the webhook file from stdin (a secret), removes it when the webhook goes, and keeps the URL out of every plain input", async () => {
        useConfig({});
        const url = `https://discord.com/api/webhooks/4242/${TOKEN}`;
        const vm = new random.RandomPassword("vm", { length: 8 });
        new Backups("al", { connection: { host: "192.0.2.10", user: "ubuntu", privateKey: pulumi.secret("KEY") }, instanceId: "ocid1.instance.oc1..example", instance: vm, alertWebhookUrl: pulumi.secret(url) });
        await settle();
        const step = byName("al-alert-webhook");
        expect(parentOf(step)?.type).toBe("coinpilot:host:Backups");
        expect(step.inputs.create).toBe(alertWebhookCommand());
        expect(step.inputs.delete).toBe(`sudo rm -f ${ALERT_WEBHOOK_FILE}`);
        expect(isSecretEnvelope(step.inputs.stdin)).toBe(true);
        expect((step.inputs.stdin as { value: string }).value).toBe(`${url}\n`);
        expect(plainStrings(step.inputs).join("\n")).not.toContain(TOKEN);
    });
});

describe("which webhook the program ships for the host's alerts (coinpilot:opsWebhookUrl, else discordWebhookUrl)", () => {
    const LAUNCH_TOKEN = "TEST-ONLY-launch-channel-token-0123456789";
    const OPS_TOKEN = "TEST-ONLY-ops-channel-token-9876543210abc";
    const LAUNCH = `https://discord.com/api/webhooks/111111111111111111/${LAUNCH_TOKEN}`;
    const OPS = `https://discord.com/api/webhooks/222222222222222222/${OPS_TOKEN}`;

    /** The whole program under the fake cloud with these two keys; the plan's text as `npm run plan` prints it. */
    async function program(keys: { discordWebhookUrl?: string; opsWebhookUrl?: string }) {
        useConfig({ "coinpilot:discordWebhookUrl": keys.discordWebhookUrl, "coinpilot:opsWebhookUrl": keys.opsWebhookUrl });
        jest.isolateModules(() => require("../index"));
        await settle();
        const resources = [...created];
        const step = resources.find((r) => r.name === "coinpilot-host-backups-alert-webhook");
        const planText = formatPlan(buildPlan("prod", resources, {}));
        return { resources, step, planText };
    }

    it.each([
        ["only discordWebhookUrl: the hunt's channel", { discordWebhookUrl: LAUNCH }, LAUNCH],
        ["both: opsWebhookUrl", { discordWebhookUrl: LAUNCH, opsWebhookUrl: OPS }, OPS],
        ["only opsWebhookUrl", { opsWebhookUrl: OPS }, OPS],
    ])("%s reaches the root-only file, as a secret stdin only", async (_label, keys, expected) => {
        const { resources, step, planText } = await program(keys);
        expect(step).toBeDefined();
        expect(step!.inputs.create).toBe(alertWebhookCommand());
        expect(alertWebhookCommand()).toContain(ALERT_WEBHOOK_FILE);
        expect(isSecretEnvelope(step!.inputs.stdin)).toBe(true);
        expect((step!.inputs.stdin as { value: string }).value).toBe(`${expected}\n`);
        // No token in any plain input of any resource (command lines, triggers), nor in the plan, which shows [secret].
        for (const r of resources) expect([r.name, plainStrings(r.inputs).join("\n")]).toEqual([r.name, expect.not.stringMatching(new RegExp(`${LAUNCH_TOKEN}|${OPS_TOKEN}`))]);
        const shown = planText.slice(planText.indexOf("+ command:remote:Command  coinpilot-host-backups-alert-webhook"));
        expect(shown.split("\n").find((l) => l.trim().startsWith("stdin:"))).toMatch(/^ +stdin: \[secret\]$/);
        expect(planText).not.toContain(LAUNCH_TOKEN);
        expect(planText).not.toContain(OPS_TOKEN);
    });

    it("with neither, ships no webhook file: alerts reach the journal only", async () => {
        const { resources, step } = await program({});
        expect(step).toBeUndefined();
        expect(resources.some((r) => r.type === "coinpilot:host:Backups")).toBe(true);
    });

    it("a new opsWebhookUrl re-runs the webhook step (its trigger, a keyed digest, changes) and nothing else of the host", async () => {
        const before = await program({ discordWebhookUrl: LAUNCH });
        const after = await program({ discordWebhookUrl: LAUNCH, opsWebhookUrl: OPS });
        const inputs = (r: { inputs: Record<string, unknown> }) => JSON.stringify(plainStrings(r.inputs));
        const changed = after.resources.filter((r) => inputs(r) !== inputs(before.resources.find((b) => b.name === r.name)!)).map((r) => r.name);
        expect(changed).toEqual(["coinpilot-host-backups-alert-webhook"]);
    });
});
