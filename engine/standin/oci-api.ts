// What the stand-in oci provider does for real when the end-to-end tier points it at a control plane
// (COINPILOT_STANDIN_OCI_URL, scripts/e2e/control-plane.ts): each create, update and delete is a signed
// request to that API, as terraform-provider-oci makes them to OCI's; a create waits for the resource's
// steady lifecycle state, and an instance's addresses are read from its primary VNIC (its VNIC
// attachment, then the VNIC), where OCI keeps them. A failed call fails the step with the text the
// real provider prints (lib/launch/simulator.ts renders it), which is what the capacity hunt's error
// hook classifies. No retries here: the instance's provider has them off (disableAutoRetries).
import { OciServiceError, renderProviderError } from "../../lib/launch/simulator";

export function ociApiUrl(): string | undefined {
    return process.env.COINPILOT_STANDIN_OCI_URL || undefined;
}

/** Collection of each resource type in the control plane's API (OCI's Core names under /20160918). */
const COLLECTIONS: Readonly<Record<string, string>> = {
    "oci:Core/vcn:Vcn": "vcns",
    "oci:Core/internetGateway:InternetGateway": "internetGateways",
    "oci:Core/routeTable:RouteTable": "routeTables",
    "oci:Core/securityList:SecurityList": "securityLists",
    "oci:Core/subnet:Subnet": "subnets",
    "oci:Core/instance:Instance": "instances",
    "oci:Core/volume:Volume": "volumes",
    "oci:Core/volumeAttachment:VolumeAttachment": "volumeAttachments",
    "oci:Core/publicIp:PublicIp": "publicIps",
    "oci:Identity/policy:Policy": "policies",
    "oci:ObjectStorage/bucket:Bucket": "buckets",
    "oci:ObjectStorage/preauthrequest:Preauthrequest": "preauthenticatedRequests",
    "oci:ObjectStorage/objectLifecyclePolicy:ObjectLifecyclePolicy": "objectLifecyclePolicies",
};

const STEADY: Readonly<Record<string, string>> = { instances: "RUNNING", volumes: "AVAILABLE", volumeAttachments: "ATTACHED" };

/** The request signature header's shape (OCI's HTTP signature); the control plane checks it is there. */
const SIGNATURE = 'Signature version="1",keyId="ocid1.tenancy.oc1..e2e/ocid1.user.oc1..e2e/00:00",algorithm="rsa-sha256",headers="date (request-target) host",signature="e2e-unsigned"';

function collectionOf(type: string): string {
    const collection = COLLECTIONS[type];
    if (!collection) throw new Error(`the e2e control plane has no API for ${type}`);
    return collection;
}

function operationOf(collection: string, method: string): string {
    if (collection === "instances") return method === "POST" ? "LaunchInstance" : method === "DELETE" ? "TerminateInstance" : "UpdateInstance";
    const kind = collection.replace(/ies$/, "y").replace(/s$/, "");
    return `${method === "POST" ? "Create" : method === "DELETE" ? "Delete" : "Update"}${kind[0].toUpperCase()}${kind.slice(1)}`;
}

async function call(method: string, path: string, operation: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await fetch(`${ociApiUrl()}${path}`, {
        method,
        headers: { authorization: SIGNATURE, date: new Date().toUTCString(), "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    if (!response.ok) {
        const headers = Object.fromEntries(response.headers.entries());
        // The status rides along so a caller can tell "gone" (Read's 404) from a failure.
        throw Object.assign(new Error(renderProviderError(new OciServiceError(response.status, String(json.code ?? "Unknown"), String(json.message ?? text), headers), operation)), {
            status: response.status,
        });
    }
    return json;
}

async function waitSteady(collection: string, id: string): Promise<Record<string, unknown>> {
    const want = STEADY[collection];
    for (let poll = 0; ; poll++) {
        const state = await call("GET", `/20160918/${collection}/${id}`, `Get${collection}`);
        if (!want || state.lifecycleState === want) return state;
        if (poll >= 100) throw new Error(`${collection}/${id} stayed ${String(state.lifecycleState)}, never ${want}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** Creates the resource in the control plane: its OCID and what the provider reads back. */
export async function ociCreate(type: string, inputs: Record<string, unknown>): Promise<{ id: string; outputs: Record<string, unknown> }> {
    const collection = collectionOf(type);
    const created = await call("POST", `/20160918/${collection}`, operationOf(collection, "POST"), inputs);
    const id = String(created.id);
    const state = await waitSteady(collection, id);
    // What the control plane computed beside the inputs (e.g. a pre-authenticated request's URL);
    // the provider keeps only the keys the type's schema computes.
    const { id: _id, lifecycleState, ...answer } = state;
    const outputs: Record<string, unknown> = { ...Object.fromEntries(Object.entries(answer).filter(([k]) => !(k in inputs))), state: lifecycleState };
    if (collection === "instances") {
        const attachments = (await call("GET", `/20160918/vnicAttachments?instanceId=${encodeURIComponent(id)}`, "ListVnicAttachments")) as unknown as { vnicId: string }[];
        const vnic = await call("GET", `/20160918/vnics/${attachments[0].vnicId}`, "GetVnic");
        outputs.publicIp = vnic.publicIp;
        outputs.privateIp = vnic.privateIp;
    }
    return { id, outputs };
}

/**
 * Reads a resource back from the control plane, as the provider's Read does for `pulumi import`: the
 * inputs it was created (and updated) with, and the outputs the type computes (its lifecycle state).
 * Undefined when the control plane has no such resource (Read's answer for "gone").
 */
export async function ociRead(type: string, id: string): Promise<{ inputs: Record<string, unknown>; outputs: Record<string, unknown> } | undefined> {
    const collection = collectionOf(type);
    let view: Record<string, unknown>;
    try {
        view = await call("GET", `/20160918/${collection}/${encodeURIComponent(id)}`, `Get${collection}`);
    } catch (error) {
        if ((error as { status?: number }).status === 404) return undefined;
        throw error;
    }
    const { id: _id, lifecycleState, ...inputs } = view;
    return { inputs, outputs: { state: lifecycleState } };
}

export async function ociUpdate(type: string, id: string, inputs: Record<string, unknown>): Promise<void> {
    const collection = collectionOf(type);
    await call("PUT", `/20160918/${collection}/${id}`, operationOf(collection, "PUT"), inputs);
}

export async function ociDelete(type: string, id: string): Promise<void> {
    const collection = collectionOf(type);
    await call("DELETE", `/20160918/${collection}/${id}`, operationOf(collection, "DELETE"));
}
