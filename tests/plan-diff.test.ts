// The plan diff: pure comparisons on small plans (`npm run plan -- --diff` end to end is in
// tests/plan-cli.test.ts, assets tier).
import { DiffablePlan, diffPlans, formatPlanDiff, parsePlan, replacingInputs, showChange, showValue } from "../lib/plan/plan-diff";

const vm = {
    type: "oci:Core/instance:Instance",
    name: "coinpilot-a1-vm",
    parent: "coinpilot:compute:A1Instance::coinpilot-a1",
    inputs: {
        availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-1",
        shape: "VM.Standard.A1.Flex",
        shapeConfig: { ocpus: 2, memoryInGbs: 12 },
        sourceDetails: { sourceType: "image", sourceId: "ocid1.image.oc1..old" },
        metadata: { ssh_authorized_keys: "ssh-ed25519 AAAAold op@wsl" },
        createVnicDetails: { subnetId: "ocid1.subnet.oc1..old", assignPublicIp: "true" },
        displayName: "coinpilot-ins",
    },
};
const volume = {
    type: "oci:Core/volume:Volume",
    name: "coinpilot-data-volume",
    parent: "coinpilot:storage:DataStorage::coinpilot-data",
    inputs: { availabilityDomain: "Uocm:AP-CHUNCHEON-1-AD-1", sizeInGbs: "50" },
    options: { protect: true, retainOnDelete: true },
};
const base: DiffablePlan = { resources: [vm, volume], files: [{ path: "/etc/cron.d/coinpilot-backup", content: "5 3 * * * root x\n" }] };

/** A deep copy of the base plan with one edit applied. */
function edited(edit: (plan: { resources: any[]; files: any[] }) => void): DiffablePlan {
    const copy = JSON.parse(JSON.stringify(base));
    edit(copy);
    return copy;
}

describe("diffPlans", () => {
    it("reports no change for identical plans and says nothing is replaced", () => {
        const diff = diffPlans(base, edited(() => undefined));
        expect(diff).toEqual({ resources: [], files: [], destructive: [], reboots: [] });
        const text = formatPlanDiff(diff, { before: "old.json", after: "now" });
        expect(text).toContain("No changes.");
        expect(text).not.toContain("DESTRUCTIVE");
    });

    it("treats switching to a reserved IP (assignPublicIp false) as an in-place update", () => {
        const diff = diffPlans(base, edited((p) => (p.resources[0].inputs.createVnicDetails.assignPublicIp = "false")));
        expect(diff.resources[0].fields).toEqual([{ path: "inputs.createVnicDetails.assignPublicIp", before: "true", after: "false" }]);
        expect(diff.destructive).toEqual([]);
    });

    it("lists a harmless field change without a banner", () => {
        const diff = diffPlans(base, edited((p) => (p.resources[0].inputs.displayName = "coinpilot-2")));
        expect(diff.resources).toEqual([
            { kind: "changed", type: vm.type, name: vm.name, fields: [{ path: "inputs.displayName", before: "coinpilot-ins", after: "coinpilot-2" }] },
        ]);
        expect(diff.destructive).toEqual([]);
        expect(formatPlanDiff(diff, { before: "a", after: "b" })).toContain('inputs.displayName: "coinpilot-ins" -> "coinpilot-2"');
    });

    it.each([
        ["the SSH key", (p: any) => (p.resources[0].inputs.metadata.ssh_authorized_keys = "ssh-ed25519 AAAAnew op@wsl"), "metadata.ssh_authorized_keys changed: REPLACES the instance"],
        ["user_data added", (p: any) => (p.resources[0].inputs.metadata.user_data = "I2Nsb3VkLWNvbmZpZw=="), "metadata.user_data changed: REPLACES the instance"],
        ["the availability domain", (p: any) => (p.resources[0].inputs.availabilityDomain = "Uocm:AP-CHUNCHEON-1-AD-2"), "availabilityDomain changed: REPLACES the instance"],
        ["the subnet", (p: any) => (p.resources[0].inputs.createVnicDetails.subnetId = "ocid1.subnet.oc1..other"), "createVnicDetails.subnetId changed: REPLACES the instance"],
        ["the image", (p: any) => (p.resources[0].inputs.sourceDetails.sourceId = "ocid1.image.oc1..new"), "sourceDetails.sourceId changed: REPLACES the boot volume"],
        ["the volume's AD", (p: any) => (p.resources[1].inputs.availabilityDomain = "Uocm:AP-CHUNCHEON-1-AD-3"), "availabilityDomain changed: REPLACES the data volume"],
        ["the instance removed", (p: any) => p.resources.splice(0, 1), "removed from the program: DESTROYS the instance"],
        ["protect dropped from the volume", (p: any) => delete p.resources[1].options.protect, "protect was removed"],
        ["the volume moved to another parent", (p: any) => (p.resources[1].parent = "coinpilot:storage:Other::x"), "parent changed, so its URN changes"],
    ])("flags %s as destructive, in a banner above and below the diff", (_what, edit, reason) => {
        const diff = diffPlans(base, edited(edit));
        expect(diff.destructive).toHaveLength(1);
        expect(diff.destructive[0].reason).toContain(reason);
        const text = formatPlanDiff(diff, { before: "old.json", after: "now" });
        const lines = text.split("\n");
        // The banner opens the output and closes it, so neither the first nor the last screen misses it.
        expect(lines[0]).toMatch(/^!{78}$/);
        expect(lines[1]).toContain("DESTRUCTIVE: 1 change replace or delete something");
        expect(lines[1]).toHaveLength(78);
        expect(text.indexOf("DESTRUCTIVE")).not.toBe(text.lastIndexOf("DESTRUCTIVE"));
        expect(lines.filter((l) => l.includes(reason))).toHaveLength(2);
    });

    it("counts every destructive change and puts removals first", () => {
        const diff = diffPlans(
            base,
            edited((p) => {
                p.resources[0].inputs.metadata.ssh_authorized_keys = "ssh-ed25519 AAAAnew";
                p.resources[0].inputs.availabilityDomain = "Uocm:AP-CHUNCHEON-1-AD-2";
                p.resources.splice(1, 1);
                p.resources.push({ type: "oci:Core/volume:Volume", name: "other", parent: null, inputs: {} });
            }),
        );
        expect(diff.destructive.map((d) => d.resource)).toEqual([
            "oci:Core/volume:Volume::coinpilot-data-volume",
            "oci:Core/instance:Instance::coinpilot-a1-vm",
            "oci:Core/instance:Instance::coinpilot-a1-vm",
        ]);
        expect(diff.resources.map((r) => `${r.kind} ${r.name}`)).toEqual(["removed coinpilot-data-volume", "changed coinpilot-a1-vm", "added other"]);
        expect(formatPlanDiff(diff, { before: "a", after: "b" })).toContain("DESTRUCTIVE: 3 changes replace or delete something");
    });

    it("notes a shape change as an in-place reboot, not a replacement", () => {
        const diff = diffPlans(base, edited((p) => (p.resources[0].inputs.shapeConfig.ocpus = 4)));
        expect(diff.destructive).toEqual([]);
        expect(diff.reboots).toEqual([{ resource: "oci:Core/instance:Instance::coinpilot-a1-vm", reason: "shapeConfig changed: updated in place, the VM reboots" }]);
        expect(formatPlanDiff(diff, { before: "a", after: "b" })).toContain("Reboots (in place):");
    });

    it("reports shipped files by path and ignores Pulumi's __defaults bookkeeping", () => {
        const diff = diffPlans(
            base,
            edited((p) => {
                p.files[0].content = "15 3 * * * root x\n";
                p.files.push({ path: "/etc/systemd/system/x.service", content: "" });
                p.resources[0].inputs.__defaults = ["displayName"];
            }),
        );
        expect(diff.files).toEqual([
            { path: "/etc/cron.d/coinpilot-backup", kind: "changed" },
            { path: "/etc/systemd/system/x.service", kind: "added" },
        ]);
        expect(diff.resources).toEqual([]);
    });

    it("cuts long values so a user_data change stays one readable line", () => {
        const long = "A".repeat(5000);
        expect(showValue(long)).toHaveLength(81 + " (5002 chars)".length);
        expect(showValue(long)).toContain("(5002 chars)");
        expect(showValue(undefined)).toBe("(unset)");
        expect(showValue({ a: 1 })).toBe('{"a":1}');
    });
});

