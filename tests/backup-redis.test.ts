// redis_backup.sh and the redis part of restore_rehearsal.sh against real throwaway redis servers:
// BGSAVE round trip into a fresh server (same keys, same DEBUG DIGEST), rehearsal pass/fail, and a
// server that is down.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { sha256 } from "../lib/host/hash";
import { RedisServer, describeWithBinaries, freePort, requireBinaries, runBackupScript, snapshot, startRedis } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

jest.setTimeout(60_000);

const BINARIES = ["redis-server", "redis-cli", "flock", "sha256sum"];
const STRING_KEYS = 2000;

describeWithBinaries(BINARIES, "redis backups against a real server", () => {
    let source: RedisServer;
    const others: RedisServer[] = [];
    let work: string;

    function env(root: string, extra: Record<string, string> = {}): Record<string, string> {
        return {
            BACKUP_ROOT: root,
            LOG_DIR: path.join(work, "log"),
            ENV_FILE: "",
            REDIS_CLI: `redis-cli -h 127.0.0.1 -p ${source.port}`,
            REDIS_FILE_CMD: "",
            BACKUP_KINDS: "redis",
            REHEARSAL_REDIS_EXEC: "",
            REHEARSAL_REDIS_CLI: "redis-cli -h 127.0.0.1",
            ...extra,
        };
    }
    const log = (name: string) => fs.readFileSync(path.join(work, "log", `${name}.log`), "utf8");
    const rdbs = (root: string) => fs.readdirSync(path.join(root, "redis")).filter((f) => f.endsWith(".rdb")).sort();
    const keys = (server: RedisServer) => server.cli("--scan").split("\n").sort();

    beforeAll(async () => {
        requireBinaries(BINARIES);
        source = await startRedis();
        work = scratchDir("redisbackup");
        const commands = [];
        for (let i = 0; i < STRING_KEYS; i++) commands.push(`SET bot:status:KRW-${i} "{\\"state\\":\\"running\\",\\"n\\":${i}}"`);
        commands.push("HSET position:KRW-BTC qty 0.001 avg 91000000", "RPUSH orders:recent a b c", "SADD symbols KRW-BTC KRW-ETH", "ZADD pnl 1.5 day1 -0.2 day2", "SET session abc EX 86400");
        execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(source.port)], { input: commands.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"] });
        expect(source.cli("DBSIZE")).toBe(String(STRING_KEYS + 5));
    });

    afterAll(async () => {
        for (const server of others) await server.stop();
        await source?.stop();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("snapshots with BGSAVE and the RDB loads into a fresh server with the same keys and data", async () => {
        const root = path.join(work, "roundtrip");
        const savesBefore = Number(source.cli("LASTSAVE"));
        const run = runBackupScript("redis_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:15:00Z" }));
        expect(run).toMatchObject({ status: 0 });
        expect(rdbs(root)).toEqual(["redis_20260301T031500Z.rdb"]);
        expect(Number(source.cli("LASTSAVE"))).toBeGreaterThan(savesBefore);
        expect(log("redis_backup")).toContain(`redis snapshot holds ${STRING_KEYS + 5} keys`);

        const file = path.join(root, "redis", "redis_20260301T031500Z.rdb");
        const fresh = await startRedis({ rdb: file });
        others.push(fresh);
        expect(fresh.port).not.toBe(source.port);
        expect(fresh.cli("DBSIZE")).toBe(String(STRING_KEYS + 5));
        expect(keys(fresh)).toEqual(keys(source));
        // DEBUG DIGEST hashes every key, type, value and TTL presence: equal digests, equal data.
        expect(fresh.cli("DEBUG", "DIGEST")).toEqual(source.cli("DEBUG", "DIGEST"));
        expect(fresh.cli("GET", "bot:status:KRW-7")).toBe('{"state":"running","n":7}');
        expect(Number(fresh.cli("TTL", "session"))).toBeGreaterThan(0);
    });

    it("rehearses: loads the newest RDB into a throwaway redis, reports its keys, and stops it", async () => {
        const root = path.join(work, "roundtrip");
        const port = await freePort();
        const run = runBackupScript("restore_rehearsal.sh", env(root, { REHEARSAL_REDIS_PORT: String(port) }));
        expect(run.status).toBe(0);
        expect(log("restore_rehearsal")).toContain(`redis: redis_20260301T031500Z.rdb loaded into a throwaway redis on port ${port}: ${STRING_KEYS + 5} keys`);
        expect(log("restore_rehearsal")).toContain("restore rehearsal passed for: redis");
        // The throwaway server is gone: its port accepts connections again for a new listener.
        await new Promise<void>((resolve, reject) => {
            const probe = net.createServer().once("error", reject);
            probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
        });
    });

    it("fails the rehearsal when redis cannot load the file, even with a matching checksum", async () => {
        const root = path.join(work, "garbage");
        const dir = path.join(root, "redis");
        fs.mkdirSync(dir, { recursive: true });
        const name = "redis_20260301T031500Z.rdb";
        const content = Buffer.concat([Buffer.from("REDIS0010"), Buffer.alloc(64, 0x7f)]);
        fs.writeFileSync(path.join(dir, name), content);
        fs.writeFileSync(path.join(dir, `${name}.sha256`), `${sha256(content)}  ${name}\n`);
        const run = runBackupScript("restore_rehearsal.sh", env(root, { REHEARSAL_REDIS_PORT: String(await freePort()) }));
        expect(run.status).not.toBe(0);
        expect(log("restore_rehearsal")).toContain(`redis: the throwaway redis-server refused ${name}`);
        expect(log("restore_rehearsal")).toContain("restore rehearsal FAILED for: redis");
    });

    it("detects a flipped byte before loading anything", async () => {
        const root = path.join(work, "flipped");
        expect(runBackupScript("redis_backup.sh", env(root, { BACKUP_NOW: "2026-03-01T03:15:00Z" })).status).toBe(0);
        const file = path.join(root, "redis", "redis_20260301T031500Z.rdb");
        const bytes = fs.readFileSync(file);
        bytes[bytes.length - 20] ^= 0x10;
        fs.writeFileSync(file, bytes);
        const run = runBackupScript("restore_rehearsal.sh", env(root, { REHEARSAL_REDIS_PORT: String(await freePort()) }));
        expect(run.status).not.toBe(0);
        expect(log("restore_rehearsal")).toMatch(/redis: CHECKSUM MISMATCH: .*redis_20260301T031500Z\.rdb .*refusing to restore it/);
    });

    it("with the server down: exits non-zero, writes nothing, deletes nothing", async () => {
        const root = path.join(work, "down");
        expect(runBackupScript("redis_backup.sh", env(root, { BACKUP_NOW: "2026-02-01T03:15:00Z" })).status).toBe(0);
        expect(runBackupScript("redis_backup.sh", env(root, { BACKUP_NOW: "2026-02-01T05:00:00Z" })).status).toBe(0);
        // Retention keeps only the newest backup of a day.
        expect(rdbs(root)).toEqual(["redis_20260201T050000Z.rdb"]);
        const before = snapshot(root);
        const closed = await freePort();
        const run = runBackupScript("redis_backup.sh", env(root, { BACKUP_NOW: "2026-02-02T03:15:00Z", REDIS_CLI: `redis-cli -h 127.0.0.1 -p ${closed}` }));
        expect(run.status).not.toBe(0);
        expect(snapshot(root)).toEqual(before);
        expect(log("redis_backup")).toMatch(/ERROR redis-cli PING failed: .*Connection refused/);
    });

    it("fails when the server answers with an error instead of saving", () => {
        const root = path.join(work, "error");
        // The reply of an unknown command stands in for a refused BGSAVE: redis-cli exits 0 on it.
        const run = runBackupScript("redis_backup.sh", env(root, { REDIS_CLI: `redis-cli -h 127.0.0.1 -p ${source.port} NOSUCHCOMMAND` }));
        expect(run.status).not.toBe(0);
        expect(log("redis_backup")).toMatch(/ERROR redis-cli PING failed: ERR unknown command/);
        expect(snapshot(root)).toEqual([]);
    });
});
