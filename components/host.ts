import { readFileSync } from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { remote, types } from "@pulumi/command";
import { ENV_FILE_PATH, PROGRAM_ENV_KEYS, buildEnvFile, parseExtraEnv } from "../lib/host/env-file";
import { COMPOSE_UNIT_DEFAULTS, UNIT_NAME, renderComposeUnit } from "../lib/host/systemd-unit";
import { GENERATED_SECRETS, GeneratedEnvKey } from "../lib/host/generated-secrets";
import { DATA_MOUNT_POINT, DOCKER_DATA_ROOT } from "../lib/host/data-layout";
import { Backups, OffsiteUpload } from "./backups";
import { hmacSha256, sha256 } from "../lib/host/hash";
import { shellCommand } from "../lib/host/shell";
import { checkTimezone } from "../lib/host/timezone";
import { HOST_DEFAULTS, checkAppRef, checkAppRepoUrl, keyName } from "../config";

export const HOST_ASSETS_DIR = path.resolve(__dirname, "..", "assets", "host");
export const DEPLOY_USER = "ubuntu";
/** Private directory on the host that the step scripts are copied into (created by the first step). */
export const STAGING_DIR = `/home/${DEPLOY_USER}/.coinpilot-bootstrap`;
/** Database identity in the .env; the backups read the same names (POSTGRES_USER/PASSWORD/DB). */
export const POSTGRES_USER = "coinpilot";
export const POSTGRES_DB = "coinpilot";
export const ADMIN_USER = "admin";

/**
 * The bootstrap, in order. Each step is one remote.Command named `${name}-<role>` that depends on
 * the previous one; every step but the first also has a `${name}-<role>-script` copy of its script.
 * "data-volume" runs only when a data volume is attached, before Docker first starts (it sets Docker's data root);
 * "timezone" only when coinpilot:timezone is set.
 */
export const HOST_STEPS = [
    { role: "wait", script: "wait-for-cloud-init.sh", does: "wait for SSH and cloud-init (exit 0 or 2), create the staging directory" },
    { role: "data-volume", script: "mount-data-volume.sh", does: `format the data volume only if blank, mount it at ${DATA_MOUNT_POINT} by UUID, Docker's data-root ${DOCKER_DATA_ROOT} (optional)` },
    { role: "timezone", script: "set-timezone.sh", does: "timedatectl set-timezone to coinpilot:timezone, restart cron so the backup times follow it (optional)" },
    { role: "memory-and-logs", script: "memory-and-logs.sh", does: "swap file of coinpilot:swapSizeGb GiB (0: none), vm.swappiness=10; container log limits (json-file max-size/max-file) in /etc/docker/daemon.json" },
    { role: "docker", script: "install-docker.sh", does: "Docker Engine + Compose plugin from Docker's apt repo, ubuntu in the docker group, compose >= 2.15.0" },
    { role: "firewall", script: "open-web-ports.sh", does: "ACCEPT 80/443 above OCI's INPUT REJECT, live and in /etc/iptables/rules.v4" },
    { role: "checkout", script: "checkout-app.sh", does: "git checkout of appRepoUrl at appRef into /opt/coin-pilot" },
    { role: "env", script: "write-env.sh", does: `write ${ENV_FILE_PATH} (mode 600, owner ubuntu) from secrets on stdin` },
    { role: "unit", script: "install-unit.sh", does: `install ${UNIT_NAME}, daemon-reload, enable, reload-or-restart` },
    { role: "health", script: "health-check.sh", does: "unit active (exited), every long-running compose service running (run-once ones exited 0), no internal port on 0.0.0.0" },
] as const;

export type StepRole = (typeof HOST_STEPS)[number]["role"];

/** The user's own application secrets (Pulumi secrets); the passwords the stack needs are generated (see `generatedSecrets`). */
export interface AppSecrets {
    /** Upbit exchange API access key. Required. */
    readonly upbitAccessKey: pulumi.Input<string>;
    /** Upbit exchange API secret key. Required. */
    readonly upbitSecretKey: pulumi.Input<string>;
    /** OpenAI API key for the bot's LLM features. Defaults to none (the variable is left out). */
    readonly openaiApiKey?: pulumi.Input<string>;
}

