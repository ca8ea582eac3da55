// The Host component under Pulumi mocks: the step graph, the triggers, and where secrets go.
import { byName, created, isSecretEnvelope, plainStrings, resetCreated, settle } from "./mocks";
import { cpSync, appendFileSync } from "fs";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { RecordedResource } from "../lib/plan/mock-cloud";
import { A1Instance } from "../components/instance";
import { HOST_ASSETS_DIR, HOST_STEPS, Host, HostArgs, assetHash } from "../components/host";
import { hmacSha256, sha256 } from "../lib/host/hash";
import { ENV_FILE_PATH } from "../lib/host/env-file";
import { UNIT_NAME, renderComposeUnit } from "../lib/host/systemd-unit";
import { GENERATED_SECRETS } from "../lib/host/generated-secrets";

// Distinctive stand-ins for secrets, so a leak anywhere is found by a plain text search.
const SECRETS = {
    sshPrivateKey: "TEST-ONLY-SSH-PRIVATE-KEY-MARKER",
    upbitAccessKey: "TEST-ONLY-UPBIT-ACCESS-MARKER",
    upbitSecretKey: "TEST-ONLY-UPBIT-SECRET-MARKER",
    openaiApiKey: "TEST-ONLY-OPENAI-MARKER",
    appRepoToken: "TEST-ONLY-REPO-TOKEN-MARKER",
};
// The mock cloud's RandomPassword result for length 32.
const GENERATED = "x".repeat(32);

function makeVm(name: string): A1Instance {
    return new A1Instance(name, {
        compartmentId: "ocid1.compartment.oc1..aaaaaaaaexample",
        subnetId: "ocid1.subnet.oc1..aaaaaaaaexample",
        imageId: "ocid1.image.oc1..aaaaaaaaexample",
        sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA test",
    });
}

function makeHost(name: string, overrides: Partial<HostArgs> = {}, vm = makeVm(`${name}-a1`)) {
    const host = new Host(name, {
        instance: vm.instance,
        instanceId: vm.instanceId,
        publicIp: vm.publicIp,
        sshPrivateKey: pulumi.secret(SECRETS.sshPrivateKey),
        appRepoUrl: "https://github.com/example/coin-pilot.git",
        appRef: "v1.2.3",
        appRepoToken: pulumi.secret(SECRETS.appRepoToken),
        appSecrets: {
            upbitAccessKey: pulumi.secret(SECRETS.upbitAccessKey),
            upbitSecretKey: pulumi.secret(SECRETS.upbitSecretKey),
            openaiApiKey: pulumi.secret(SECRETS.openaiApiKey),
        },
        ...overrides,
    });
    return { vm, host };
}

/** The value inside a secret envelope. */
function unwrap(value: unknown): any {
    expect(isSecretEnvelope(value)).toBe(true);
    return (value as { value: unknown }).value;
}

/** The Host's own steps (the Backups child has commands of its own). */
function stepsOf(name: string): RecordedResource[] {
    return created.filter((r) => r.type === "command:remote:Command" && r.parent === byName(name).urn);
}

// The optional steps (a data volume, a time zone) are tested on their own.
const ROLES = HOST_STEPS.map((s) => s.role).filter((r) => r !== "data-volume" && r !== "timezone");

