// What the program needs from the Pulumi CLI a user runs it with.

/**
 * The oldest CLI whose engine accepts the capacity hunt's error hook. @pulumi/pulumi asks the engine
 * for the `errorHooks` feature and refuses the hook without it ("The Pulumi CLI does not support error
 * hooks"); the engine (pkg/v3, resource/deploy/source_eval.go) reports it from v3.217.1 on and not in
 * v3.215.0 (v3.216.x and v3.217.0 are not on the Go module proxy to check).
 */
export const MIN_PULUMI_CLI = "3.217.1";

/** `3.248.0` > `3.217.1`: plain numeric comparison of dotted versions (a leading `v` is ignored). */
export function atLeast(version: string, minimum: string): boolean {
    const parts = (v: string) => v.replace(/^v/, "").split(".").map((n) => Number.parseInt(n, 10));
    const [a, b] = [parts(version), parts(minimum)];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    }
    return true;
}
