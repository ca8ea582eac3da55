// The end-to-end test's HTTPS server, on this machine's end of the test host's veth pair: what the
// host would fetch from the internet, served from local directories. Docker's apt repository (the
// stand-in packages of scripts/e2e/host.sh) and the stand-in CoinPilot git repository (git's "dumb"
// HTTP protocol: plain files after `git update-server-info`). With --bucket, also the write-only
// pre-authenticated requests of Object Storage the off-host copy uses (the control plane hands out
// their URLs on this server): PUT /p/<token>/n/<ns>/b/<bucket>/o/<name> stores the body as
// DIR/<bucket>/<name> after checking its Content-MD5, as OCI does. Every request is one JSON line in
// the log; an unknown path is a 404 naming it, so a gap shows at once.
//
//   node serve.ts --listen ADDR --cert FILE --key FILE --log FILE --route /prefix=DIR ... [--bucket DIR]
// Prints `listening PORT` once it accepts connections (port 0: any free one).
import { createHash } from "crypto";
import { createReadStream, appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { createServer } from "https";
import * as path from "path";

function args(): { listen: string; cert: string; key: string; log: string; routes: [string, string][]; bucket?: string } {
    const argv = process.argv.slice(2);
    const value = (name: string) => {
        const at = argv.indexOf(name);
        if (at < 0 || !argv[at + 1]) throw new Error(`missing ${name}`);
        return argv[at + 1];
    };
    const routes = argv.flatMap((a, i) => (a === "--route" ? [argv[i + 1]] : [])).map((r) => {
        const [prefix, dir] = r.split("=");
        return [prefix.replace(/\/$/, ""), path.resolve(dir)] as [string, string];
    });
    const bucket = argv.includes("--bucket") ? path.resolve(value("--bucket")) : undefined;
    return { listen: value("--listen"), cert: value("--cert"), key: value("--key"), log: value("--log"), routes, bucket };
}

const options = args();
const [host, port] = options.listen.split(":");

const server = createServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://e2e.invalid");
    const done = (status: number, bytes = 0) =>
        // A pre-authenticated request's token is a secret: not in the log.
        appendFileSync(options.log, `${JSON.stringify({ at: new Date().toISOString(), method: req.method, path: url.pathname.replace(/^\/p\/[^/]+\//, "/p/[secret]/"), status, bytes })}\n`);
    const par = /^\/p\/[^/]+\/n\/[^/]+\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (options.bucket && par && req.method === "PUT") {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const md5 = createHash("md5").update(body).digest("base64");
            const claimed = req.headers["content-md5"];
            if (claimed !== undefined && claimed !== md5) {
                res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ code: "InvalidContentMD5", message: `computed ${md5}, header ${claimed}` }));
                return done(400, body.length);
            }
            const file = path.join(options.bucket!, par[1], decodeURIComponent(par[2]));
            if (!file.startsWith(options.bucket! + path.sep)) {
                res.writeHead(400).end();
                return done(400);
            }
            mkdirSync(path.dirname(file), { recursive: true });
            writeFileSync(file, body);
            res.writeHead(200, { "opc-content-md5": md5 }).end();
            done(200, body.length);
        });
        return;
    }
    const route = options.routes.find(([prefix]) => url.pathname === prefix || url.pathname.startsWith(`${prefix}/`));
    if (!route || (req.method !== "GET" && req.method !== "HEAD")) {
        res.writeHead(404, { "content-type": "text/plain" }).end(`no route for ${req.method} ${url.pathname}\n`);
        return done(404);
    }
    const file = path.join(route[1], decodeURIComponent(url.pathname.slice(route[0].length)));
    if (!file.startsWith(route[1])) {
        res.writeHead(400).end();
        return done(400);
    }
    let size: number;
    try {
        const stat = statSync(file);
        if (!stat.isFile()) throw new Error("not a file");
        size = stat.size;
    } catch {
        res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${url.pathname}\n`);
        return done(404);
    }
    res.writeHead(200, { "content-length": size, "content-type": "application/octet-stream" });
    if (req.method === "HEAD") {
        res.end();
        return done(200);
    }
    // "close" fires however the response ends (a client may hang up right after the last byte).
    res.on("close", () => done(200, size));
    createReadStream(file).pipe(res);
});

server.listen(Number(port), host, () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === "object" && address ? address.port : port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => server.close(() => process.exit(0)));
