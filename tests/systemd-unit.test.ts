// The rendered coinpilot-compose.service: strict template rendering, the lines that matter,
// a snapshot, and systemd's own verifier on the real file.
import { spawnSync } from "child_process";
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";
import { render } from "../lib/host/render";
import { COMPOSE_UNIT_DEFAULTS, UNIT_NAME, renderComposeUnit } from "../lib/host/systemd-unit";
import { ALERT_UNIT_PATH, BACKUP_ASSETS, HEALTH_CHECK_PATH, HEALTH_UNIT_PATH, SHIPPED_ASSETS, installCommand, planBackupCopies } from "../lib/host/backup-files";

const REPO_ROOT = path.resolve(__dirname, "..");
const asset = (remotePath: string) => SHIPPED_ASSETS.find((a) => a.remotePath === remotePath)!;
const assetText = (remotePath: string) => readFileSync(path.join(REPO_ROOT, asset(remotePath).source), "utf8");

/**
 * Recipe from conventions.md: a scratch root with systemd's units, stub docker.service and docker
 * binary, the app directory, and the scripts our units run (at their host paths, executable).
 */
function verifyRoot(): string {
    const which = spawnSync("sh", ["-c", "command -v systemd-analyze"]);
    if (which.status !== 0) throw new Error("systemd-analyze is missing: apt-get install -y systemd");
    const root = scratchDir("unit-verify");
    mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
    cpSync("/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, dereference: false, verbatimSymlinks: true });
    mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
    writeFileSync(path.join(root, "etc/systemd/system/docker.service"), "[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/docker\n");
    mkdirSync(path.join(root, "opt/coin-pilot"), { recursive: true });
    const alertScript = BACKUP_ASSETS.find((a) => a.source === "assets/backup/alert.sh")!.remotePath;
    for (const script of ["/usr/bin/docker", HEALTH_CHECK_PATH, alertScript]) {
        mkdirSync(path.join(root, path.dirname(script)), { recursive: true });
        writeFileSync(path.join(root, script), "#!/bin/sh\n");
        chmodSync(path.join(root, script), 0o755);
    }
    return root;
}

/** systemd-analyze verify of UNIT in ROOT: a good unit prints nothing (its exit status is 0 even for a bad one). */
function verify(root: string, unitName: string): { output: string; status: number | null } {
    const result = spawnSync("systemd-analyze", ["verify", `--root=${root}`, unitName], { encoding: "utf8" });
    return { output: result.stdout + result.stderr, status: result.status };
}

describe("render", () => {
    it("substitutes every {{key}}, repeated ones included", () => {
        expect(render("a={{a}} b={{b}} a={{a}}", { a: "1", b: "2" })).toBe("a=1 b=2 a=1");
    });

    it("throws on a placeholder without a value, naming it and the template", () => {
        expect(() => render("x={{x}} y={{y}}", { x: "1" }, "demo.tmpl")).toThrow(/render demo\.tmpl: no value for \{\{y\}\}/);
    });

    it("throws on a value the template never uses", () => {
        expect(() => render("x={{x}}", { x: "1", stale: "2" })).toThrow(/values never used: stale/);
    });

    it("throws on a malformed placeholder instead of shipping it", () => {
        expect(() => render("x={{ x }}", {})).toThrow(/malformed placeholder "\{\{ x \}\}"/);
    });

    it("inserts values verbatim (no recursive expansion)", () => {
        expect(render("{{a}}", { a: "{{b}}" })).toBe("{{b}}");
    });
});

describe(UNIT_NAME, () => {
    const unit = renderComposeUnit();
    const lines = unit.split("\n");
    const compose = "/usr/bin/docker compose --env-file deploy/cloud/oci/.env -f deploy/cloud/oci/docker-compose.prod.yml";

    it("keeps a failed pre-pull of locally built images from failing the start (seed 000)", () => {
        expect(lines).toContain(`ExecStartPre=-${compose} pull --ignore-buildable`);
        expect(lines.filter((l) => l.startsWith("ExecStartPre="))).toEqual([`ExecStartPre=-${compose} pull --ignore-buildable`]);
    });

    it("is a oneshot that stays active, ordered after Docker and the network", () => {
        for (const line of [
            "Type=oneshot",
            "RemainAfterExit=yes",
            "Requires=docker.service",
            "After=docker.service network-online.target",
            "Wants=network-online.target",
            "WorkingDirectory=/opt/coin-pilot",
            `ExecStart=${compose} up -d --build --remove-orphans`,
            `ExecStop=${compose} down`,
            "TimeoutStartSec=1800",
            "WantedBy=multi-user.target",
        ]) {
            expect(lines).toContain(line);
        }
    });

    it("reloads by rebuilding in place, with the same tolerant pre-pull", () => {
        expect(lines.filter((l) => l.startsWith("ExecReload="))).toEqual([
            `ExecReload=-${compose} pull --ignore-buildable`,
            `ExecReload=${compose} up -d --build --remove-orphans`,
        ]);
    });

    it("matches the snapshot", () => {
        expect(unit).toMatchSnapshot();
    });

    it.each([
        [{ appDir: "opt/coin-pilot" }, /appDir/],
        [{ appDir: "/opt/coin pilot" }, /appDir/],
        [{ composeFile: "../etc/compose.yml" }, /composeFile/],
        [{ envFile: "/root/.env" }, /envFile/],
        [{ envFile: "deploy/%h/.env" }, /envFile/],
        [{ startTimeoutSec: 10 }, /startTimeoutSec/],
        [{ stopTimeoutSec: 1.5 }, /stopTimeoutSec/],
    ])("refuses unsafe values %p", (override, key) => {
        expect(() => renderComposeUnit({ ...COMPOSE_UNIT_DEFAULTS, ...override })).toThrow(key);
    });

    it("passes systemd-analyze verify with nothing printed", () => {
        const root = verifyRoot();
        writeFileSync(path.join(root, "etc/systemd/system", UNIT_NAME), unit);
        const result = verify(root, UNIT_NAME);
        expect(result.output).toBe("");
        expect(result.status).toBe(0);

        // The same check catches a broken unit, so an empty output above means something.
        writeFileSync(path.join(root, "etc/systemd/system", UNIT_NAME), unit.replace("Type=oneshot", "Type=oneshoot"));
        expect(verify(root, UNIT_NAME).output).toMatch(/oneshoot/);
    });
});

describe("coinpilot-health.service (the health gate at every boot)", () => {
    const text = assetText(HEALTH_UNIT_PATH);
    const lines = text.split("\n");

    it("runs the installed health gate on the compose unit's layout, after that unit, as a oneshot", () => {
        const { appDir, composeFile, envFile } = COMPOSE_UNIT_DEFAULTS;
        expect(lines).toContain(`ExecStart=${HEALTH_CHECK_PATH} ${UNIT_NAME} ${appDir} ${composeFile} ${envFile}`);
        expect(lines).toContain(`After=${UNIT_NAME}`);
        expect(lines).toContain("Type=oneshot");
        // Pulled in at boot, and its alert is the compose unit's: coinpilot-alert@coinpilot-health.service.
        expect(lines).toContain("WantedBy=multi-user.target");
        expect(lines).toContain("OnFailure=coinpilot-alert@%N.service");
        // Longer than the script's own bounds (preflight 300 s, 90 checks 10 s apart), so the script says why, not systemd.
        const timeout = Number(lines.find((l) => l.startsWith("TimeoutStartSec="))!.split("=")[1]);
        expect(timeout).toBeGreaterThan(300 + 90 * 10);
    });

    it("is installed 0644, systemd reloaded, and enabled for the next boot without being started now", () => {
        const copy = planBackupCopies(() => "x").find((c) => c.remotePath === HEALTH_UNIT_PATH)!;
        expect(copy.mode).toBe("0644");
        expect(installCommand(copy)).toBe(
            `sudo install -o root -g root -m 0644 /var/lib/coinpilot-ops/staging/backup/coinpilot-health.service ${HEALTH_UNIT_PATH} && sudo systemctl daemon-reload && sudo systemctl enable --quiet coinpilot-health.service`,
        );
        // The alert template is only reloaded: it is started by OnFailure=, never enabled.
        expect(installCommand(planBackupCopies(() => "x").find((c) => c.remotePath === ALERT_UNIT_PATH)!)).not.toContain("enable");
    });

    it("passes systemd-analyze verify, with the compose unit and the alert it starts, printing nothing", () => {
        const root = verifyRoot();
        writeFileSync(path.join(root, "etc/systemd/system", UNIT_NAME), renderComposeUnit());
        writeFileSync(path.join(root, HEALTH_UNIT_PATH), text);
        writeFileSync(path.join(root, ALERT_UNIT_PATH), assetText(ALERT_UNIT_PATH));
        for (const name of ["coinpilot-health.service", "coinpilot-alert@coinpilot-health.service", UNIT_NAME]) {
            const result = verify(root, name);
            expect([name, result.output]).toEqual([name, ""]);
        }

        // A health script that is missing on the host is caught by the same check.
        rmSync(path.join(root, HEALTH_CHECK_PATH));
        expect(verify(root, "coinpilot-health.service").output).toMatch(/health-check\.sh/);
    });
});
