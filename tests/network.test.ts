import { byName, created, parentOf, resolve, settle } from "./mocks";
import { Network } from "../components/network";
import { INTERNAL_PORTS, PROTOCOL, assertNoInternalPort, exposedInternalPorts } from "../lib/rules/ingress";

type Rule = { protocol: string; source: string; tcpOptions?: { min: number; max: number }; icmpOptions?: { type: number; code?: number } };

describe("Network", () => {
    let network: Network;
    beforeAll(async () => {
        network = new Network("net", { compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample", sshAllowedCidr: "198.51.100.7/32" });
        await settle();
    });

    it("creates the VCN, gateway, route table, security list and subnet as children named after it", () => {
        const component = byName("net");
        expect(component.type).toBe("coinpilot:network:Network");
        const children = created.filter((r) => parentOf(r) === component).map((r) => `${r.type} ${r.name}`);
        expect(children.sort()).toEqual([
            "oci:Core/internetGateway:InternetGateway net-igw",
            "oci:Core/routeTable:RouteTable net-rt",
            "oci:Core/securityList:SecurityList net-seclist",
            "oci:Core/subnet:Subnet net-subnet",
            "oci:Core/vcn:Vcn net-vcn",
        ]);
    });

    it("opens exactly SSH from the /32, HTTP, HTTPS and path-MTU ICMP", () => {
        const rules = byName("net-seclist").inputs.ingressSecurityRules as Rule[];
        const summary = rules.map((r) => `${r.protocol} ${r.source} ${r.tcpOptions ? `${r.tcpOptions.min}-${r.tcpOptions.max}` : `icmp ${r.icmpOptions?.type}/${r.icmpOptions?.code ?? "*"}`}`);
        expect(summary).toEqual([
            "6 198.51.100.7/32 22-22",
            "6 0.0.0.0/0 80-80",
            "6 0.0.0.0/0 443-443",
            "1 0.0.0.0/0 icmp 3/4",
            "1 10.0.0.0/16 icmp 3/*",
        ]);
        expect(network.ingress).toHaveLength(5);
    });

    it("never exposes an internal port, and egress is open", () => {
        const seclist = byName("net-seclist");
        for (const rule of seclist.inputs.ingressSecurityRules as Rule[]) {
            expect(exposedInternalPorts({ protocol: rule.protocol, tcp: rule.tcpOptions })).toEqual([]);
        }
        expect(seclist.inputs.egressSecurityRules).toEqual([expect.objectContaining({ protocol: "all", destination: "0.0.0.0/0" })]);
    });

    it("routes 0.0.0.0/0 through the internet gateway and makes a regional public subnet", async () => {
        const gatewayId = byName("net-igw");
        const route = byName("net-rt").inputs.routeRules as { destination: string; networkEntityId: string }[];
        expect(route).toEqual([expect.objectContaining({ destination: "0.0.0.0/0", destinationType: "CIDR_BLOCK" })]);
        expect(route[0].networkEntityId).toContain("internetgateway");
        expect(gatewayId.inputs.enabled).toBe(true);
        const subnet = byName("net-subnet").inputs;
        expect(subnet).toMatchObject({ cidrBlock: "10.0.1.0/24", prohibitPublicIpOnVnic: false });
        expect(subnet.availabilityDomain).toBeUndefined();
        expect(subnet.securityListIds).toEqual([expect.stringContaining("securitylist")]);
        expect(byName("net-vcn").inputs.cidrBlocks).toEqual(["10.0.0.0/16"]);
        expect((await resolve(network.subnetId)).value).toContain("subnet");
    });
});

describe("ingress guard", () => {
    it.each(INTERNAL_PORTS.map((p) => [p]))("refuses a TCP rule covering %i", (port) => {
        expect(() => assertNoInternalPort([{ description: "x", protocol: PROTOCOL.tcp, source: "0.0.0.0/0", tcp: { min: port, max: port } }])).toThrow(String(port));
    });

    it("refuses protocol all and wide ranges, accepts UDP and ICMP", () => {
        expect(exposedInternalPorts({ protocol: PROTOCOL.all })).toEqual([...INTERNAL_PORTS]);
        expect(exposedInternalPorts({ protocol: PROTOCOL.tcp, tcp: { min: 1024, max: 65535 } })).toEqual([5432, 6379, 5678, 8000, 8501, 9090, 3000]);
        expect(exposedInternalPorts({ protocol: PROTOCOL.tcp })).toHaveLength(INTERNAL_PORTS.length);
        expect(exposedInternalPorts({ protocol: PROTOCOL.udp })).toEqual([]);
        expect(exposedInternalPorts({ protocol: PROTOCOL.tcp, tcp: { min: 80, max: 443 } })).toEqual([]);
    });
});
