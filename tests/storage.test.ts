import { EXAMPLE_CONFIG, byName, byType, created, invokes, parentOf, resolve, settle, useConfig } from "./mocks";
import { DATA_DEVICE_PATH, DataStorage, checkStorageArgs } from "../components/storage";
import { ConfigError, validateConfig } from "../config";

const BASE = {
    compartmentId: "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample",
    availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-1",
    instanceId: "ocid1.instance.oc1.ap-chuncheon-1.aaaaaaaaexampleinstanceexample",
};
const EXISTING_VOLUME = "ocid1.volume.oc1.ap-chuncheon-1.aaaaaaaaexistingvolumeexample";
const EXISTING_IP = "ocid1.publicip.oc1.ap-chuncheon-1.aaaaaaaaexistingpublicipexample";

const VOLUME = "oci:Core/volume:Volume";
const ATTACHMENT = "oci:Core/volumeAttachment:VolumeAttachment";
const PUBLIC_IP = "oci:Core/publicIp:PublicIp";

describe("DataStorage", () => {
    beforeEach(() => useConfig({}));

    it("creates a protected, retained volume in the instance's AD and attaches it paravirtualized at a stable path", async () => {
        const storage = new DataStorage("data", { ...BASE, sizeInGbs: 60 });
        await settle();
        const volume = byName("data-volume");
        expect(volume.type).toBe(VOLUME);
        expect(parentOf(volume)?.type).toBe("coinpilot:storage:DataStorage");
        expect(volume.inputs).toMatchObject({ compartmentId: BASE.compartmentId, availabilityDomain: BASE.availabilityDomain, sizeInGbs: "60" });
        // Read from what the engine received, not from the component's own bookkeeping.
        expect(volume.options).toMatchObject({ protect: true, retainOnDelete: true });

        const attachment = byName("data-attachment");
        const volumeId = (await resolve(storage.volumeId)).value;
        expect(volumeId).toMatch(/^ocid1\.volume\./);
        expect(attachment.inputs).toMatchObject({ attachmentType: "paravirtualized", instanceId: BASE.instanceId, volumeId, device: DATA_DEVICE_PATH });
        expect(DATA_DEVICE_PATH).toBe("/dev/oracleoci/oraclevdb");
        // The attachment is recreated with the VM, so it needs no protection of its own.
        expect(attachment.options).toMatchObject({ protect: false, retainOnDelete: false });
        expect(byType(PUBLIC_IP)).toEqual([]);
        expect(storage.publicIp).toBeUndefined();
        expect(invokes()).toEqual([]);
    });

    it("defaults to a 50 GB volume", async () => {
        new DataStorage("data", BASE);
        await settle();
        expect(byName("data-volume").inputs.sizeInGbs).toBe("50");
    });

    it("attaches an existing volume by OCID and creates no volume (recreate into an empty stack)", async () => {
        const storage = new DataStorage("data", { ...BASE, existingVolumeId: EXISTING_VOLUME, sizeInGbs: 100 });
        await settle();
        expect(byType(VOLUME)).toEqual([]);
        expect(byName("data-attachment").inputs).toMatchObject({ volumeId: EXISTING_VOLUME, instanceId: BASE.instanceId });
        expect((await resolve(storage.volumeId)).value).toBe(EXISTING_VOLUME);
        expect(created.map((r) => r.type)).toEqual(["coinpilot:storage:DataStorage", ATTACHMENT]);
    });

    it("reserves a public IP bound to the instance's primary private IP, protected and retained", async () => {
        const storage = new DataStorage("data", { ...BASE, reservePublicIp: true });
        await settle();
        const ip = byName("data-ip");
        expect(ip.type).toBe(PUBLIC_IP);
        expect(ip.inputs).toMatchObject({ compartmentId: BASE.compartmentId, lifetime: "RESERVED" });
        expect(ip.options).toMatchObject({ protect: true, retainOnDelete: true });
        // The lookups go instance -> VNIC attachment -> VNIC's private IPs, and the primary one is bound.
        const [vnics, privateIps] = invokes();
        expect(vnics).toEqual({ token: "oci:Core/getVnicAttachments:getVnicAttachments", inputs: { compartmentId: BASE.compartmentId, instanceId: BASE.instanceId } });
        expect(privateIps.token).toBe("oci:Core/getPrivateIps:getPrivateIps");
        expect(privateIps.inputs.vnicId).toMatch(/^ocid1\.vnic\./);
        expect(ip.inputs.privateIpId).toMatch(/^ocid1\.privateip\./);
        expect((await resolve(storage.publicIp!)).value).toBe("203.0.113.10");
    });

    it("adopts an existing reserved IP by its OCID instead of reserving another", async () => {
        const storage = new DataStorage("data", { ...BASE, existingPublicIpId: EXISTING_IP });
        await settle();
        expect(byType(PUBLIC_IP)).toHaveLength(1);
        expect(byName("data-ip").inputs.lifetime).toBe("RESERVED");
        expect((await resolve(storage.reservedIp!.id)).value).toBe(EXISTING_IP);
    });

    it("binds only the primary private IP of an ATTACHED VNIC", async () => {
        useConfig({}, {
            invokes: {
                "oci:Core/getVnicAttachments:getVnicAttachments": () => ({
                    vnicAttachments: [
                        { state: "DETACHED", vnicId: "ocid1.vnic.oc1..old" },
                        { state: "ATTACHED", vnicId: "ocid1.vnic.oc1..current" },
                    ],
                }),
                "oci:Core/getPrivateIps:getPrivateIps": (inputs) => ({
                    vnicId: inputs.vnicId,
                    privateIps: [
                        { id: "ocid1.privateip.oc1..secondary", isPrimary: false },
                        { id: `ocid1.privateip.oc1..primary-of-${String(inputs.vnicId).split("..")[1]}`, isPrimary: true },
                    ],
                }),
            },
        });
        new DataStorage("data", { ...BASE, reservePublicIp: true });
        await settle();
        expect(byName("data-ip").inputs.privateIpId).toBe("ocid1.privateip.oc1..primary-of-current");
    });

    it("rejects bad sizes and OCIDs of the wrong kind before creating anything, naming the config keys", () => {
        expect(() => new DataStorage("data", { ...BASE, sizeInGbs: 49, existingPublicIpId: EXISTING_VOLUME })).toThrow(
            /coinpilot:dataVolumeSizeInGbs 49 must be .* 50–32768.*coinpilot:reservedPublicIpId: .* is a volume OCID; expected a publicip OCID/,
        );
        expect(created).toEqual([]);
        expect(checkStorageArgs({ sizeInGbs: 50.5 })).toEqual([expect.stringContaining("whole number")]);
        expect(checkStorageArgs({ existingVolumeId: "vol-123" })).toEqual([expect.stringMatching(/^coinpilot:dataVolumeId: "vol-123" is not an OCID/)]);
        expect(checkStorageArgs({ existingVolumeId: EXISTING_VOLUME, existingPublicIpId: EXISTING_IP, sizeInGbs: 200 })).toEqual([]);
    });
});

