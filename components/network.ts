import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import { DEFAULTS } from "../config";
import { ANYWHERE, IngressRule, PROTOCOL, ingressRules } from "../lib/rules/ingress";

export interface NetworkArgs {
    /** OCID of the compartment that holds every network resource. */
    readonly compartmentId: pulumi.Input<string>;
    /** The one public IPv4 address (as /32) allowed to reach SSH. Required; validated by config.ts. */
    readonly sshAllowedCidr: string;
    /** The VCN's range. Defaults to 10.0.0.0/16. */
    readonly vcnCidr?: string;
    /** The public subnet's range, inside the VCN. Defaults to 10.0.1.0/24. */
    readonly subnetCidr?: string;
    /** DNS label of the VCN (letters and digits, at most 15). Defaults to "coinpilot". */
    readonly dnsLabel?: string;
}

/**
 * The host's network: a VCN with an internet gateway, a default route through it, a security list
 * that opens only SSH (from one /32), HTTP and HTTPS, and one regional public subnet.
 */
export class Network extends pulumi.ComponentResource {
    public readonly vcnId: pulumi.Output<string>;
    public readonly subnetId: pulumi.Output<string>;
    public readonly securityListId: pulumi.Output<string>;
    /** The ingress rules as declared, for the plan and for review. */
    public readonly ingress: IngressRule[];

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:network:Network", name, {}, opts);
        const vcnCidr = args.vcnCidr ?? DEFAULTS.vcnCidr;
        const subnetCidr = args.subnetCidr ?? DEFAULTS.subnetCidr;
        const dnsLabel = args.dnsLabel ?? "coinpilot";
        this.ingress = ingressRules(args.sshAllowedCidr, vcnCidr);

        const vcn = new oci.core.Vcn(`${name}-vcn`, {
            compartmentId: args.compartmentId,
            cidrBlocks: [vcnCidr],
            displayName: `${name}-vcn`,
            dnsLabel,
        }, { parent: this });

        const gateway = new oci.core.InternetGateway(`${name}-igw`, {
            compartmentId: args.compartmentId,
            vcnId: vcn.id,
            enabled: true,
            displayName: `${name}-igw`,
        }, { parent: this });

        const routeTable = new oci.core.RouteTable(`${name}-rt`, {
            compartmentId: args.compartmentId,
            vcnId: vcn.id,
            displayName: `${name}-rt`,
            routeRules: [{ destination: ANYWHERE, destinationType: "CIDR_BLOCK", networkEntityId: gateway.id, description: "Internet via the gateway" }],
        }, { parent: this });

        const securityList = new oci.core.SecurityList(`${name}-seclist`, {
            compartmentId: args.compartmentId,
            vcnId: vcn.id,
            displayName: `${name}-seclist`,
            ingressSecurityRules: this.ingress.map((rule) => ({
                description: rule.description,
                protocol: rule.protocol,
                source: rule.source,
                sourceType: "CIDR_BLOCK",
                stateless: false,
                tcpOptions: rule.tcp ? { min: rule.tcp.min, max: rule.tcp.max } : undefined,
                icmpOptions: rule.icmp ? { type: rule.icmp.type, code: rule.icmp.code } : undefined,
            })),
            egressSecurityRules: [{ description: "All outbound", protocol: PROTOCOL.all, destination: ANYWHERE, destinationType: "CIDR_BLOCK", stateless: false }],
        }, { parent: this });

        // Regional (no availability domain) so a capacity hunt can move between ADs without a new subnet.
        const subnet = new oci.core.Subnet(`${name}-subnet`, {
            compartmentId: args.compartmentId,
            vcnId: vcn.id,
            cidrBlock: subnetCidr,
            displayName: `${name}-subnet`,
            dnsLabel: "public",
            routeTableId: routeTable.id,
            securityListIds: [securityList.id],
            prohibitPublicIpOnVnic: false,
        }, { parent: this });

        this.vcnId = vcn.id;
        this.subnetId = subnet.id;
        this.securityListId = securityList.id;
        this.registerOutputs({ vcnId: this.vcnId, subnetId: this.subnetId, securityListId: this.securityListId });
    }
}
