// Shared Pulumi mock setup. Import this FIRST in a test file: it installs the fake cloud with the
// example stack config (Pulumi.prod.yaml) before any program or component module is loaded.
import * as path from "path";
import { MockCloudOptions, RecordedResource, installMockCloud, isSecretEnvelope, resolveOutput, settle as settleCloud } from "../lib/plan/mock-cloud";
import { readStackConfig } from "../lib/plan/plan";

export const ROOT = path.resolve(__dirname, "..");
const EXAMPLE_STACK = readStackConfig(path.join(ROOT, "Pulumi.prod.yaml"));
export const EXAMPLE_CONFIG: Readonly<Record<string, string>> = EXAMPLE_STACK.config;
/** Keys the example stack stores encrypted: the program sees them as secrets. */
export const EXAMPLE_SECRET_KEYS: readonly string[] = EXAMPLE_STACK.secretKeys;

/** Every resource registered since the last reset, in registration order. */
export const created: RecordedResource[] = [];
let cloud = installMockCloud({ ...EXAMPLE_CONFIG }, { record: created }, undefined, undefined, EXAMPLE_SECRET_KEYS);

/** Re-installs the fake cloud with config overrides (`coinpilot:key` -> text; undefined removes a key). */
export function useConfig(overrides: Record<string, string | undefined>, options: MockCloudOptions = {}): void {
    const config: Record<string, string> = { ...EXAMPLE_CONFIG };
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete config[key];
        else config[key] = value;
    }
    resetCreated();
    // A secret key a test sets stands for one set with --secret, as a user would store it.
    const { SECRET_KEYS } = require("../config") as typeof import("../config");
    const overriddenSecrets = SECRET_KEYS.map((key) => `coinpilot:${key}`).filter((key) => overrides[key] !== undefined);
    cloud = installMockCloud(config, { ...options, record: created }, undefined, undefined, [...EXAMPLE_SECRET_KEYS, ...overriddenSecrets]);
}

export function resetCreated(): void {
    created.length = 0;
}

/** Waits until every pending registration has reached the fake engine. */
export function settle(): Promise<void> {
    return settleCloud(cloud);
}

export function invokes(): readonly { token: string; inputs: Record<string, unknown> }[] {
    return cloud.invokes;
}

export function byType(type: string): RecordedResource[] {
    return created.filter((r) => r.type === type);
}

export function byName(name: string): RecordedResource {
    const found = created.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}; have: ${created.map((r) => r.name).join(", ")}`);
    return found;
}

/** The recorded parent of a resource, or undefined for a stack-level resource. */
export function parentOf(resource: RecordedResource): RecordedResource | undefined {
    return created.find((r) => r.urn === resource.parent);
}

/** Every string reachable in `value` outside a secret envelope: what the engine would log in clear. */
export function plainStrings(value: unknown): string[] {
    if (isSecretEnvelope(value)) return [];
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(plainStrings);
    if (value && typeof value === "object") return Object.values(value).flatMap(plainStrings);
    return [];
}

export { isSecretEnvelope, resolveOutput as resolve };
