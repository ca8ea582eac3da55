// Pulumi's config rules as lib/plan/project-config.ts applies them (the engine suite checks the same cases
// against the real CLI).
import { mergeProjectConfig, ProjectFile, projectFileErrors } from "../lib/plan/project-config";

const project: ProjectFile = {
    name: "coinpilot",
    config: {
        "coinpilot:required": { type: "string", description: "Required." },
        "coinpilot:count": { type: "integer", default: 2 },
        "coinpilot:flag": { type: "boolean", default: false },
        "coinpilot:token": { type: "string", secret: true },
        "coinpilot:optionalSecret": { default: "" },
        "oci:region": { value: "ap-chuncheon-1" },
    },
};
const clear = (value: string) => ({ value, secure: false });
const secure = (value: string) => ({ value, secure: true });

describe("mergeProjectConfig", () => {
    it("names every declared key without a default that the stack lacks, in Pulumi's words", () => {
        expect(mergeProjectConfig(project, "prod", {}).errors).toEqual(["Stack 'prod' is missing configuration values 'coinpilot:required' and 'coinpilot:token'"]);
        expect(mergeProjectConfig(project, "dev", { "coinpilot:token": secure("x") }).errors).toEqual(["Stack 'dev' is missing configuration value 'coinpilot:required'"]);
    });

    it("fills defaults and values in clear and keeps the stack's own values", () => {
        const merged = mergeProjectConfig(project, "prod", { "coinpilot:required": clear("r"), "coinpilot:token": secure("t"), "coinpilot:count": clear("4") });
        expect(merged.errors).toEqual([]);
        expect(merged.values).toEqual({
            "coinpilot:required": clear("r"),
            "coinpilot:token": secure("t"),
            "coinpilot:count": clear("4"),
            "coinpilot:flag": clear("false"),
            "coinpilot:optionalSecret": clear(""),
            "oci:region": clear("ap-chuncheon-1"),
        });
    });

    it("refuses a typed secret stored in clear and a value of the wrong type", () => {
        const base = { "coinpilot:required": clear("r") };
        expect(mergeProjectConfig(project, "prod", { ...base, "coinpilot:token": clear("t") }).errors).toEqual(["Stack 'prod' with configuration key 'coinpilot:token' must be encrypted as it's secret"]);
        expect(mergeProjectConfig(project, "prod", { ...base, "coinpilot:token": secure("t"), "coinpilot:count": clear("two") }).errors).toEqual(["Stack 'prod' with configuration key 'coinpilot:count' must be of type 'integer'"]);
        expect(mergeProjectConfig(project, "prod", { ...base, "coinpilot:token": secure("t"), "coinpilot:flag": clear("True") }).errors).toEqual(["Stack 'prod' with configuration key 'coinpilot:flag' must be of type 'boolean'"]);
    });

    it("lists keys of the project's namespace that nothing declares", () => {
        const merged = mergeProjectConfig(project, "prod", { "coinpilot:required": clear("r"), "coinpilot:token": secure("t"), "coinpilot:cuont": clear("3"), "oci:tenancyOcid": clear("x") });
        expect(merged.undeclared).toEqual(["coinpilot:cuont"]);
    });
});

describe("projectFileErrors", () => {
    it("refuses a typed secret's default of the wrong type and a default on another namespace", () => {
        expect(projectFileErrors({ name: "coinpilot", config: { "coinpilot:n": { type: "integer", default: "x" }, "oci:region": { type: "string", default: "a" } } })).toEqual([
            "The default value specified for configuration key 'coinpilot:n' is not of the expected type 'integer'",
            "Configuration key 'oci:region' is not namespaced by the project and should not define a type or default",
        ]);
    });
});
