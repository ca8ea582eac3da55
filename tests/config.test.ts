import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { CONFIG_KEYS, CONFIG_NAMESPACE, ConfigError, DEFAULTS, RawConfig, SECRET_KEYS, validateConfig, validateProgramConfig } from "../config";
import { mergeProjectConfig, readProjectFile } from "../lib/plan/project-config";
import { readStackValues } from "../lib/plan/plan";
import { checkNetworkCidrs, checkSshCidr, checkSshPublicKey } from "../lib/rules/validate";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA user@example";
const GOOD: RawConfig = {
    compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample",
    sshAllowedCidr: "198.51.100.7/32",
    sshPublicKey: ED25519,
    imageId: "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexampleubuntu2404aarch64example",
};

function problemsOf(raw: RawConfig): string[] {
    try {
        validateConfig(raw);
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return [...(err as ConfigError).problems];
    }
    return [];
}

function expectProblem(overrides: RawConfig, key: string, pattern: RegExp): void {
    const problems = problemsOf({ ...GOOD, ...overrides });
    const forKey = problems.filter((p) => p.startsWith(`coinpilot:${key}: `));
    expect(forKey).toHaveLength(1);
    expect(forKey[0]).toMatch(pattern);
}

describe("validateConfig: good input", () => {
    it("applies every default", () => {
        const config = validateConfig(GOOD);
        expect(config).toEqual({ ...GOOD, ...DEFAULTS, availabilityDomainIndex: 1 });
    });

    it("accepts a root-compartment (tenancy) OCID, the free-tier maximum and whitespace around values", () => {
        const config = validateConfig({
            ...GOOD,
            compartmentId: "ocid1.tenancy.oc1..aaaaaaaaexampletenancyexampleexample",
            sshAllowedCidr: " 203.0.113.254/32 ",
            ocpus: "4",
            memoryInGbs: "24",
            // 150 GB boot + the 50 GB data volume = the free 200 GB of block storage.
            bootVolumeSizeInGbs: "150",
        });
        expect(config.sshAllowedCidr).toBe("203.0.113.254/32");
        expect([config.ocpus, config.memoryInGbs, config.bootVolumeSizeInGbs]).toEqual([4, 24, 150]);
    });

    it.each([
        ["ssh-rsa", "AAAAB3NzaC1yc2EAAAADAQABAAAAAQC7"],
        ["ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY="],
    ])("accepts %s public keys", (type, blob) => {
        expect(checkSshPublicKey(`${type} ${blob} someone@host`)).toBeUndefined();
    });

    it("allows a paid shape only when allowPaidShape is true", () => {
        const raw = { ...GOOD, ocpus: "8", memoryInGbs: "48" };
        expect(problemsOf(raw)).toHaveLength(2);
        expect(validateConfig({ ...raw, allowPaidShape: "true" })).toMatchObject({ ocpus: 8, memoryInGbs: 48, allowPaidShape: true });
    });

    it("accepts a smaller VCN holding the subnet", () => {
        expect(checkNetworkCidrs("172.16.0.0/20", "172.16.15.0/24")).toEqual({});
    });
});

