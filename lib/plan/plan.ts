// The offline plan: evaluates the real program under the fake cloud and describes the desired state.
// Pure formatting lives here; scripts/plan.ts does the I/O.
import { generateKeyPairSync } from "crypto";
import { readFileSync } from "fs";
import { resolve } from "path";
import { parse } from "yaml";
import { RecordedResource, isSecretEnvelope } from "./mock-cloud";
import { IngressRule, describeRule } from "../rules/ingress";
import { ProjectFile, StackValue, mergeProjectConfig, readProjectFile } from "./project-config";
import { ANY_CHANGE, REPLACE_ON_CHANGES } from "./provider-schema";

export const SECRET_MARK = "[secret]";

export interface PlanResource {
    readonly type: string;
    readonly name: string;
    /** Parent's `type::name`, or null for the stack's direct children. */
    readonly parent: string | null;
    readonly inputs: Record<string, unknown>;
    /** Resource options that change lifecycle (protect, retainOnDelete, dependsOn, hooks ...), when set. */
    readonly options?: Record<string, unknown>;
}

export interface PlanFile {
    /** Where the file lands on the host. */
    readonly path: string;
    /** Which resource ships it. */
    readonly resource: string;
    readonly content: string;
}

export interface Plan {
    readonly stack: string;
    readonly resources: PlanResource[];
    readonly ingress: IngressRule[];
    readonly files: PlanFile[];
    readonly outputs: Record<string, unknown>;
}

/** What the plan substitutes for a `secure:` value, which it cannot decrypt offline. */
export const OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-for-secure-value";

/**
 * A stand-in for an encrypted config value that passes the same validation a real one must:
 * private keys get a throwaway key made for this run (never stored), everything else a marker text.
 */
export function offlineSecret(key: string): string {
    if (/PrivateKey$/.test(key)) {
        return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    }
    return OFFLINE_SECRET_PLACEHOLDER;
}

/** The project file the program and the real CLI read. */
export const PROJECT_FILE = resolve(__dirname, "..", "..", "Pulumi.yaml");

/** `prod` for Pulumi.prod.yaml; other file names give the default stack name. */
export function stackNameOf(path: string, fallback = "prod"): string {
    return /(?:^|[\\/])Pulumi\.([^./\\]+)\.yaml$/.exec(path)?.[1] ?? fallback;
}

/** A stack config file's values as stored: text, and whether each is encrypted (`secure:`). */
export function readStackValues(path: string): Record<string, StackValue> {
    const doc = parse(readFileSync(path, "utf8")) ?? {};
    const config = (doc as { config?: Record<string, unknown> }).config ?? {};
    const values: Record<string, StackValue> = {};
    for (const [key, value] of Object.entries(config)) {
        const secure = value !== null && typeof value === "object" && "secure" in (value as object);
        const text = secure ? String((value as { secure: unknown }).secure) : typeof value === "string" ? value : JSON.stringify(value);
        values[key] = { value: text, secure };
    }
    return values;
}

export interface StackConfig {
    /** Flat `ns:key -> text` map as the engine hands it to the program, defaults applied. */
    readonly config: Record<string, string>;
    /** What stops a real `pulumi preview` before the program runs (Pulumi's own rules). */
    readonly errors: string[];
    /** Keys in the project's namespace that Pulumi.yaml does not declare (misspelt or stale). */
    readonly undeclared: string[];
    /** Keys stored encrypted, which the engine marks secret for the program. */
    readonly secretKeys: string[];
}

/**
 * Reads Pulumi.<stack>.yaml with Pulumi.yaml's declared config applied as the CLI applies it; encrypted
 * values, which cannot be decrypted offline, get stand-ins that pass the same validation.
 */
export function loadStackConfig(path: string, stackName = stackNameOf(path), project: ProjectFile = readProjectFile(PROJECT_FILE)): StackConfig {
    const merged = mergeProjectConfig(project, stackName, readStackValues(path));
    const config: Record<string, string> = {};
    for (const [key, { value, secure }] of Object.entries(merged.values)) config[key] = secure ? offlineSecret(key) : value;
    const secretKeys = Object.keys(merged.values).filter((key) => merged.values[key].secure);
    return { config, errors: merged.errors, undeclared: merged.undeclared, secretKeys };
}