export interface HostArgs {
    /** The instance resource: every step is `deletedWith` it (a deleted VM takes its setup along). */
    readonly instance: pulumi.Resource;
    /** The instance OCID; in every step's triggers, so a replaced instance is bootstrapped again. */
    readonly instanceId: pulumi.Input<string>;
    /**
     * The image the boot volume was made from; in every step's triggers too. A new image does not
     * replace the instance: OCI swaps its boot volume in place (same OCID, an empty OS disk), so every
     * step must run again. Defaults to none (only the OCID counts).
     */
    readonly bootImageId?: pulumi.Input<string>;
    /** Address SSH connects to. */
    readonly publicIp: pulumi.Input<string>;
    /** Private key (PEM or OpenSSH block) matching the instance's authorized key. Treated as secret. */
    readonly sshPrivateKey: pulumi.Input<string>;
    /** HTTPS URL of the CoinPilot repository. Required. */
    readonly appRepoUrl: string;
    /** Tag, branch or commit to deploy. Defaults to "main"; a tag or commit makes `pulumi up` redeploy exactly when it changes. */
    readonly appRef?: string;
    /** Token for a private HTTPS repository (read through GIT_ASKPASS, never on a command line). Defaults to none. */
    readonly appRepoToken?: pulumi.Input<string>;
    /** The user's own secrets for the .env. */
    readonly appSecrets: AppSecrets;
    /**
     * The app's other .env variables (coinpilot:appEnv), written after the program's own keys, which
     * they may not repeat (PROGRAM_ENV_KEYS). Plain: the plan shows them. Defaults to none.
     */
    readonly appEnv?: Readonly<Record<string, string>>;
    /** The app's other .env variables that are secrets (coinpilot:appSecretEnv), after appEnv; the plan shows only their names. Defaults to none. */
    readonly appSecretEnv?: Readonly<Record<string, pulumi.Input<string>>>;
    /** IANA time zone the host is set to (the backups' cron times follow it). Defaults to none: the image's zone (UTC) stays. */
    readonly timezone?: string;
    /** Swap file size in GiB, 0 for none. Defaults to 4 (HOST_DEFAULTS.swapSizeGb). */
    readonly swapSizeGb?: number;
    /**
     * Values to use instead of generating a secret, by .env key (from coinpilot:postgresPassword,
     * redisPassword, ...): how a recreate into an empty stack reuses the passwords the retained data
     * was created with. No RandomPassword is declared for an overridden key. Defaults to none.
     */
    readonly generatedSecretOverrides?: Readonly<Partial<Record<GeneratedEnvKey, pulumi.Input<string>>>>;
    /**
     * SSH dial attempts before a step gives up. Defaults to 60: a just-launched A1 VM takes a few
     * minutes before sshd answers, and the provider's default of 10 can run out first.
     */
    readonly dialErrorLimit?: number;
    /** Seconds per SSH dial attempt. Defaults to 30. */
    readonly perDialTimeout?: number;
    /**
     * The data volume's attachment. When set, the volume is mounted before Docker is installed, so
     * Docker's data and the backups survive a recreate; its id is in the mount step's triggers, so a
     * swapped volume is mounted again. Defaults to none (everything on the boot volume).
     */
    readonly dataVolumeAttachment?: pulumi.CustomResource;
    /** Where the backups are copied off the host (components/offsite.ts). Defaults to none: they stay on the host. */
    readonly offsiteUpload?: OffsiteUpload;
    /**
     * Discord webhook for the host's alerts (failed backup jobs, compose unit or boot health check;
     * the daily backup heartbeat), a secret: coinpilot:opsWebhookUrl, else discordWebhookUrl.
     * Defaults to none: alerts go to the journal only.
     */
    readonly alertWebhookUrl?: pulumi.Input<string>;
    /** Directory holding the step scripts. Defaults to assets/host (tests point it at a modified copy). */
    readonly assetsDir?: string;
}

/** Content hash of a shipped asset: the trigger that re-runs exactly the steps shipping it. */
export function assetHash(file: string): string {
    return sha256(readFileSync(file));
}

