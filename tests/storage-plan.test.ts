// The program's storage through `npm run plan -- --json`, as a reviewer sees it (moved out of
// tests/storage.test.ts: three plan runs in child processes belong to the assets tier, jest.tiers.js).
import { execFile } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { scratchDir } from "./helpers/scratch";
import { exampleConfigFile } from "./helpers/example-config";
import { DATA_DEVICE_PATH } from "../components/storage";

const EXISTING_VOLUME = "ocid1.volume.oc1.ap-chuncheon-1.aaaaaaaaexistingvolumeexample";
const VOLUME = "oci:Core/volume:Volume";
const ATTACHMENT = "oci:Core/volumeAttachment:VolumeAttachment";
const PUBLIC_IP = "oci:Core/publicIp:PublicIp";

describe("the program's storage in the offline plan", () => {
    const ROOT = path.resolve(__dirname, "..");
    const dir = scratchDir("storage-plan");
    type Planned = { type: string; name: string; inputs: Record<string, any>; options?: Record<string, unknown> };

    type Plan = { resources: Planned[]; outputs: Record<string, unknown> };
    const CONFIGS = { base: {}, reserved: { "coinpilot:reservePublicIp": "true" }, existing: { "coinpilot:dataVolumeId": EXISTING_VOLUME } };
    const plans = new Map<keyof typeof CONFIGS, Plan>();

    /** One `npm run plan -- --json` child per config, run side by side (each takes seconds). */
    function runPlan(name: keyof typeof CONFIGS): Promise<void> {
        const file = exampleConfigFile((config) => Object.assign(config, CONFIGS[name]), { dir, name: `Pulumi.prod-${name}.yaml` });
        return new Promise((done, fail) =>
            execFile("npm", ["run", "-s", "plan", "--", "--config-file", file, "--json"], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
                if (err) return fail(new Error(`plan (${name}) failed: ${stderr}`));
                plans.set(name, JSON.parse(stdout));
                done();
            }),
        );
    }
    // Three plan runs side by side, each evaluating the program from TypeScript in a new node (~6 CPU-s):
    // on 2 cores with other work running that took 24 s; a bound against hangs, not a timing.
    beforeAll(() => Promise.all((Object.keys(CONFIGS) as (keyof typeof CONFIGS)[]).map(runPlan)), 180_000);
    const plan = (name: keyof typeof CONFIGS): Plan => plans.get(name)!;
    const find = (resources: Planned[], type: string) => resources.filter((r) => r.type === type);

    it("shows the protected data volume attached to the VM, and no reserved IP by default", () => {
        const { resources, outputs } = plan("base");
        const [volume] = find(resources, VOLUME);
        expect(volume.options).toEqual({ protect: true, retainOnDelete: true });
        const [attachment] = find(resources, ATTACHMENT);
        expect(attachment.inputs).toMatchObject({ attachmentType: "paravirtualized", device: DATA_DEVICE_PATH });
        expect(attachment.inputs.volumeId).toBe(outputs.dataVolumeId);
        expect(find(resources, PUBLIC_IP)).toEqual([]);
        expect(find(resources, "oci:Core/instance:Instance")[0].inputs.createVnicDetails.assignPublicIp).toBe("true");
    });

    it("with reservePublicIp: a RESERVED, protected IP, and the VM without an ephemeral one", () => {
        const { resources, outputs } = plan("reserved");
        const [ip] = find(resources, PUBLIC_IP);
        expect(ip.inputs.lifetime).toBe("RESERVED");
        expect(ip.options).toEqual({ protect: true, retainOnDelete: true });
        expect(find(resources, "oci:Core/instance:Instance")[0].inputs.createVnicDetails.assignPublicIp).toBe("false");
        expect(outputs.sshCommand).toBe("ssh ubuntu@203.0.113.10");
    });

    it("recreating into an empty stack with dataVolumeId attaches that volume and creates none", () => {
        const { resources, outputs } = plan("existing");
        expect(find(resources, VOLUME)).toEqual([]);
        expect(find(resources, ATTACHMENT)[0].inputs.volumeId).toBe(EXISTING_VOLUME);
        expect(outputs.dataVolumeId).toBe(EXISTING_VOLUME);
    });

    it("names real resources in the runbook's import and replace commands", () => {
        const { resources } = plan("reserved");
        const runbook = readFileSync(path.join(ROOT, "docs/disaster-recovery.md"), "utf8");
        const urnOf = (r: { type: string; name: string; parent: string | null }) =>
            `urn:pulumi:prod::coinpilot::${r.parent ? `${r.parent.split("::")[0]}$` : ""}${r.type}::${r.name}`;
        const urns = new Set((resources as any[]).map(urnOf));
        const imports = [...runbook.matchAll(/pulumi import '([^']+)' (\S+) <[^>]+> \\?\s*--parent '[^=]+=([^']+)'/g)];
        expect(imports.map((m) => `${m[1]} ${m[2]}`)).toEqual(["oci:Core/volume:Volume coinpilot-data-volume", "oci:Core/publicIp:PublicIp coinpilot-data-ip"]);
        for (const [, type, name] of imports) {
            expect(resources).toContainEqual(expect.objectContaining({ type, name, parent: "coinpilot:storage:DataStorage::coinpilot-data" }));
        }
        const parents = imports.map((m) => m[3]).filter((u) => u.startsWith("urn:"));
        expect(parents).toEqual(["urn:pulumi:prod::coinpilot::coinpilot:storage:DataStorage::coinpilot-data"]);
        expect(urns).toContain(parents[0]);
        const replaced = /pulumi up --replace '([^']+)'/.exec(runbook)![1];
        expect(urns).toContain(replaced);
    });
});
