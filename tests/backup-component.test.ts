// The Backups component under Pulumi mocks (children, parents, order, triggers), and the pure
// lib/host/backup-files.ts it is built from (which copy re-runs when one asset changes).
import { byName, created, isSecretEnvelope, plainStrings, resetCreated, settle } from "./mocks";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Backups } from "../components/backups";
import { ALERT_UNIT_PATH, HEALTH_UNIT_PATH, OPS_DIR, RUNBOOK_BACKUP_DIR, runbookPathsCommand, BACKUP_ASSETS, SHIPPED_ASSETS, BACKUP_INSTALL_DIR, BACKUP_KINDS, BACKUP_ROOT, CRON_FILE_PATH, LOGROTATE_FILE_PATH, LOG_DIR, STAGING_DIR, directoriesCommand, installCommand, planBackupCopies } from "../lib/host/backup-files";
import { sha256 } from "../lib/host/hash";
import { REPO_ROOT, describeWithBinaries, requireBinaries } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

const INSTANCE_ID = "ocid1.instance.oc1..aaaaaaaaexampleinstance";
const KEY_MARKER = "TEST-ONLY-SSH-PRIVATE-KEY-MARKER";
const readAsset = (source: string) => fs.readFileSync(path.join(REPO_ROOT, source));

describe("Backups under mocks", () => {
    const roles = SHIPPED_ASSETS.map((a) => a.role);

    beforeAll(async () => {
        resetCreated();
        // Any custom resources stand in for the host's Docker step that Backups waits for and the VM.
        const before = new random.RandomPassword("docker-step", { length: 8 });
        const vm = new random.RandomPassword("vm", { length: 8 });
        new Backups(
            "bk",
            { connection: { host: "192.0.2.10", user: "ubuntu", privateKey: pulumi.secret(KEY_MARKER) }, instanceId: INSTANCE_ID, instance: vm, after: [before] },
            { dependsOn: [before] },
        );
        await settle();
    });

    it("is a coinpilot:host:Backups whose children are the directories step, then a copy and an install per asset", () => {
        const component = byName("bk");
        expect(component.type).toBe("coinpilot:host:Backups");
        expect(component.options.dependsOn).toEqual([byName("docker-step").urn]);
        const children = created.filter((r) => r.parent === component.urn).map((r) => `${r.type} ${r.name}`);
        // Registration order follows dependency resolution; the order that matters is dependsOn (below).
        expect(children.sort()).toEqual(
            [
                "command:remote:Command bk-dirs",
                "command:remote:Command bk-runbook-paths",
                ...roles.flatMap((role) => [`command:remote:CopyToRemote bk-copy-${role}`, `command:remote:Command bk-install-${role}`]),
            ].sort(),
        );
        expect(roles).toEqual([
            ...["lib", "postgres-backup", "redis-backup", "n8n-backup", "verify-backups", "restore-rehearsal", "offsite-upload", "backup-freshness", "alert", "alert-unit", "logrotate", "cron"],
            // The ops tools beside the backups: the boot-time health gate and the runbook's 24-hour check.
            ...["health-check", "health-unit", "ops-check"],
        ]);
    });

    it("gives every child the Docker step as its own dependency and deletes it with the VM", () => {
        const children = created.filter((r) => r.parent === byName("bk").urn);
        for (const child of children) {
            expect([child.name, child.options.dependsOn[0]]).toEqual([child.name, byName("docker-step").urn]);
            expect([child.name, child.options.deletedWith]).toEqual([child.name, byName("vm").urn]);
        }
    });

    it("creates the directories first, copies after them, installs each file after its copy and the cron file after every backup install", () => {
        const docker = byName("docker-step").urn;
        const dirs = byName("bk-dirs");
        expect(dirs.options.dependsOn).toEqual([docker]);
        for (const role of roles) expect(byName(`bk-copy-${role}`).options.dependsOn).toEqual([docker, dirs.urn]);
        const others = roles.filter((r) => r !== "cron");
        for (const role of others) expect(byName(`bk-install-${role}`).options.dependsOn).toEqual([docker, byName(`bk-copy-${role}`).urn]);
        const backups = BACKUP_ASSETS.map((a) => a.role).filter((r) => r !== "cron");
        expect(byName("bk-install-cron").options.dependsOn).toEqual([docker, byName("bk-copy-cron").urn, ...backups.map((r) => byName(`bk-install-${r}`).urn)]);
        expect(dirs.inputs.create).toBe(directoriesCommand());
        expect(dirs.inputs.triggers).toEqual([INSTANCE_ID, sha256(directoriesCommand())]);
    });

    it("gives each copy the instance id and the sha256 of exactly the file it ships", async () => {
        for (const asset of SHIPPED_ASSETS) {
            const copy = byName(`bk-copy-${asset.role}`);
            expect(copy.inputs.triggers).toEqual([INSTANCE_ID, sha256(readAsset(asset.source))]);
            expect(copy.inputs.remotePath).toBe(`${STAGING_DIR}/${path.basename(asset.remotePath)}`);
            // The recorded asset holds its path or text as a promise.
            const source = copy.inputs.source as { path?: Promise<string>; text?: Promise<string> };
            if (asset.text) expect(await source.text).toBe(readAsset(asset.source).toString("utf8"));
            else expect(await source.path).toBe(asset.source);
        }
    });

    it("installs each file as root with its mode, re-run when that file's content changes", () => {
        const copies = planBackupCopies(readAsset);
        for (const copy of copies) {
            const install = byName(`bk-install-${copy.role}`);
            expect(install.inputs.create).toBe(installCommand(copy));
            expect(install.inputs.triggers).toEqual([INSTANCE_ID, sha256(installCommand(copy)), copy.sha256]);
        }
        const create = (role: string) => byName(`bk-install-${role}`).inputs.create;
        expect(create("postgres-backup")).toBe(`sudo install -o root -g root -m 0755 ${STAGING_DIR}/postgres_backup.sh ${BACKUP_INSTALL_DIR}/postgres_backup.sh`);
        expect(create("lib")).toBe(`sudo install -o root -g root -m 0644 ${STAGING_DIR}/lib.sh ${BACKUP_INSTALL_DIR}/lib.sh`);
        expect(create("cron")).toBe(`sudo install -o root -g root -m 0644 ${STAGING_DIR}/coinpilot-backup ${CRON_FILE_PATH}`);
        expect(create("logrotate")).toBe(`sudo install -o root -g root -m 0644 ${STAGING_DIR}/coinpilot ${LOGROTATE_FILE_PATH}`);
        // The plan prints the schedule and the rotation as text; scripts go as files.
        expect(SHIPPED_ASSETS.filter((a) => a.text).map((a) => a.remotePath)).toEqual([ALERT_UNIT_PATH, LOGROTATE_FILE_PATH, CRON_FILE_PATH, HEALTH_UNIT_PATH]);
        expect(create("ops-check")).toBe(`sudo install -o root -g root -m 0755 ${STAGING_DIR}/ops-check.sh ${OPS_DIR}/ops-check.sh`);
        expect(create("health-check")).toBe(`sudo install -o root -g root -m 0755 ${STAGING_DIR}/health-check.sh ${OPS_DIR}/health-check.sh`);
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

describe("lib/host/backup-files", () => {
    const base = planBackupCopies(readAsset);

    it.each(SHIPPED_ASSETS.map((a) => [a.source]))("changing %s changes only its own copy's hash", (changed) => {
        const edited = planBackupCopies((source) => (source === changed ? Buffer.concat([readAsset(source), Buffer.from("# changed\n")]) : readAsset(source)));
        const differing = edited.filter((copy, i) => copy.sha256 !== base[i].sha256).map((c) => c.source);
        expect(differing).toEqual([changed]);
        // The install commands' text stays the same: only the changed hash re-runs that file's install.
        expect(edited.map(installCommand)).toEqual(base.map(installCommand));
    });

    it("creates the backup directories 0700, the install and log directories 0755, staging for the SSH user outside /tmp and /var/tmp", () => {
        const lines = directoriesCommand().split("\n");
        expect(lines).toContain(`sudo install -d -o root -g root -m 0700 ${[BACKUP_ROOT, ...BACKUP_KINDS.map((k) => `${BACKUP_ROOT}/${k}`)].join(" ")}`);
        expect(lines).toContain(`sudo install -d -o root -g root -m 0755 /opt/coinpilot-ops ${BACKUP_INSTALL_DIR}`);
        expect(lines).toContain(`sudo install -d -o root -g root -m 0755 ${LOG_DIR}`);
        expect(lines).toContain(`sudo install -d -o root -g root -m 0755 /var/lib/coinpilot-ops /var/lib/coinpilot-ops/staging`);
        expect(lines).toContain(`sudo install -d -o "$(id -un)" -m 0700 ${STAGING_DIR}`);
        // Ubuntu's tmpfiles.d ages /tmp (10d) and /var/tmp (30d): a staged copy there would vanish.
        expect(STAGING_DIR).toMatch(/^\/var\/lib\//);
    });

    it("installs sqlite3 for the n8n rehearsal only when it is missing", () => {
        expect(directoriesCommand().split("\n")).toContain(
            "command -v sqlite3 >/dev/null || { sudo DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 update && sudo DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 install sqlite3; }",
        );
    });

    it("quotes a path that needs it", () => {
        expect(installCommand({ ...base[0], stagingPath: "/tmp/it's here" })).toContain(`'/tmp/it'\\''s here'`);
    });
});

/** A `sudo` for running the generated commands in a temp root: every absolute path argument moves under ROOT. */
const FAKE_SUDO = `sudo() {
    local arg; local -a args=()
    for arg in "$@"; do
        case $arg in /*) args+=("$ROOT$arg") ;; *) args+=("$arg") ;; esac
    done
    # Not root (a developer's machine): install cannot chown, so leave the owner options out.
    if [ "$(id -u)" != 0 ]; then
        local -a kept=(); local skip=false
        for arg in "\${args[@]}"; do
            if $skip; then skip=false; elif [ "$arg" = -o ] || [ "$arg" = -g ]; then skip=true; else kept+=("$arg"); fi
        done
        args=("\${kept[@]}")
    fi
    "\${args[@]}"
}`;

describe("the generated install commands, run for real in a temp root", () => {
    let root: string;
    // systemctl is recorded, not run: the unit's install must reload systemd, the others must not.
    const run = (command: string) =>
        spawnSync("bash", ["-c", `set -eu\n${FAKE_SUDO}\nsystemctl() { echo "systemctl $*" >>"$ROOT/systemctl.calls"; }\n${command}`], { env: { ...process.env, ROOT: root }, encoding: "utf8" });
    const systemctlCalls = () => (fs.existsSync(under("systemctl.calls")) ? fs.readFileSync(under("systemctl.calls"), "utf8") : "");
    const under = (p: string) => path.join(root, p);

    beforeEach(() => {
        root = scratchDir("install");
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("the directories command creates every directory with its mode and a staging directory the SSH user owns", () => {
        requireBinaries(["sqlite3"]); // else the command would run apt-get
        const result = run(directoriesCommand());
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        const mode = (p: string) => (fs.statSync(under(p)).mode & 0o777).toString(8);
        expect([BACKUP_INSTALL_DIR, LOG_DIR, "/var/lib/coinpilot-ops/staging"].map(mode)).toEqual(["755", "755", "755"]);
        expect([BACKUP_ROOT, ...BACKUP_KINDS.map((k) => `${BACKUP_ROOT}/${k}`), STAGING_DIR].map(mode)).toEqual(Array(5).fill("700"));
        expect(fs.statSync(under(STAGING_DIR)).uid).toBe(process.getuid!());
    });

    it("installs each staged file with its mode; one whose staged sibling is gone still installs after its own copy changed", () => {
        const copies = planBackupCopies(readAsset);
        fs.mkdirSync(under(STAGING_DIR), { recursive: true });
        for (const dir of [BACKUP_INSTALL_DIR, OPS_DIR, path.dirname(CRON_FILE_PATH), path.dirname(LOGROTATE_FILE_PATH), path.dirname(ALERT_UNIT_PATH)]) fs.mkdirSync(under(dir), { recursive: true });
        for (const copy of copies) fs.writeFileSync(under(copy.stagingPath), readAsset(copy.source));
        for (const copy of copies) {
            const result = run(installCommand(copy));
            expect([copy.role, result.stderr, result.status]).toEqual([copy.role, "", 0]);
            // A unit makes systemd reload; the boot health check is also enabled (for the next boot, not started).
            const calls = copy.unit ? `systemctl daemon-reload\n${copy.enable ? `systemctl enable --quiet ${path.basename(copy.remotePath)}\n` : ""}` : "";
            expect([copy.role, systemctlCalls()]).toEqual([copy.role, calls]);
            fs.rmSync(under("systemctl.calls"), { force: true });
            expect(fs.readFileSync(under(copy.remotePath))).toEqual(readAsset(copy.source));
            expect((fs.statSync(under(copy.remotePath)).mode & 0o777).toString(8)).toBe(copy.mode.slice(1));
        }

        // Weeks later: lib.sh's staged copy is gone (as a tmpfiles clean-up of /var/tmp did), then
        // redis_backup.sh changes: only its copy and install re-run, and the install succeeds.
        const lib = copies.find((c) => c.role === "lib")!;
        const redis = copies.find((c) => c.role === "redis-backup")!;
        fs.rmSync(under(lib.stagingPath));
        const changed = Buffer.concat([readAsset(redis.source), Buffer.from("# changed\n")]);
        fs.writeFileSync(under(redis.stagingPath), changed);
        const result = run(installCommand(redis));
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(fs.readFileSync(under(redis.remotePath))).toEqual(changed);
        // The one command that does read the missing file fails loudly (the check can fail).
        const missing = run(installCommand(lib));
        expect(missing.status).not.toBe(0);
        expect(missing.stderr).toContain("cannot stat");
    });
});

describeWithBinaries(["shellcheck"], "generated remote commands", () => {
    it.each([
        ["directories", directoriesCommand()],
        ...planBackupCopies(readAsset).map((c) => [`install-${c.role}`, installCommand(c)]),
    ])("the %s command is shellcheck-clean bash", (_, text) => {
        requireBinaries(["shellcheck"]);
        const result = spawnSync("shellcheck", ["--shell=bash", "-"], { input: text, encoding: "utf8" });
        expect(result.stdout).toBe("");
        expect(result.status).toBe(0);
    });
});

describe("the runbook's paths on our layout, run for real in a temp root and a private mount namespace", () => {
    it("bind-mounts the backups at /var/backups/coinpilot (find sees the files), adds the fstab line once, and links the runbook's log names", () => {
        const root = scratchDir("runbook-paths");
        try {
            for (const dir of [BACKUP_ROOT + "/postgres", "/etc", LOG_DIR]) fs.mkdirSync(path.join(root, dir), { recursive: true });
            fs.writeFileSync(path.join(root, BACKUP_ROOT, "postgres", "postgres_20260301T030500Z.dump"), "x");
            fs.writeFileSync(path.join(root, "etc/fstab"), "LABEL=cloudimg-rootfs / ext4 defaults 0 1\n");
            const script = `${FAKE_SUDO}\n${runbookPathsCommand()}\n${runbookPathsCommand()}\nfind "$ROOT${RUNBOOK_BACKUP_DIR}" -type f`;
            const run = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", script], { env: { ...process.env, ROOT: root }, encoding: "utf8" });
            expect(run.stderr).toBe("");
            expect(run.status).toBe(0);
            expect(run.stdout.trim()).toBe(path.join(root, RUNBOOK_BACKUP_DIR, "postgres", "postgres_20260301T030500Z.dump"));
            const fstab = fs.readFileSync(path.join(root, "etc/fstab"), "utf8").split("\n");
            expect(fstab.filter((l) => l.includes(RUNBOOK_BACKUP_DIR))).toEqual([`${BACKUP_ROOT} ${RUNBOOK_BACKUP_DIR} none bind,nofail,x-systemd.requires-mounts-for=/srv/coinpilot-data 0 0`]);
            for (const kind of BACKUP_KINDS) expect(fs.readlinkSync(path.join(root, LOG_DIR, `${kind}-backup.log`))).toBe(`${kind}_backup.log`);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
