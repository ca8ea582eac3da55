// The host's complete ingress policy as data, so the network component, the plan and the
// policy checks all read one definition.

/** Ports the Compose stack binds to 127.0.0.1 only; reached through SSH tunnels, never from outside. */
export const INTERNAL_PORTS = [5432, 6379, 5678, 8000, 8501, 9090, 3000] as const;

export const ANYWHERE = "0.0.0.0/0";

/** OCI's protocol numbers for security rules. */
export const PROTOCOL = { icmp: "1", tcp: "6", udp: "17", all: "all" } as const;

export interface IngressRule {
    readonly description: string;
    readonly protocol: string;
    readonly source: string;
    readonly tcp?: { readonly min: number; readonly max: number };
    readonly icmp?: { readonly type: number; readonly code?: number };
}

/** Ingress rules: SSH from one address, web from anywhere, and the ICMP that path-MTU discovery needs. */
export function ingressRules(sshAllowedCidr: string, vcnCidr: string): IngressRule[] {
    const rules: IngressRule[] = [
        { description: "SSH from the operator's address only", protocol: PROTOCOL.tcp, source: sshAllowedCidr, tcp: { min: 22, max: 22 } },
        { description: "HTTP", protocol: PROTOCOL.tcp, source: ANYWHERE, tcp: { min: 80, max: 80 } },
        { description: "HTTPS", protocol: PROTOCOL.tcp, source: ANYWHERE, tcp: { min: 443, max: 443 } },
        // Without "fragmentation needed" messages, TCP over paths with a smaller MTU stalls.
        { description: "Path MTU discovery (fragmentation needed)", protocol: PROTOCOL.icmp, source: ANYWHERE, icmp: { type: 3, code: 4 } },
        { description: "Destination unreachable within the VCN", protocol: PROTOCOL.icmp, source: vcnCidr, icmp: { type: 3 } },
    ];
    assertNoInternalPort(rules);
    return rules;
}

/** Internal ports a rule would expose: TCP ranges covering them, or protocol "all". */
export function exposedInternalPorts(rule: Pick<IngressRule, "protocol" | "tcp">): number[] {
    if (rule.protocol === PROTOCOL.all) return [...INTERNAL_PORTS];
    if (rule.protocol !== PROTOCOL.tcp) return [];
    const min = rule.tcp?.min ?? 1;
    const max = rule.tcp?.max ?? 65535;
    return INTERNAL_PORTS.filter((port) => port >= min && port <= max);
}

/** Guard for any future edit of the rule list: an internal port must never become reachable. */
export function assertNoInternalPort(rules: readonly IngressRule[]): void {
    for (const rule of rules) {
        const exposed = exposedInternalPorts(rule);
        if (exposed.length > 0) {
            throw new Error(`ingress rule "${rule.description}" would expose internal port(s) ${exposed.join(", ")}; they stay on 127.0.0.1`);
        }
    }
}

/** One line a rule, for the plan and the README. */
export function describeRule(rule: IngressRule): string {
    const what = rule.tcp
        ? `tcp ${rule.tcp.min === rule.tcp.max ? rule.tcp.min : `${rule.tcp.min}-${rule.tcp.max}`}`
        : rule.icmp
          ? `icmp type ${rule.icmp.type}${rule.icmp.code === undefined ? "" : ` code ${rule.icmp.code}`}`
          : `protocol ${rule.protocol}`;
    return `${what.padEnd(20)} from ${rule.source.padEnd(18)} ${rule.description}`;
}
