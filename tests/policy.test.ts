// The policy pack: each policy's validator called directly with good and bad resources, then the pack
// served for real (as `pulumi preview --policy-pack policy` starts it) and asked over its gRPC API.
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy } from "../policy/policies";
import { a1FlexWithinLimits, dataVolumeProtected, noInternalPorts, policies, sshFromSingleAddress } from "../policy/policies";
import { A1_FLEX_SHAPE, FREE_TIER } from "../lib/rules/limits";
import { ingressRules, INTERNAL_PORTS } from "../lib/rules/ingress";

const POLICY_DIR = path.resolve(__dirname, "..", "policy");

const SECLIST = "oci:Core/securityList:SecurityList";
const NSG_RULE = "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule";
const INSTANCE = "oci:Core/instance:Instance";
const VOLUME = "oci:Core/volume:Volume";

/** Builds the args the analyzer would pass, with the policy's config as the engine sends it. */
function resourceArgs(type: string, props: Record<string, unknown>, opts: Partial<PolicyResourceOptions> = {}, config: object = {}): ResourceValidationArgs {
    return {
        type,
        props,
        urn: `urn:pulumi:prod::coinpilot::${type}::r`,
        name: "r",
        opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], ...opts },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string) => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
}

/** Runs one policy on one resource and returns the violation messages. */
async function violations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<string[]> {
    const messages: string[] = [];
    const validate = policy.validateResource;
    if (typeof validate !== "function") throw new Error(`${policy.name} has no single validateResource`);
    await validate(args, (message) => messages.push(message));
    return messages;
}

function seclist(...rules: Record<string, unknown>[]): ResourceValidationArgs {
    return resourceArgs(SECLIST, { ingressSecurityRules: rules });
}

const tcp = (min: number, max: number, source: string) => ({ protocol: "6", source, tcpOptions: { min, max } });

describe("ssh-from-single-address", () => {
    it("passes the program's own rule set (SSH from one /32, web and ICMP from anywhere)", async () => {
        const rules = ingressRules("198.51.100.7/32", "10.0.0.0/16").map((r) => ({
            protocol: r.protocol,
            source: r.source,
            tcpOptions: r.tcp,
            icmpOptions: r.icmp,
        }));
        expect(await violations(sshFromSingleAddress, seclist(...rules))).toEqual([]);
    });

    it.each([
        ["SSH from anywhere", tcp(22, 22, "0.0.0.0/0"), /opens SSH to more than one address/],
        ["SSH from a /24", tcp(22, 22, "198.51.100.0/24"), /opens SSH to more than one address/],
        ["a range covering 22 from a /16", tcp(1, 1024, "203.0.113.0/16"), /opens SSH/],
        ["protocol all from a /8", { protocol: "all", source: "10.0.0.0/8" }, /opens SSH/],
        ["tcp without options (every port) from a /31", { protocol: "6", source: "198.51.100.6/31" }, /opens SSH/],
        ["8080 from anywhere", tcp(8080, 8080, "0.0.0.0/0"), /opens a non-web port to the whole internet/],
        ["80-443 from anywhere", tcp(80, 443, "0.0.0.0/0"), /non-web port/],
        ["UDP 51820 from anywhere", { protocol: "17", source: "0.0.0.0/0", udpOptions: { min: 51820, max: 51820 } }, /non-web port/],
        ["anything from ::/0", tcp(25, 25, "::/0"), /non-web port/],
    ])("rejects %s", async (_what, rule, message) => {
        const found = await violations(sshFromSingleAddress, seclist(rule));
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(message);
    });

    it("judges NSG ingress rules too, and ignores NSG egress", async () => {
        const nsg = (direction: string) =>
            resourceArgs(NSG_RULE, { direction, protocol: "6", source: "0.0.0.0/0", destination: "0.0.0.0/0", tcpOptions: { destinationPortRange: { min: 22, max: 22 } } });
        expect(await violations(sshFromSingleAddress, nsg("INGRESS"))).toEqual([expect.stringMatching(/opens SSH/)]);
        expect(await violations(sshFromSingleAddress, nsg("EGRESS"))).toEqual([]);
    });
});

