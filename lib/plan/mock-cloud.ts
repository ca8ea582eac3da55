// A fake OCI for Pulumi's in-process mocks, shared by the offline plan and the tests,
// so both evaluate the real program against the same well-formed lookups and outputs.
import * as pulumi from "@pulumi/pulumi";

/** Everything the program asked the engine to create, as the engine received it. */
export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** URN of the parent resource; the stack's URN for top-level resources. */
    readonly parent: string;
    readonly custom: boolean;
    /** Inputs as sent to the engine; secret values keep Pulumi's secret envelope. */
    readonly inputs: Record<string, unknown>;
    /** Every resource this one depends on: explicit `dependsOn` and those implied by its inputs. */
    readonly dependencies: string[];
    readonly options: {
        readonly protect: boolean;
        readonly deleteBeforeReplace: boolean;
        readonly retainOnDelete: boolean;
        readonly deletedWith: string;
        /** Explicit `dependsOn` only; dependencies implied by inputs are left out. */
        readonly dependsOn: string[];
        readonly ignoreChanges: string[];
        readonly replaceOnChanges: string[];
        readonly errorHooks: string[];
        /** Before- and after-create hooks by name, when any. */
        readonly beforeCreateHooks?: string[];
        readonly afterCreateHooks?: string[];
        /** Explicit provider reference ("<provider urn>::<id>"), when one was given. */
        readonly provider?: string;
    };
}

/** Pulumi's wire marker for a secret value (`runtime/rpc.ts`). */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretEnvelope(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** Every fake pre-authenticated request token starts with this: no plan, log or plain input may contain it. */
export const FAKE_PAR_TOKEN_PREFIX = "MOCK-PAR-SECRET-";
/** The fake tenancy's Object Storage namespace. */
export const FAKE_NAMESPACE = "mocknamespace";

/** Example public address handed out for instances and reserved IPs (TEST-NET-3). */
export const FAKE_PUBLIC_IP = "203.0.113.10";
export const FAKE_PRIVATE_IP = "10.0.1.10";

function fakeOcid(kind: string, name: string): string {
    const unique = Buffer.from(name).toString("hex").slice(0, 40).padEnd(40, "0");
    return `ocid1.${kind}.oc1.ap-chuncheon-1.mock${unique}`;
}

/** Region-shaped availability domain names for the invoke mock. */
/**
 * How many availability domains OCI's regions have (the few commercial regions with three; most have
 * one). A region missing here makes the plan ask for the AD by name rather than guess.
 */
export const REGION_AD_COUNTS: Readonly<Record<string, number>> = {
    "us-ashburn-1": 3, "us-phoenix-1": 3, "eu-frankfurt-1": 3, "uk-london-1": 3,
    "ap-chuncheon-1": 1, "ap-seoul-1": 1, "ap-tokyo-1": 1, "ap-osaka-1": 1, "ap-singapore-1": 1, "ap-sydney-1": 1,
    "ap-melbourne-1": 1, "ap-mumbai-1": 1, "ap-hyderabad-1": 1, "ca-toronto-1": 1, "ca-montreal-1": 1,
    "eu-amsterdam-1": 1, "eu-zurich-1": 1, "eu-paris-1": 1, "eu-milan-1": 1, "eu-stockholm-1": 1, "eu-madrid-1": 1,
    "me-dubai-1": 1, "me-jeddah-1": 1, "sa-saopaulo-1": 1, "sa-santiago-1": 1, "us-sanjose-1": 1, "us-chicago-1": 1,
};

/** The ADs of the stack's `oci:region`; `count` overrides the region's own number (tests). */
function regionAvailabilityDomains(count: number | undefined): { name: string; id: string; compartmentId: string }[] {
    const region = pulumi.runtime.allConfig()["oci:region"] || "ap-chuncheon-1";
    const known = count ?? REGION_AD_COUNTS[region];
    if (known === undefined) {
        const message = `coinpilot:availabilityDomain: the offline plan does not know the availability domains of region ${region}; give the AD's full name (oci iam availability-domain list)`;
        // The SDK reports an invoke's failure by the gRPC `details` of the error.
        throw Object.assign(new Error(message), { details: message });
    }
    return fakeAvailabilityDomains(known, region);
}

/** The region's ADs as `getAvailabilityDomains` lists them (`<tenancy prefix>:<REGION>-AD-<n>`). */
export function fakeAvailabilityDomains(count: number, region = "ap-chuncheon-1"): { name: string; id: string; compartmentId: string }[] {
    return Array.from({ length: count }, (_, i) => ({
        name: `Uocm:${region.toUpperCase()}-AD-${i + 1}`,
        id: fakeOcid("availabilitydomain", `ad${i + 1}`),
        compartmentId: "ocid1.tenancy.oc1..mock",
    }));
}

/** Computed outputs the real provider would fill in, keyed by resource type. */
function computedOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "oci:Core/instance:Instance":
            return { publicIp: FAKE_PUBLIC_IP, privateIp: FAKE_PRIVATE_IP, state: "RUNNING", bootVolumeId: fakeOcid("bootvolume", name) };
        case "oci:Core/publicIp:PublicIp":
            return { ipAddress: FAKE_PUBLIC_IP };
        case "command:remote:Command":
            return { stdout: "", stderr: "" };
        case "oci:ObjectStorage/bucket:Bucket":
            return { bucketId: fakeOcid("bucket", name), approximateCount: "0", approximateSize: "0" };
        case "oci:ObjectStorage/preauthrequest:Preauthrequest": {
            // Shaped like the real answer; the token marks it as the mock's, so tests can look for leaks.
            const accessUri = `/p/${FAKE_PAR_TOKEN_PREFIX}${Buffer.from(name).toString("hex").slice(0, 16)}/n/${inputs.namespace}/b/${inputs.bucket}/o/`;
            return { accessUri, fullPath: `https://objectstorage.ap-chuncheon-1.oraclecloud.com${accessUri}`, parId: fakeOcid("par", name), timeCreated: "2026-01-01T00:00:00Z" };
        }
        case "random:index/randomPassword:RandomPassword": {
            const length = typeof inputs.length === "number" ? inputs.length : 32;
            return { result: "x".repeat(length) };
        }
        default:
            return {};
    }
}