/** A stack file's config as the real CLI accepts it; throws with Pulumi's message otherwise. */
export function readStackConfig(path: string): StackConfig {
    const stack = loadStackConfig(path);
    if (stack.errors.length > 0) throw new Error(stack.errors.join("\n"));
    return stack;
}

/** Replaces secret values with a mark, recursively; unknown fields and assets become readable text. */
export function redact(value: unknown): unknown {
    if (isSecretEnvelope(value)) return SECRET_MARK;
    if (Array.isArray(value)) return value.map(redact);
    if (value !== null && typeof value === "object") {
        const record = value as Record<string, unknown>;
        const asset = assetText(record);
        if (asset !== undefined) return asset;
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redact(v)]));
    }
    return value;
}

const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

/** A Pulumi asset as the engine sees it, described by what it ships. */
function assetText(record: Record<string, unknown>): string | undefined {
    if (record[SIG_KEY] !== ASSET_SIG) return undefined;
    if (typeof record.path === "string") return `asset(file ${record.path})`;
    if (typeof record.text === "string") return `asset(text, ${Buffer.byteLength(record.text)} bytes)`;
    return "asset";
}

/** Text assets shipped to the host, with where they land, so a reviewer reads the rendered files. */
export function shippedFiles(resources: readonly RecordedResource[]): PlanFile[] {
    const files: PlanFile[] = [];
    for (const resource of resources) {
        const source = resource.inputs.source as Record<string, unknown> | undefined;
        const remotePath = resource.inputs.remotePath;
        if (source && source[SIG_KEY] === ASSET_SIG && typeof source.text === "string" && typeof remotePath === "string") {
            files.push({ path: remotePath, resource: resource.name, content: source.text });
        }
    }
    return files;
}

function label(resource: RecordedResource): string {
    return `${resource.type}::${resource.name}`;
}

function lifecycleOptions(resource: RecordedResource, labels: Map<string, string>): Record<string, unknown> | undefined {
    const o = resource.options;
    const options: Record<string, unknown> = {};
    if (o.protect) options.protect = true;
    if (o.deleteBeforeReplace) options.deleteBeforeReplace = true;
    if (o.retainOnDelete) options.retainOnDelete = true;
    if (o.deletedWith) options.deletedWith = labels.get(o.deletedWith) ?? o.deletedWith;
    if (o.dependsOn.length) options.dependsOn = o.dependsOn.map((urn) => labels.get(urn) ?? urn);
    if (o.ignoreChanges.length) options.ignoreChanges = o.ignoreChanges;
    if (o.replaceOnChanges.length) options.replaceOnChanges = o.replaceOnChanges;
    if (o.errorHooks.length) options.errorHooks = o.errorHooks;
    return Object.keys(options).length ? options : undefined;
}

/** The ingress rules as the security lists actually declare them (not as the code intends). */
export function declaredIngress(recorded: readonly RecordedResource[]): IngressRule[] {
    type Declared = { description?: string; protocol: string; source: string; tcpOptions?: { min: number; max: number }; icmpOptions?: { type: number; code?: number } };
    return recorded
        .filter((r) => r.type === "oci:Core/securityList:SecurityList")
        .flatMap((r) => (r.inputs.ingressSecurityRules as Declared[] | undefined) ?? [])
        .map((rule) => ({
            description: rule.description ?? "",
            protocol: rule.protocol,
            source: rule.source,
            ...(rule.tcpOptions ? { tcp: { min: rule.tcpOptions.min, max: rule.tcpOptions.max } } : {}),
            ...(rule.icmpOptions ? { icmp: { type: rule.icmpOptions.type, ...(rule.icmpOptions.code === undefined ? {} : { code: rule.icmpOptions.code }) } } : {}),
        }));
}

export function buildPlan(stack: string, recorded: readonly RecordedResource[], outputs: Record<string, unknown>): Plan {
    const labels = new Map(recorded.map((r) => [r.urn, label(r)]));
    const resources = recorded.map((r): PlanResource => {
        const options = lifecycleOptions(r, labels);
        return {
            type: r.type,
            name: r.name,
            parent: labels.get(r.parent) ?? null,
            inputs: redact(r.inputs) as Record<string, unknown>,
            ...(options ? { options } : {}),
        };
    });
    return { stack, resources, ingress: declaredIngress(recorded), files: shippedFiles(recorded), outputs: redact(outputs) as Record<string, unknown> };
}

