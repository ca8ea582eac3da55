import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { BACKUP_INSTALL_DIR, BACKUP_ROOT, CRON_FILE_PATH, directoriesCommand, installCommand, planBackupCopies, runbookPathsCommand } from "../lib/host/backup-files";
import { ALERT_WEBHOOK_FILE, alertWebhookCommand, alertWebhookDeleteCommand } from "../lib/host/alerts";
import { hmacSha256, sha256 } from "../lib/host/hash";
import { OFFSITE_URL_FILE, offsiteUrlCommand, offsiteUrlDeleteCommand, offsiteUrlFileText } from "../lib/host/offsite";

/** The off-host copy's upload URL for the host (components/offsite.ts). */
export interface OffsiteUpload {
    /** The write-only pre-authenticated request URL, ending in /o/. A secret: it travels only as the step's stdin. */
    readonly url: pulumi.Input<string>;
    /** Its expiry (RFC 3339), written beside it so the host warns 30 days ahead. */
    readonly expires: string;
}

export interface BackupsArgs {
    /** SSH connection to the host (a sudo-capable user, e.g. `ubuntu`). Required. */
    readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /** The instance's OCID: a new instance re-runs every step, since its disk starts empty. Required. */
    readonly instanceId: pulumi.Input<string>;
    /**
     * The image the boot volume was made from. A new image swaps the boot volume in place (same OCID,
     * an empty OS disk), so it re-runs every step too. Defaults to none (only the OCID counts).
     */
    readonly bootImageId?: pulumi.Input<string>;
    /** The instance resource: every child is `deletedWith` it (a deleted VM takes its files along). Defaults to none. */
    readonly instance?: pulumi.Resource;
    /**
     * Resources every child waits for, e.g. the host's Docker step (the scripts `docker exec` into
     * the stack's containers). Given to each child itself, not only to this component. Defaults to none.
     */
    readonly after?: readonly pulumi.Resource[];
    /**
     * Where each backup is copied off the host: the URL goes into a root-only file
     * (OFFSITE_URL_FILE) that the backup scripts read. Defaults to none (no file: backups stay on
     * the host, and a file left by an earlier deploy is removed when this step is deleted).
     */
    readonly offsiteUpload?: OffsiteUpload;
    /**
     * Discord webhook the host's alerts post to (alert.sh; coinpilot:opsWebhookUrl, else
     * discordWebhookUrl), a secret: it goes into a root-only file
     * (ALERT_WEBHOOK_FILE) through the step's stdin. Defaults to none (alerts reach the journal only;
     * a file left by an earlier deploy is removed when this step is deleted).
     */
    readonly alertWebhookUrl?: pulumi.Input<string>;
}

const REPO_ROOT = path.resolve(__dirname, "..");

/**
 * Installs CoinPilot's backups on the host: the postgres/redis/n8n backup scripts, checksum
 * verification and restore rehearsal under /opt/coinpilot-ops/backup, their directories, and the
 * cron schedule /etc/cron.d/coinpilot-backup, the weekly rotation of their logs
 * (/etc/logrotate.d/coinpilot), and the alerts: alert.sh, the coinpilot-alert@.service unit that the
 * compose unit's and the boot health check's OnFailure= start, the daily backup heartbeat and the
 * webhook file; and the ops tools beside them: the health gate with coinpilot-health.service, which
 * runs it at every boot, and the runbook's 24-hour check (ops-check.sh). Each file is copied and
 * installed by its own pair of steps, which re-run only when that file changes.
 */
export class Backups extends pulumi.ComponentResource {
    /** Where the scripts are installed on the host. */
    public readonly installDir: string = BACKUP_INSTALL_DIR;
    /** Where backups are written on the host (one directory per kind). */
    public readonly backupRoot: string = BACKUP_ROOT;

    constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:host:Backups", name, {}, opts);
        const { connection } = args;
        // What the steps' work lives on: a new instance or a new boot volume starts empty.
        const instanceId = args.bootImageId === undefined ? args.instanceId : pulumi.interpolate`${args.instanceId} ${args.bootImageId}`;
        const copies = planBackupCopies((source) => fs.readFileSync(path.join(REPO_ROOT, source)));
        const childOpts = (dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
            parent: this,
            dependsOn: [...(args.after ?? []), ...dependsOn],
            ...(args.instance ? { deletedWith: args.instance } : {}),
        });

        const createDirs = directoriesCommand();
        const dirs = new command.remote.Command(`${name}-dirs`, { connection, create: createDirs, triggers: [instanceId, sha256(createDirs)] }, childOpts([]));

        // The runbook's paths on our layout: /var/backups/coinpilot and its log names.
        const runbookPaths = runbookPathsCommand();
        new command.remote.Command(`${name}-runbook-paths`, { connection, create: runbookPaths, triggers: [instanceId, sha256(runbookPaths)] }, childOpts([dirs]));

        // Each file: copied to staging as the SSH user, then installed as root. A changed file re-runs
        // only its own pair, and an install reads only its own staged copy.
        const installed: command.remote.Command[] = [];
        for (const copy of copies) {
            const copied = new command.remote.CopyToRemote(
                `${name}-copy-${copy.role}`,
                {
                    connection,
                    // The cron and logrotate files go as text so `npm run plan` prints what a reviewer checks.
                    source: copy.text
                        ? new pulumi.asset.StringAsset(fs.readFileSync(path.join(REPO_ROOT, copy.source), "utf8"))
                        : new pulumi.asset.FileAsset(copy.source),
                    remotePath: copy.stagingPath,
                    triggers: [instanceId, copy.sha256],
                },
                childOpts([dirs]),
            );
            const create = installCommand(copy);
            // The cron file comes last in BACKUP_ASSETS and waits until every script it runs is installed.
            const waitFor = copy.remotePath === CRON_FILE_PATH ? [copied, ...installed] : [copied];
            installed.push(
                new command.remote.Command(`${name}-install-${copy.role}`, { connection, create, triggers: [instanceId, sha256(create), copy.sha256] }, childOpts(waitFor)),
            );
        }

        if (args.offsiteUpload) {
            const { url, expires } = args.offsiteUpload;
            const create = offsiteUrlCommand();
            const text = pulumi.secret(pulumi.output(url).apply((u) => offsiteUrlFileText(u, expires)));
            // Re-run when the URL changes (a rotated PAR). The trigger is a digest keyed with the URL
            // itself (whose token is ~256 random bits): it reveals nothing, so it can stay plain, and the
            // offline plan's diff sees a rotation as the engine does.
            // Delete-first: replaced create-first, the old step's delete (rm) would remove the new file.
            const rotation = pulumi.unsecret(text.apply((t) => hmacSha256(t, "coinpilot offsite upload URL")));
            new command.remote.Command(
                `${name}-offsite-url`,
                { connection, create, delete: offsiteUrlDeleteCommand(), stdin: text, triggers: [instanceId, sha256(create), rotation] },
                { ...childOpts([dirs]), deleteBeforeReplace: true },
            );
        }

        if (args.alertWebhookUrl) {
            const create = alertWebhookCommand();
            const text = pulumi.secret(pulumi.output(args.alertWebhookUrl).apply((u) => `${u}\n`));
            // As for the off-host URL: a keyed digest of the secret re-runs the step on a new webhook.
            const rotation = pulumi.unsecret(text.apply((t) => hmacSha256(t, "coinpilot alert webhook")));
            new command.remote.Command(
                `${name}-alert-webhook`,
                { connection, create, delete: alertWebhookDeleteCommand(), stdin: text, triggers: [instanceId, sha256(create), rotation] },
                { ...childOpts([dirs]), deleteBeforeReplace: true },
            );
        }

        this.registerOutputs({
            installDir: this.installDir,
            backupRoot: this.backupRoot,
            offsiteUrlFile: args.offsiteUpload ? OFFSITE_URL_FILE : "",
            alertWebhookFile: args.alertWebhookUrl ? ALERT_WEBHOOK_FILE : "",
        });
    }
}