export type InvokeHandler = (inputs: Record<string, unknown>) => Record<string, unknown>;

export interface MockCloudOptions {
    /** How many availability domains the fake region has. Defaults to 1 (ap-chuncheon-1 has one). */
    readonly availabilityDomains?: number;
    /** Extra or replacement invoke handlers keyed by token. */
    readonly invokes?: Record<string, InvokeHandler>;
    /** Array to record registrations into (lets a test keep one array across re-installs). Defaults to a new one. */
    readonly record?: RecordedResource[];
}

export interface MockCloud {
    readonly mocks: pulumi.runtime.Mocks;
    readonly resources: RecordedResource[];
    readonly invokes: { token: string; inputs: Record<string, unknown> }[];
}

export function createMockCloud(options: MockCloudOptions = {}): MockCloud {
    const resources: RecordedResource[] = options.record ?? [];
    const invokes: { token: string; inputs: Record<string, unknown> }[] = [];
    const handlers: Record<string, InvokeHandler> = {
        "oci:Identity/getAvailabilityDomains:getAvailabilityDomains": (inputs) => ({
            compartmentId: inputs.compartmentId,
            availabilityDomains: regionAvailabilityDomains(options.availabilityDomains),
        }),
        // The off-host bucket lives in the tenancy's Object Storage namespace.
        "oci:ObjectStorage/getNamespace:getNamespace": (inputs) => ({ compartmentId: inputs.compartmentId, id: FAKE_NAMESPACE, namespace: FAKE_NAMESPACE }),
        // The reserved public IP binds to the instance's primary private IP, found through its VNIC.
        "oci:Core/getVnicAttachments:getVnicAttachments": (inputs) => ({
            compartmentId: inputs.compartmentId,
            instanceId: inputs.instanceId,
            vnicAttachments: [{ id: fakeOcid("vnicattachment", String(inputs.instanceId)), instanceId: inputs.instanceId, state: "ATTACHED", vnicId: fakeOcid("vnic", String(inputs.instanceId)) }],
        }),
        "oci:Core/getPrivateIps:getPrivateIps": (inputs) => ({
            vnicId: inputs.vnicId,
            privateIps: [{ id: fakeOcid("privateip", String(inputs.vnicId)), ipAddress: FAKE_PRIVATE_IP, isPrimary: true, vnicId: inputs.vnicId }],
        }),
        ...options.invokes,
    };
    const mocks: pulumi.runtime.Mocks = {
        call(args) {
            const handler = handlers[args.token];
            // An unknown lookup is a program change the fake cloud must learn about, never a silent {}.
            if (!handler) throw new Error(`mock-cloud: no fake for invoke ${args.token}`);
            invokes.push({ token: args.token, inputs: args.inputs });
            return handler(args.inputs);
        },
        newResource(args) {
            // An imported resource keeps the OCID it was imported by, as in a real deployment.
            const id = args.custom === false ? undefined : args.id || fakeOcid(args.type.split(":").pop()!.toLowerCase(), args.name);
            return { id, state: { ...args.inputs, ...computedOutputs(args.type, args.name, args.inputs) } };
        },
    };
    return { mocks, resources, invokes };
}

