// The rendered coinpilot-compose.service: strict template rendering, the lines that matter,
// a snapshot, and systemd's own verifier on the real file.
import { spawnSync } from "child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { render } from "../lib/host/render";
import { COMPOSE_UNIT_DEFAULTS, UNIT_NAME, renderComposeUnit } from "../lib/host/systemd-unit";

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
        const which = spawnSync("sh", ["-c", "command -v systemd-analyze"]);
        if (which.status !== 0) throw new Error("systemd-analyze is missing: apt-get install -y systemd");
        // Recipe from conventions.md: a scratch root with systemd's units, stub docker.service and docker binary.
        const root = mkdtempSync(path.join(tmpdir(), "unit-verify-"));
        mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
        cpSync("/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, dereference: false, verbatimSymlinks: true });
        mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
        mkdirSync(path.join(root, "usr/bin"), { recursive: true });
        writeFileSync(path.join(root, "etc/systemd/system/docker.service"), "[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/docker\n");
        writeFileSync(path.join(root, "usr/bin/docker"), "#!/bin/sh\n");
        chmodSync(path.join(root, "usr/bin/docker"), 0o755);
        mkdirSync(path.join(root, "opt/coin-pilot"), { recursive: true });
        writeFileSync(path.join(root, "etc/systemd/system", UNIT_NAME), unit);
        const result = spawnSync("systemd-analyze", ["verify", `--root=${root}`, UNIT_NAME], { encoding: "utf8" });
        expect(result.stdout + result.stderr).toBe("");
        expect(result.status).toBe(0);

        // The same check catches a broken unit, so an empty output above means something.
        writeFileSync(path.join(root, "etc/systemd/system", UNIT_NAME), unit.replace("Type=oneshot", "Type=oneshoot"));
        const broken = spawnSync("systemd-analyze", ["verify", `--root=${root}`, UNIT_NAME], { encoding: "utf8" });
        expect(broken.stdout + broken.stderr).toMatch(/oneshoot/);
    });
});
