// A local HTTP stand-in for a service a shipped script calls (Discord, Prometheus, Grafana): served
// by `handler` on 127.0.0.1 at a free port, so test traffic never leaves the machine.
import * as http from "http";
import { AddressInfo } from "net";

export interface HttpStandIn {
    /** `http://127.0.0.1:PORT`, no trailing slash. */
    readonly url: string;
    close(): Promise<void>;
}

export async function startHttpStandIn(handler: http.RequestListener): Promise<HttpStandIn> {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
