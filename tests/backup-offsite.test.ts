// The off-host copy from the host's side, against a local stand-in of OCI Object Storage
// (tests/helpers/object-storage.ts): each backup uploads its file and .sha256 with plain curl
// through the write-only PAR URL read from a root-only file; transient failures are retried within
// bounds; a failed upload fails the job (one ERROR line) and never touches the local backup; the
// catch-up job uploads what was left; the URL is never in a log or on a command line. Then
// docs/disaster-recovery.md's "restore from the off-host copy" runs as written: download with the
// operator's CLI, check, and restore into a real PostgreSQL.
import { execFile, execFileSync } from "child_process";
import { promisify } from "util";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { sha256 } from "../lib/host/hash";
import { OCI_CLI_STANDIN, ObjectStorageStandIn, startObjectStorage } from "./helpers/object-storage";
import {
    PG_BIN,
    PgServer,
    REPO_ROOT,
    describeWithBinaries,
    postgresCommandEnv,
    requireBinaries,
    runBackupScriptAsync,
    startPostgres,
} from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

jest.setTimeout(120_000);

const BINARIES = ["curl", "tar", "gzip", "flock", "sha256sum", "md5sum", "base64", "timeout", path.join(PG_BIN, "initdb"), path.join(PG_BIN, "pg_dump"), path.join(PG_BIN, "pg_restore")];
const errorLines = (logged: string) => logged.split("\n").filter((l) => /^\S+ \[[^\]]+\] ERROR /.test(l));

