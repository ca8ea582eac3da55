// The offline plan: evaluates the real program under the fake cloud and describes the desired state.
// Pure formatting lives here; scripts/plan.ts does the I/O.
import { generateKeyPairSync } from "crypto";
import { readFileSync } from "fs";
import { resolve } from "path";
import { parse } from "yaml";
import { RecordedResource, isSecretEnvelope } from "./mock-cloud";
import { IngressRule, describeRule } from "../rules/ingress";
import { ProjectFile, StackValue, mergeProjectConfig, readProjectFile } from "./project-config";

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

/** The human-readable plan: a resource tree with key inputs, the ingress table, shipped files, outputs. */
export function formatPlan(plan: Plan): string {
    const lines: string[] = [`Offline plan for stack "${plan.stack}" (evaluated under mocks; no cloud was contacted)`, ""];
    lines.push(`Resources (${plan.resources.length}):`);
    const children = new Map<string | null, PlanResource[]>();
    for (const r of plan.resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    const walk = (parent: string | null, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            const indent = "  ".repeat(depth + 1);
            lines.push(`${indent}+ ${r.type}  ${r.name}`);
            for (const [key, value] of Object.entries(r.inputs)) {
                if (key === "__defaults") continue;
                lines.push(`${indent}    ${key}: ${inline(value, `${indent}      `)}`);
            }
            for (const [key, value] of Object.entries(r.options ?? {})) lines.push(`${indent}    (${key}): ${inline(value)}`);
            walk(`${r.type}::${r.name}`, depth + 1);
        }
    };
    walk(null, 0);
    lines.push("", "Ingress (security list; everything else is closed):");
    for (const rule of plan.ingress) lines.push(`  ${describeRule(rule)}`);
    for (const file of plan.files) {
        lines.push("", `File ${file.path} (shipped by ${file.resource}):`, ...file.content.trimEnd().split("\n").map((l) => `  | ${l}`));
    }
    lines.push("", "Outputs:");
    for (const [key, value] of Object.entries(plan.outputs)) lines.push(`  ${key}: ${inline(value)}`);
    return lines.join("\n") + "\n";
}

const BLOCK_LINES = 4;

/** One value for the text plan: long values shortened, multi-line text kept inside the tree's indent. */
function inline(value: unknown, indent = "    "): string {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text.includes("\n")) {
        const lines = text.trimEnd().split("\n");
        const shown = lines.slice(0, BLOCK_LINES).map((line) => `${indent}| ${line.length > 200 ? `${line.slice(0, 197)}...` : line}`);
        const more = lines.length > BLOCK_LINES ? [`${indent}| ... (${lines.length - BLOCK_LINES} more lines)`] : [];
        return [`(${lines.length} lines)`, ...shown, ...more].join("\n");
    }
    return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