/**
 * Installs the fake cloud as Pulumi's engine. Must run before the program is imported.
 * Also records every registration (parent, options) that `Mocks.newResource` never sees.
 */
export function installMockCloud(
    config: Record<string, string>,
    options: MockCloudOptions = {},
    project = "coinpilot",
    stack = "prod",
    secretKeys: readonly string[] = [],
): MockCloud {
    const cloud = createMockCloud(options);
    pulumi.runtime.setAllConfig(config, [...secretKeys]);
    pulumi.runtime.setMocks(cloud.mocks, project, stack, false);
    // MockMonitor (3.248) lacks hook registration; hooks are tested through their callbacks.
    const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, unknown>;
    monitor.registerErrorHook = (_req: unknown, cb: (err: unknown, res: unknown) => void) => cb(null, {});
    monitor.registerResourceHook = (_req: unknown, cb: (err: unknown, res: unknown) => void) => cb(null, {});
    const register = (monitor.registerResource as (req: unknown, cb: unknown) => Promise<void>).bind(monitor);
    monitor.registerResource = (req: any, cb: (err: unknown, res: any) => void) =>
        register(req, (err: unknown, res: any) => {
            if (!err) {
                const hooks = req.getHooks?.();
                cloud.resources.push({
                    type: req.getType(),
                    name: req.getName(),
                    urn: res.getUrn(),
                    parent: req.getParent(),
                    custom: req.getCustom(),
                    inputs: deserialize(req.getObject()),
                    dependencies: req.getDependenciesList(),
                    options: {
                        protect: req.getProtect() ?? false,
                        deleteBeforeReplace: req.getDeletebeforereplace() ?? false,
                        retainOnDelete: req.getRetainondelete() ?? false,
                        deletedWith: req.getDeletedwith(),
                        dependsOn: explicitDependencies(req),
                        ignoreChanges: req.getIgnorechangesList(),
                        replaceOnChanges: req.getReplaceonchangesList(),
                        errorHooks: hooks?.getOnErrorList?.() ?? [],
                        ...(hooks?.getBeforeCreateList?.()?.length ? { beforeCreateHooks: hooks.getBeforeCreateList() } : {}),
                        ...(hooks?.getAfterCreateList?.()?.length ? { afterCreateHooks: hooks.getAfterCreateList() } : {}),
                        ...(req.getProvider?.() ? { provider: req.getProvider() } : {}),
                    },
                });
            }
            cb(err, res);
        });
    return cloud;
}

/** The request lists every dependency; those not explained by an input reference came from `dependsOn`. */
function explicitDependencies(req: any): string[] {
    const viaInputs = new Set<string>();
    req.getPropertydependenciesMap().forEach((deps: { getUrnsList(): string[] }) => deps.getUrnsList().forEach((urn) => viaInputs.add(urn)));
    return (req.getDependenciesList() as string[]).filter((urn) => !viaInputs.has(urn));
}

function deserialize(struct: { toJavaScript(): Record<string, unknown> } | undefined): Record<string, unknown> {
    if (!struct) return {};
    // Same decoding the engine applies; keeps secret envelopes so callers can tell secrets apart.
    return (pulumi.runtime as unknown as { deserializeProperties(s: unknown): Record<string, unknown> }).deserializeProperties(struct);
}

/** Waits until every registration the program started, including those made inside apply(), has settled. */
export async function settle(cloud: MockCloud): Promise<void> {
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;
    let seen = -1;
    while (seen !== cloud.resources.length) {
        seen = cloud.resources.length;
        await waitForRPCs();
        await new Promise((resolve) => setImmediate(resolve));
    }
}

/** Resolves an Output's value and whether it is secret (`isSecret` is the Output's own internal promise). */
export function resolveOutput<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const isSecret = (output as unknown as { isSecret: Promise<boolean> }).isSecret;
    const value = new Promise<T>((done) => output.apply((v) => (done(v), v)));
    return Promise.all([value, isSecret]).then(([v, secret]) => ({ value: v, secret }));
}
