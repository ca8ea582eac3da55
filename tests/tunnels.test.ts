// The runbook's SSH tunnels (seed 001, section 2.3) as the sshTunnelCommand output builds them.
import { spawnSync } from "child_process";
import { SEED_TUNNELS, sshTunnelCommand } from "../lib/host/tunnels";

describe("sshTunnelCommand", () => {
    it("opens the seeds' four tunnels to the host's loopback, dashboard, n8n, Grafana, Prometheus", () => {
        expect(sshTunnelCommand("203.0.113.10")).toBe("ssh -L 18501:127.0.0.1:8501 -L 15678:127.0.0.1:5678 -L 13000:127.0.0.1:3000 -L 19090:127.0.0.1:9090 ubuntu@203.0.113.10");
        expect(SEED_TUNNELS.map((t) => t.what)).toEqual(["dashboard", "n8n", "Grafana", "Prometheus"]);
    });

    it("is a command line ssh itself accepts (parsed with -G, nothing is dialled)", () => {
        const words = sshTunnelCommand("203.0.113.10").split(" ").slice(1);
        const parsed = spawnSync("ssh", ["-G", ...words], { encoding: "utf8" });
        if (parsed.error) throw new Error("ssh is missing: apt-get install -y openssh-client");
        expect(parsed.status).toBe(0);
        for (const t of SEED_TUNNELS) expect(parsed.stdout).toMatch(new RegExp(`^localforward ${t.localPort} \\[127\\.0\\.0\\.1\\]:${t.hostPort}$`, "m"));
        expect(parsed.stdout).toMatch(/^hostname 203\.0\.113\.10$/m);
        expect(parsed.stdout).toMatch(/^user ubuntu$/m);
    });
});