describe("replacingInputs: the provider schema's replace rules", () => {
    const change = (p: string) => ({ path: p, before: 1, after: 2 });
    it("replaces an instance for a new SSH key but updates it for other metadata", () => {
        expect(replacingInputs("oci:Core/instance:Instance", [change("inputs.metadata.ssh_authorized_keys")])).toEqual(["metadata.ssh_authorized_keys"]);
        expect(replacingInputs("oci:Core/instance:Instance", [change("inputs.metadata.note"), change("inputs.shapeConfig.ocpus"), change("inputs.sourceDetails.sourceId")])).toEqual([]);
    });
    it("replaces a command on new triggers only, and a volume attachment on any input", () => {
        expect(replacingInputs("command:remote:Command", [change("inputs.triggers.3")])).toEqual(["triggers"]);
        expect(replacingInputs("command:remote:Command", [change("inputs.environment.X")])).toEqual([]);
        expect(replacingInputs("oci:Core/volumeAttachment:VolumeAttachment", [change("inputs.device"), change("options.protect")])).toEqual(["device"]);
        expect(replacingInputs("oci:Core/volumeAttachment:VolumeAttachment", [change("options.protect")])).toEqual([]);
    });
    it("shows two long strings around their first difference", () => {
        const before = `${"a".repeat(150)} v1.0.0 tail`;
        const after = `${"a".repeat(150)} v1.1.0 tail`;
        // 40 characters before the first difference (the "0"/"1" of the version), then the rest.
        expect(showChange(before, after)).toBe(`"…${"a".repeat(36)} v1.0.0 tail" (162 chars) -> "…${"a".repeat(36)} v1.1.0 tail" (162 chars)`);
    });
});

describe("parsePlan", () => {
    it("accepts a plan and explains how to make one when the file is wrong", () => {
        expect(parsePlan(JSON.stringify(base), "old.json").resources).toHaveLength(2);
        expect(() => parsePlan("not json", "old.json")).toThrow(/old.json is not JSON.*save a plan with: npm run plan -- --out <file>/);
        // npm's "> pkg@version plan" banner above the JSON (npm run plan -- --json > file) is skipped.
        expect(parsePlan(`\n> coinpilot-infra@0.1.0 plan\n> node scripts/plan.ts --json\n\n${JSON.stringify(base)}`, "old.json").resources).toHaveLength(2);
        expect(() => parsePlan("{}", "old.json")).toThrow(/no "resources" array/);
        expect(() => parsePlan('{"resources":[{"type":"t"}]}', "old.json")).toThrow(/resources\[0\] needs/);
    });
});
