import { ANY_CHANGE, REPLACE_ON_CHANGES } from "./provider-schema";

// Compares two offline plans (`npm run plan -- --json`) the way a reviewer needs: what is added,
// removed or changed, field by field, and which changes destroy something (the instance, its boot
// disk, the data volume, the reserved IP) under a banner that cannot be scrolled past unnoticed.

/** The parts of a plan JSON this diff reads; other keys are ignored. */
export interface DiffablePlan {
    readonly resources: readonly {
        readonly type: string;
        readonly name: string;
        readonly parent: string | null;
        readonly inputs: Record<string, unknown>;
        readonly options?: Record<string, unknown>;
    }[];
    readonly files?: readonly { readonly path: string; readonly content: string }[];
}

export interface FieldChange {
    /** Dotted path: `inputs.metadata.ssh_authorized_keys`, `options.protect`, `parent`. */
    readonly path: string;
    readonly before: unknown;
    readonly after: unknown;
}

export interface ResourceChange {
    readonly kind: "added" | "removed" | "changed";
    readonly type: string;
    readonly name: string;
    readonly fields: FieldChange[];
    /** The changed inputs that make the provider replace it (delete and create again), if any. */
    readonly replacedBy?: string[];
}

/** A change that destroys state: listed in the banner. */
export interface Destructive {
    readonly resource: string;
    readonly reason: string;
}

export interface PlanDiff {
    readonly resources: ResourceChange[];
    readonly files: { readonly path: string; readonly kind: "added" | "removed" | "changed" }[];
    readonly destructive: Destructive[];
    /** In-place changes that restart the VM; worth a line, not a banner. */
    readonly reboots: Destructive[];
}

const INSTANCE = "oci:Core/instance:Instance";
const VOLUME = "oci:Core/volume:Volume";
const PUBLIC_IP = "oci:Core/publicIp:PublicIp";

/**
 * Input paths whose change the OCI provider cannot apply in place (or applies by wiping a disk).
 * Sources: the provider marks `user_data`/`ssh_authorized_keys` immutable (forces a new instance since
 * terraform-provider-oci 3.10); the availability domain is part of an instance's and a volume's
 * identity; the provider marks neither the primary VNIC's subnet nor a public IP's lifetime updatable;
 * a new `sourceDetails.sourceId` is applied as a boot volume replacement.
 */
const DESTRUCTIVE_INPUTS: Readonly<Record<string, readonly { path: string; effect: string }[]>> = {
    [INSTANCE]: [
        { path: "inputs.availabilityDomain", effect: "REPLACES the instance (new VM, new boot volume, new private IP)" },
        { path: "inputs.metadata.ssh_authorized_keys", effect: "REPLACES the instance (ssh_authorized_keys is immutable)" },
        { path: "inputs.metadata.user_data", effect: "REPLACES the instance (user_data is immutable)" },
        { path: "inputs.createVnicDetails.subnetId", effect: "REPLACES the instance (the primary VNIC cannot change subnet)" },
        { path: "inputs.sourceDetails.sourceId", effect: "REPLACES the boot volume: everything on the OS disk is wiped" },
    ],
    [VOLUME]: [{ path: "inputs.availabilityDomain", effect: "REPLACES the data volume: the data on it is lost" }],
    [PUBLIC_IP]: [{ path: "inputs.lifetime", effect: "REPLACES the public IP: the address changes" }],
};

/** In-place instance updates that reboot the VM (OCI restarts an instance to change its shape). */
const REBOOTING_INPUTS: Readonly<Record<string, readonly string[]>> = {
    [INSTANCE]: ["inputs.shape", "inputs.shapeConfig"],
};

/** Resources whose removal loses something that a recreate cannot bring back as it was. */
const PRECIOUS_ON_REMOVAL: Readonly<Record<string, string>> = {
    [INSTANCE]: "DESTROYS the instance and its boot volume",
    [VOLUME]: "DELETES the data volume (unless retainOnDelete is still in effect)",
    [PUBLIC_IP]: "RELEASES the public IP: the address is gone for good",
};

/** Validates the shape of a parsed plan JSON; `source` names the file in errors. */
/** A file given as a saved plan is not one. */
export class PlanFileError extends Error {}