describe("storage config keys", () => {
    const raw = (extra: Record<string, string>) => {
        const base = Object.fromEntries(Object.entries(EXAMPLE_CONFIG).map(([k, v]) => [k.replace(/^coinpilot:/, ""), v]));
        return { ...base, ...extra };
    };
    const problems = (extra: Record<string, string>) => {
        try {
            validateConfig(raw(extra));
            return [];
        } catch (err) {
            return (err as ConfigError).problems;
        }
    };

    it("defaults to a new 50 GB volume and the instance's own public IP", () => {
        const config = validateConfig(raw({}));
        expect(config).toMatchObject({ dataVolumeSizeInGbs: 50, reservePublicIp: false });
        expect(config.dataVolumeId).toBeUndefined();
        expect(config.reservedPublicIpId).toBeUndefined();
    });

    it("reads an existing volume and IP to re-use; an IP to adopt implies reserving", () => {
        const config = validateConfig(raw({ dataVolumeId: EXISTING_VOLUME, reservedPublicIpId: EXISTING_IP }));
        expect(config).toMatchObject({ dataVolumeId: EXISTING_VOLUME, reservedPublicIpId: EXISTING_IP, reservePublicIp: true });
    });

    it("keeps boot + data volume inside the free 200 GB unless paid shapes are allowed", () => {
        expect(problems({ bootVolumeSizeInGbs: "100", dataVolumeSizeInGbs: "100" })).toEqual([]);
        expect(problems({ bootVolumeSizeInGbs: "100", dataVolumeSizeInGbs: "101" })).toEqual([
            expect.stringMatching(/^coinpilot:dataVolumeSizeInGbs: 101 GB plus the 100 GB boot volume is beyond the Always Free 200 GB/),
        ]);
        expect(problems({ bootVolumeSizeInGbs: "100", dataVolumeSizeInGbs: "101", allowPaidShape: "true" })).toEqual([]);
        // An existing volume's size is already counted in the tenancy: only the boot volume is new.
        expect(problems({ bootVolumeSizeInGbs: "200", dataVolumeSizeInGbs: "101", dataVolumeId: EXISTING_VOLUME })).toEqual([]);
    });

    it("rejects bad values, naming each key", () => {
        expect(problems({ dataVolumeSizeInGbs: "20", dataVolumeId: EXISTING_IP, reservePublicIp: "yes", reservedPublicIpId: "203.0.113.10" })).toEqual([
            expect.stringMatching(/^coinpilot:dataVolumeSizeInGbs: 20 is outside 50–32768/),
            expect.stringMatching(/^coinpilot:dataVolumeId: .* is a publicip OCID; expected a volume OCID/),
            expect.stringMatching(/^coinpilot:reservePublicIp: "yes" is not true or false/),
            expect.stringMatching(/^coinpilot:reservedPublicIpId: "203.0.113.10" is not an OCID/),
        ]);
    });
});
