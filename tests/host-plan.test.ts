// `npm run plan` for the example stack shows what the host receives: the rendered unit and the steps in order.
import { spawnSync } from "child_process";
import * as path from "path";
import { HOST_STEPS } from "../components/host";
import { renderComposeUnit } from "../lib/host/systemd-unit";
import { OFFLINE_SECRET_PLACEHOLDER } from "../lib/plan/plan";

const ROOT = path.resolve(__dirname, "..");

describe("npm run plan: host bootstrap", () => {
    const result = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan.ts"], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });

    it("runs", () => {
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    it("prints the rendered unit exactly as shipped", () => {
        const header = "File /home/ubuntu/.coinpilot-bootstrap/coinpilot-compose.service (shipped by coinpilot-host-unit-file):";
        const start = result.stdout.indexOf(header);
        expect(start).toBeGreaterThan(-1);
        const body = result.stdout.slice(start).split("\n").slice(1);
        const shown = body.slice(0, body.findIndex((l) => !l.startsWith("  | "))).map((l) => l.slice(4));
        expect(shown.join("\n")).toBe(renderComposeUnit().trimEnd());
    });

    it("lists every step in run order, the data volume before Docker", () => {
        const section = result.stdout.slice(result.stdout.indexOf("Host bootstrap (coinpilot-host)"));
        const names = [...section.matchAll(/^ {2}\d+\. (coinpilot-host-\S+)/gm)].map((m) => m[1]);
        expect(names).toEqual(HOST_STEPS.map((s) => `coinpilot-host-${s.role}`));
    });

    it("shows secrets only as [secret]", () => {
        expect(result.stdout).not.toContain(OFFLINE_SECRET_PLACEHOLDER);
        expect(result.stdout).not.toContain("PRIVATE KEY");
        const env = result.stdout.slice(result.stdout.indexOf("+ command:remote:Command  coinpilot-host-env"));
        expect(env.split("\n").find((l) => l.trim().startsWith("stdin:"))).toMatch(/stdin: \[secret\]/);
    });
});
