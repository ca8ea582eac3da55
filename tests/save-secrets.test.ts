// `npm run secrets:save` against a fake `pulumi` that records its calls: every generated secret ends
// up in `pulumi config set --secret` through stdin, and no value is ever printed or put in argv.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { GENERATED_SECRETS, GENERATED_SECRETS_OUTPUT, OVERRIDE_CONFIG_KEYS } from "../lib/host/generated-secrets";
import { configSetCalls } from "../scripts/save-secrets";
import { REPO_ROOT } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

const VALUES = Object.fromEntries(GENERATED_SECRETS.map(({ envKey }, i) => [envKey, `TEST-ONLY-VALUE-${i}-${envKey}`]));

describe("npm run secrets:save", () => {
    let dir: string;
    const log = () => (fs.existsSync(path.join(dir, "calls.log")) ? fs.readFileSync(path.join(dir, "calls.log"), "utf8") : "");

    beforeEach(() => {
        dir = scratchDir("save-secrets");
        // Records each call as "ARGS|STDIN" (one line per call); `stack output` prints $DIR/output.json.
        fs.writeFileSync(
            path.join(dir, "pulumi"),
            `#!/usr/bin/env bash\nif [ "$1 $2" = "stack output" ]; then echo "$*" >>"${dir}/calls.log"; cat "${dir}/output.json"; exit 0; fi\nprintf '%s|%s\\n' "$*" "$(cat)" >>"${dir}/calls.log"\n`,
            { mode: 0o755 },
        );
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const run = (args: string[]) =>
        spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/save-secrets.ts", ...args], {
            cwd: REPO_ROOT,
            encoding: "utf8",
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true", PULUMI_BIN: path.join(dir, "pulumi") },
        });

    it("sets each key as a secret from stdin, passes --stack on, and prints only key names", () => {
        fs.writeFileSync(path.join(dir, "output.json"), JSON.stringify(VALUES, null, 2));
        const result = run(["--stack", "prod"]);
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(result.stdout.trim().split("\n")).toEqual(OVERRIDE_CONFIG_KEYS.map((k) => `saved coinpilot:${k} (secret)`));
        const calls = log().trim().split("\n");
        expect(calls[0]).toBe("stack output generatedSecrets --show-secrets --json --stack prod");
        expect(calls.slice(1)).toEqual(
            GENERATED_SECRETS.map(({ envKey }, i) => `config set --secret coinpilot:${OVERRIDE_CONFIG_KEYS[i]} --stack prod|${VALUES[envKey]}`),
        );
        expect(result.stdout).not.toContain("TEST-ONLY-VALUE");
    });

    it("stops before setting anything when the output lacks a key, naming it and no value", () => {
        const partial = { ...VALUES };
        delete (partial as Record<string, string>).N8N_ENCRYPTION_KEY;
        fs.writeFileSync(path.join(dir, "output.json"), JSON.stringify(partial));
        const result = run([]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/stack output generatedSecrets lacks N8N_ENCRYPTION_KEY; run `pulumi up` first/);
        expect(result.stdout + result.stderr).not.toContain("TEST-ONLY-VALUE");
        expect(log()).not.toContain("config set");
    });

    it("refuses unknown arguments", () => {
        expect(run(["--show"]).status).toBe(2);
        expect(log()).toBe("");
    });
});

describe("configSetCalls", () => {
    it("maps every .env key to its config key with the value on stdin only", () => {
        const calls = configSetCalls(JSON.stringify(VALUES), []);
        expect(calls.map((c) => c.key)).toEqual(OVERRIDE_CONFIG_KEYS.map((k) => `coinpilot:${k}`));
        for (const call of calls) expect(call.args.join(" ")).not.toContain("TEST-ONLY-VALUE");
        expect(calls.map((c) => c.stdin)).toEqual(Object.values(VALUES));
    });

    it.each([["not json"], ["null"], ['"[secret]"'], [JSON.stringify({ ...VALUES, REDIS_PASSWORD: "" })]])("refuses output %s", (text) => {
        expect(() => configSetCalls(text, [])).toThrow(/generatedSecrets/);
    });
});

it("reads an output the program really exports, shown by the plan only as [secret]", () => {
    const plan = spawnSync(process.execPath, ["--require", "ts-node/register/transpile-only", "scripts/plan.ts", "--json"], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    expect(plan.status).toBe(0);
    expect(JSON.parse(plan.stdout).outputs[GENERATED_SECRETS_OUTPUT]).toBe("[secret]");
});