/** The same checks config.ts runs on the stack config, for a Host constructed with other values. */
function checkArgs(args: HostArgs): string[] {
    const checks: [string, string, (text: string) => string | undefined][] = [
        ["appRepoUrl", args.appRepoUrl, checkAppRepoUrl],
        ["appRef", args.appRef ?? HOST_DEFAULTS.appRef, checkAppRef],
        ...(args.swapSizeGb === undefined || (Number.isInteger(args.swapSizeGb) && args.swapSizeGb >= 0 && args.swapSizeGb <= 64)
            ? []
            : [["swapSizeGb", String(args.swapSizeGb), () => "must be a whole number of GiB in 0–64"] as [string, string, (text: string) => string | undefined]]),
        ...(args.timezone ? [["timezone", args.timezone, checkTimezone] as [string, string, (text: string) => string | undefined]] : []),
    ];
    const problems = checks.flatMap(([key, value, check]) => {
        const problem = check(value);
        return problem ? [`${keyName(key)}: ${problem}`] : [];
    });
    // The plain map's values are checked as config checks them; the secret one's only by name (its values are Outputs).
    const appEnv = parseExtraEnv(JSON.stringify(args.appEnv ?? {}), new Set(PROGRAM_ENV_KEYS));
    const secretNames = Object.fromEntries(Object.keys(args.appSecretEnv ?? {}).map((key) => [key, ""]));
    const appSecretEnv = parseExtraEnv(JSON.stringify(secretNames), new Set([...PROGRAM_ENV_KEYS, ...Object.keys(args.appEnv ?? {})]));
    problems.push(...appEnv.problems.map((p) => `${keyName("appEnv")}: ${p}`), ...appSecretEnv.problems.map((p) => `${keyName("appSecretEnv")}: ${p}`));
    return problems;
}

/**
 * Turns a fresh A1 instance into the CoinPilot host: Docker, firewall, app checkout, .env, the
 * systemd unit, and a health gate. Every step is idempotent and re-runs only when its triggers
 * (instance id, content hashes of what it ships, the app ref) change.
 */
export class Host extends pulumi.ComponentResource {
    /** The deploy steps in order, by role. */
    public readonly steps: ReadonlyMap<StepRole, remote.Command>;
    /** The unit file as installed on the host. */
    public readonly unitText: string;
    /** What the checkout step reported (ref and commit). */
    public readonly deployedCommit: pulumi.Output<string>;
    /** The generated (or overridden) .env secrets by .env key, as one secret Output: what `npm run secrets:save` copies into stack config. */
    public readonly generatedSecrets: pulumi.Output<Record<GeneratedEnvKey, string>>;

    constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:host:Host", name, {}, opts);
        const problems = checkArgs(args);
        if (problems.length) throw new Error(`Host ${name}: ${problems.join("; ")}`);

