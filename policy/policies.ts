// The mandatory policies, one object each so tests call their validators directly.
// Port, CIDR and sizing facts come from the program's own pure modules (one definition of each).
import { EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { ANYWHERE, INTERNAL_PORTS, PROTOCOL, exposedInternalPorts } from "../lib/rules/ingress";
import { parseCidr } from "../lib/rules/validate";
import { A1_FLEX_SHAPE, FREE_TIER } from "../lib/rules/limits";

// Re-exported so tests outside policy/ (which resolve packages from the root) can type their fakes.
export type { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

const MANDATORY: EnforcementLevel = "mandatory";

/** Resource types that carry ingress rules. */
export const SECURITY_LIST_TYPES = ["oci:Core/securityList:SecurityList", "oci:Core/defaultSecurityList:DefaultSecurityList"] as const;
export const NSG_RULE_TYPE = "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule";
export const INSTANCE_TYPE = "oci:Core/instance:Instance";
export const VOLUME_TYPE = "oci:Core/volume:Volume";

/** Ports anyone on the internet may reach. */
export const WEB_PORTS = [80, 443] as const;
const SSH_PORT = 22;
const ANYWHERE_V6 = "::/0";

/** One ingress rule reduced to what the policies judge. `ports` undefined = every port of the protocol. */
export interface Ingress {
    readonly protocol: string;
    readonly source: string;
    readonly ports?: { readonly min: number; readonly max: number };
}

type Range = { min?: number; max?: number } | undefined;

function range(r: Range): Ingress["ports"] {
    // OCI treats a missing bound as the end of the port space.
    return r ? { min: r.min ?? 1, max: r.max ?? 65535 } : undefined;
}

function portsFor(protocol: string, tcp: Range, udp: Range): Ingress["ports"] {
    if (protocol === PROTOCOL.tcp) return range(tcp);
    if (protocol === "17") return range(udp);
    return undefined;
}

/** The ingress rules a resource declares, whatever its type (security list or NSG rule). */
export function ingressOf(type: string, props: Record<string, any>): Ingress[] {
    if ((SECURITY_LIST_TYPES as readonly string[]).includes(type)) {
        return ((props.ingressSecurityRules ?? []) as Record<string, any>[]).map((rule) => ({
            protocol: String(rule.protocol),
            source: String(rule.source),
            ports: portsFor(String(rule.protocol), rule.tcpOptions, rule.udpOptions),
        }));
    }
    if (type === NSG_RULE_TYPE && props.direction === "INGRESS") {
        const protocol = String(props.protocol);
        return [{ protocol, source: String(props.source), ports: portsFor(protocol, props.tcpOptions?.destinationPortRange, props.udpOptions?.destinationPortRange) }];
    }
    return [];
}

/** True when the rule lets traffic reach `port` over TCP (protocol "all" reaches every port). */
function reachesTcpPort(rule: Ingress, port: number): boolean {
    if (rule.protocol === PROTOCOL.all) return true;
    if (rule.protocol !== PROTOCOL.tcp) return false;
    return !rule.ports || (rule.ports.min <= port && port <= rule.ports.max);
}

function isWebOnly(rule: Ingress): boolean {
    return rule.protocol === PROTOCOL.tcp && !!rule.ports && rule.ports.min === rule.ports.max && (WEB_PORTS as readonly number[]).includes(rule.ports.min);
}

function describe(rule: Ingress): string {
    const ports = rule.ports ? (rule.ports.min === rule.ports.max ? `${rule.ports.min}` : `${rule.ports.min}-${rule.ports.max}`) : "all ports";
    return `protocol ${rule.protocol} ${ports} from ${rule.source}`;
}

function eachIngress(args: ResourceValidationArgs, check: (rule: Ingress) => string | undefined, report: ReportViolation): void {
    for (const rule of ingressOf(args.type, args.props)) {
        const problem = check(rule);
        if (problem) report(`${args.name}: ${problem}`);
    }
}

export const sshFromSingleAddress: ResourceValidationPolicy = {
    name: "ssh-from-single-address",
    description: "Ingress to port 22 only from one /32; nothing but HTTP/HTTPS (and ICMP) from 0.0.0.0/0.",
    enforcementLevel: MANDATORY,
    validateResource: (args, report) =>
        eachIngress(
            args,
            (rule) => {
                if (reachesTcpPort(rule, SSH_PORT) && parseCidr(rule.source)?.prefix !== 32) {
                    return `${describe(rule)} opens SSH to more than one address; use the operator's public IP as a /32 (coinpilot:sshAllowedCidr)`;
                }
                const fromAnywhere = rule.source === ANYWHERE || rule.source === ANYWHERE_V6;
                if (fromAnywhere && rule.protocol !== PROTOCOL.icmp && !isWebOnly(rule)) {
                    return `${describe(rule)} opens a non-web port to the whole internet; only tcp ${WEB_PORTS.join(" and ")} may come from ${rule.source}`;
                }
                return undefined;
            },
            report,
        ),
};

export const noInternalPorts: ResourceValidationPolicy = {
    name: "no-internal-port-ingress",
    description: `No ingress, from any source, that reaches the loopback-only ports ${INTERNAL_PORTS.join(", ")}.`,
    enforcementLevel: MANDATORY,
    validateResource: (args, report) =>
        eachIngress(
            args,
            (rule) => {
                const exposed = exposedInternalPorts({ protocol: rule.protocol, tcp: rule.protocol === PROTOCOL.tcp ? (rule.ports ?? { min: 1, max: 65535 }) : undefined });
                return exposed.length ? `${describe(rule)} reaches internal port(s) ${exposed.join(", ")}; reach them through an SSH tunnel instead` : undefined;
            },
            report,
        ),
};

/** Policy config of the shape check (`--policy-pack-config`). */
export interface ShapeLimits {
    readonly maxOcpus: number;
    readonly maxMemoryInGbs: number;
    /** Accept shapes beyond the free allowance (the same decision as coinpilot:allowPaidShape). */
    readonly allowPaid: boolean;
}

/** The Always Free A1 allowance, the same numbers config.ts checks coinpilot:ocpus/memoryInGbs against. */
const SHAPE_DEFAULTS: ShapeLimits = { maxOcpus: FREE_TIER.ocpus, maxMemoryInGbs: FREE_TIER.memoryInGbs, allowPaid: false };

export const a1FlexWithinLimits: ResourceValidationPolicy = {
    name: "a1-flex-within-limits",
    description: "Instances use VM.Standard.A1.Flex within the OCPU and memory limits (the free allowance unless allowPaid).",
    enforcementLevel: MANDATORY,
    configSchema: {
        properties: {
            maxOcpus: { type: "number", default: SHAPE_DEFAULTS.maxOcpus },
            maxMemoryInGbs: { type: "number", default: SHAPE_DEFAULTS.maxMemoryInGbs },
            allowPaid: { type: "boolean", default: SHAPE_DEFAULTS.allowPaid },
        },
    },
    validateResource: (args, report) => {
        if (args.type !== INSTANCE_TYPE) return;
        // The analyzer hands over {} when the engine sent no config: never let that mean "no limit".
        const limits: ShapeLimits = { ...SHAPE_DEFAULTS, ...args.getConfig<Partial<ShapeLimits>>() };
        if (args.props.shape !== A1_FLEX_SHAPE) {
            report(`${args.name}: shape ${JSON.stringify(args.props.shape)} is not ${A1_FLEX_SHAPE}`);
            return;
        }
        const ocpus = args.props.shapeConfig?.ocpus;
        const memory = args.props.shapeConfig?.memoryInGbs;
        // A1.Flex without shapeConfig gets OCI's default of 1 OCPU / 6 GB; state it so review sees the size.
        if (ocpus === undefined || memory === undefined) {
            report(`${args.name}: ${A1_FLEX_SHAPE} needs shapeConfig.ocpus and shapeConfig.memoryInGbs set explicitly`);
            return;
        }
        if (limits.allowPaid) return;
        if (ocpus > limits.maxOcpus) report(`${args.name}: ${ocpus} OCPUs exceeds the limit of ${limits.maxOcpus} (set allowPaid to accept charges)`);
        if (memory > limits.maxMemoryInGbs) report(`${args.name}: ${memory} GB exceeds the limit of ${limits.maxMemoryInGbs} GB (set allowPaid to accept charges)`);
    },
};

export const dataVolumeProtected: ResourceValidationPolicy = {
    name: "data-volume-protected",
    description: "Block volumes carry `protect: true`, so no update or destroy can delete the data by accident.",
    enforcementLevel: MANDATORY,
    validateResource: (args, report) => {
        if (args.type !== VOLUME_TYPE) return;
        // The analyzer exposes protect but not retainOnDelete; the storage tests pin retainOnDelete.
        if (!args.opts.protect) report(`${args.name}: block volume is not protected; declare it with { protect: true, retainOnDelete: true }`);
    },
};

export const policies: ResourceValidationPolicy[] = [sshFromSingleAddress, noInternalPorts, a1FlexWithinLimits, dataVolumeProtected];
