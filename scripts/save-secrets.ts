// `npm run secrets:save [-- --stack NAME]`: copies the generated .env secrets the stack uses (the
// secret stack output `generatedSecrets`) into encrypted stack config (coinpilot:postgresPassword, ...),
// so a recreate into an empty stack finds the passwords the retained data was created with.
// Values travel only through pipes (pulumi reads a config value from stdin when stdin is not a
// terminal); nothing but key names is printed.
import { spawnSync } from "child_process";
import { CONFIG_NAMESPACE } from "../config";
import { GENERATED_SECRETS, GENERATED_SECRETS_OUTPUT, overrideConfigKey } from "../lib/host/generated-secrets";

export interface ConfigSet {
    /** Full key, e.g. coinpilot:postgresPassword. */
    readonly key: string;
    readonly args: string[];
    /** The value, fed on stdin. */
    readonly stdin: string;
}

/** The `pulumi config set --secret` calls for the output's JSON; throws naming (never showing) what is wrong. */
export function configSetCalls(outputJson: string, stackArgs: readonly string[]): ConfigSet[] {
    let outputs: unknown;
    try {
        outputs = JSON.parse(outputJson);
    } catch {
        throw new Error(`stack output ${GENERATED_SECRETS_OUTPUT} is not JSON; run \`pulumi up\` first (the output exists from this version on)`);
    }
    const record = (outputs ?? {}) as Record<string, unknown>;
    const missing = GENERATED_SECRETS.filter(({ envKey }) => typeof record[envKey] !== "string" || record[envKey] === "").map((s) => s.envKey);
    if (typeof outputs !== "object" || missing.length) {
        throw new Error(`stack output ${GENERATED_SECRETS_OUTPUT} lacks ${missing.join(", ")}; run \`pulumi up\` first`);
    }
    return GENERATED_SECRETS.map(({ envKey }) => {
        const key = `${CONFIG_NAMESPACE}:${overrideConfigKey(envKey)}`;
        return { key, args: ["config", "set", "--secret", key, ...stackArgs], stdin: record[envKey] as string };
    });
}

function main(argv: string[]): number {
    const stackArgs = argv[0] === "--stack" && argv[1] ? ["--stack", argv[1]] : [];
    if (argv.length !== stackArgs.length) {
        process.stderr.write("usage: npm run secrets:save [-- --stack NAME]\n");
        return 2;
    }
    const pulumi = process.env.PULUMI_BIN ?? "pulumi";
    // stdout is captured, never echoed: with --show-secrets it holds the values.
    const read = spawnSync(pulumi, ["stack", "output", GENERATED_SECRETS_OUTPUT, "--show-secrets", "--json", ...stackArgs], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    if (read.error) {
        process.stderr.write(`cannot run ${pulumi}: ${read.error.message}\n`);
        return 1;
    }
    if (read.status !== 0) return read.status ?? 1;
    let calls: ConfigSet[];
    try {
        calls = configSetCalls(read.stdout, stackArgs);
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return 1;
    }
    for (const call of calls) {
        const set = spawnSync(pulumi, call.args, { input: call.stdin, encoding: "utf8", stdio: ["pipe", "ignore", "inherit"] });
        if (set.status !== 0) {
            process.stderr.write(`pulumi config set ${call.key} failed (exit ${set.status})\n`);
            return set.status ?? 1;
        }
        process.stdout.write(`saved ${call.key} (secret)\n`);
    }
    return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
