// The example stack file (Pulumi.prod.yaml), read or written with edits: the tests that run the plan
// or the real CLI against a variant of the example stack all start from it.
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { scratchDir } from "./scratch";
import { parse, stringify } from "yaml";

export const EXAMPLE_CONFIG_FILE = path.resolve(__dirname, "..", "..", "Pulumi.prod.yaml");

/** The example stack's `config:` map. */
export function exampleConfig(): Record<string, unknown> {
    return (parse(readFileSync(EXAMPLE_CONFIG_FILE, "utf8")) as { config: Record<string, unknown> }).config;
}

/**
 * Writes the example stack file with `edit` applied to its config, as `dir/name` (a fresh temporary
 * directory unless one is given; the name matters: the plan takes the stack from `Pulumi.<stack>.yaml`).
 */
export function exampleConfigFile(edit: (config: Record<string, unknown>) => void, at: { dir?: string; name?: string } = {}): string {
    const doc = parse(readFileSync(EXAMPLE_CONFIG_FILE, "utf8"));
    edit(doc.config);
    const file = path.join(at.dir ?? scratchDir("plan"), at.name ?? "Pulumi.test.yaml");
    writeFileSync(file, stringify(doc));
    return file;
}
