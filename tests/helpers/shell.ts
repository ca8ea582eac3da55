// Reads the defaults shell assets give their variables, so tests can hold them equal to the
// TypeScript constants (one source of truth per path, checked rather than copied).

/** The fallback in `${NAME:-value}` (or `${NAME-value}`) for NAME in a script's text; undefined when absent. */
export function shellDefault(script: string, name: string): string | undefined {
    return script.match(new RegExp(`\\$\\{${name}:?-([^}]*)\\}`))?.[1];
}