describe("validateConfig: bad input names the key and the fix", () => {
    it("reports every missing required key at once, before anything is created", () => {
        const problems = problemsOf({});
        expect(problems.map((p) => p.split(":").slice(0, 2).join(":"))).toEqual([
            "coinpilot:compartmentId",
            "coinpilot:sshAllowedCidr",
            "coinpilot:sshPublicKey",
            "coinpilot:imageId",
        ]);
        expect(problems.every((p) => /is required; .+/.test(p))).toBe(true);
    });

    it("collects problems from several keys in one error message", () => {
        try {
            validateConfig({ ...GOOD, sshAllowedCidr: "0.0.0.0/0", ocpus: "five", subnetCidr: "192.168.1.0/24" });
            throw new Error("expected a ConfigError");
        } catch (err) {
            const message = (err as Error).message;
            expect(message).toMatch(/3 problems/);
            expect(message).toMatch(/coinpilot:sshAllowedCidr/);
            expect(message).toMatch(/coinpilot:ocpus/);
            expect(message).toMatch(/coinpilot:subnetCidr/);
        }
    });

    it.each([
        ["0.0.0.0/0", /whole internet/],
        ["198.51.100.0/24", /256 addresses.*exactly one/],
        ["198.51.100.7/31", /2 addresses/],
        ["198.51.100.7", /no prefix; write "198.51.100.7\/32"/],
        ["198.51.100.256/32", /not an IPv4 CIDR/],
        ["198.51.100/32", /not an IPv4 CIDR/],
        ["2001:db8::1/128", /not an IPv4 CIDR/],
        ["my-ip", /not an IPv4 CIDR/],
        ["10.1.2.3/32", /private .*WSL/],
        ["172.20.0.5/32", /private/],
        ["192.168.0.10/32", /private/],
        ["127.0.0.1/32", /loopback/],
        ["0.0.0.0/32", /this network/],
    ])("sshAllowedCidr %s", (value, pattern) => {
        expectProblem({ sshAllowedCidr: value }, "sshAllowedCidr", pattern);
        expect(checkSshCidr(value)).toMatch(/curl -4 ifconfig\.me|\/32/);
    });

    it.each([
        ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", /PRIVATE key material.*leaked/],
        ["-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", /PRIVATE key material/],
        ["ssh-dss AAAAB3NzaC1kc3MAAACBAP", /not one of ssh-ed25519/],
        ["ssh-ed25519", /not base64/],
        ["ssh-ed25519 not*base64", /not base64/],
        ["ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAAQC7 mixed", /does not match its type "ssh-ed25519"/],
        ["ssh-ed25519 AAAA", /does not match/],
        [`${ED25519}\n${ED25519}`, /exactly one key line/],
    ])("sshPublicKey %#", (value, pattern) => {
        expectProblem({ sshPublicKey: value }, "sshPublicKey", pattern);
    });

    it.each([
        ["compartmentId", "ocid1.vcn.oc1..aaaaaaaaexamplevcnexampleexampleexample", /is a vcn OCID; expected a compartment or tenancy OCID/],
        ["compartmentId", "compartment-1", /not an OCID/],
        ["compartmentId", "ocid1.compartment.oc1..short", /not an OCID/],
        ["imageId", "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample", /is a compartment OCID; expected a image OCID/],
        ["imageId", "ubuntu-24.04-latest", /not an OCID/],
    ])("%s = %s", (key, value, pattern) => {
        expectProblem({ [key]: value }, key, pattern);
    });

    it.each([
        [{ ocpus: "0" }, "ocpus", /outside 1–80/],
        [{ ocpus: "1.5" }, "ocpus", /whole number/],
        [{ ocpus: "two" }, "ocpus", /not a number/],
        [{ ocpus: "5", memoryInGbs: "20" }, "ocpus", /5 OCPU is beyond the Always Free allowance.*allowPaidShape/],
        [{ memoryInGbs: "25", ocpus: "4" }, "memoryInGbs", /25 GB is beyond the Always Free/],
        [{ memoryInGbs: "1", ocpus: "2" }, "memoryInGbs", /1 GB for 2 OCPU is outside A1\.Flex's 1–64 GB per OCPU/],
        [{ memoryInGbs: "200", ocpus: "3", allowPaidShape: "true" }, "memoryInGbs", /outside A1\.Flex's 1–64 GB per OCPU/],
        [{ bootVolumeSizeInGbs: "40" }, "bootVolumeSizeInGbs", /outside 50–32768/],
        [{ bootVolumeSizeInGbs: "250" }, "bootVolumeSizeInGbs", /200 GB of block storage/],
        [{ allowPaidShape: "yes" }, "allowPaidShape", /not true or false/],
        [{ instanceName: "-bad name" }, "instanceName", /letters, digits/],
    ])("shape and names %#", (overrides, key, pattern) => {
        expectProblem(overrides, key, pattern);
    });

    it.each([
        [{ vcnCidr: "10.0.0.0/8" }, "vcnCidr", /\/16 to \/30/],
        [{ vcnCidr: "10.0.0.1/16" }, "vcnCidr", /host bits set; use 10\.0\.0\.0\/16/],
        [{ vcnCidr: "ten/16" }, "vcnCidr", /not an IPv4 CIDR/],
        [{ subnetCidr: "10.1.0.0/24" }, "subnetCidr", /not inside the VCN 10\.0\.0\.0\/16/],
        [{ subnetCidr: "10.0.1.5/24" }, "subnetCidr", /host bits set; use 10\.0\.1\.0\/24/],
        [{ subnetCidr: "10.0.1.0/31" }, "subnetCidr", /\/30 or shorter/],
        [{ vcnCidr: "10.0.0.0/24", subnetCidr: "10.0.0.0/16" }, "subnetCidr", /not inside the VCN/],
    ])("network ranges %#", (overrides, key, pattern) => {
        expectProblem(overrides, key, pattern);
    });
});

describe("validateProgramConfig", () => {
    it("reports the instance's and the host's problems in one error", () => {
        try {
            validateProgramConfig({ ...GOOD, ocpus: "9" });
            throw new Error("expected a ConfigError");
        } catch (err) {
            const problems = (err as ConfigError).problems;
            expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^coinpilot:ocpus: /), expect.stringMatching(/^coinpilot:appRepoUrl: is required/)]));
        }
    });
});

