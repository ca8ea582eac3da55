// Tiny template rendering for files shipped to the host: `{{key}}` placeholders only, no logic.
// Strict both ways so a typo in a template or in the caller fails the program, not the host.

const PLACEHOLDER = /\{\{([A-Za-z][A-Za-z0-9_]*)\}\}/g;

/**
 * Replaces every `{{key}}` in `template` with `values[key]`.
 * Throws when a placeholder has no value, when a value is never used, or when the template
 * holds a `{{` that is not a well-formed placeholder (e.g. `{{ appDir }}`).
 * `name` only labels the error messages.
 */
export function render(template: string, values: Readonly<Record<string, string>>, name = "template"): string {
    const missing = new Set<string>();
    const used = new Set<string>();
    const rendered = template.replace(PLACEHOLDER, (_match, key: string) => {
        if (!Object.prototype.hasOwnProperty.call(values, key)) {
            missing.add(key);
            return "";
        }
        used.add(key);
        return values[key];
    });
    const problems: string[] = [];
    if (missing.size) problems.push(`no value for ${[...missing].map((k) => `{{${k}}}`).join(", ")}`);
    const unused = Object.keys(values).filter((k) => !used.has(k));
    if (unused.length) problems.push(`values never used: ${unused.join(", ")}`);
    const malformed = template.replace(PLACEHOLDER, "").match(/\{\{[^\n]{0,30}/g);
    if (malformed) problems.push(`malformed placeholder ${malformed.map((m) => JSON.stringify(m)).join(", ")} (write {{key}}, no spaces)`);
    if (problems.length) throw new Error(`render ${name}: ${problems.join("; ")}`);
    return rendered;
}
