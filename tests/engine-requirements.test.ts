// The CLI version the README asks WSL users for is the one the SDK's error-hook requirement implies,
// and the pinned CLI the engine tests run meets it.
import { readFileSync } from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MIN_PULUMI_CLI, atLeast } from "../lib/plan/engine";

const ROOT = path.resolve(__dirname, "..");

describe("the Pulumi CLI the program needs", () => {
    it("is stated in the README as the minimum, next to the pinned version the tests run", () => {
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        const pinned = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
        expect(readme).toContain(`Pulumi CLI v${MIN_PULUMI_CLI} or newer`);
        expect(readme).toContain(`v${pinned}`);
        expect(atLeast(pinned, MIN_PULUMI_CLI)).toBe(true);
    });

    it("is needed because the SDK refuses an error hook when the engine lacks the feature", async () => {
        const store = require("@pulumi/pulumi/runtime/state").getStore() as { supportsErrorHooks: boolean };
        const saved = store.supportsErrorHooks;
        store.supportsErrorHooks = false;
        try {
            // The hook registers itself on construction; the promise it keeps carries the refusal.
            const hook = new pulumi.ErrorHook("probe", async () => false) as unknown as { __registered: Promise<void> };
            await expect(hook.__registered).rejects.toThrow("The Pulumi CLI does not support error hooks");
        } finally {
            store.supportsErrorHooks = saved;
        }
    });

    it.each([
        ["3.248.0", "3.217.1", true],
        ["v3.217.1", "3.217.1", true],
        ["3.215.0", "3.217.1", false],
        ["3.9.0", "3.10.0", false],
        ["4.0.0", "3.217.1", true],
    ])("atLeast(%s, %s) is %s", (version, minimum, expected) => {
        expect(atLeast(version, minimum)).toBe(expected);
    });
});