/** No line of the text plan is longer than this; longer ones are wrapped (prose) or cut with a marker. */
export const MAX_LINE = 160;

/** A trigger value found on at least this many resources is shown once, by a tag, in the tree. */
export const SHARED_TRIGGER_MIN = 3;

export interface TextPlanOptions {
    /** The host bootstrap steps in run order (components/host.ts formatHostSteps), shown in the summary. */
    readonly hostSteps?: string;
    /** Printed under the title, e.g. where the stack name came from. */
    readonly notes?: readonly string[];
}

/**
 * The human-readable plan. The summary comes first: ingress, host steps, outputs and what a change
 * would replace; then the resource tree with every input (a trigger value shared by many resources
 * shown once, by its tag), then the files shipped to the host.
 */
export function formatPlan(plan: Plan, options: TextPlanOptions = {}): string {
    const lines: string[] = [`Offline plan for stack "${plan.stack}" (evaluated under mocks; no cloud was contacted)`];
    for (const note of options.notes ?? []) lines.push(...wrap(`note: ${note}`, "      "));
    lines.push("", `${plan.resources.length} resources (${countByPackage(plan.resources)}): the summary first, then each resource with its inputs.`);
    lines.push("", "Ingress (security list; everything else is closed):");
    for (const rule of plan.ingress) lines.push(`  ${describeRule(rule)}`);
    if (options.hostSteps) {
        lines.push("");
        // A step's description continues under itself.
        for (const line of options.hostSteps.split("\n")) lines.push(...wrap(line, " ".repeat(/^ *\d+\. \S+ +/.exec(line)?.[0].length ?? 4)));
    }
    lines.push("", "Outputs:");
    for (const [key, value] of Object.entries(plan.outputs)) lines.push(`  ${key}: ${inline(value)}`);
    lines.push("", "What a change would replace (the providers' schemas; npm run plan -- --diff OLD.json shows a real change):");
    lines.push(...replacementSummary(plan.resources));

    const shared = sharedTriggers(plan.resources);
    lines.push("", `Resources (${plan.resources.length}):`);
    if (shared.size) {
        lines.push(`  Trigger values on ${SHARED_TRIGGER_MIN} or more resources, shown below by their tag:`);
        for (const [value, { tag, count }] of shared) lines.push(`    ${tag} (on ${count}) = ${value}`);
    }
    const children = new Map<string | null, PlanResource[]>();
    for (const r of plan.resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const walk = (parent: string | null, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            const indent = "  ".repeat(depth + 1);
            lines.push(`${indent}+ ${r.type}  ${r.name}`);
            for (const [key, value] of Object.entries(r.inputs)) {
                if (key === "__defaults") continue;
                const shown = key === "triggers" && Array.isArray(value) ? tagged(value, shared) : inline(value, `${indent}      `);
                lines.push(`${indent}    ${key}: ${shown}`);
            }
            for (const [key, value] of Object.entries(r.options ?? {})) lines.push(`${indent}    (${key}): ${inline(value)}`);
            walk(`${r.type}::${r.name}`, depth + 1);
        }
    };
    walk(null, 0);
    for (const file of plan.files) {
        lines.push("", `File ${file.path} (shipped by ${file.resource}):`, ...file.content.trimEnd().split("\n").map((l) => `  | ${l}`));
    }
    return lines.join("\n").split("\n").map(cut).join("\n") + "\n";
}