describe("Host under mocks", () => {
    beforeAll(async () => {
        resetCreated();
        makeHost("h1");
        await settle();
    });

    it("runs the steps in order, each after the previous one and after its own script copy", () => {
        expect(stepsOf("h1").map((r) => r.name)).toEqual(ROLES.map((role) => `h1-${role}`));
        for (let i = 1; i < ROLES.length; i++) {
            const step = byName(`h1-${ROLES[i]}`);
            expect(step.options.dependsOn).toContain(byName(`h1-${ROLES[i - 1]}`).urn);
            expect(step.options.dependsOn).toContain(byName(`h1-${ROLES[i]}-script`).urn);
            expect(byName(`h1-${ROLES[i]}-script`).options.dependsOn).toEqual([byName("h1-wait").urn]);
        }
        expect(byName("h1-unit").options.dependsOn).toContain(byName("h1-unit-file").urn);
    });

    it("parents every step to the Host and ties it to the instance with deletedWith", () => {
        const host = byName("h1");
        expect(host.type).toBe("coinpilot:host:Host");
        const vm = byName("h1-a1-vm");
        const own = created.filter((r) => r.parent === host.urn && r.type.startsWith("command:remote:"));
        expect(own).toHaveLength(1 + 2 * (ROLES.length - 1) + 1); // wait, the other steps with their scripts, the unit file
        for (const r of own) expect(r.options.deletedWith).toBe(vm.urn);
    });

    it("installs the backups as a child once Docker is there", () => {
        const backups = byName("h1-backups");
        expect(backups.type).toBe("coinpilot:host:Backups");
        expect(backups.parent).toBe(byName("h1").urn);
        expect(backups.options.dependsOn).toEqual([byName("h1-docker").urn]);
        // Its own steps too: each waits for Docker itself and goes with the VM.
        const steps = created.filter((r) => r.parent === backups.urn);
        expect(steps.length).toBeGreaterThan(0);
        for (const step of steps) {
            expect([step.name, step.options.dependsOn[0], step.options.deletedWith]).toEqual([step.name, byName("h1-docker").urn, byName("h1-a1-vm").urn]);
        }
    });

    it("keeps generated passwords out of deletedWith and protected: a recreated VM must find the same database password", () => {
        const passwords = created.filter((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name.startsWith("h1-"));
        expect(passwords.map((p) => p.name).sort()).toEqual(
            ["grafana-admin-password", "n8n-encryption-key", "n8n-password", "n8n-webhook-secret", "postgres-password", "redis-password"].map((n) => `h1-${n}`),
        );
        expect(passwords.map((p) => p.name).sort()).toEqual(GENERATED_SECRETS.map((s) => `h1-${s.role}`).sort());
        for (const p of passwords) {
            expect(p.options.deletedWith).toBe("");
            // `pulumi destroy --exclude-protected` keeps them in the stack with the data volume.
            expect(p.options.protect).toBe(true);
            expect(p.inputs).toMatchObject({ length: 32, special: false });
        }
    });

    it("puts the instance id and the content hash of the shipped script in each step's triggers", () => {
        for (const role of ROLES) {
            const script = HOST_STEPS.find((s) => s.role === role)!.script;
            const recorded = byName(`h1-${role}`).inputs.triggers;
            // Nothing secret in any step's triggers: the .env counts by an HMAC, so each part stays readable.
            expect(isSecretEnvelope(recorded)).toBe(false);
            const triggers = recorded as unknown[];
            expect(triggers[0]).toMatch(/^ocid1\.instance\./);
            expect(triggers[1]).toBe(assetHash(path.join(HOST_ASSETS_DIR, script)));
            if (role !== "wait") expect((byName(`h1-${role}-script`).inputs.triggers as unknown[])[1]).toBe(triggers[1]);
        }
        const unitHash = sha256(renderComposeUnit());
        const applyTriggers = [unitHash, "https://github.com/example/coin-pilot.git", "v1.2.3"];
        expect(byName("h1-unit").inputs.triggers).toEqual(expect.arrayContaining(applyTriggers));
        expect(byName("h1-health").inputs.triggers).toEqual(expect.arrayContaining(applyTriggers));
        expect((byName("h1-unit-file").inputs.triggers as unknown[])[1]).toBe(unitHash);
        expect(byName("h1-checkout").inputs.triggers).toEqual(expect.arrayContaining(["https://github.com/example/coin-pilot.git", "v1.2.3"]));
    });

    it("ships the rendered unit as text the plan can print, and each script as a file", async () => {
        const unitFile = byName("h1-unit-file");
        expect(unitFile.type).toBe("command:remote:CopyToRemote");
        expect(await (unitFile.inputs.source as pulumi.asset.StringAsset).text).toBe(renderComposeUnit());
        expect(unitFile.inputs.remotePath).toBe(`/home/ubuntu/.coinpilot-bootstrap/${UNIT_NAME}`);
        expect(await (byName("h1-firewall-script").inputs.source as pulumi.asset.FileAsset).path).toBe("assets/host/open-web-ports.sh");
    });

    it("runs staged scripts with plain arguments; the first step reads its script from stdin", () => {
        expect(byName("h1-wait").inputs.create).toBe("bash -s -- /home/ubuntu/.coinpilot-bootstrap");
        expect(byName("h1-docker").inputs.create).toBe("sudo bash /home/ubuntu/.coinpilot-bootstrap/install-docker.sh ubuntu");
        expect(byName("h1-checkout").inputs.create).toBe(
            "sudo bash /home/ubuntu/.coinpilot-bootstrap/checkout-app.sh https://github.com/example/coin-pilot.git v1.2.3 /opt/coin-pilot ubuntu",
        );
        expect(byName("h1-env").inputs.create).toBe(`sudo bash /home/ubuntu/.coinpilot-bootstrap/write-env.sh ${ENV_FILE_PATH} ubuntu`);
    });

    it("passes the .env and the repo token only as secret stdin", () => {
        const env = byName("h1-env").inputs.stdin;
        expect(isSecretEnvelope(env)).toBe(true);
        const text = (env as { value: string }).value;
        for (const line of [
            "POSTGRES_USER=coinpilot",
            `POSTGRES_PASSWORD=${GENERATED}`,
            "POSTGRES_DB=coinpilot",
            `REDIS_PASSWORD=${GENERATED}`,
            `N8N_ENCRYPTION_KEY=${GENERATED}`,
            `N8N_WEBHOOK_SECRET=${GENERATED}`,
            "GRAFANA_ADMIN_USER=admin",
            `GRAFANA_ADMIN_PASSWORD=${GENERATED}`,
            `UPBIT_ACCESS_KEY=${SECRETS.upbitAccessKey}`,
            `UPBIT_SECRET_KEY=${SECRETS.upbitSecretKey}`,
            `OPENAI_API_KEY=${SECRETS.openaiApiKey}`,
        ]) {
            expect(text.split("\n")).toContain(line);
        }
        const token = byName("h1-checkout").inputs.stdin;
        expect(isSecretEnvelope(token)).toBe(true);
        expect((token as { value: string }).value).toBe(`${SECRETS.appRepoToken}\n`);
    });

    it("leaves no secret in any plain input: create text, triggers, connection, sources", () => {
        const everything = created.filter((r) => r.name.startsWith("h1")).flatMap((r) => plainStrings(r.inputs));
        expect(everything.length).toBeGreaterThan(50);
        for (const secret of [...Object.values(SECRETS), GENERATED]) {
            expect(everything.filter((s) => s.includes(secret))).toEqual([]);
        }
        // The .env counts in the unit's and health check's triggers by an HMAC keyed with its webhook
        // secret: plain, yet no one without the key can test a guess of the file against it.
        const envText = (byName("h1-env").inputs.stdin as { value: string }).value;
        const digest = hmacSha256(GENERATED, envText);
        expect(byName("h1-unit").inputs.triggers).toContain(digest);
        expect(byName("h1-health").inputs.triggers).toContain(digest);
        expect(everything).not.toContain(sha256(envText));
        // The private key makes the whole connection secret.
        expect(unwrap(byName("h1-wait").inputs.connection).privateKey).toBe(SECRETS.sshPrivateKey);
    });

    it("dials generously: the VM's sshd answers minutes after launch", () => {
        expect(unwrap(byName("h1-wait").inputs.connection)).toMatchObject({ user: "ubuntu", host: "203.0.113.10", dialErrorLimit: 60, perDialTimeout: 30 });
    });
});

describe("Host triggers follow asset content", () => {
    // One instance for all, so only the scripts differ; the unchanged Host is evaluated once, and each
    // case adds one Host with one script changed.
    let vm: A1Instance;
    let base: Record<string, string>;
    beforeAll(async () => {
        resetCreated();
        vm = makeVm("same-a1");
        makeHost("base", {}, vm);
        await settle();
        base = triggersByRole("base");
    });

    /** Triggers of every step of a Host, keyed by role (secret envelopes compared as they are). */
    function triggersByRole(name: string): Record<string, string> {
        return Object.fromEntries(
            created
                .filter((r) => r.type.startsWith("command:remote:") && r.parent === byName(name).urn)
                .map((r) => [r.name.slice(name.length + 1), JSON.stringify(r.inputs.triggers)]),
        );
    }

    it.each([
        ["open-web-ports.sh", ["firewall", "firewall-script"]],
        ["install-docker.sh", ["docker", "docker-script"]],
        ["memory-and-logs.sh", ["memory-and-logs", "memory-and-logs-script"]],
        ["write-env.sh", ["env", "env-script"]],
        ["wait-for-cloud-init.sh", ["wait"]],
        // The health check re-runs after every re-apply of the unit, so it follows the unit's triggers.
        ["install-unit.sh", ["unit", "unit-script"]],
        ["health-check.sh", ["health", "health-script"]],
        ["checkout-app.sh", ["checkout", "checkout-script"]],
    ])("changing %s changes the triggers of %p only", async (script, expected) => {
        resetCreated();
        const changed = scratchDir("assets");
        cpSync(HOST_ASSETS_DIR, changed, { recursive: true });
        appendFileSync(path.join(changed, script), "# changed\n");
        makeHost("edit", { assetsDir: changed }, vm);
        await settle();
        const edit = triggersByRole("edit");
        expect(Object.keys(edit).sort()).toEqual(Object.keys(base).sort());
        const differing = Object.keys(base).filter((role) => base[role] !== edit[role]);
        expect(differing.sort()).toEqual([...expected].sort());
    });
});

describe("Host options and validation", () => {
    it("mounts the data volume between cloud-init and Docker when an attachment is given, after the attachment", async () => {
        resetCreated();
        // Any custom resource stands in for the volume attachment: its id and the ordering are under test.
        const attachment = new random.RandomId("dv-attach", { byteLength: 4 });
        makeHost("dv", { dataVolumeAttachment: attachment });
        await settle();
        expect(stepsOf("dv").map((r) => r.name).slice(0, 4)).toEqual(["dv-wait", "dv-data-volume", "dv-memory-and-logs", "dv-docker"]);
        expect(byName("dv-data-volume").options.dependsOn).toContain(byName("dv-wait").urn);
        // The attachment's id is an input, which also makes the step wait for the attachment.
        const attachmentId = await new Promise((resolve) => attachment.id.apply(resolve));
        expect(attachmentId).toMatch(/^ocid1\.randomid\./);
        expect(byName("dv-data-volume").inputs.triggers).toContain(attachmentId);
        expect(byName("dv-memory-and-logs").options.dependsOn).toContain(byName("dv-data-volume").urn);
    });

    it("mounts again when the volume under the same VM is swapped (a new attachment), and re-runs nothing else", async () => {
        resetCreated();
        const vm = makeVm("swap-a1");
        makeHost("old", { dataVolumeAttachment: new random.RandomId("old-attach", { byteLength: 4 }) }, vm);
        makeHost("new", { dataVolumeAttachment: new random.RandomId("new-attach", { byteLength: 4 }) }, vm);
        await settle();
        const triggers = (host: string) =>
            Object.fromEntries(
                created
                    .filter((r) => r.type.startsWith("command:remote:") && r.parent === byName(host).urn)
                    .map((r) => [r.name.slice(host.length + 1), JSON.stringify(r.inputs.triggers)]),
            );
        const before = triggers("old");
        const after = triggers("new");
        expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
        expect(Object.keys(before).filter((role) => before[role] !== after[role])).toEqual(["data-volume"]);
    });

    it("re-runs every step, backups included, when the boot image changes (OCI swaps the boot volume in place)", async () => {
        resetCreated();
        const IMAGE = "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexamplenewerimage";
        makeHost("img", { bootImageId: IMAGE });
        await settle();
        const commands = created.filter((r) => r.name.startsWith("img-") && r.type.startsWith("command:remote:"));
        expect(commands.length).toBeGreaterThan(20);
        for (const r of commands) expect([r.name, JSON.stringify(r.inputs.triggers).includes(IMAGE)]).toEqual([r.name, true]);
    });

    it("uses an override instead of the generated secret, whose protected RandomPassword stays registered", async () => {
        resetCreated();
        const POSTGRES = "TEST-ONLY-OLD-POSTGRES-PASSWORD";
        const ENCRYPTION = "TEST-ONLY-OLD-N8N-ENCRYPTION-KEY";
        const { host } = makeHost("ov", { generatedSecretOverrides: { POSTGRES_PASSWORD: pulumi.secret(POSTGRES), N8N_ENCRYPTION_KEY: pulumi.secret(ENCRYPTION) } });
        await settle();
        const passwords = created.filter((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name.startsWith("ov-"));
        // `npm run secrets:save` adds overrides to a live stack: were the protected passwords dropped from
        // the program, the engine would refuse every later update (it cannot delete them).
        expect(passwords.map((p) => p.name).sort()).toEqual(["grafana-admin-password", "n8n-encryption-key", "n8n-password", "n8n-webhook-secret", "postgres-password", "redis-password"].map((n) => `ov-${n}`));
        expect(passwords.every((p) => p.options.protect)).toBe(true);
        const env = byName("ov-env").inputs.stdin;
        expect(isSecretEnvelope(env)).toBe(true);
        const lines = (env as { value: string }).value.split("\n");
        expect(lines).toEqual(expect.arrayContaining([`POSTGRES_PASSWORD=${POSTGRES}`, `N8N_ENCRYPTION_KEY=${ENCRYPTION}`, `REDIS_PASSWORD=${GENERATED}`]));
        for (const value of [POSTGRES, ENCRYPTION]) {
            expect(created.flatMap((r) => plainStrings(r.inputs)).filter((s) => s.includes(value))).toEqual([]);
        }
        // The output the save script reads: every key, secret, with the override in place of a generated value.
        const generated = await new Promise<{ value: unknown; secret: boolean }>((resolve) =>
            pulumi.all([host.generatedSecrets, pulumi.isSecret(host.generatedSecrets)]).apply(([value, secret]) => resolve({ value, secret })),
        );
        expect(generated.secret).toBe(true);
        expect(generated.value).toEqual({
            POSTGRES_PASSWORD: POSTGRES,
            REDIS_PASSWORD: GENERATED,
            N8N_BASIC_AUTH_PASSWORD: GENERATED,
            N8N_ENCRYPTION_KEY: ENCRYPTION,
            N8N_WEBHOOK_SECRET: GENERATED,
            GRAFANA_ADMIN_PASSWORD: GENERATED,
        });
    });

    it("sends an empty line, still secret, when the repository is public", async () => {
        resetCreated();
        makeHost("pub", { appRepoToken: undefined });
        await settle();
        expect(byName("pub-checkout").inputs.stdin).toEqual(expect.objectContaining({ value: "\n" }));
        expect(isSecretEnvelope(byName("pub-checkout").inputs.stdin)).toBe(true);
    });

    it.each([
        ["git@github.com:example/coin-pilot.git", /coinpilot:appRepoUrl: .* must be an https:\/\/ URL/],
        ["https://user:token@github.com/example/coin-pilot.git", /without credentials/],
    ])("refuses appRepoUrl %s before creating any step", (url, message) => {
        resetCreated();
        expect(() => makeHost("bad", { appRepoUrl: url })).toThrow(message);
        expect(created.filter((r) => r.name.startsWith("bad-") && r.type.startsWith("command:"))).toEqual([]);
    });

    it.each(["--upload-pack=x", "v1 v2", "a..b"])("refuses appRef %p", (ref) => {
        expect(() => makeHost(`badref${ref.length}`, { appRef: ref })).toThrow(/coinpilot:appRef: .* must be a tag, branch or commit/);
    });
});

describe("the app's other .env variables (coinpilot:appEnv, coinpilot:appSecretEnv)", () => {
    const APP_SECRET = "TEST-ONLY-APP-SECRET-ENV-MARKER";

    async function envOf(name: string, overrides: Partial<HostArgs>): Promise<{ text: string; step: RecordedResource }> {
        makeHost(name, overrides);
        await settle();
        const step = byName(`${name}-env`);
        return { text: unwrap(step.inputs.stdin), step };
    }

    it("writes them after the program's keys, plain ones first, and keeps them on every redeploy (the .env is rebuilt from config)", async () => {
        resetCreated();
        const args = { appEnv: { LLM_MODE: "hybrid", N8N_URL: "http://n8n:5678" }, appSecretEnv: { APP_TOKEN: pulumi.secret(APP_SECRET) } };
        const first = await envOf("ae1", args);
        const lines = first.text.split("\n");
        expect(lines.slice(-4)).toEqual(["LLM_MODE=hybrid", "N8N_URL=http://n8n:5678", `APP_TOKEN=${APP_SECRET}`, ""]);
        expect(lines.indexOf("OPENAI_API_KEY=" + SECRETS.openaiApiKey)).toBeLessThan(lines.indexOf("LLM_MODE=hybrid"));
        // A redeploy (a new appRef) writes the same variables again.
        const again = await envOf("ae2", { ...args, appRef: "v9.9.9" });
        expect(again.text).toBe(first.text);
    });

    it("shows the plain values and the secret names in the env step's trigger, the secret values nowhere in clear", async () => {
        resetCreated();
        const { step } = await envOf("ae3", { appEnv: { LLM_MODE: "hybrid" }, appSecretEnv: { APP_TOKEN: pulumi.secret(APP_SECRET) } });
        expect(step.inputs.triggers).toContain("extra .env: LLM_MODE=hybrid APP_TOKEN=[secret]");
        expect(plainStrings(created).join("\n")).not.toContain(APP_SECRET);
    });

    it("adds no trigger without extra variables (existing stacks see no change)", async () => {
        resetCreated();
        const { step } = await envOf("ae4", {});
        expect((step.inputs.triggers as unknown[]).some((t) => String(t).startsWith("extra .env"))).toBe(false);
    });

    it.each([
        [{ appEnv: { POSTGRES_PASSWORD: "x" } }, /coinpilot:appEnv: POSTGRES_PASSWORD is written by the program itself/],
        [{ appEnv: { "BAD-NAME": "x" } }, /coinpilot:appEnv: "BAD-NAME" is not a variable name/],
        [{ appEnv: { A: "line\nbreak" } }, /coinpilot:appEnv: the value of A contains a line break/],
        [{ appEnv: { A: "x" }, appSecretEnv: { A: pulumi.secret("y") } }, /coinpilot:appSecretEnv: A is written by the program itself or by the other map/],
    ])("refuses %p before creating anything", (overrides, message) => {
        expect(() => makeHost("bad-env", overrides as Partial<HostArgs>)).toThrow(message);
    });
});

describe("the host's time zone (coinpilot:timezone)", () => {
    it("sets it after cloud-init and before Docker, re-run when the zone changes", async () => {
        resetCreated();
        makeHost("tz", { timezone: "Asia/Seoul" });
        await settle();
        expect(stepsOf("tz").map((r) => r.name).slice(0, 3)).toEqual(["tz-wait", "tz-timezone", "tz-memory-and-logs"]);
        expect(byName("tz-timezone").inputs.create).toBe("sudo bash /home/ubuntu/.coinpilot-bootstrap/set-timezone.sh Asia/Seoul");
        expect(byName("tz-memory-and-logs").options.dependsOn).toContain(byName("tz-timezone").urn);
    });

    it("leaves the image's zone alone when unset (no step)", async () => {
        resetCreated();
        makeHost("notz");
        await settle();
        expect(created.some((r) => r.name.startsWith("notz-timezone"))).toBe(false);
    });

    it("refuses a zone that is not an IANA name before creating anything", () => {
        expect(() => makeHost("badtz", { timezone: "KST" })).toThrow(/coinpilot:timezone: "KST" is not an IANA Area\/Location time zone name/);
    });
});

describe("swap and container log limits (coinpilot:swapSizeGb)", () => {
    it("runs before Docker with the default 4 GiB, or the size given (0: none)", async () => {
        resetCreated();
        makeHost("sw");
        makeHost("sw0", { swapSizeGb: 0 });
        await settle();
        expect(byName("sw-memory-and-logs").inputs.create).toBe("sudo bash /home/ubuntu/.coinpilot-bootstrap/memory-and-logs.sh 4");
        expect(byName("sw0-memory-and-logs").inputs.create).toBe("sudo bash /home/ubuntu/.coinpilot-bootstrap/memory-and-logs.sh 0");
        expect(byName("sw-docker").options.dependsOn).toContain(byName("sw-memory-and-logs").urn);
    });

    it.each([-1, 2.5, 65])("refuses %p before creating anything", (size) => {
        expect(() => makeHost("badswap", { swapSizeGb: size })).toThrow(/coinpilot:swapSizeGb: must be a whole number of GiB in 0–64/);
    });
});