describeWithBinaries(BINARIES, "off-host copy against a local Object Storage stand-in", () => {
    let store: ObjectStorageStandIn;
    let work: string;
    let docker: string;
    let n8nData: string;
    let urlFile: string;

    function env(root: string, extra: Record<string, string> = {}): Record<string, string> {
        return {
            BACKUP_ROOT: root,
            LOG_DIR: path.join(work, "log", path.basename(root)),
            ENV_FILE: "",
            N8N_DOCKER: docker,
            STUB_MOUNT: n8nData,
            BACKUP_KINDS: "n8n",
            OFFSITE_URL_FILE: urlFile,
            OFFSITE_RETRY_DELAY: "0.2",
            ...extra,
        };
    }
    const n8nFiles = (root: string) => fs.readdirSync(path.join(root, "n8n")).sort();
    /** Everything a run printed or logged, and the URL file's own text, must not contain the token. */
    const expectNoToken = (...texts: string[]) => {
        for (const text of texts) expect(text).not.toContain(store.token);
        expect(store.leaks).toEqual([]);
    };

    beforeAll(async () => {
        requireBinaries(BINARIES);
        store = await startObjectStorage();
        work = scratchDir("offsite");
        n8nData = path.join(work, "n8n-data");
        fs.mkdirSync(n8nData);
        fs.writeFileSync(path.join(n8nData, "database.sqlite"), randomBytes(64 * 1024));
        fs.writeFileSync(path.join(n8nData, "config"), '{"encryptionKey":"test-only-key"}\n');
        docker = path.join(work, "docker");
        fs.writeFileSync(docker, '#!/usr/bin/env bash\ncase $1 in inspect) echo "running $STUB_MOUNT" ;; esac\n', { mode: 0o755 });
        urlFile = path.join(work, "offsite-upload-par");
        fs.writeFileSync(urlFile, `${store.parUrl}\nexpires=2028-12-31T00:00:00Z\n`, { mode: 0o600 });
    });

    afterAll(async () => {
        await store?.close();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("uploads the new backup and its .sha256 after the backup, byte for byte, and marks it uploaded", async () => {
        const root = path.join(work, "plain");
        const run = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:25:00Z" }));
        expect(run.status).toBe(0);
        const name = "n8n_20260301T032500Z.tar.gz";
        const local = fs.readFileSync(path.join(root, "n8n", name));
        const [data] = store.objects.get(`n8n/${name}`)!;
        expect(data.body.equals(local)).toBe(true);
        expect(data.sha256Meta).toBe(sha256(local));
        expect(store.objects.get(`n8n/${name}.sha256`)![0].body.toString()).toBe(`${sha256(local)}  ${name}\n`);
        expect(n8nFiles(root)).toEqual([`.${name}.uploaded`, name, `${name}.sha256`]);
        expect(run.logged).toMatch(new RegExp(`INFO off-host copy: uploaded n8n/${name.replace(/\./g, "\\.")} \\(${local.length} bytes\\) in \\d+s, attempt 1`));
        expect(run.logged).toContain("off-host copy: 1 backup(s) uploaded, every retained n8n backup is off the host");
        expectNoToken(run.logged, run.output);
    });

    it("retries an injected 503 and a dropped connection, then succeeds: the job passes", async () => {
        const root = path.join(work, "flaky");
        store.failNext(1, 503);
        store.failNext(1, "drop");
        const run = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-02T03:25:00Z" }));
        expect(run.status).toBe(0);
        const name = "n8n_20260302T032500Z.tar.gz";
        expect(run.logged).toContain(`WARN off-host copy: attempt 1 of 6 for n8n/${name} failed (HTTP 503: {"code":"ServiceUnavailable","message":"injected failure"}); next in 0.2s`);
        expect(run.logged).toMatch(new RegExp(`WARN off-host copy: attempt 2 of 6 for n8n/${name.replace(/\./g, "\\.")} failed \\(curl exit 52: .*\\); next in 0.4s`));
        expect(run.logged).toMatch(/uploaded n8n\/n8n_20260302T032500Z\.tar\.gz \(\d+ bytes\) in \d+s, attempt 3/);
        expect(store.objects.get(`n8n/${name}`)).toHaveLength(1);
        expectNoToken(run.logged, run.output);
    });

    it("a failed upload fails the backup job with one ERROR line, keeps the local backup, and the catch-up job sends it later", async () => {
        const root = path.join(work, "outage");
        store.failNext(3, 503);
        const run = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-03T03:25:00Z", OFFSITE_ATTEMPTS: "3" }));
        const name = "n8n_20260303T032500Z.tar.gz";
        expect(run.status).toBe(1);
        expect(errorLines(run.logged)).toEqual([
            expect.stringContaining(`ERROR off-host copy FAILED for 1 backup(s), kept on this host and retried by the next run: n8n/${name}: HTTP 503: {"code":"ServiceUnavailable","message":"injected failure"} (gave up after 3 attempts in`),
        ]);
        // The backup is there, good, and counted by retention; only the marker is missing.
        expect(n8nFiles(root)).toEqual([name, `${name}.sha256`]);
        expect(store.objects.has(`n8n/${name}`)).toBe(false);

        const catchUp = await runBackupScriptAsync("offsite_upload.sh", env(root));
        expect(catchUp.status).toBe(0);
        expect(catchUp.logged).toContain(`uploaded n8n/${name}`);
        expect(n8nFiles(root)).toEqual([`.${name}.uploaded`, name, `${name}.sha256`]);
        expect(store.objects.get(`n8n/${name}`)![0].body.equals(fs.readFileSync(path.join(root, "n8n", name)))).toBe(true);
        // Nothing left: a second catch-up uploads nothing.
        const again = await runBackupScriptAsync("offsite_upload.sh", env(root));
        expect(again.status).toBe(0);
        expect(again.logged).toContain("off-host copy: 0 backup(s) uploaded");
        expectNoToken(run.logged, catchUp.logged);
    });

    it("an expired or revoked PAR (404) is not retried: the catch-up job fails at once, naming the backup", async () => {
        const root = path.join(work, "revoked");
        const badUrl = path.join(work, "revoked-par");
        fs.writeFileSync(badUrl, `${store.parUrl.replace(store.token, "REVOKED-TOKEN")}\n`, { mode: 0o600 });
        const backup = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-04T03:25:00Z", OFFSITE_URL_FILE: badUrl }));
        expect(backup.status).toBe(1);
        const run = await runBackupScriptAsync("offsite_upload.sh", env(root, { OFFSITE_URL_FILE: badUrl }));
        expect(run.status).toBe(1);
        expect(run.seconds).toBeLessThan(5);
        expect(run.logged).toContain("FAIL off-host copy FAILED for 1 backup(s)");
        expect(errorLines(run.logged)).toEqual([
            expect.stringMatching(/ERROR off-host upload FAILED for: n8n \(off-host copy FAILED .*n8n\/n8n_20260304T032500Z\.tar\.gz: HTTP 404: .*NotAuthorizedOrNotFound.* \(not retried\).*\); the local backups are kept/),
        ]);
        expect(backup.logged + run.logged).not.toContain("REVOKED-TOKEN");
    });

    it("with the service unreachable, gives up within its bounds and keeps the backup", async () => {
        const root = path.join(work, "unreachable");
        const down = path.join(work, "down-par");
        // A port nothing listens on: connection refused, retried.
        fs.writeFileSync(down, `http://127.0.0.1:9/p/${store.token}/n/${store.namespace}/b/${store.bucket}/o/\n`, { mode: 0o600 });
        const run = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-05T03:25:00Z", OFFSITE_URL_FILE: down, OFFSITE_ATTEMPTS: "3" }));
        expect(run.status).toBe(1);
        expect(errorLines(run.logged)[0]).toMatch(/curl exit 7: .*Failed to connect.* \(gave up after 3 attempts/);
        expect(n8nFiles(root).filter((f) => !f.startsWith("."))).toEqual(["n8n_20260305T032500Z.tar.gz", "n8n_20260305T032500Z.tar.gz.sha256"]);
        expectNoToken(run.logged, run.output);
    });

    it("the PAR is write-only: the upload URL reads nothing back", async () => {
        const res = await fetch(`${store.parUrl}n8n%2Fn8n_20260301T032500Z.tar.gz`);
        expect(res.status).toBe(404);
    });

    it("warns 30 days before the PAR expires, and skips quietly when no copy is configured", async () => {
        const root = path.join(work, "expiring");
        const soon = path.join(work, "soon-par");
        const in10Days = new Date(Date.now() + 10 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
        fs.writeFileSync(soon, `${store.parUrl}\nexpires=${in10Days}\n`, { mode: 0o600 });
        const run = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-06T03:25:00Z", OFFSITE_URL_FILE: soon }));
        expect(run.status).toBe(0);
        expect(run.logged).toMatch(new RegExp(`WARN the off-host upload URL expires at ${in10Days} \\((9|10) days left\\): rotate it`));
        const none = await runBackupScriptAsync("offsite_upload.sh", env(root, { OFFSITE_URL_FILE: path.join(work, "absent") }));
        expect(none.status).toBe(0);
        expect(none.logged).toContain("off-host copy: not configured");
    });

    it("uploads a 48 MiB backup in bounded time (figure printed for the README)", async () => {
        const root = path.join(work, "big");
        const bigData = path.join(work, "big-data");
        fs.mkdirSync(bigData);
        fs.writeFileSync(path.join(bigData, "database.sqlite"), randomBytes(48 * 1024 * 1024));
        store.failNext(1, 503);
        const run = await runBackupScriptAsync("n8n_backup.sh", env(root, { BACKUP_NOW: "2026-03-07T03:25:00Z", STUB_MOUNT: bigData }));
        expect(run.status).toBe(0);
        const name = "n8n_20260307T032500Z.tar.gz";
        const size = fs.statSync(path.join(root, "n8n", name)).size;
        const attempts = store.uploads.filter((u) => u.object === `n8n/${name}`);
        expect(attempts.map((a) => a.status)).toEqual([503, 200]);
        const seconds = attempts[1].ms / 1000;
        expect(seconds).toBeLessThan(60);
        // eslint-disable-next-line no-console
        console.log(`off-host upload figure: ${(size / 1048576).toFixed(1)} MiB to the stand-in: ${seconds.toFixed(2)} s for the good attempt, 2 attempts (1 injected 503, retried after 0.2 s); whole backup run ${run.seconds.toFixed(1)} s`);
    });
});

describeWithBinaries([...BINARIES, "node", path.join(PG_BIN, "psql")], "docs/disaster-recovery.md: restore from the off-host copy", () => {
    let store: ObjectStorageStandIn;
    let pg: PgServer;
    let work: string;

    beforeAll(async () => {
        requireBinaries([...BINARIES, "node"]);
        store = await startObjectStorage();
        pg = await startPostgres({ password: "doc-password" });
        work = scratchDir("offsite-doc");
        pg.psql(`CREATE TABLE daily_risk_state (day date PRIMARY KEY, buy_count int NOT NULL, updated_at timestamptz NOT NULL);
            INSERT INTO daily_risk_state SELECT date '2026-01-01' + g, g % 7, timestamptz '2026-01-01 23:59Z' + g * interval '1 day' FROM generate_series(0, 59) g;`);
        fs.writeFileSync(path.join(work, "app.env"), `POSTGRES_USER=${pg.user}\nPOSTGRES_PASSWORD=doc-password\nPOSTGRES_DB=${pg.database}\n`);
        fs.writeFileSync(path.join(work, "par"), `${store.parUrl}\n`, { mode: 0o600 });
    });

    afterAll(async () => {
        await store?.close();
        pg?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("downloads the newest copy with the operator's CLI, checks it, and it restores (rehearsal and a real pg_restore)", async () => {
        // The host's side: two nights of backups uploaded, the newest one last.
        const hostEnv = (when: string) => ({
            BACKUP_ROOT: path.join(work, "host-backups"),
            LOG_DIR: path.join(work, "log"),
            ENV_FILE: path.join(work, "app.env"),
            ...postgresCommandEnv(pg),
            OFFSITE_URL_FILE: path.join(work, "par"),
            BACKUP_NOW: when,
        });
        expect((await runBackupScriptAsync("postgres_backup.sh", hostEnv("2026-03-01T03:05:00Z"))).status).toBe(0);
        pg.psql("INSERT INTO daily_risk_state VALUES ('2026-06-01', 1, '2026-06-01 23:59Z')");
        expect((await runBackupScriptAsync("postgres_backup.sh", hostEnv("2026-03-02T03:05:00Z"))).status).toBe(0);
        expect([...store.objects.keys()].sort()).toEqual([
            "postgres/postgres_20260301T030500Z.dump", "postgres/postgres_20260301T030500Z.dump.sha256",
            "postgres/postgres_20260302T030500Z.dump", "postgres/postgres_20260302T030500Z.dump.sha256",
        ]);
        // The volume is lost: the host's copies are gone.
        fs.rmSync(path.join(work, "host-backups"), { recursive: true });

        // The runbook's download block, as written, on "the operator's machine".
        const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "disaster-recovery.md"), "utf8");
        const block = /<!-- tested: offsite-download -->\s*```bash\n([\s\S]*?)```/.exec(doc)?.[1];
        expect(block).toBeDefined();
        const bin = path.join(work, "bin");
        const home = path.join(work, "home");
        fs.mkdirSync(bin);
        fs.mkdirSync(home);
        fs.writeFileSync(path.join(bin, "oci"), OCI_CLI_STANDIN, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\n[ "$*" = "stack output offsiteBucket" ] && echo "${store.namespace}/${store.bucket}"\n`, { mode: 0o755 });
        // Not execFileSync: the stand-in answers from this process's event loop.
        const { stdout: out } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", `${block}\necho "downloaded: $(pwd)/\${NAME#*/}"`], {
            env: { PATH: `${bin}:${process.env.PATH}`, HOME: home, OCI_STANDIN_ENDPOINT: store.endpoint, OCI_STANDIN_NAMESPACE: store.namespace },
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(out).toContain("postgres_20260302T030500Z.dump: OK");
        const downloaded = /downloaded: (\S+)/.exec(out)![1];
        expect(path.basename(downloaded)).toBe("postgres_20260302T030500Z.dump");

        // Put back on the host (the runbook's next block), then verify and rehearse as it says.
        const restored = path.join(work, "restored-backups");
        fs.mkdirSync(path.join(restored, "postgres"), { recursive: true });
        for (const f of [downloaded, `${downloaded}.sha256`]) fs.copyFileSync(f, path.join(restored, "postgres", path.basename(f)));
        const placed = { ...hostEnv("2026-03-03T03:05:00Z"), BACKUP_ROOT: restored, BACKUP_KINDS: "postgres", REHEARSAL_TABLES: "daily_risk_state" };
        expect((await runBackupScriptAsync("verify_backups.sh", placed)).status).toBe(0);
        const rehearsal = await runBackupScriptAsync("restore_rehearsal.sh", placed);
        expect(rehearsal.status).toBe(0);
        expect(rehearsal.logged).toContain("key table daily_risk_state: 61 rows, newest updated_at: 2026-06-01 23:59:00+00");

        // And the restore itself: the newest night's rows are back.
        pg.psql("CREATE DATABASE from_offsite", "postgres");
        execFileSync(pg.bin("pg_restore"), ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.user, "-d", "from_offsite", "--exit-on-error", downloaded], { env: { PATH: process.env.PATH, PGPASSWORD: "doc-password" } });
        expect(pg.psql("SELECT count(*) FROM daily_risk_state", "from_offsite")).toBe("61");
    });
});
