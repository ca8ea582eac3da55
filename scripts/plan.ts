// `npm run plan [-- --config-file Pulumi.prod.yaml] [--json] [--out FILE] [--diff OLD.json]`: the offline plan.
// Evaluates index.ts for real under Pulumi's in-process mocks and prints the desired state.
import { existsSync, readFileSync, writeFileSync } from "fs";
import { basename, resolve } from "path";
import { installMockCloud, resolveOutput, settle } from "../lib/plan/mock-cloud";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_FILE, SECRET_MARK, buildPlan, formatPlan, loadStackConfig, stackNameOf } from "../lib/plan/plan";
import { readProjectFile } from "../lib/plan/project-config";
import { PlanFileError, diffPlans, formatPlanDiff, parsePlan } from "../lib/plan/plan-diff";
import { formatHostSteps } from "../components/host";

interface PlanArgs {
    configFile: string;
    json: boolean;
    /** Write the JSON plan here instead of stdout (no npm banner can end up in it). */
    out?: string;
    /** A plan saved earlier with --json/--out: print what changed since, instead of the plan. */
    diff?: string;
    help: boolean;
}

const USAGE = `usage: npm run plan -- [--config-file Pulumi.<stack>.yaml] [--json] [--out FILE] [--diff OLD.json] [--help]
  --config-file FILE  the stack config to plan (default Pulumi.prod.yaml)
  --json              print the plan as JSON instead of text
  --out FILE          write the JSON plan to FILE (for a later --diff)
  --diff OLD.json     print what changed since a saved plan (the !!! banner names what a change destroys)`;

/** A mistake in how the plan was called: reported as one line, without a stack trace. */
class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): PlanArgs {
    const args: PlanArgs = { configFile: "Pulumi.prod.yaml", json: false, help: false };
    const valueOf = (flag: string, i: number): string => {
        const value = argv[i + 1];
        if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a file name`);
        return value;
    };
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
        const take = () => inline ?? valueOf(flag, i++);
        if (flag === "--json" && inline === undefined) args.json = true;
        else if (flag === "--help" || flag === "-h") args.help = true;
        else if (flag === "--config-file") args.configFile = take();
        else if (flag === "--out") args.out = take();
        else if (flag === "--diff") args.diff = take();
        else throw new UsageError(`unknown argument "${argv[i]}"; see npm run plan -- --help`);
    }
    return args;
}

/** Resolves every exported Output of the program; secret ones are replaced by the secret mark. */
async function resolveOutputs(program: Record<string, unknown>): Promise<Record<string, unknown>> {
    const entries = Object.entries(program).filter(([, v]) => pulumi.Output.isInstance(v)) as [string, pulumi.Output<unknown>][];
    const resolved = await Promise.all(entries.map(([, output]) => resolveOutput(output)));
    return Object.fromEntries(entries.map(([k], i) => [k, resolved[i].secret ? SECRET_MARK : resolved[i].value]));
}

/** The stack a config file plans when its name does not say (the example stack's). */
const DEFAULT_STACK = "prod";

/** Where the plan's text goes: process.stdout/stderr for the CLI, a buffer in tests. */
export interface PlanOutput {
    stdout(text: string): void;
    stderr(text: string): void;
}

/**
 * The stack name, as the real CLI would have it: `<stack>` of a `Pulumi.<stack>.yaml`; any other file
 * name plans the default stack, with a note saying so.
 */
export function stackOf(configFile: string): { stack: string; note?: string } {
    const named = stackNameOf(configFile, "");
    if (named) return { stack: named };
    return { stack: DEFAULT_STACK, note: `${basename(configFile)} is not named Pulumi.<stack>.yaml, so the plan uses the default stack name "${DEFAULT_STACK}"` };
}

/** `npm run plan` with `argv`; returns the exit code (0 done, 1 config or program error, 2 a usage error). */
export async function runPlan(argv: readonly string[], out: PlanOutput): Promise<number> {
    try {
        return await plan(argv, out);
    } catch (err) {
        // A user's mistake is one line (a config problem found while the program runs comes wrapped in
        // the SDK's serialisation context: unwrapped); anything else is a bug worth its stack trace.
        const message = err instanceof Error ? err.message.replace(/^(error serializing property "[^"]*": )+/, "") : String(err);
        const known = err instanceof UsageError || err instanceof PlanFileError || /^coinpilot:\w+: /.test(message);
        out.stderr(known ? `plan: ${message.split("\n")[0]}\n` : `plan failed: ${(err as Error).stack ?? err}\n`);
        return known ? 2 : 1;
    }
}

async function plan(argv: readonly string[], out: PlanOutput): Promise<number> {
    const args = parseArgs(argv);
    if (args.help) {
        out.stdout(`${USAGE}\n`);
        return 0;
    }
    const configPath = resolve(args.configFile);
    if (!existsSync(configPath)) throw new UsageError(`config file ${args.configFile} does not exist`);
    if (args.diff && !existsSync(args.diff)) throw new UsageError(`${args.diff} does not exist; save a plan first: npm run plan -- --out ${args.diff}`);
    const { stack, note } = stackOf(configPath);
    // With --json the note goes to stderr, so the JSON on stdout stays clean.
    if (note && (args.json || args.out || args.diff)) out.stderr(`note: ${note}\n`);
    const project = readProjectFile(PROJECT_FILE).name;
    const stackConfig = loadStackConfig(configPath, stack);
    // The real CLI stops here before running the program; so does the plan, with the CLI's words.
    if (stackConfig.errors.length > 0) {
        out.stderr(`${stackConfig.errors.map((e) => `error: ${e}`).join("\n")}\n`);
        return 1;
    }
    const cloud = installMockCloud(stackConfig.config, {}, project, stack, stackConfig.secretKeys);
    let program: Record<string, unknown>;
    try {
        // CommonJS require keeps the order: the mocks above are in place before the program runs.
        program = require("../index");
    } catch (err) {
        out.stderr(`${(err as Error).message}\n`);
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
    const built = buildPlan(stack, cloud.resources, outputs);
    if (args.diff) {
        const old = parsePlan(readFileSync(args.diff, "utf8"), args.diff);
        // Through JSON so both sides look alike (undefined fields dropped, as in the saved file).
        const now = parsePlan(JSON.stringify(built), "the current plan");
        out.stdout(formatPlanDiff(diffPlans(old, now), { before: args.diff, after: `the program now (${args.configFile})` }));
        return 0;
    }
    const json = `${JSON.stringify(built, null, 2)}\n`;
    if (args.out) {
        writeFileSync(args.out, json);
        out.stderr(`plan of ${built.resources.length} resources written to ${args.out}\n`);
        return 0;
    }
    out.stdout(args.json ? json : formatPlan(built, { hostSteps: formatHostSteps(cloud.resources), notes: note ? [note] : [] }));
    return 0;
}

if (require.main === module) {
    runPlan(process.argv.slice(2), { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) }).then((code) => process.exit(code));
}
