// lib/host/shell.ts: the one quoting helper behind every remote command line, checked by letting bash
// itself read the quoted words back.
import { spawnSync } from "child_process";
import { shellCommand, shellQuote } from "../lib/host/shell";

/** The words bash sees when it runs `f <quoted words>`, f printing each argument NUL-terminated. */
function bashWords(words: readonly string[]): string[] {
    const result = spawnSync("bash", ["-c", `f() { printf '%s\\0' "$@"; }\n${shellCommand(["f", ...words])}`], { encoding: "utf8", env: { ...process.env, HOME: "/home/should-not-expand" } });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return result.stdout.split("\0").slice(0, -1);
}

describe("shellCommand", () => {
    const TRICKY = [
        "", " ", "it's", "''", "'", "a b", "tab\there", "line\nbreak", "$HOME", "${HOME}", "$(id)", "`id`", "*", "?", "[a]", "~", "~/x",
        "{a,b}", "a=b", "!x", "#comment", "semi;colon", "a|b", "a&b", "<in", ">out", "back\\slash", '"quoted"', "%1", "é ü 한글", "-n", "--",
    ];

    it.each(TRICKY.map((w) => [JSON.stringify(w), w]))("bash reads %s back verbatim", (_label, word) => {
        expect(bashWords([word])).toEqual([word]);
    });

    it("keeps every word separate and in order, all of them at once", () => {
        expect(bashWords(TRICKY)).toEqual(TRICKY);
    });

    it("quotes a leading NAME=value word, so bash runs it instead of taking it as an assignment", () => {
        expect(shellQuote("A=1")).toBe("'A=1'");
        const result = spawnSync("bash", ["-c", `${shellCommand(["A=1", "true"])}; echo "A=\${A-unset}"`], { encoding: "utf8" });
        expect(result.stdout).toBe("A=unset\n");
        expect(result.stderr).toContain("A=1: command not found");
    });

    it("leaves plain paths, URLs, refs and options bare, so plans stay readable", () => {
        const words = ["sudo", "bash", "/home/ubuntu/.coinpilot-bootstrap/checkout-app.sh", "https://github.com/example/coin-pilot.git", "v1.2.3", "user@host:path", "a+b,c", "-m"];
        expect(shellCommand(words)).toBe(words.join(" "));
        expect(bashWords(words)).toEqual(words);
    });

    it("escapes an embedded single quote as '\\''", () => {
        expect(shellQuote("it's")).toBe(`'it'\\''s'`);
        expect(shellQuote("")).toBe("''");
    });
});
