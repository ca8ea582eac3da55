// Entry point of engine/bin/pulumi-resource-<pkg>: serves one stand-in provider over Pulumi's gRPC.
import { readFileSync } from "fs";
import { join } from "path";
import * as provider from "@pulumi/pulumi/provider";
import { standinProvider } from "./provider";
import { PACKAGES, PackageName } from "./schema";

const pkg = process.argv[2] as PackageName;
if (!PACKAGES.includes(pkg)) {
    process.stderr.write(`usage: main.ts <${PACKAGES.join("|")}> <engine address>\n`);
    process.exit(2);
}
// The version the program's SDK asks for, so the engine's plugin lookup and the state agree with a real run.
const sdk = JSON.parse(readFileSync(join(__dirname, "..", "..", "node_modules", "@pulumi", pkg, "package.json"), "utf8")) as { version: string };
provider.main(standinProvider(pkg, sdk.version), process.argv.slice(3)).catch((err: Error) => {
    process.stderr.write(`stand-in ${pkg} provider failed: ${err.stack ?? err}\n`);
    process.exit(1);
});