export function parsePlan(text: string, source: string): DiffablePlan {
    let value: unknown;
    // `npm run plan -- --json > file` puts npm's "> coinpilot-infra@… plan" banner above the JSON: skip it.
    const start = text.search(/^\{/m);
    try {
        value = JSON.parse(start > 0 ? text.slice(start) : text);
    } catch (err) {
        throw new PlanFileError(`${source} is not JSON (${(err as Error).message}); save a plan with: npm run plan -- --out <file>`);
    }
    const resources = (value as { resources?: unknown })?.resources;
    if (!Array.isArray(resources)) throw new PlanFileError(`${source} has no "resources" array: it is not a saved plan; save one with: npm run plan -- --out <file>`);
    resources.forEach((r, i) => {
        const ok = r && typeof r.type === "string" && typeof r.name === "string" && r.inputs && typeof r.inputs === "object";
        if (!ok) throw new PlanFileError(`${source}: resources[${i}] needs string "type" and "name" and an "inputs" object`);
    });
    return value as DiffablePlan;
}

function key(r: { type: string; name: string }): string {
    return `${r.type}::${r.name}`;
}

/** Flattens nested objects/arrays into `path -> leaf`; an empty object or array is a leaf. */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
    const entries = Array.isArray(value)
        ? value.map((v, i) => [String(i), v] as const)
        : value !== null && typeof value === "object"
          ? Object.entries(value as Record<string, unknown>)
          : undefined;
    if (entries === undefined || entries.length === 0) {
        out.set(prefix, value);
        return out;
    }
    for (const [k, v] of entries) {
        // Pulumi's bookkeeping of which inputs were defaulted is not a reviewable change.
        if (k === "__defaults") continue;
        flatten(v, prefix ? `${prefix}.${k}` : k, out);
    }
    return out;
}

