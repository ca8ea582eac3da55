// The Backups component under Pulumi mocks (children, parents, order, triggers), and the pure
// lib/backup-files.ts it is built from (which copy re-runs when one asset changes).
import { byName, created, isSecretEnvelope, plainStrings, resetCreated, settle } from "./mocks";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Backups } from "../components/backups";
import { BACKUP_ASSETS, BACKUP_INSTALL_DIR, BACKUP_KINDS, BACKUP_ROOT, CRON_FILE_PATH, LOGROTATE_FILE_PATH, LOG_DIR, STAGING_DIR, directoriesCommand, installCommand, planBackupCopies } from "../lib/backup-files";
import { sha256 } from "../lib/hash";
import { REPO_ROOT, describeWithBinaries, requireBinaries } from "./helpers/servers";

const INSTANCE_ID = "ocid1.instance.oc1..aaaaaaaaexampleinstance";
const KEY_MARKER = "TEST-ONLY-SSH-PRIVATE-KEY-MARKER";
const readAsset = (source: string) => fs.readFileSync(path.join(REPO_ROOT, source));

describe("Backups under mocks", () => {
    const roles = BACKUP_ASSETS.map((a) => a.role);

    beforeAll(async () => {
        resetCreated();
        // Any custom resource stands in for the host's Docker step that Backups waits for.
        const before = new random.RandomPassword("docker-step", { length: 8 });
        new Backups(
            "bk",
            { connection: { host: "192.0.2.10", user: "ubuntu", privateKey: pulumi.secret(KEY_MARKER) }, instanceId: INSTANCE_ID },
            { dependsOn: [before] },
        );
        await settle();
    });

    it("is a coinpilot:host:Backups whose children are the directories step, one copy per asset and the install step", () => {
        const component = byName("bk");
        expect(component.type).toBe("coinpilot:host:Backups");
        expect(component.options.dependsOn).toEqual([byName("docker-step").urn]);
        const children = created.filter((r) => r.parent === component.urn).map((r) => `${r.type} ${r.name}`);
        expect(children).toEqual([
            "command:remote:Command bk-dirs",
            ...roles.map((role) => `command:remote:CopyToRemote bk-copy-${role}`),
            "command:remote:Command bk-install",
        ]);
        expect(roles).toEqual(["lib", "postgres-backup", "redis-backup", "n8n-backup", "verify-backups", "restore-rehearsal", "logrotate", "cron"]);
    });

    it("creates the directories first, copies after them, and installs after every copy", () => {
        const dirs = byName("bk-dirs");
        for (const role of roles) expect(byName(`bk-copy-${role}`).options.dependsOn).toEqual([dirs.urn]);
        expect(byName("bk-install").options.dependsOn).toEqual(roles.map((role) => byName(`bk-copy-${role}`).urn));
        expect(dirs.inputs.create).toBe(directoriesCommand());
        expect(dirs.inputs.triggers).toEqual([INSTANCE_ID, sha256(directoriesCommand())]);
    });

    it("gives each copy the instance id and the sha256 of exactly the file it ships", async () => {
        for (const asset of BACKUP_ASSETS) {
            const copy = byName(`bk-copy-${asset.role}`);
            expect(copy.inputs.triggers).toEqual([INSTANCE_ID, sha256(readAsset(asset.source))]);
            expect(copy.inputs.remotePath).toBe(`${STAGING_DIR}/${path.basename(asset.remotePath)}`);
            // The recorded asset holds its path or text as a promise.
            const source = copy.inputs.source as { path?: Promise<string>; text?: Promise<string> };
            if (asset.text) expect(await source.text).toBe(readAsset(asset.source).toString("utf8"));
            else expect(await source.path).toBe(asset.source);
        }
    });

    it("installs every file as root with its mode, the cron file last, re-run when any content changes", () => {
        const install = byName("bk-install");
        const copies = planBackupCopies(readAsset);
        expect(install.inputs.create).toBe(installCommand(copies));
        const lines = (install.inputs.create as string).split("\n");
        expect(lines).toContain(`sudo install -o root -g root -m 0755 ${STAGING_DIR}/postgres_backup.sh ${BACKUP_INSTALL_DIR}/postgres_backup.sh`);
        expect(lines).toContain(`sudo install -o root -g root -m 0644 ${STAGING_DIR}/lib.sh ${BACKUP_INSTALL_DIR}/lib.sh`);
        expect(lines[lines.length - 1]).toBe(`sudo install -o root -g root -m 0644 ${STAGING_DIR}/coinpilot-backup ${CRON_FILE_PATH}`);
        expect(lines).toContain(`sudo install -o root -g root -m 0644 ${STAGING_DIR}/coinpilot ${LOGROTATE_FILE_PATH}`);
        // The plan prints the schedule and the rotation as text; scripts go as files.
        expect(BACKUP_ASSETS.filter((a) => a.text).map((a) => a.remotePath)).toEqual([LOGROTATE_FILE_PATH, CRON_FILE_PATH]);
        expect(install.inputs.triggers).toEqual([INSTANCE_ID, sha256(installCommand(copies)), ...copies.map((c) => c.sha256)]);
    });

    it("keeps the SSH key secret in every child's inputs", () => {
        const children = created.filter((r) => r.parent === byName("bk").urn);
        for (const child of children) expect(plainStrings(child.inputs).join("\n")).not.toContain(KEY_MARKER);
        // A secret inside the connection makes the whole connection secret.
        const connection = byName("bk-dirs").inputs.connection;
        expect(isSecretEnvelope(connection)).toBe(true);
        expect((connection as { value: unknown }).value).toMatchObject({ host: "192.0.2.10", user: "ubuntu", privateKey: KEY_MARKER });
    });
});

