// Entry point of engine/bin/pulumi-resource-<pkg>: serves one stand-in provider over Pulumi's gRPC.
import { readFileSync } from "fs";
import { join } from "path";
import * as provider from "@pulumi/pulumi/provider";
import { previewOutputs, standinProvider, typeOf } from "./provider";
import { PACKAGES, PackageName } from "../../lib/plan/provider-schema";

const pkg = process.argv[2] as PackageName;
if (!PACKAGES.includes(pkg)) {
    process.stderr.write(`usage: main.ts <${PACKAGES.join("|")}> <engine address>\n`);
    process.exit(2);
}
// @pulumi/pulumi's provider server answers Configure without `supportsPreview` and drops the preview
// flag of Create, so the engine would treat every output of an updated resource as unknown in a preview
// (a shape change would show every remote step, whose connection reads the VM's IP, as changed). The
// bridged providers plan computed values; so does the stand-in: its service methods are wrapped.
const fromSdk = (id: string) => require(require.resolve(id, { paths: [require.resolve("@pulumi/pulumi")] }));
const grpc = fromSdk("@grpc/grpc-js") as { Server: { prototype: { addService(service: unknown, impl: Record<string, Function>): void } } };
const addService = grpc.Server.prototype.addService;
grpc.Server.prototype.addService = function (service: unknown, impl: Record<string, Function>) {
    const configure = impl.configure.bind(impl);
    impl.configure = (call: unknown, callback: (err: unknown, resp?: { setSupportspreview(on: boolean): void }) => void) =>
        configure(call, (err: unknown, resp?: { setSupportspreview(on: boolean): void }) => {
            resp?.setSupportspreview(true);
            callback(err, resp);
        });
    const create = impl.create.bind(impl);
    impl.create = (call: { request: { getPreview(): boolean; getUrn(): string; getProperties(): { toJavaScript(): Record<string, unknown> } } }, callback: Function) => {
        if (!call.request.getPreview()) return create(call, callback);
        const { CreateResponse } = fromSdk("@pulumi/pulumi/proto/provider_pb");
        const { Struct } = fromSdk("google-protobuf/google/protobuf/struct_pb");
        const resp = new CreateResponse();
        resp.setId("");
        resp.setProperties(Struct.fromJavaScript(previewOutputs(typeOf(call.request.getUrn()), call.request.getProperties().toJavaScript())));
        callback(undefined, resp);
    };
    // An import's Read carries only the id (no properties); @pulumi/pulumi's server reads them unchecked.
    const read = impl.read.bind(impl);
    impl.read = (call: { request: { getProperties(): unknown; setProperties(p: unknown): void } }, callback: Function) => {
        if (!call.request.getProperties()) {
            const { Struct } = fromSdk("google-protobuf/google/protobuf/struct_pb");
            call.request.setProperties(Struct.fromJavaScript({}));
        }
        return read(call, callback);
    };
    return addService.call(this, service, impl);
};

// The version the program's SDK asks for, so the engine's plugin lookup and the state agree with a real run.
const sdk = JSON.parse(readFileSync(join(__dirname, "..", "..", "node_modules", "@pulumi", pkg, "package.json"), "utf8")) as { version: string };
provider.main(standinProvider(pkg, sdk.version), process.argv.slice(3)).catch((err: Error) => {
    process.stderr.write(`stand-in ${pkg} provider failed: ${err.stack ?? err}\n`);
    process.exit(1);
});
