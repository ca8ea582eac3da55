// A local stand-in for the part of OCI Object Storage the off-host copy uses, on 127.0.0.1:
//   PUT /p/<token>/n/<ns>/b/<bucket>/o/<name>   what the host does with the write-only PAR
//                                               (Content-MD5 checked, versions kept, no read back)
//   GET /n/<ns>/b/<bucket>/o/<name>             what the operator's OCI CLI does to download
//   GET /n/<ns>/b/<bucket>/o?prefix=P           ... and to list (signed requests: an Authorization header)
// Failures can be injected (an HTTP status or a dropped connection for the next N uploads). On
// each upload it also looks through every process's command line for the PAR token: the token
// must never be in argv, where `ps` shows it.
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";

export interface StoredVersion {
    readonly body: Buffer;
    readonly md5: string;
    readonly sha256Meta: string | undefined;
    readonly at: number;
}

export interface UploadRecord {
    readonly object: string;
    readonly status: number | "dropped";
    readonly bytes: number;
    readonly ms: number;
}

export interface ObjectStorageStandIn {
    readonly port: number;
    readonly namespace: string;
    readonly bucket: string;
    /** The PAR token in the URL: the secret part. */
    readonly token: string;
    /** The PAR URL the host gets (ends in /o/). */
    readonly parUrl: string;
    /** The endpoint the operator's CLI talks to. */
    readonly endpoint: string;
    /** Every version of every object, oldest first. */
    readonly objects: Map<string, StoredVersion[]>;
    readonly uploads: UploadRecord[];
    /** Command lines that held the token while an upload was served (must stay empty). */
    readonly leaks: string[];
    /** The next `count` uploads answer `status` (or drop the connection). */
    failNext(count: number, status: number | "drop"): void;
    close(): Promise<void>;
}

function scanArgv(token: string): string[] {
    const found: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        try {
            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
            if (cmdline.includes(token)) found.push(`${pid}: ${cmdline.replace(token, "<TOKEN>")}`);
        } catch {
            // gone already
        }
    }
    return found;
}

const ociError = (res: http.ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { "content-type": "application/json", "opc-request-id": randomBytes(8).toString("hex") });
    res.end(JSON.stringify({ code, message }));
};

export async function startObjectStorage(options: { namespace?: string; bucket?: string } = {}): Promise<ObjectStorageStandIn> {
    const namespace = options.namespace ?? "standinns";
    const bucket = options.bucket ?? "coinpilot-backups";
    const token = `PAR-TOKEN-${randomBytes(24).toString("base64url")}`;
    const objects = new Map<string, StoredVersion[]>();
    const uploads: UploadRecord[] = [];
    const leaks: string[] = [];
    const injected: (number | "drop")[] = [];
    const sockets = new Set<net.Socket>();

    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const par = /^\/p\/([^/]+)\/n\/([^/]+)\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
        const native = /^\/n\/([^/]+)\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
        if (par) {
            const [, parToken, ns, b, rawName] = par;
            const object = decodeURIComponent(rawName);
            const started = Date.now();
            leaks.push(...scanArgv(token));
            if (parToken !== token || ns !== namespace || b !== bucket) return ociError(res, 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.");
            // Write-only: the PAR reads nothing back and deletes nothing.
            if (req.method !== "PUT") return ociError(res, 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.");
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                const body = Buffer.concat(chunks);
                const failure = injected.shift();
                if (failure === "drop") {
                    uploads.push({ object, status: "dropped", bytes: body.length, ms: Date.now() - started });
                    req.socket.destroy();
                    return;
                }
                if (failure !== undefined) {
                    uploads.push({ object, status: failure, bytes: body.length, ms: Date.now() - started });
                    return ociError(res, failure, failure === 503 ? "ServiceUnavailable" : "InternalServerError", "injected failure");
                }
                const md5 = createHash("md5").update(body).digest("base64");
                const claimed = req.headers["content-md5"];
                if (claimed !== undefined && claimed !== md5) {
                    uploads.push({ object, status: 400, bytes: body.length, ms: Date.now() - started });
                    return ociError(res, 400, "InvalidContentMD5", `The computed MD5 of the request body (${md5}) does not match the Content-MD5 header (${claimed}).`);
                }
                const versions = objects.get(object) ?? [];
                versions.push({ body, md5, sha256Meta: req.headers["opc-meta-sha256"] as string | undefined, at: Date.now() });
                objects.set(object, versions);
                uploads.push({ object, status: 200, bytes: body.length, ms: Date.now() - started });
                res.writeHead(200, { "opc-content-md5": md5, etag: createHash("sha1").update(body).digest("hex"), "opc-request-id": randomBytes(8).toString("hex") });
                res.end();
            });
            return;
        }
        if (native && req.method === "GET") {
            const [, ns, b, rawName] = native;
            // The CLI signs every request; the stand-in only insists that it is signed at all.
            if (!req.headers.authorization) return ociError(res, 401, "NotAuthenticated", "The required information to complete authentication was not provided.");
            if (ns !== namespace || b !== bucket) return ociError(res, 404, "BucketNotFound", `Either the bucket named '${b}' does not exist in the namespace '${ns}' or you are not authorized to access it`);
            if (rawName === undefined) {
                const prefix = url.searchParams.get("prefix") ?? "";
                const names = [...objects.keys()].filter((n) => n.startsWith(prefix)).sort();
                res.writeHead(200, { "content-type": "application/json" });
                return res.end(JSON.stringify({ objects: names.map((name) => ({ name, size: objects.get(name)!.at(-1)!.body.length })) }));
            }
            const versions = objects.get(decodeURIComponent(rawName));
            if (!versions) return ociError(res, 404, "ObjectNotFound", `The object '${decodeURIComponent(rawName)}' was not found in the bucket '${b}'`);
            const latest = versions[versions.length - 1];
            res.writeHead(200, { "content-type": "application/octet-stream", "content-md5": latest.md5, "content-length": latest.body.length });
            return res.end(latest.body);
        }
        ociError(res, 404, "NotFound", "no such route in the stand-in");
    });
    server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    const endpoint = `http://127.0.0.1:${port}`;
    return {
        port,
        namespace,
        bucket,
        token,
        parUrl: `${endpoint}/p/${token}/n/${namespace}/b/${bucket}/o/`,
        endpoint,
        objects,
        uploads,
        leaks,
        failNext(count, status) {
            for (let i = 0; i < count; i++) injected.push(status);
        },
        close: () =>
            new Promise<void>((resolve) => {
                for (const s of sockets) s.destroy();
                server.close(() => resolve());
            }),
    };
}