describe("lib/backup-files", () => {
    const base = planBackupCopies(readAsset);

    it.each(BACKUP_ASSETS.map((a) => [a.source]))("changing %s changes only its own copy's hash", (changed) => {
        const edited = planBackupCopies((source) => (source === changed ? Buffer.concat([readAsset(source), Buffer.from("# changed\n")]) : readAsset(source)));
        const differing = edited.filter((copy, i) => copy.sha256 !== base[i].sha256).map((c) => c.source);
        expect(differing).toEqual([changed]);
        // The install step's script text stays the same: only the changed hash re-runs it.
        expect(installCommand(edited)).toBe(installCommand(base));
    });

    it("creates the backup directories 0700, the install and log directories 0755, staging for the SSH user", () => {
        const lines = directoriesCommand().split("\n");
        expect(lines).toContain(`sudo install -d -o root -g root -m 0700 ${[BACKUP_ROOT, ...BACKUP_KINDS.map((k) => `${BACKUP_ROOT}/${k}`)].join(" ")}`);
        expect(lines).toContain(`sudo install -d -o root -g root -m 0755 /opt/coinpilot-ops ${BACKUP_INSTALL_DIR}`);
        expect(lines).toContain(`sudo install -d -o root -g root -m 0755 ${LOG_DIR}`);
        expect(lines).toContain(`sudo install -d -o "$(id -un)" -m 0700 /var/tmp/coinpilot-staging ${STAGING_DIR}`);
    });

    it("quotes a path that needs it", () => {
        const copies = planBackupCopies(readAsset).map((c) => ({ ...c, stagingPath: "/tmp/it's here" }));
        expect(installCommand(copies)).toContain(`'/tmp/it'\\''s here'`);
    });
});

describeWithBinaries(["shellcheck"], "generated remote commands", () => {
    it.each([
        ["directories", directoriesCommand()],
        ["install", installCommand(planBackupCopies(readAsset))],
    ])("the %s command is shellcheck-clean bash", (_, text) => {
        requireBinaries(["shellcheck"]);
        const result = spawnSync("shellcheck", ["--shell=bash", "-"], { input: text, encoding: "utf8" });
        expect(result.stdout).toBe("");
        expect(result.status).toBe(0);
    });
});
