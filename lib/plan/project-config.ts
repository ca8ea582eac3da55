// Pulumi's own rules for a project's declared config (Pulumi.yaml `config:`) against one stack's values,
// as the CLI applies them before `preview`/`up` (sdk/go/common/workspace/config.go, v3.248.0). The offline
// plan and the tests use this one function, so the plan refuses exactly what a real `pulumi preview` refuses.
import { readFileSync } from "fs";
import { parse } from "yaml";

/** One `config:` entry of Pulumi.yaml. */
export interface ProjectConfigEntry {
    readonly type?: "string" | "integer" | "boolean" | "array" | "object";
    readonly description?: string;
    readonly default?: unknown;
    readonly value?: unknown;
    readonly secret?: boolean;
}

export interface ProjectFile {
    readonly name: string;
    readonly config: Readonly<Record<string, ProjectConfigEntry>>;
}

/** A stack value as Pulumi.<stack>.yaml holds it: text, and whether it is stored encrypted (`secure:`). */
export interface StackValue {
    readonly value: string;
    readonly secure: boolean;
}

export interface MergedConfig {
    /** Every value the program sees, stack values first, then project defaults. */
    readonly values: Record<string, StackValue>;
    /** Why `pulumi preview` would stop before running the program (empty when it would run). */
    readonly errors: string[];
    /** Keys in the project's namespace that Pulumi.yaml does not declare: set, but read by nothing. */
    readonly undeclared: string[];
}

export function readProjectFile(path: string): ProjectFile {
    const doc = (parse(readFileSync(path, "utf8")) ?? {}) as { name?: unknown; config?: Record<string, ProjectConfigEntry> };
    return { name: String(doc.name), config: doc.config ?? {} };
}

/** `coinpilot:ocpus` for a namespaced key, `<project>:key` for a bare one, as Pulumi reads Pulumi.yaml. */
export function fullKey(project: ProjectFile, key: string): string {
    return key.includes(":") ? key : `${project.name}:${key}`;
}

/** Pulumi's wording: 'a', 'b' and 'c' (sorted). */
function quoteKeys(keys: string[]): string {
    const quoted = [...keys].sort().map((k) => `'${k}'`);
    return quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

function matchesType(type: NonNullable<ProjectConfigEntry["type"]>, text: string): boolean {
    switch (type) {
        case "string":
            return true;
        case "integer":
            return /^[+-]?\d+$/.test(text);
        case "boolean":
            return text === "true" || text === "false";
        case "array":
            return Array.isArray(tryJson(text));
        case "object":
            return isRecord(tryJson(text));
    }
}

function tryJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

function isRecord(value: unknown): boolean {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** What Pulumi refuses in the project file itself, whatever the stack holds. */
export function projectFileErrors(project: ProjectFile): string[] {
    const errors: string[] = [];
    for (const [key, entry] of Object.entries(project.config)) {
        const namespaced = !key.includes(":") || key.split(":")[0] === project.name;
        if (entry.default !== undefined && entry.value !== undefined) {
            errors.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
        }
        if (!namespaced && (entry.type !== undefined || entry.default !== undefined)) {
            errors.push(`Configuration key '${key}' is not namespaced by the project and should not define a type or default`);
        }
        // A map or list default is YAML structure, compared as the JSON text a stack value would be.
        const text = typeof entry.default === "object" ? JSON.stringify(entry.default) : String(entry.default);
        if (entry.type && entry.default !== undefined && !matchesType(entry.type, text)) {
            errors.push(`The default value specified for configuration key '${key}' is not of the expected type '${entry.type}'`);
        }
    }
    return errors;
}

/**
 * Applies the project's declared config to one stack's values the way the CLI does: a declared key in
 * the project's namespace with neither a stack value nor a default/value is missing (one error naming
 * them all); defaults fill the rest, in clear; then each explicitly typed key is checked, and a typed
 * `secret: true` key must be stored encrypted — which is why an optional secret cannot be typed with
 * a default: its default would be a clear value the same check refuses.
 */
export function mergeProjectConfig(project: ProjectFile, stackName: string, stack: Readonly<Record<string, StackValue>>): MergedConfig {
    const errors = projectFileErrors(project);
    const values: Record<string, StackValue> = { ...stack };
    const declared = new Map(Object.entries(project.config).map(([key, entry]) => [fullKey(project, key), entry]));
    const missing: string[] = [];
    for (const [key, entry] of [...declared].sort(([a], [b]) => a.localeCompare(b))) {
        if (key in values) continue;
        const fallback = entry.default ?? entry.value;
        if (fallback === undefined || fallback === null) {
            if (key.startsWith(`${project.name}:`)) missing.push(key);
            continue;
        }
        values[key] = { value: typeof fallback === "object" ? JSON.stringify(fallback) : String(fallback), secure: false };
    }
    if (missing.length > 0) {
        errors.push(`Stack '${stackName}' is missing configuration value${missing.length > 1 ? "s" : ""} ${quoteKeys(missing)}`);
    } else {
        for (const [key, entry] of [...declared].sort(([a], [b]) => a.localeCompare(b))) {
            const stackValue = values[key];
            if (!entry.type || !stackValue) continue;
            if (entry.secret && !stackValue.secure) {
                errors.push(`Stack '${stackName}' with configuration key '${key}' must be encrypted as it's secret`);
                break;
            }
            if (!stackValue.secure && !matchesType(entry.type, stackValue.value)) {
                errors.push(`Stack '${stackName}' with configuration key '${key}' must be of type '${entry.type}'`);
                break;
            }
        }
    }
    const undeclared = Object.keys(stack)
        .filter((key) => key.startsWith(`${project.name}:`) && !declared.has(key))
        .sort();
    return { values, errors, undeclared };
}
