// A local OCI control plane for the end-to-end tier: the stand-in oci provider (engine/standin/oci-api.ts,
// switched on by COINPILOT_STANDIN_OCI_URL) sends each create, read, update and delete here, as the
// real provider sends them to OCI's API. It keeps state (the resources, their lifecycle states, the
// instance's VNIC and its public IP), checks that every request is signed (the header only), records
// every request as a JSON line, and fails LaunchInstance as scripted.
//
//   node control-plane.ts --log FILE --port-file FILE --public-ip-file FILE [--launch-faults LIST]
//       [--object-storage-file FILE]
// (the instance's public IP is read from the file when an instance is launched: the test host's address;
// a pre-authenticated request's URL starts with the base URL read from --object-storage-file when it
// is made: scripts/e2e/serve.ts, which the host reaches)
//
// LIST is comma-separated, consumed one per LaunchInstance call, then launches succeed:
//   capacity      500 InternalError "Out of host capacity."
//   throttle[:N]  429 TooManyRequests (with Retry-After: N when given)
//   limit         400 LimitExceeded     notfound  404 NotAuthorizedOrNotFound
// GET /__state answers the whole state (for the tests); POST /__faults with {"launch": "LIST"} adds
// faults for the next launches; an unknown route is a 404 naming it.
import { appendFileSync, readFileSync, writeFileSync } from "fs";
import { createServer, IncomingMessage, ServerResponse } from "http";
import { randomBytes } from "crypto";

function arg(name: string, fallback?: string): string {
    const at = process.argv.indexOf(name);
    const value = at >= 0 ? process.argv[at + 1] : fallback;
    if (value === undefined) throw new Error(`missing ${name}`);
    return value;
}

const LOG = arg("--log");
const PUBLIC_IP_FILE = arg("--public-ip-file");
const faults = arg("--launch-faults", "").split(",").filter(Boolean);
const OBJECT_STORAGE_FILE = arg("--object-storage-file", "");

interface Resource {
    id: string;
    kind: string;
    lifecycleState: string;
    /** GETs left before a PROVISIONING/ATTACHING resource reaches its steady state. */
    pendingReads: number;
    body: Record<string, unknown>;
}

const resources = new Map<string, Resource>();

/** Steady state and the state a create starts in, per collection (OCI's lifecycle names). */
const LIFECYCLE: Record<string, [string, string]> = {
    instances: ["PROVISIONING", "RUNNING"],
    volumes: ["PROVISIONING", "AVAILABLE"],
    volumeAttachments: ["ATTACHING", "ATTACHED"],
};
const GONE: Record<string, string> = { instances: "TERMINATED", volumes: "TERMINATED", volumeAttachments: "DETACHED" };

