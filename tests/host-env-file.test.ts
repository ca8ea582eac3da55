// The .env text: every value reads back identically through bash (`set -a; source`, as scripts do)
// and through the runbooks' `grep | cut -d= -f2-` for bare values; unsafe input is refused.
import { spawnSync } from "child_process";
import { PROGRAM_ENV_KEYS, buildEnvFile, envLine } from "../lib/host/env-file";
import { GENERATED_SECRETS } from "../lib/host/generated-secrets";

/** Sources the file in bash and prints each requested variable NUL-terminated. */
function sourceInBash(text: string, keys: string[]): Record<string, string> {
    const script = `set -a; source /dev/stdin <<'__ENV__'\n${text}__ENV__\nfor k in ${keys.join(" ")}; do printf '%s\\0' "\${!k}"; done`;
    const result = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    const values = result.stdout.split("\0").slice(0, keys.length);
    return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
}

describe("buildEnvFile", () => {
    const values = {
        POSTGRES_USER: "coinpilot",
        POSTGRES_PASSWORD: "Abc123xyz",
        DISCORD_URL: "https://discord.com/api/webhooks/1/abc-def_g",
        OPENAI_API_KEY: "sk-proj-$HOME#not a comment",
        SPACED: "two words",
        JSONISH: '{"a": "b"}',
        EMPTY: "",
    };

    it("writes a header and one line per value, in order, quoting only what needs it", () => {
        expect(buildEnvFile(values).split("\n")).toEqual([
            expect.stringMatching(/^# Managed by coinpilot-infra/),
            "POSTGRES_USER=coinpilot",
            "POSTGRES_PASSWORD=Abc123xyz",
            "DISCORD_URL=https://discord.com/api/webhooks/1/abc-def_g",
            "OPENAI_API_KEY='sk-proj-$HOME#not a comment'",
            "SPACED='two words'",
            `JSONISH='{"a": "b"}'`,
            "EMPTY=",
            "",
        ]);
    });

    it("reads back identically in bash: no expansion, no comment stripping", () => {
        expect(sourceInBash(buildEnvFile(values), Object.keys(values))).toEqual(values);
    });

    it("keeps bare values readable with the runbooks' grep | cut -d= -f2-", () => {
        const result = spawnSync("bash", ["-c", "grep '^DISCORD_URL=' | cut -d= -f2-"], { input: buildEnvFile(values), encoding: "utf8" });
        expect(result.stdout.trim()).toBe(values.DISCORD_URL);
    });

    it.each([
        ["a line break", "KEY", "abc\nINJECTED=1", /line break/],
        ["a trailing newline from a pasted secret", "KEY", "abc\n", /line break/],
        ["a carriage return", "KEY", "abc\r", /line break/],
        ["a single quote", "KEY", "it's", /contains ' or \\/],
        ["a backslash", "KEY", "a\\b c", /contains ' or \\/],
        ["a bad name", "1KEY", "x", /invalid variable name "1KEY"/],
        ["a name with a dash", "MY-KEY", "x", /invalid variable name/],
    ])("refuses %s", (_label, key, value, message) => {
        expect(() => envLine(key, value)).toThrow(message);
        expect(() => buildEnvFile({ OK: "1", [key]: value })).toThrow(message);
    });

    it("names the variable, never the value, in its errors", () => {
        expect(() => envLine("UPBIT_SECRET_KEY", "s3cr3t\n")).toThrow(/UPBIT_SECRET_KEY/);
        expect(() => envLine("UPBIT_SECRET_KEY", "s3cr3t\n")).not.toThrow(/s3cr3t/);
    });
});

describe("PROGRAM_ENV_KEYS", () => {
    it("is what the program writes itself: the generated secrets and the keys of their own config", () => {
        for (const { envKey } of GENERATED_SECRETS) expect(PROGRAM_ENV_KEYS).toContain(envKey);
        expect(PROGRAM_ENV_KEYS).toEqual(expect.arrayContaining(["POSTGRES_USER", "POSTGRES_DB", "UPBIT_ACCESS_KEY", "UPBIT_SECRET_KEY", "OPENAI_API_KEY"]));
    });
});
