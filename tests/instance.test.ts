import { byName, byType, created, invokes, parentOf, resolve, settle, useConfig } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import { A1Instance, hostnameLabel, pickAvailabilityDomain } from "../components/instance";
import { A1_FLEX_SHAPE } from "../lib/rules/limits";

const BASE = {
    compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample",
    subnetId: "ocid1.subnet.oc1.ap-chuncheon-1.aaaaaaaaexamplesubnet",
    imageId: "ocid1.image.oc1.ap-chuncheon-1.aaaaaaaaexampleimage",
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

describe("A1Instance", () => {
    beforeEach(() => useConfig({}, { availabilityDomains: 3 }));

    it("launches A1.Flex from the pinned image with the shape, boot volume, key and public IP", async () => {
        const host = new A1Instance("a1", { ...BASE, ocpus: 4, memoryInGbs: 24, bootVolumeSizeInGbs: 100, displayName: "CoinPilot_Ins" });
        await settle();
        const vm = byName("a1-vm");
        expect(vm.type).toBe("oci:Core/instance:Instance");
        expect(parentOf(vm)?.type).toBe("coinpilot:compute:A1Instance");
        expect(vm.inputs).toMatchObject({
            shape: A1_FLEX_SHAPE,
            shapeConfig: { ocpus: 4, memoryInGbs: 24 },
            sourceDetails: { sourceType: "image", sourceId: BASE.imageId, bootVolumeSizeInGbs: "100" },
            createVnicDetails: { subnetId: BASE.subnetId, assignPublicIp: "true", hostnameLabel: "coinpilot-ins" },
            metadata: { ssh_authorized_keys: BASE.sshPublicKey },
            displayName: "CoinPilot_Ins",
            compartmentId: BASE.compartmentId,
            instanceOptions: { areLegacyImdsEndpointsDisabled: true },
        });
        expect(vm.inputs.faultDomain).toBeUndefined();
        expect((await resolve(host.publicIp)).value).toBe("203.0.113.10");
        expect((await resolve(host.instanceId)).value).toMatch(/^ocid1\.instance\./);
    });

    it("takes the region's first availability domain from the lookup by default", async () => {
        const host = new A1Instance("a1", BASE);
        await settle();
        expect(byName("a1-vm").inputs.availabilityDomain).toBe("Uocm:AP-CHUNCHEON-1-AD-1");
        expect(invokes().map((i) => i.token)).toContain("oci:Identity/getAvailabilityDomains:getAvailabilityDomains");
        expect((await resolve(host.availabilityDomain)).value).toBe("Uocm:AP-CHUNCHEON-1-AD-1");
    });

    it("picks the AD at availabilityDomainIndex from the lookup", async () => {
        const host = new A1Instance("a1", { ...BASE, availabilityDomainIndex: 3 });
        await settle();
        expect(byName("a1-vm").inputs.availabilityDomain).toBe("Uocm:AP-CHUNCHEON-1-AD-3");
        expect((await resolve(host.availabilityDomain)).value).toBe("Uocm:AP-CHUNCHEON-1-AD-3");
    });

    it("uses the defaults: 2 OCPU, 12 GB, 50 GB boot, coinpilot-ins", async () => {
        new A1Instance("a1", BASE);
        await settle();
        expect(byName("a1-vm").inputs).toMatchObject({
            shapeConfig: { ocpus: 2, memoryInGbs: 12 },
            sourceDetails: { bootVolumeSizeInGbs: "50" },
            displayName: "coinpilot-ins",
        });
    });

    it("honours an explicit availability domain without a lookup, and passes instance options through", async () => {
        const gate = new (class extends pulumi.CustomResource {})("test:index:Gate", "gate", {});
        new A1Instance("a1", { ...BASE, availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-2", instanceOptions: { dependsOn: [gate], ignoreChanges: ["metadata.user_data"] } });
        await settle();
        const vm = byName("a1-vm");
        expect(vm.inputs.availabilityDomain).toBe("Uocm:AP-CHUNCHEON-1-AD-2");
        expect(invokes().filter((i) => i.token.includes("getAvailabilityDomains"))).toHaveLength(0);
        expect(vm.options.dependsOn).toEqual([byName("gate").urn]);
        expect(vm.options.ignoreChanges).toEqual(["metadata.user_data"]);
        // The options never detach the VM from its component.
        expect(parentOf(vm)?.name).toBe("a1");
    });

    it("registers only the component and the VM", async () => {
        new A1Instance("a1", BASE);
        await settle();
        expect(created.map((r) => r.type)).toEqual(["coinpilot:compute:A1Instance", "oci:Core/instance:Instance"]);
        expect(byType("oci:Core/instance:Instance")).toHaveLength(1);
    });
});

describe("pickAvailabilityDomain", () => {
    it("counts from 1 and names the region's ADs when the position does not exist", () => {
        expect(pickAvailabilityDomain(["a:AD-1", "a:AD-2"], 2)).toBe("a:AD-2");
        expect(() => pickAvailabilityDomain(["a:AD-1"], 2)).toThrow(/coinpilot:availabilityDomain: position 2 does not exist; this region has 1 availability domain\(s\): a:AD-1/);
        expect(() => pickAvailabilityDomain([], 1)).toThrow(/has 0 availability domain\(s\): none/);
    });
});

describe("hostnameLabel", () => {
    it.each([
        ["coinpilot-ins", "coinpilot-ins"],
        ["CoinPilot_Ins", "coinpilot-ins"],
        ["1st.host", "st-host"],
        ["___", "coinpilot"],
    ])("%s -> %s", (name, label) => expect(hostnameLabel(name)).toBe(label));
});
