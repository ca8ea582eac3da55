// The SSH tunnels of the seeds' runbook (section 2.3): fixed local ports for the internal UIs, which
// listen on the host's 127.0.0.1 only (the security list opens 22/80/443, nothing else). Fixed so
// that localhost:15678 is always the host's n8n and never a local one (the runbook's WSL/OCI mix-up).

export interface Tunnel {
    /** Port on the operator's machine. */
    readonly localPort: number;
    /** Port on the host's loopback. */
    readonly hostPort: number;
    readonly what: string;
}

export const SEED_TUNNELS: readonly Tunnel[] = [
    { localPort: 18501, hostPort: 8501, what: "dashboard" },
    { localPort: 15678, hostPort: 5678, what: "n8n" },
    { localPort: 13000, hostPort: 3000, what: "Grafana" },
    { localPort: 19090, hostPort: 9090, what: "Prometheus" },
];

/** `ssh -L 18501:127.0.0.1:8501 … ubuntu@<ip>`: a shell on the host with every tunnel open while it lasts. */
export function sshTunnelCommand(address: string, user = "ubuntu", tunnels: readonly Tunnel[] = SEED_TUNNELS): string {
    return ["ssh", ...tunnels.map((t) => `-L ${t.localPort}:127.0.0.1:${t.hostPort}`), `${user}@${address}`].join(" ");
}