describe("availabilityDomain", () => {
    it("takes a position or a full AD name", () => {
        expect(validateConfig({ ...GOOD, availabilityDomain: "2" })).toMatchObject({ availabilityDomainIndex: 2 });
        expect(validateConfig({ ...GOOD, availabilityDomain: "2" }).availabilityDomain).toBeUndefined();
        expect(validateConfig({ ...GOOD, availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-1" })).toMatchObject({
            availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-1",
            availabilityDomainIndex: 1,
        });
    });

    it.each([
        ["0", /1 to 3 availability domains/],
        ["4", /1 to 3 availability domains/],
        ["AD-1", /neither a position .* nor an AD name/],
        ["ap-chuncheon-1", /neither a position/],
    ])("refuses %s", (value, pattern) => expectProblem({ availabilityDomain: value }, "availabilityDomain", pattern));
});

describe("Pulumi.yaml documents the config contract", () => {
    const project = parse(readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8"));
    const documented: Record<string, { type: string; description: string; default?: unknown }> = project.config;

    it("documents exactly the keys config.ts reads, each with a type and description", () => {
        const keys = Object.keys(documented).filter((k) => k.startsWith("coinpilot:")).map((k) => k.slice("coinpilot:".length));
        expect(keys.sort()).toEqual([...CONFIG_KEYS].sort());
        for (const [key, entry] of Object.entries(documented)) {
            const optionalSecret = (SECRET_KEYS as readonly string[]).includes(key.slice("coinpilot:".length)) && !entry.description.startsWith("Required");
            // Optional secrets stay untyped (see Pulumi.yaml's header); every other key is typed.
            // Their default is empty: "" for a text, {} for a map.
            if (optionalSecret) expect([key, entry.type, JSON.stringify(entry.default)]).toEqual([key, undefined, expect.stringMatching(/^(""|\{\})$/)]);
            else expect([key, entry.type]).toEqual([key, expect.stringMatching(/^(string|integer|boolean|object|array)$/)]);
            expect(entry.description.length).toBeGreaterThan(20);
        }
    });

    it("gives every optional key a default, so an unset one is never 'missing' to the real CLI", () => {
        for (const [key, entry] of Object.entries(documented)) {
            const required = entry.description.startsWith("Required");
            expect([key, required || entry.default !== undefined]).toEqual([key, true]);
            if (required) expect([key, entry.default]).toEqual([key, undefined]);
        }
        // And the rule the CLI applies passes the example stack as it stands.
        const merged = mergeProjectConfig(readProjectFile(path.join(__dirname, "..", "Pulumi.yaml")), "prod", readStackValues(path.join(__dirname, "..", "Pulumi.prod.yaml")));
        expect(merged.errors).toEqual([]);
        expect(merged.undeclared).toEqual([]);
    });

    it("follows Pulumi's project rule: typed keys (type/default/secret) are namespaced by the project's name", () => {
        // `pulumi` refuses the whole project file otherwise ("... is not namespaced by the project and
        // should not define a type"), so this is what keeps every real command working.
        expect(project.name).toBe(CONFIG_NAMESPACE);
        for (const [key, entry] of Object.entries(documented)) {
            const schema = ["type", "default", "secret", "items"].some((attr) => attr in (entry as object));
            if (schema && key.includes(":")) expect(key.split(":")[0]).toBe(project.name);
        }
    });

    it("states the same defaults as config.ts", () => {
        for (const [key, value] of Object.entries(DEFAULTS)) {
            expect(documented[`coinpilot:${key}`].default).toEqual(value);
        }
    });

    it("uses the nodejs runtime with npm and TypeScript", () => {
        expect(project.runtime).toEqual({ name: "nodejs", options: { packagemanager: "npm", typescript: true } });
    });
});
