// The whole program (index.ts) under the fake cloud: the lifecycle properties that destroy/recreate
// and replacements rely on, checked on what the engine actually receives.
import { byName, byType, created, settle } from "./mocks";
import { RecordedResource } from "../lib/plan/mock-cloud";

/** What `pulumi destroy --exclude-protected` keeps: protected resources and all they depend on (parents included). */
function keptByExcludeProtected(resources: readonly RecordedResource[]): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const kept = new Set<string>();
    const visit = (urn: string) => {
        const r = byUrn.get(urn);
        if (!r || kept.has(urn)) return;
        kept.add(urn);
        [...r.dependencies, r.parent, r.options.deletedWith].filter(Boolean).forEach(visit);
    };
    resources.filter((r) => r.options.protect).forEach((r) => visit(r.urn));
    return kept;
}

describe("the program's lifecycle options", () => {
    beforeAll(async () => {
        require("../index");
        await settle();
    });

    it("replaces the VM and the volume attachment delete-first", () => {
        // A second VM beside the old one would clash on the hostname label and the volume attachment.
        expect(byName("coinpilot-a1-vm").options.deleteBeforeReplace).toBe(true);
        expect(byName("coinpilot-data-attachment").options.deleteBeforeReplace).toBe(true);
    });

    it("keeps the data volume independent of the VM, so a VM replacement never touches it", () => {
        const vm = byName("coinpilot-a1-vm");
        const volume = byName("coinpilot-data-volume");
        expect(volume.options.protect).toBe(true);
        expect(volume.dependencies).not.toContain(vm.urn);
        expect(volume.inputs.availabilityDomain).toBe(vm.inputs.availabilityDomain);
    });

    it("lets destroy --exclude-protected remove the VM and network while keeping the volume and passwords", () => {
        const kept = keptByExcludeProtected(created);
        const keptNames = created.filter((r) => kept.has(r.urn)).map((r) => r.name);
        expect(keptNames).toEqual(expect.arrayContaining(["coinpilot-data-volume", "coinpilot-host-postgres-password", "coinpilot-host-n8n-encryption-key"]));
        for (const gone of ["coinpilot-a1-vm", "coinpilot-network-vcn", "coinpilot-network-subnet", "coinpilot-data-attachment"]) {
            expect(keptNames).not.toContain(gone);
        }
        expect(byType("oci:Core/publicIp:PublicIp")).toHaveLength(0);
    });
});