const ERRORS: Record<string, [number, string, string]> = {
    capacity: [500, "InternalError", "Out of host capacity."],
    throttle: [429, "TooManyRequests", "Too many requests for the user"],
    limit: [400, "LimitExceeded", "The following service limits were exceeded: standard-a1-core-count."],
    notfound: [404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found."],
};

function ocid(kind: string): string {
    return `ocid1.${kind.replace(/s$/, "").toLowerCase()}.oc1.ap-chuncheon-1.e2e${randomBytes(12).toString("hex")}`;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
    res.writeHead(status, { "content-type": "application/json", "opc-request-id": randomBytes(8).toString("hex"), ...headers });
    res.end(JSON.stringify(body));
    return status;
}

function fail(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): number {
    return send(res, status, { code, message }, headers);
}

function view(r: Resource): Record<string, unknown> {
    return { ...r.body, id: r.id, lifecycleState: r.lifecycleState };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<{ status: number; operation: string }> {
    const url = new URL(req.url ?? "/", "http://control-plane.invalid");
    const method = req.method ?? "GET";
    if (method === "GET" && url.pathname === "/__state") {
        return { status: send(res, 200, [...resources.values()].map((r) => ({ kind: r.kind, ...view(r) }))), operation: "State" };
    }
    if (method === "POST" && url.pathname === "/__faults") {
        const more = String((await readBody(req)).launch ?? "").split(",").filter(Boolean);
        faults.push(...more);
        return { status: send(res, 200, { launchFaults: faults }), operation: "Faults" };
    }
    if (!/^Signature /.test(String(req.headers.authorization ?? ""))) {
        return { status: fail(res, 401, "NotAuthenticated", "The required information to complete authentication was not provided."), operation: "Unsigned" };
    }
    const match = /^\/20160918\/([A-Za-z]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match) return { status: fail(res, 404, "NotAuthorizedOrNotFound", `control plane: no route for ${method} ${url.pathname}`), operation: "Unknown" };
    const [, kind, id] = match;
    const operation = `${method} ${kind}${id ? "/{id}" : ""}`;

    if (method === "POST" && !id) {
        if (kind === "instances" && faults.length) {
            const [fault, retryAfter] = faults.shift()!.split(":");
            const [status, code, message] = ERRORS[fault] ?? [500, "InternalError", `unknown scripted fault ${fault}`];
            return { status: fail(res, status, code, message, retryAfter ? { "retry-after": retryAfter } : {}), operation: "LaunchInstance" };
        }
        const body = await readBody(req);
        const [initial] = LIFECYCLE[kind] ?? ["AVAILABLE", "AVAILABLE"];
        const resource: Resource = { id: ocid(kind), kind, lifecycleState: initial, pendingReads: LIFECYCLE[kind] ? 1 : 0, body };
        resources.set(resource.id, resource);
        if (kind === "preauthenticatedRequests") {
            // What OCI answers: the URL's path with its secret token, and the whole URL.
            const base = OBJECT_STORAGE_FILE ? readFileSync(OBJECT_STORAGE_FILE, "utf8").trim() : "https://objectstorage.ap-chuncheon-1.oraclecloud.com";
            body.accessUri = `/p/${randomBytes(24).toString("base64url")}/n/${String(body.namespace)}/b/${String(body.bucket)}/o/`;
            body.fullPath = `${base}${String(body.accessUri)}`;
        }
        if (kind === "instances") {
            // The instance's primary VNIC and its attachment, where OCI keeps the public IP.
            const vnic: Resource = { id: ocid("vnics"), kind: "vnics", lifecycleState: "AVAILABLE", pendingReads: 0, body: { publicIp: readFileSync(PUBLIC_IP_FILE, "utf8").trim(), privateIp: "10.0.1.10", isPrimary: true } };
            resources.set(vnic.id, vnic);
            const attachment: Resource = { id: ocid("vnicAttachments"), kind: "vnicAttachments", lifecycleState: "ATTACHED", pendingReads: 0, body: { instanceId: resource.id, vnicId: vnic.id } };
            resources.set(attachment.id, attachment);
        }
        return { status: send(res, 200, view(resource)), operation: kind === "instances" ? "LaunchInstance" : `Create ${kind}` };
    }
    if (method === "GET" && kind === "vnicAttachments" && !id) {
        const instanceId = url.searchParams.get("instanceId");
        return { status: send(res, 200, [...resources.values()].filter((r) => r.kind === kind && r.body.instanceId === instanceId).map(view)), operation: "ListVnicAttachments" };
    }
    const resource = id ? resources.get(id) : undefined;
    if (!resource || resource.kind !== kind) {
        return { status: fail(res, 404, "NotAuthorizedOrNotFound", `control plane: no ${kind} ${id ?? ""}`), operation };
    }
    if (method === "GET") {
        if (resource.pendingReads > 0 && --resource.pendingReads === 0) resource.lifecycleState = LIFECYCLE[kind][1];
        return { status: send(res, 200, view(resource)), operation };
    }
    if (method === "PUT") {
        resource.body = { ...resource.body, ...(await readBody(req)) };
        return { status: send(res, 200, view(resource)), operation };
    }
    if (method === "DELETE") {
        resource.lifecycleState = GONE[kind] ?? "TERMINATED";
        if (kind === "instances") {
            // Terminating an instance detaches and deletes its primary VNIC.
            for (const r of resources.values()) {
                if (r.kind !== "vnicAttachments" || r.body.instanceId !== id) continue;
                r.lifecycleState = "DETACHED";
                const vnic = resources.get(String(r.body.vnicId));
                if (vnic) vnic.lifecycleState = "TERMINATED";
            }
        }
        return { status: send(res, 204, {}), operation };
    }
    return { status: fail(res, 404, "NotAuthorizedOrNotFound", `control plane: no route for ${method} ${url.pathname}`), operation };
}

const server = createServer((req, res) => {
    handle(req, res)
        .catch((error: Error) => ({ status: fail(res, 500, "InternalError", `control plane: ${error.message}`), operation: "Error" }))
        .then(({ status, operation }) =>
            appendFileSync(LOG, `${JSON.stringify({ at: new Date().toISOString(), method: req.method, path: req.url, operation, status })}\n`),
        );
});
server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    writeFileSync(arg("--port-file"), `listening ${typeof address === "object" && address ? address.port : 0}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.close(() => process.exit(0)));