function fieldChanges(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange[] {
    const a = flatten(before, "", new Map());
    const b = flatten(after, "", new Map());
    const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
    return paths
        .filter((p) => JSON.stringify(a.get(p)) !== JSON.stringify(b.get(p)))
        .map((p) => ({ path: p, before: a.get(p), after: b.get(p) }));
}

function comparable(r: DiffablePlan["resources"][number]): Record<string, unknown> {
    return { parent: r.parent, inputs: r.inputs, options: r.options ?? {} };
}

function touches(fields: readonly FieldChange[], path: string): boolean {
    return fields.some((f) => f.path === path || f.path.startsWith(`${path}.`));
}

export function diffPlans(before: DiffablePlan, after: DiffablePlan): PlanDiff {
    const old = new Map(before.resources.map((r) => [key(r), r]));
    const now = new Map(after.resources.map((r) => [key(r), r]));
    const resources: ResourceChange[] = [];
    const destructive: Destructive[] = [];
    const reboots: Destructive[] = [];

    for (const [k, r] of old) {
        if (now.has(k)) continue;
        resources.push({ kind: "removed", type: r.type, name: r.name, fields: [] });
        const loss = PRECIOUS_ON_REMOVAL[r.type];
        if (loss) destructive.push({ resource: k, reason: `removed from the program: ${loss}` });
    }
    for (const [k, r] of now) {
        const previous = old.get(k);
        if (!previous) {
            resources.push({ kind: "added", type: r.type, name: r.name, fields: [] });
            continue;
        }
        const fields = fieldChanges(comparable(previous), comparable(r));
        if (fields.length === 0) continue;
        const replacedBy = replacingInputs(r.type, fields);
        resources.push({ kind: "changed", type: r.type, name: r.name, fields, ...(replacedBy.length ? { replacedBy } : {}) });
        for (const rule of DESTRUCTIVE_INPUTS[r.type] ?? []) {
            if (touches(fields, rule.path)) destructive.push({ resource: k, reason: `${rule.path.slice("inputs.".length)} changed: ${rule.effect}` });
        }
        if (touches(fields, "parent") && PRECIOUS_ON_REMOVAL[r.type]) {
            destructive.push({ resource: k, reason: `parent changed, so its URN changes: Pulumi deletes and recreates it unless an alias is added` });
        }
        if (previous.options?.protect === true && r.options?.protect !== true) {
            destructive.push({ resource: k, reason: "protect was removed: a later destroy or replacement is no longer blocked" });
        }
        const rebooting = (REBOOTING_INPUTS[r.type] ?? []).filter((p) => touches(fields, p));
        if (rebooting.length) reboots.push({ resource: k, reason: `${rebooting.map((p) => p.slice("inputs.".length)).join(", ")} changed: updated in place, the VM reboots` });
    }

    const oldFiles = new Map((before.files ?? []).map((f) => [f.path, f.content]));
    const newFiles = new Map((after.files ?? []).map((f) => [f.path, f.content]));
    const files: PlanDiff["files"][number][] = [];
    for (const path of [...new Set([...oldFiles.keys(), ...newFiles.keys()])].sort()) {
        if (!newFiles.has(path)) files.push({ path, kind: "removed" });
        else if (!oldFiles.has(path)) files.push({ path, kind: "added" });
        else if (oldFiles.get(path) !== newFiles.get(path)) files.push({ path, kind: "changed" });
    }

    const order = { removed: 0, changed: 1, added: 2 } as const;
    resources.sort((x, y) => order[x.kind] - order[y.kind] || key(x).localeCompare(key(y)));
    return { resources, files, destructive, reboots };
}

/** The provider schema's replace rules (lib/plan/provider-schema.ts) that the changed fields hit. */
export function replacingInputs(type: string, fields: readonly FieldChange[]): string[] {
    const rules = REPLACE_ON_CHANGES[type] ?? [];
    const inputs = fields.filter((f) => f.path.startsWith("inputs."));
    if (rules.includes(ANY_CHANGE)) return inputs.length ? [...new Set(inputs.map((f) => f.path.split(".")[1]))].sort() : [];
    return rules.filter((rule) => inputs.some((f) => f.path === `inputs.${rule}` || f.path.startsWith(`inputs.${rule}.`)));
}

const MAX_VALUE = 100;
/** Characters of context kept before the first difference of two long strings. */
const CONTEXT = 40;

/** A change of one value: long strings that differ are shown around their first difference. */
export function showChange(before: unknown, after: unknown): string {
    if (typeof before === "string" && typeof after === "string" && (before.length > MAX_VALUE - 2 || after.length > MAX_VALUE - 2)) {
        let at = 0;
        while (at < before.length && before[at] === after[at]) at++;
        const window = (text: string) => {
            const start = Math.max(0, at - CONTEXT);
            const part = text.slice(start, start + MAX_VALUE - 20);
            return `"${start > 0 ? "…" : ""}${part}${start + part.length < text.length ? "…" : ""}" (${text.length} chars)`;
        };
        return `${window(before)} -> ${window(after)}`;
    }
    return `${showValue(before)} -> ${showValue(after)}`;
}

/** One value on one line; long ones (user_data, keys) are cut so the diff stays readable. */
export function showValue(value: unknown): string {
    if (value === undefined) return "(unset)";
    const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
    return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 20)}… (${text.length} chars)` : text;
}

const BANNER_WIDTH = 78;

function banner(title: string): string[] {
    const bar = "!".repeat(BANNER_WIDTH);
    const pad = Math.max(0, BANNER_WIDTH - 8 - title.length);
    const left = Math.floor(pad / 2);
    return [bar, `!!! ${" ".repeat(left)}${title}${" ".repeat(pad - left)} !!!`, bar];
}

/** The human-readable diff. Destructive changes get a banner at the top and again at the bottom. */
export function formatPlanDiff(diff: PlanDiff, labels: { before: string; after: string }): string {
    const lines: string[] = [];
    const count = diff.destructive.length;
    const warning: string[] = [];
    if (count > 0) {
        warning.push(...banner(`DESTRUCTIVE: ${count} change${count === 1 ? "" : "s"} replace or delete something`));
        for (const d of diff.destructive) warning.push(`!!! ${d.resource}`, `!!!     ${d.reason}`);
        warning.push("!".repeat(BANNER_WIDTH), "");
        lines.push(...warning);
    }
    lines.push(`Plan diff: ${labels.before} -> ${labels.after}`);
    if (diff.resources.length === 0 && diff.files.length === 0) {
        lines.push("No changes.");
    }
    const mark = { added: "+", removed: "-", changed: "~" } as const;
    for (const r of diff.resources) {
        const replaced = r.replacedBy !== undefined;
        const why = replaced ? `  (replaced: ${r.replacedBy!.join(", ")} changed)` : "";
        lines.push(`  ${replaced ? "±" : mark[r.kind]} ${replaced ? "replace" : r.kind.padEnd(7)} ${r.type}  ${r.name}${why}`);
        for (const f of r.fields) lines.push(`        ${f.path}: ${showChange(f.before, f.after)}`);
    }
    if (diff.files.length) {
        lines.push("", "Files shipped to the host:");
        for (const f of diff.files) lines.push(`  ${mark[f.kind]} ${f.kind.padEnd(7)} ${f.path}`);
    }
    if (diff.reboots.length) {
        lines.push("", "Reboots (in place):");
        for (const r of diff.reboots) lines.push(`  ${r.resource}: ${r.reason}`);
    }
    const replaced = diff.resources.filter((r) => r.replacedBy !== undefined);
    if (count > 0) lines.push("", ...warning);
    else if (replaced.length > 0) lines.push("", `Replaced (created again; nothing that holds data): ${replaced.map((r) => r.name).join(", ")}.`);
    else lines.push("", "Nothing is replaced or deleted.");
    return `${lines.join("\n")}\n`;
}