/** "57 command, 16 oci, ...": how many resources each package (or the program's components) has. */
function countByPackage(resources: readonly PlanResource[]): string {
    const counts = new Map<string, number>();
    for (const r of resources) {
        const pkg = r.type.startsWith("pulumi:providers:") ? "provider" : r.type.split(":")[0];
        counts.set(pkg, (counts.get(pkg) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1]).map(([pkg, n]) => `${n} ${pkg === "coinpilot" ? "components" : pkg}`).join(", ");
}

/** Whether `inputs` sets the (dotted) field a replace rule names. */
function sets(inputs: Record<string, unknown>, field: string): boolean {
    let value: unknown = inputs;
    for (const part of field.split(".")) {
        if (value === null || typeof value !== "object" || !(part in value)) return false;
        value = (value as Record<string, unknown>)[part];
    }
    return value !== undefined;
}

/**
 * Per resource type, the inputs whose change makes the provider replace the resource (delete and create
 * again), from lib/plan/provider-schema.ts: only the inputs this program sets. Protected resources are
 * marked, since `pulumi up` stops rather than replace one.
 */
export function replacementSummary(resources: readonly PlanResource[]): string[] {
    const groups = new Map<string, { type: string; fields: string[]; names: string[]; protect: boolean }>();
    for (const r of resources) {
        const rules = REPLACE_ON_CHANGES[r.type];
        if (!rules) continue;
        const fields = rules.includes(ANY_CHANGE) ? ["any input"] : rules.filter((field) => sets(r.inputs, field));
        if (!fields.length) continue;
        const protect = r.options?.protect === true;
        const key = `${r.type} ${fields.join(",")} ${protect}`;
        const group = groups.get(key) ?? { type: r.type, fields, names: [], protect };
        group.names.push(r.name);
        groups.set(key, group);
    }
    // The VM first, then what holds data (protected), then the rest; the host steps last.
    const rank = (g: { type: string; protect: boolean }) => (g.type === "oci:Core/instance:Instance" ? 0 : g.protect ? 1 : g.type.startsWith("command:") ? 3 : 2);
    const lines: string[] = [];
    for (const { type, fields, names, protect } of [...groups.values()].sort((a, b) => rank(a) - rank(b))) {
        const who = names.length <= 2 ? names.join(", ") : `${names.length} of them (${names[0]} ...)`;
        const effect = protect ? "; protected, so pulumi up stops instead" : type.startsWith("command:") ? " (the step runs again)" : "";
        lines.push(...wrap(`  ${type} ${who}: a change of ${fields.join(", ")}${effect}`, "      "));
    }
    if (resources.some((r) => r.type === "oci:Core/instance:Instance")) {
        lines.push(...wrap("  (a new imageId, the instance's sourceDetails.sourceId, is no replacement: the boot volume is swapped in place, wiping the OS disk)", "      "));
    }
    return lines;
}

/** Trigger values (as shown) on at least SHARED_TRIGGER_MIN resources, in order of appearance, each with a tag. */
function sharedTriggers(resources: readonly PlanResource[]): Map<string, { tag: string; count: number }> {
    const counts = new Map<string, number>();
    for (const r of resources) {
        const triggers = r.inputs.triggers;
        if (!Array.isArray(triggers)) continue;
        for (const value of new Set(triggers.map((t) => inline(t)))) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    const shared = new Map<string, { tag: string; count: number }>();
    for (const [value, count] of counts) if (count >= SHARED_TRIGGER_MIN) shared.set(value, { tag: `<t${shared.size + 1}>`, count });
    return shared;
}

/** A triggers list with the shared values replaced by their tags. */
function tagged(triggers: readonly unknown[], shared: ReadonlyMap<string, { tag: string }>): string {
    return `[${triggers.map((t) => shared.get(inline(t))?.tag ?? JSON.stringify(t)).join(", ")}]`;
}

/** Breaks a line of prose at spaces so no part is longer than MAX_LINE; later parts start with `indent`. */
function wrap(line: string, indent: string): string[] {
    const parts: string[] = [];
    let rest = line;
    while (rest.length > MAX_LINE) {
        const at = rest.lastIndexOf(" ", MAX_LINE);
        if (at <= indent.length) break;
        parts.push(rest.slice(0, at).trimEnd());
        rest = indent + rest.slice(at + 1).trimStart();
    }
    return [...parts, rest];
}

/** A line cut to MAX_LINE with a marker saying how much is left out (the JSON plan has it all). */
function cut(line: string): string {
    if (line.length <= MAX_LINE) return line;
    const kept = MAX_LINE - 32;
    return `${line.slice(0, kept)} …[+${line.length - kept} chars, see --json]`;
}

const BLOCK_LINES = 4;

/** One value for the text plan: long values shortened, multi-line text kept inside the tree's indent. */
function inline(value: unknown, indent = "    "): string {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text.includes("\n")) {
        const lines = text.trimEnd().split("\n");
        const shown = lines.slice(0, BLOCK_LINES).map((line) => `${indent}| ${line}`);
        const more = lines.length > BLOCK_LINES ? [`${indent}| ... (${lines.length - BLOCK_LINES} more lines)`] : [];
        return [`(${lines.length} lines)`, ...shown, ...more].join("\n");
    }
    return text;
}
