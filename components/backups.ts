import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { BACKUP_INSTALL_DIR, BACKUP_ROOT, directoriesCommand, installCommand, planBackupCopies } from "../lib/backup-files";
import { sha256 } from "../lib/hash";

export interface BackupsArgs {
    /** SSH connection to the host (a sudo-capable user, e.g. `ubuntu`). Required. */
    readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /** The instance's OCID: a new instance re-runs every step, since its disk starts empty. Required. */
    readonly instanceId: pulumi.Input<string>;
}

const REPO_ROOT = path.resolve(__dirname, "..");

/**
 * Installs CoinPilot's backups on the host: the postgres/redis/n8n backup scripts, checksum
 * verification and restore rehearsal under /opt/coinpilot-ops/backup, their directories, and the
 * cron schedule /etc/cron.d/coinpilot-backup, and the weekly rotation of their logs
 * (/etc/logrotate.d/coinpilot). Each copy re-runs only when its own file changes.
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

        const createDirs = directoriesCommand();
        const dirs = new command.remote.Command(
            `${name}-dirs`,
            { connection, create: createDirs, triggers: [instanceId, sha256(createDirs)] },
            { parent: this },
        );

        const copied = copies.map(
            (copy) =>
                new command.remote.CopyToRemote(
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
                    { parent: this, dependsOn: [dirs] },
                ),
        );

        const install = installCommand(copies);
        new command.remote.Command(
            `${name}-install`,
            { connection, create: install, triggers: [instanceId, sha256(install), ...copies.map((c) => c.sha256)] },
            { parent: this, dependsOn: copied },
        );

        this.registerOutputs({ installDir: this.installDir, backupRoot: this.backupRoot });
    }
}
