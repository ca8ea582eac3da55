// `npm run plan [-- --config-file Pulumi.prod.yaml] [--json] [--diff OLD.json]`: the offline plan.
// Evaluates index.ts for real under Pulumi's in-process mocks and prints the desired state.
import { readFileSync } from "fs";
import { resolve } from "path";
import { installMockCloud, resolveOutput, settle } from "../lib/mock-cloud";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_FILE, SECRET_MARK, buildPlan, formatPlan, loadStackConfig, stackNameOf } from "../lib/plan";
import { readProjectFile } from "../lib/project-config";
import { diffPlans, formatPlanDiff, parsePlan } from "../lib/plan-diff";
import { formatHostSteps } from "../components/host";

interface PlanArgs {
    configFile: string;
    json: boolean;
    /** A plan saved earlier with --json: print what changed since, instead of the plan. */
    diff?: string;
}

function parseArgs(argv: string[]): PlanArgs {
    const args: PlanArgs = { configFile: "Pulumi.prod.yaml", json: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--json") args.json = true;
        else if (arg === "--config-file" && argv[i + 1]) args.configFile = argv[++i];
        else if (arg.startsWith("--config-file=")) args.configFile = arg.slice("--config-file=".length);
        else if (arg === "--diff" && argv[i + 1]) args.diff = argv[++i];
        else throw new Error(`unknown argument "${arg}"; usage: npm run plan -- [--config-file PATH] [--json] [--diff OLD.json]`);
    }
    return args;
}

/** Resolves every exported Output of the program; secret ones are replaced by the secret mark. */
async function resolveOutputs(program: Record<string, unknown>): Promise<Record<string, unknown>> {
    const entries = Object.entries(program).filter(([, v]) => pulumi.Output.isInstance(v)) as [string, pulumi.Output<unknown>][];
    const resolved = await Promise.all(entries.map(([, output]) => resolveOutput(output)));
    return Object.fromEntries(entries.map(([k], i) => [k, resolved[i].secret ? SECRET_MARK : resolved[i].value]));
}

async function main(): Promise<number> {
    const args = parseArgs(process.argv.slice(2));
    const configPath = resolve(args.configFile);
    const stack = stackNameOf(configPath);
    const project = readProjectFile(PROJECT_FILE).name;
    const stackConfig = loadStackConfig(configPath, stack);
    // The real CLI stops here before running the program; so does the plan, with the CLI's words.
    if (stackConfig.errors.length > 0) {
        process.stderr.write(`${stackConfig.errors.map((e) => `error: ${e}`).join("\n")}\n`);
        return 1;
    }
    const cloud = installMockCloud(stackConfig.config, {}, project, stack, stackConfig.secretKeys);
    let program: Record<string, unknown>;
    try {
        // CommonJS require keeps the order: the mocks above are in place before the program runs.
        program = require("../index");
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        return 1;
    }
    const outputs = await resolveOutputs(program);
    await settle(cloud);
    // Recorded inputs hold Asset objects whose contents are promises; the plan reads their wire form
    // (the shipped text or file path), so a reviewer sees e.g. the rendered systemd unit.
    for (const r of cloud.resources) {
        for (const [key, value] of Object.entries(r.inputs)) {
            if (pulumi.asset.Asset.isInstance(value)) r.inputs[key] = await pulumi.runtime.serializeProperty(key, value);
        }
    }
    const plan = buildPlan(stack, cloud.resources, outputs);
    if (args.diff) {
        const old = parsePlan(readFileSync(args.diff, "utf8"), args.diff);
        // Through JSON so both sides look alike (undefined fields dropped, as in the saved file).
        const now = parsePlan(JSON.stringify(plan), "the current plan");
        process.stdout.write(formatPlanDiff(diffPlans(old, now), { before: args.diff, after: `the program now (${args.configFile})` }));
        return 0;
    }
    process.stdout.write(args.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan)}\n${formatHostSteps(cloud.resources)}\n`);
    return 0;
}

main().then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`plan failed: ${(err as Error).stack ?? err}\n`);
        process.exit(1);
    },
);
