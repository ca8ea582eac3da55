// Stand-in resource providers for the real Pulumi engine. The Go module proxy here serves the Pulumi
// CLI but not pulumi-oci, pulumi-command, pulumi-random nor terraform-provider-oci, so the engine loads
// these instead (engine/bin/pulumi-resource-<pkg>). They speak the real provider gRPC protocol through
// @pulumi/pulumi's provider server; what they decide is only what a provider decides: which changed
// inputs replace a resource (from the real providers' schemas, engine/standin/schema.ts), the ids and
// computed outputs of a create, and that a data-source invoke would need the cloud's API.
import { createHash, randomBytes } from "crypto";
import * as provider from "@pulumi/pulumi/provider";
import { ociApiUrl, ociCreate, ociDelete, ociRead, ociUpdate } from "./oci-api";
import { COMMAND, COPY_TO_REMOTE, copyToRemote, environmentOf, previousOutputEnv, runRemote, sshEnabled } from "./remote";
import { ANY_CHANGE, COMPUTED_OUTPUTS, PackageName, REPLACE_ON_CHANGES } from "../../lib/plan/provider-schema";

/** What the stand-in remembers between calls of one process: a counter for unique ids. */
let created = 0;

/** Type token from a URN: `urn:pulumi:stack::project::parent$type::name` → `type`. */
export function typeOf(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop() ?? "";
}

function nameOf(urn: string): string {
    return urn.split("::")[3] ?? "";
}

function sameValue(a: unknown, b: unknown): boolean {
    return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Key order does not make a change: compare objects with sorted keys. */
function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value as object)
                .sort()
                .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

/** Top-level inputs whose value differs between the old and new inputs (absent counts as a value). */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
    const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...keys].filter((k) => !k.startsWith("__") && !sameValue(olds[k], news[k])).sort();
}

/** Which of the changed inputs force a replacement of this resource type (top-level or `block.field`). */
export function replacedKeys(type: string, olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
    const rules = REPLACE_ON_CHANGES[type] ?? [];
    if (rules.includes(ANY_CHANGE)) return changedKeys(olds, news);
    const replaces: string[] = [];
    for (const rule of rules) {
        const [top, nested] = rule.split(".");
        const before = olds[top];
        const after = news[top];
        if (nested === undefined ? !sameValue(before, after) : !sameValue(field(before, nested), field(after, nested))) {
            replaces.push(top);
        }
    }
    return [...new Set(replaces)].sort();
}

function field(value: unknown, name: string): unknown {
    const record = Array.isArray(value) ? value[0] : value;
    return record !== null && typeof record === "object" ? (record as Record<string, unknown>)[name] : undefined;
}

/** An id shaped like the real one: an OCID for OCI resources, a plain token otherwise. */
export function standinId(pkg: PackageName, type: string, urn: string): string {
    created += 1;
    const digest = createHash("sha256").update(`${urn}#${created}#${process.pid}`).digest("hex").slice(0, 24);
    if (pkg === "oci") {
        const kind = (type.split("/")[1] ?? "resource").split(":")[0].toLowerCase();
        return `ocid1.${kind}.oc1..standin${digest}`;
    }
    return `${nameOf(urn)}-${digest.slice(0, 8)}`;
}

/** Outputs a create adds to the inputs (computed by the provider, never set by the program). */
export function outputOnlyKeys(type: string): string[] {
    return [...Object.keys(COMPUTED_OUTPUTS[type] ?? {}), ...(type === RANDOM_PASSWORD ? ["result"] : [])];
}

const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";

/** Pulumi's wire value for "not known until the resource exists". */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** What a preview of a create shows: the inputs, with every computed output unknown. */
export function previewOutputs(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
    return { ...inputs, ...Object.fromEntries(outputOnlyKeys(type).map((k) => [k, UNKNOWN])) };
}

/** The outputs a create returns: the inputs, plus the type's computed outputs. */
export function createdOutputs(pkg: PackageName, type: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const outs: Record<string, unknown> = { ...inputs, ...(COMPUTED_OUTPUTS[type] ?? {}) };
    if (pkg === "random" && type === RANDOM_PASSWORD) {
        const length = typeof inputs.length === "number" ? inputs.length : 16;
        outs.result = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: randomPassword(length, inputs.special !== false) };
    }
    return outs;
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** terraform-provider-random's default special characters. */
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** Like random_password: letters and digits, plus its special characters unless `special: false`. */
function randomPassword(length: number, special: boolean): string {
    const alphabet = special ? ALPHANUMERIC + SPECIAL : ALPHANUMERIC;
    return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join("");
}