        const appRef = args.appRef ?? HOST_DEFAULTS.appRef;
        const unit = COMPOSE_UNIT_DEFAULTS;
        const appEnv = args.appEnv ?? {};
        const appSecretEnv = args.appSecretEnv ?? {};
        this.unitText = renderComposeUnit(unit);
        const connection: types.input.remote.ConnectionArgs = {
            host: args.publicIp,
            user: DEPLOY_USER,
            privateKey: pulumi.secret(args.sshPrivateKey),
            dialErrorLimit: args.dialErrorLimit ?? 60,
            perDialTimeout: args.perDialTimeout ?? 30,
        };
        const childOpts = (dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
            parent: this,
            dependsOn,
            deletedWith: args.instance,
        });
        const assetsDir = args.assetsDir ?? HOST_ASSETS_DIR;
        const scriptPath = (role: StepRole) => path.join(assetsDir, HOST_STEPS.find((s) => s.role === role)!.script);
        const staged = (role: StepRole) => `${STAGING_DIR}/${path.basename(scriptPath(role))}`;

        // What the steps' work lives on: a new instance or a new boot volume starts empty.
        const disk: pulumi.Input<string>[] = args.bootImageId === undefined ? [args.instanceId] : [args.instanceId, args.bootImageId];
        const steps = new Map<StepRole, remote.Command>();
        let previous: pulumi.Resource | undefined;
        /** Copies the step's script, then runs it with sudo after the previous step. */
        const step = (
            role: StepRole,
            words: string[],
            extra: { stdin?: pulumi.Input<string>; triggers?: pulumi.Input<unknown>[]; after?: pulumi.Resource[] } = {},
        ) => {
            const hash = assetHash(scriptPath(role));
            const copy = new remote.CopyToRemote(
                `${name}-${role}-script`,
                // Relative to the project directory (Pulumi's cwd), so plans compare across checkouts.
                { connection, source: new pulumi.asset.FileAsset(path.relative(process.cwd(), scriptPath(role))), remotePath: staged(role), triggers: [...disk, hash] },
                childOpts([steps.get("wait")!]),
            );
            const command = new remote.Command(
                `${name}-${role}`,
                {
                    connection,
                    create: shellCommand(["sudo", "bash", staged(role), ...words]),
                    ...(extra.stdin === undefined ? {} : { stdin: extra.stdin }),
                    triggers: [...disk, hash, ...(extra.triggers ?? [])],
                },
                childOpts([copy, previous!, ...(extra.after ?? [])]),
            );
            steps.set(role, command);
            previous = command;
            return command;
        };

        // 1. The first step ships its script on stdin: no staging directory exists yet.
        const waitScript = readFileSync(scriptPath("wait"), "utf8");
        previous = new remote.Command(
            `${name}-wait`,
            {
                connection,
                create: shellCommand(["bash", "-s", "--", STAGING_DIR]),
                stdin: waitScript,
                triggers: [...disk, sha256(waitScript)],
            },
            childOpts([]),
        );
        steps.set("wait", previous as remote.Command);

        if (args.dataVolumeAttachment) {
            // A new attachment id means another volume (or a re-attach) under the same VM: mount again.
            // As an input, the id also orders the step after the attachment.
            step("data-volume", [], { triggers: [args.dataVolumeAttachment.id] });
        }
        if (args.timezone) {
            step("timezone", [args.timezone]);
        }
        // Before Docker first starts: its log limits then apply to every container.
        step("memory-and-logs", [String(args.swapSizeGb ?? HOST_DEFAULTS.swapSizeGb)]);
        const docker = step("docker", [DEPLOY_USER]);
        // The backups call `docker exec` into the stack's containers: install them once Docker exists.
        new Backups(
            `${name}-backups`,
            {
                connection,
                instanceId: args.instanceId,
                ...(args.bootImageId === undefined ? {} : { bootImageId: args.bootImageId }),
                instance: args.instance,
                after: [docker],
                ...(args.offsiteUpload ? { offsiteUpload: args.offsiteUpload } : {}),
                ...(args.alertWebhookUrl ? { alertWebhookUrl: args.alertWebhookUrl } : {}),
            },
            { parent: this, dependsOn: [docker] },
        );
        step("firewall", []);
        const checkout = step("checkout", [args.appRepoUrl, appRef, unit.appDir, DEPLOY_USER], {
            // Always one line on stdin, empty for a public repository.
            stdin: pulumi.secret(pulumi.output(args.appRepoToken ?? "").apply((t) => `${t}\n`)),
            triggers: [args.appRepoUrl, appRef],
        });

        this.generatedSecrets = pulumi.secret(this.secretValues(name, args.generatedSecretOverrides ?? {}));
        const envText = pulumi.secret(this.envFile(args.appSecrets, appEnv, appSecretEnv));
        // The extra variables in a plain trigger: the plan shows which the .env holds (secret values masked).
        const extras = [...Object.entries(appEnv).map(([key, value]) => `${key}=${value}`), ...Object.keys(appSecretEnv).map((key) => `${key}=[secret]`)];
        step("env", [ENV_FILE_PATH, DEPLOY_USER], { stdin: envText, ...(extras.length ? { triggers: [`extra .env: ${extras.join(" ")}`] } : {}) });

        const unitHash = sha256(this.unitText);
        const unitFile = `${STAGING_DIR}/${UNIT_NAME}`;
        // A StringAsset, so the plan shows the rendered unit exactly as the host receives it.
        const unitCopy = new remote.CopyToRemote(
            `${name}-unit-file`,
            { connection, source: new pulumi.asset.StringAsset(this.unitText), remotePath: unitFile, triggers: [...disk, unitHash] },
            childOpts([steps.get("wait")!]),
        );
        // Re-applied whenever the unit, the app ref or the .env changes. The .env counts by an HMAC keyed
        // with one of its own generated secrets: a plain digest that reveals nothing, so the triggers stay
        // readable and a reviewer (and the offline plan's diff) sees which part changed.
        const envDigest = pulumi.unsecret(pulumi.all([envText, this.generatedSecrets]).apply(([text, secrets]) => hmacSha256(secrets.N8N_WEBHOOK_SECRET, text)));
        const applyTriggers = [unitHash, args.appRepoUrl, appRef, envDigest];
        step("unit", [unitFile, UNIT_NAME], { triggers: applyTriggers, after: [unitCopy] });
        // Verified again after every re-apply.
        step("health", [UNIT_NAME, unit.appDir, unit.composeFile, unit.envFile], { triggers: applyTriggers });

        this.steps = steps;
        this.deployedCommit = checkout.stdout.apply((s) => s.trim());
        this.registerOutputs({ deployedCommit: this.deployedCommit, generatedSecrets: this.generatedSecrets });
    }

    /** Each generated secret: its override when given, else a protected RandomPassword's result. */
    private secretValues(name: string, overrides: Readonly<Partial<Record<GeneratedEnvKey, pulumi.Input<string>>>>): pulumi.Output<Record<GeneratedEnvKey, string>> {
        const values = {} as Record<GeneratedEnvKey, pulumi.Input<string>>;
        for (const { envKey, role } of GENERATED_SECRETS) {
            // Alphanumeric: safe unquoted in .env, URLs and shell; 32 chars is ~190 bits. Protected: the
            // retained data volume holds databases initialised with this value, so
            // `pulumi destroy --exclude-protected` must keep it in the stack. Registered even when an
            // override is set: `npm run secrets:save` adds overrides to a live stack, and a protected
            // password that left the program would make every later `pulumi up` fail (it can't be deleted).
            const generated = new random.RandomPassword(`${name}-${role}`, { length: 32, special: false }, { parent: this, protect: true }).result;
            values[envKey] = overrides[envKey] ?? generated;
        }
        return pulumi.all(values) as pulumi.Output<Record<GeneratedEnvKey, string>>;
    }

    /** The .env text: generated passwords, the user's secrets, then the app's other variables (a secret Output). */
    private envFile(secrets: AppSecrets, appEnv: Readonly<Record<string, string>>, appSecretEnv: Readonly<Record<string, pulumi.Input<string>>>): pulumi.Output<string> {
        const generated = this.generatedSecrets;
        const values: Record<string, pulumi.Input<string>> = {
            POSTGRES_USER,
            POSTGRES_PASSWORD: generated.POSTGRES_PASSWORD,
            POSTGRES_DB,
            REDIS_PASSWORD: generated.REDIS_PASSWORD,
            N8N_BASIC_AUTH_USER: ADMIN_USER,
            N8N_BASIC_AUTH_PASSWORD: generated.N8N_BASIC_AUTH_PASSWORD,
            N8N_ENCRYPTION_KEY: generated.N8N_ENCRYPTION_KEY,
            N8N_WEBHOOK_SECRET: generated.N8N_WEBHOOK_SECRET,
            GRAFANA_ADMIN_USER: ADMIN_USER,
            GRAFANA_ADMIN_PASSWORD: generated.GRAFANA_ADMIN_PASSWORD,
            UPBIT_ACCESS_KEY: secrets.upbitAccessKey,
            UPBIT_SECRET_KEY: secrets.upbitSecretKey,
            ...(secrets.openaiApiKey === undefined ? {} : { OPENAI_API_KEY: secrets.openaiApiKey }),
            ...appEnv,
            ...appSecretEnv,
        };
        return pulumi.all(values).apply((resolved) => buildEnvFile(resolved));
    }
}

/** The plan's "Host bootstrap" section: the steps a Host declared, in the order they run. */
export function formatHostSteps(resources: readonly { type: string; name: string }[]): string {
    const hosts = resources.filter((r) => r.type === "coinpilot:host:Host").map((r) => r.name);
    const lines: string[] = [];
    for (const host of hosts) {
        lines.push(`Host bootstrap (${host}), in order; a step re-runs when its triggers (instance, shipped content, app ref) change:`);
        const declared = HOST_STEPS.filter((s) => resources.some((r) => r.type === "command:remote:Command" && r.name === `${host}-${s.role}`));
        declared.forEach((s, i) => lines.push(`  ${i + 1}. ${`${host}-${s.role}`.padEnd(28)} ${s.does}`));
    }
    return lines.join("\n");
}