describe("no-internal-port-ingress", () => {
    it.each(INTERNAL_PORTS.map((port) => [port]))("rejects tcp %d even from inside the VCN", async (port) => {
        expect(await violations(noInternalPorts, seclist(tcp(port, port, "10.0.0.0/16")))).toEqual([expect.stringContaining(`internal port(s) ${port}`)]);
    });

    it("rejects ranges that cover internal ports, naming every port they reach", async () => {
        const [message] = await violations(noInternalPorts, seclist(tcp(3000, 6379, "198.51.100.7/32")));
        expect(message).toContain("internal port(s) 5432, 6379, 5678, 3000");
    });

    it('counts protocol "all" as every port', async () => {
        const [message] = await violations(noInternalPorts, seclist({ protocol: "all", source: "198.51.100.7/32" }));
        expect(message).toContain(`internal port(s) ${INTERNAL_PORTS.join(", ")}`);
    });

    it("passes web and SSH rules and ICMP", async () => {
        const rules = [tcp(22, 22, "198.51.100.7/32"), tcp(80, 80, "0.0.0.0/0"), tcp(443, 443, "0.0.0.0/0"), { protocol: "1", source: "0.0.0.0/0", icmpOptions: { type: 3, code: 4 } }];
        expect(await violations(noInternalPorts, seclist(...rules))).toEqual([]);
    });

    it("ignores resources without ingress rules", async () => {
        expect(await violations(noInternalPorts, resourceArgs("oci:Core/vcn:Vcn", { cidrBlocks: ["10.0.0.0/16"] }))).toEqual([]);
    });
});

describe("a1-flex-within-limits", () => {
    const instance = (shape: string, shapeConfig?: object) => resourceArgs(INSTANCE, { shape, ...(shapeConfig ? { shapeConfig } : {}) });

    it("enforces lib/rules/limits' free allowance (the one config.ts checks) when given no policy config, on the shape the program launches", async () => {
        const { ocpus, memoryInGbs } = FREE_TIER;
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE, { ocpus, memoryInGbs }))).toEqual([]);
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE, { ocpus: ocpus + 1, memoryInGbs }))).toEqual([
            expect.stringContaining(`${ocpus + 1} OCPUs exceeds the limit of ${ocpus}`),
        ]);
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE, { ocpus, memoryInGbs: memoryInGbs + 1 }))).toEqual([
            expect.stringContaining(`${memoryInGbs + 1} GB exceeds the limit of ${memoryInGbs} GB`),
        ]);
    });

    it("passes 2 OCPU / 12 GB and the full 4 / 24 allowance", async () => {
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE, { ocpus: 2, memoryInGbs: 12 }))).toEqual([]);
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE, { ocpus: 4, memoryInGbs: 24 }))).toEqual([]);
    });

    it("rejects another shape, a missing shapeConfig and sizes over the allowance", async () => {
        expect(await violations(a1FlexWithinLimits, instance("VM.Standard.E4.Flex", { ocpus: 1, memoryInGbs: 8 }))).toEqual([
            expect.stringContaining('shape "VM.Standard.E4.Flex" is not VM.Standard.A1.Flex'),
        ]);
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE))).toEqual([expect.stringContaining("needs shapeConfig")]);
        expect(await violations(a1FlexWithinLimits, instance(A1_FLEX_SHAPE, { ocpus: 5, memoryInGbs: 32 }))).toEqual([
            expect.stringContaining("5 OCPUs exceeds the limit of 4"),
            expect.stringContaining("32 GB exceeds the limit of 24 GB"),
        ]);
    });

    it("reads its limits from policy config, and allowPaid lifts them but not the shape", async () => {
        const big = resourceArgs(INSTANCE, { shape: A1_FLEX_SHAPE, shapeConfig: { ocpus: 2, memoryInGbs: 12 } }, {}, { maxOcpus: 1 });
        expect(await violations(a1FlexWithinLimits, big)).toEqual([expect.stringContaining("2 OCPUs exceeds the limit of 1")]);
        const paid = (shape: string) => resourceArgs(INSTANCE, { shape, shapeConfig: { ocpus: 8, memoryInGbs: 48 } }, {}, { allowPaid: true });
        expect(await violations(a1FlexWithinLimits, paid(A1_FLEX_SHAPE))).toEqual([]);
        expect(await violations(a1FlexWithinLimits, paid("VM.Standard.E5.Flex"))).toHaveLength(1);
    });
});

