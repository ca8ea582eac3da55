// The policy pack through the real analyzer: `pulumi preview --policy-pack policy`, as the README and the
// preview workflow run it.
import { writeFileSync } from "fs";
import * as path from "path";
import { EXAMPLE_AD, Project, ROOT, expectOk, initExampleStack, newProject } from "./harness";

const POLICY_PACK = path.join(ROOT, "policy");

describe("pulumi preview --policy-pack policy", () => {
    let project: Project;
    beforeAll(() => {
        project = newProject();
        initExampleStack(project, { "coinpilot:availabilityDomain": EXAMPLE_AD });
    });
    afterAll(() => project?.remove());

    it("passes the example stack, every policy of the pack having run", () => {
        const run = expectOk(project.pulumi(["preview", "--policy-pack", POLICY_PACK]), "preview with the policy pack");
        expect(run.stdout).toMatch(/Policies:\s*\n\s*✅ coinpilot@v0\.1\.0 \(local: /);
        expect(run.stdout).not.toMatch(/\[mandatory\]/);
    });

    it("refuses resources that break the rules config validation guards, naming each policy", () => {
        // The program refuses such config before declaring anything, so a small program declares the
        // resources directly: the analyzer must stop them on its own.
        const probe = newProject("coinpilot-policy-probe-");
        try {
            writeFileSync(
                path.join(probe.dir, "index.ts"),
                [
                    'import * as oci from "@pulumi/oci";',
                    'const compartmentId = "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample";',
                    'new oci.core.SecurityList("open-to-the-world", {',
                    '    compartmentId, vcnId: "ocid1.vcn.oc1..example",',
                    '    ingressSecurityRules: [',
                    '        { protocol: "6", source: "0.0.0.0/0", tcpOptions: { min: 22, max: 22 } },',
                    '        { protocol: "6", source: "0.0.0.0/0", tcpOptions: { min: 5432, max: 5432 } },',
                    "    ],",
                    "});",
                    "",
                ].join("\n"),
            );
            writeFileSync(path.join(probe.dir, "Pulumi.yaml"), "name: policy-probe\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
            expectOk(probe.pulumi(["stack", "init", "probe"]), "stack init");
            expectOk(probe.pulumi(["config", "set", "oci:region", "ap-chuncheon-1"]), "config set");
            const run = probe.pulumi(["preview", "--policy-pack", POLICY_PACK]);
            expect(run.code).not.toBe(0);
            expect(run.stdout).toMatch(/❌ coinpilot@v0\.1\.0/);
            expect(run.stdout).toMatch(/\[mandatory\]\s+ssh-from-single-address\s+\(oci:Core\/securityList:SecurityList: open-to-the-world\)/);
            expect(run.stdout).toMatch(/\[mandatory\]\s+no-internal-port-ingress\s+\(oci:Core\/securityList:SecurityList: open-to-the-world\)/);
        } finally {
            probe.remove();
        }
    });
});
