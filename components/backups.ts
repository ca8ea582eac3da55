import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { BACKUP_INSTALL_DIR, BACKUP_ROOT, CRON_FILE_PATH, directoriesCommand, installCommand, planBackupCopies } from "../lib/backup-files";
import { sha256 } from "../lib/hash";

export interface BackupsArgs {
    /** SSH connection to the host (a sudo-capable user, e.g. `ubuntu`). Required. */
    readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /** The instance's OCID: a new instance re-runs every step, since its disk starts empty. Required. */
    readonly instanceId: pulumi.Input<string>;
    /** The instance resource: every child is `deletedWith` it (a deleted VM takes its files along). Defaults to none. */
    readonly instance?: pulumi.Resource;
    /**
     * Resources every child waits for, e.g. the host's Docker step (the scripts `docker exec` into
     * the stack's containers). Given to each child itself, not only to this component. Defaults to none.
     */
    readonly after?: readonly pulumi.Resource[];
}

const REPO_ROOT = path.resolve(__dirname, "..");

/**
 * Installs CoinPilot's backups on the host: the postgres/redis/n8n backup scripts, checksum
 * verification and restore rehearsal under /opt/coinpilot-ops/backup, their directories, and the
 * cron schedule /etc/cron.d/coinpilot-backup, and the weekly rotation of their logs
 * (/etc/logrotate.d/coinpilot). Each file is copied and installed by its own pair of steps, which
 * re-run only when that file changes.
 */
export class Backups extends pulumi.ComponentResource {
    /** Where the scripts are installed on the host. */
    public readonly installDir: string = BACKUP_INSTALL_DIR;
    /** Where backups are written on the host (one directory per kind). */
    public readonly backupRoot: string = BACKUP_ROOT;

    constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:host:Backups", name, {}, opts);
        const { connection, instanceId } = args;
        const copies = planBackupCopies((source) => fs.readFileSync(path.join(REPO_ROOT, source)));
        const childOpts = (dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
            parent: this,
            dependsOn: [...(args.after ?? []), ...dependsOn],
            ...(args.instance ? { deletedWith: args.instance } : {}),
        });

        const createDirs = directoriesCommand();
        const dirs = new command.remote.Command(`${name}-dirs`, { connection, create: createDirs, triggers: [instanceId, sha256(createDirs)] }, childOpts([]));

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

        this.registerOutputs({ installDir: this.installDir, backupRoot: this.backupRoot });
    }
}