export function standinProvider(pkg: PackageName, version: string): provider.Provider {
    return {
        version,
        async check(_urn, _olds, news) {
            return { inputs: news };
        },
        async diff(_id, urn, olds, news) {
            // The engine hands over the old outputs; what the create added is not an input that changed.
            const type = typeOf(urn);
            const oldInputs = omit(olds, outputOnlyKeys(type));
            const changes = changedKeys(oldInputs, news);
            return { changes: changes.length > 0, replaces: replacedKeys(type, oldInputs, news) };
        },
        async create(urn, inputs) {
            const type = typeOf(urn);
            const outs = createdOutputs(pkg, type, inputs);
            if (pkg === "command" && sshEnabled()) Object.assign(outs, await applyRemote(urn, "create", plain(inputs), {}));
            // The e2e tier's control plane: the OCID and what the provider reads back (state, addresses).
            if (pkg === "oci" && ociApiUrl()) {
                const created = await ociCreate(type, plain(inputs));
                // Only the outputs the type's schema computes (lib/plan/provider-schema.ts): any other
                // key would read as a changed input on the next diff.
                return { id: created.id, outs: { ...outs, ...pick(created.outputs, outputOnlyKeys(type)) } };
            }
            return { id: standinId(pkg, type, urn), outs };
        },
        async read(id, urn, props) {
            // The e2e tier's control plane holds the resource (`pulumi import` reads it from there);
            // otherwise the engine's state is the only record.
            if (pkg === "oci" && ociApiUrl()) {
                const type = typeOf(urn);
                const found = await ociRead(type, id);
                if (!found) return { id: "", props: {} };
                // As the bridge does from the schema: what the type computes is an output, never an input.
                const inputs = omit(found.inputs, outputOnlyKeys(type));
                return { id, props: { ...inputs, ...pick({ ...found.inputs, ...found.outputs }, outputOnlyKeys(type)) }, inputs };
            }
            return { id, props };
        },
        async update(id, urn, olds, news) {
            const type = typeOf(urn);
            const outs = { ...createdOutputs(pkg, type, news), ...pick(olds, outputOnlyKeys(type)) };
            if (pkg === "command" && sshEnabled()) Object.assign(outs, await applyRemote(urn, "update", plain(news), plain(olds)));
            if (pkg === "oci" && ociApiUrl()) await ociUpdate(type, id, plain(news));
            return { outs };
        },
        async delete(id, urn, props) {
            // Only the e2e tier acts on something; otherwise the engine's state is the only record.
            if (pkg === "command" && sshEnabled()) await applyRemote(urn, "delete", plain(props), plain(props));
            if (pkg === "oci" && ociApiUrl()) await ociDelete(typeOf(urn), id);
        },
        async invoke(token) {
            throw new Error(`${token} reads the cloud's API (data source); the stand-in ${pkg} provider has none offline. Give the value in config instead.`);
        },
    };
}

/** The inputs with Pulumi's secret wrappers removed: what the remote step actually sends. */
function plain(value: unknown): Record<string, unknown> {
    return unwrap(value) as Record<string, unknown>;
}

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function unwrap(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrap);
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, unknown>;
    if (record[SIG] === SECRET_SIG) return unwrap(record.value);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrap(v)]));
}

/**
 * A remote step's work over SSH (engine/standin/remote.ts): what it returns joins the outputs. A
 * Command's create runs `create`; an update runs `update`, else `create`; a delete runs `delete`.
 */
async function applyRemote(urn: string, phase: "create" | "update" | "delete", inputs: Record<string, unknown>, olds: Record<string, unknown>): Promise<Record<string, unknown>> {
    const type = typeOf(urn);
    if (type === COPY_TO_REMOTE) {
        if (phase !== "delete") await copyToRemote(urn, inputs);
        return {};
    }
    if (type !== COMMAND) return {};
    const command = phase === "create" ? inputs.create : phase === "update" ? (inputs.update ?? inputs.create) : inputs.delete;
    if (typeof command !== "string" || command === "") return {};
    const env = { ...environmentOf(inputs), ...(phase === "create" ? {} : previousOutputEnv(inputs, olds)) };
    return runRemote(urn, phase, inputs, command, env);
}

function pick(record: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(keys.filter((k) => k in record).map((k) => [k, record[k]]));
}

function omit(record: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    return Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));
}