describe("data-volume-protected", () => {
    it("rejects an unprotected block volume and passes a protected one", async () => {
        expect(await violations(dataVolumeProtected, resourceArgs(VOLUME, { sizeInGbs: "50" }))).toEqual([expect.stringContaining("not protected")]);
        expect(await violations(dataVolumeProtected, resourceArgs(VOLUME, { sizeInGbs: "50" }, { protect: true }))).toEqual([]);
        expect(await violations(dataVolumeProtected, resourceArgs(INSTANCE, {}))).toEqual([]);
    });
});

// The pack as the Pulumi CLI runs it: node loads policy/index.ts, which prints the analyzer's port.
describe("the served policy pack", () => {
    const grpc = require(path.join(POLICY_DIR, "node_modules/@grpc/grpc-js"));
    const services = require(path.join(POLICY_DIR, "node_modules/@pulumi/pulumi/proto/analyzer_grpc_pb"));
    const messages = require(path.join(POLICY_DIR, "node_modules/@pulumi/pulumi/proto/analyzer_pb"));
    const { Struct } = require(path.join(POLICY_DIR, "node_modules/google-protobuf/google/protobuf/struct_pb"));
    const { Empty } = require(path.join(POLICY_DIR, "node_modules/google-protobuf/google/protobuf/empty_pb"));
    let pack: ChildProcess;
    let client: any;

    beforeAll(async () => {
        pack = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", "index.ts"], { cwd: POLICY_DIR, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        pack.stderr!.on("data", (chunk) => (stderr += chunk));
        const port = await new Promise<string>((resolve, reject) => {
            pack.stdout!.once("data", (chunk) => resolve(String(chunk).trim()));
            pack.once("exit", (code) => reject(new Error(`policy pack exited with ${code}: ${stderr}`)));
        });
        expect(port).toMatch(/^\d+$/);
        client = new services.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    afterAll(() => {
        client?.close();
        pack?.kill();
    });

    const call = <T>(method: string, request: unknown): Promise<T> =>
        new Promise((resolve, reject) => client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));

    it("registers all four policies as mandatory", async () => {
        const info: any = await call("getAnalyzerInfo", new Empty());
        expect(info.getName()).toBe("coinpilot");
        const served = info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel()]);
        const MANDATORY = messages.EnforcementLevel.MANDATORY;
        expect(served).toEqual(policies.map((p) => [p.name, MANDATORY]));
    });

    async function analyze(type: string, props: object, protect = false): Promise<string[]> {
        const request = new messages.AnalyzeRequest();
        request.setType(type);
        request.setName("r");
        request.setUrn(`urn:pulumi:prod::coinpilot::${type}::r`);
        request.setProperties(Struct.fromJavaScript(props));
        const options = new messages.AnalyzerResourceOptions();
        options.setProtect(protect);
        request.setOptions(options);
        const response: any = await call("analyze", request);
        return response.getDiagnosticsList().map((d: any) => `${d.getPolicyname()}: ${d.getMessage()}`);
    }

    it("reports violations for a bad security list, a big instance and an unprotected volume", async () => {
        const bad = await analyze(SECLIST, { ingressSecurityRules: [{ protocol: "all", source: "0.0.0.0/0" }] });
        expect(bad).toEqual([expect.stringMatching(/^ssh-from-single-address: /), expect.stringMatching(/^no-internal-port-ingress: /)]);
        expect(await analyze(INSTANCE, { shape: A1_FLEX_SHAPE, shapeConfig: { ocpus: 6, memoryInGbs: 36 } })).toHaveLength(2);
        expect(await analyze(VOLUME, { sizeInGbs: "50" })).toEqual([expect.stringMatching(/^data-volume-protected: /)]);
    });

    it("reports nothing for the program's good resources", async () => {
        expect(await analyze(SECLIST, { ingressSecurityRules: [{ protocol: "6", source: "198.51.100.7/32", tcpOptions: { min: 22, max: 22 } }] })).toEqual([]);
        expect(await analyze(INSTANCE, { shape: A1_FLEX_SHAPE, shapeConfig: { ocpus: 2, memoryInGbs: 12 } })).toEqual([]);
        expect(await analyze(VOLUME, { sizeInGbs: "50" }, true)).toEqual([]);
    });
});