/**
 * A stand-in for the operator's `oci` CLI with the few commands docs/disaster-recovery.md uses
 * (`os ns get`, `os object list`, `os object get`), talking to the stand-in at OCI_STANDIN_ENDPOINT.
 * The real CLI is not installed here; this one accepts the same options, so the runbook's
 * commands run as written.
 */
export const OCI_CLI_STANDIN = `#!/usr/bin/env node
const http = require("http");
const fs = require("fs");
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const endpoint = process.env.OCI_STANDIN_ENDPOINT;
const fail = (m) => { process.stderr.write(m + "\\n"); process.exit(1); };
const get = (path, onBody) => http.get(endpoint + path, { headers: { authorization: 'Signature version="1",keyId="standin"' } }, (res) => {
    const chunks = []; res.on("data", (c) => chunks.push(c));
    res.on("end", () => { const body = Buffer.concat(chunks); if (res.statusCode !== 200) fail("ServiceError: " + res.statusCode + " " + body); onBody(body); });
}).on("error", (e) => fail(String(e)));
const ns = opt("--namespace") || opt("-ns");
const bucket = opt("--bucket-name") || opt("-bn");
const words = args.filter((a) => !a.startsWith("-")).slice(0, 3).join(" ");
if (args.slice(0, 3).join(" ") === "os ns get") { process.stdout.write(JSON.stringify({ data: process.env.OCI_STANDIN_NAMESPACE }) + "\\n"); return; }
if (args.slice(0, 3).join(" ") === "os object list") {
    get("/n/" + ns + "/b/" + bucket + "/o?prefix=" + encodeURIComponent(opt("--prefix") || ""), (body) => {
        const data = JSON.parse(body).objects;
        const query = opt("--query");
        let m;
        if (!query) process.stdout.write(JSON.stringify({ data }, null, 2) + "\\n");
        else if (query === "data[].name") process.stdout.write(JSON.stringify(data.map((o) => o.name), null, 2) + "\\n");
        else if ((m = /^data\\[\\?ends_with\\(name, '([^']+)'\\)\\]\\.name \\| \\[-1\\]$/.exec(query))) {
            const names = data.map((o) => o.name).filter((n) => n.endsWith(m[1]));
            const last = names[names.length - 1];
            process.stdout.write((args.includes("--raw-output") ? last : JSON.stringify(last)) + "\\n");
        } else fail("stand-in oci: unsupported --query " + query);
    });
    return;
}
if (args.slice(0, 3).join(" ") === "os object get") {
    const file = opt("--file");
    get("/n/" + ns + "/b/" + bucket + "/o/" + encodeURIComponent(opt("--name")), (body) => { fs.writeFileSync(file, body); });
    return;
}
fail("stand-in oci: unsupported command " + words);
`;
