import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import { DEFAULTS } from "../config";
import { BLOCK_VOLUME } from "../lib/rules/limits";
import { checkOcid } from "../lib/rules/validate";
import { DATA_DEVICE_PATH } from "../lib/host/data-layout";

export { DATA_DEVICE_PATH, DATA_MOUNT_POINT } from "../lib/host/data-layout";

export interface DataStorageArgs {
    /** OCID of the compartment for the volume and the reserved IP. */
    readonly compartmentId: pulumi.Input<string>;
    /** The instance's availability domain: a block volume attaches only inside its own AD. */
    readonly availabilityDomain: pulumi.Input<string>;
    /** The instance the volume attaches to (and whose primary private IP gets the reserved IP). */
    readonly instanceId: pulumi.Input<string>;
    /** Size of a new data volume in GB. Defaults to 50 (OCI's minimum). Ignored with `existingVolumeId`. */
    readonly sizeInGbs?: number;
    /**
     * OCID of a volume that already holds the data (coinpilot:dataVolumeId): it is attached, and no
     * volume is created. Defaults to none: the component creates (and protects) its own volume.
     */
    readonly existingVolumeId?: string;
    /** Give the host a reserved public IP that outlives the VM (coinpilot:reservePublicIp). Defaults to false. */
    readonly reservePublicIp?: boolean;
    /**
     * OCID of a reserved public IP to adopt instead of reserving a new one (coinpilot:reservedPublicIpId).
     * Implies `reservePublicIp`. Defaults to none.
     */
    readonly existingPublicIpId?: string;
    /** Display name prefix. Defaults to "coinpilot-data". */
    readonly displayName?: string;
}

/** Problems with the args, each naming the config key to fix. */
export function checkStorageArgs(args: Pick<DataStorageArgs, "sizeInGbs" | "existingVolumeId" | "existingPublicIpId">): string[] {
    const problems: string[] = [];
    const size = args.sizeInGbs ?? DEFAULTS.dataVolumeSizeInGbs;
    if (!Number.isInteger(size) || size < BLOCK_VOLUME.minInGbs || size > BLOCK_VOLUME.maxInGbs) {
        problems.push(`coinpilot:dataVolumeSizeInGbs ${size} must be a whole number of GB in ${BLOCK_VOLUME.minInGbs}–${BLOCK_VOLUME.maxInGbs}`);
    }
    const volume = args.existingVolumeId && checkOcid(args.existingVolumeId, ["volume"]);
    if (volume) problems.push(`coinpilot:dataVolumeId: ${volume}`);
    const ip = args.existingPublicIpId && checkOcid(args.existingPublicIpId, ["publicip"]);
    if (ip) problems.push(`coinpilot:reservedPublicIpId: ${ip}`);
    return problems;
}

/** The primary private IP of an instance's (only) VNIC: what a reserved public IP is bound to. */
export function primaryPrivateIpId(
    compartmentId: pulumi.Input<string>,
    instanceId: pulumi.Input<string>,
    opts: pulumi.InvokeOutputOptions,
): pulumi.Output<string> {
    const vnicId = oci.core.getVnicAttachmentsOutput({ compartmentId, instanceId }, opts).apply((result) => {
        const attached = result.vnicAttachments.find((a) => a.state === "ATTACHED");
        if (!attached) throw new Error(`instance ${result.instanceId} has no ATTACHED VNIC; cannot bind the reserved public IP`);
        return attached.vnicId;
    });
    return oci.core.getPrivateIpsOutput({ vnicId }, opts).apply((result) => {
        const primary = result.privateIps.find((ip) => ip.isPrimary);
        if (!primary) throw new Error(`VNIC ${result.vnicId} has no primary private IP`);
        return primary.id;
    });
}

/**
 * The data that must survive a destroy/recreate of the VM: a block volume (protected and retained
 * on delete) attached paravirtualized at a stable device path, and optionally a reserved public IP
 * (also protected and retained) so the address stays the same for DNS, webhooks and SSH.
 */
export class DataStorage extends pulumi.ComponentResource {
    /** The volume the data lives on, created here or given by OCID. */
    public readonly volumeId: pulumi.Output<string>;
    /** The created volume; undefined when an existing volume was attached. */
    public readonly volume?: oci.core.Volume;
    public readonly attachment: oci.core.VolumeAttachment;
    /** Device path on the host (the mount script's DATA_DEVICE). */
    public readonly devicePath: string;
    /** The reserved public IP, when one is requested. */
    public readonly reservedIp?: oci.core.PublicIp;
    /** The reserved address, or undefined when the instance keeps its ephemeral public IP. */
    public readonly publicIp?: pulumi.Output<string>;

    constructor(name: string, args: DataStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:storage:DataStorage", name, {}, opts);
        const problems = checkStorageArgs(args);
        if (problems.length) throw new Error(`DataStorage ${name}: ${problems.join("; ")}`);
        const displayName = args.displayName ?? "coinpilot-data";
        // Deleting either would lose what this component exists to keep: protect blocks `pulumi destroy`
        // (use --exclude-protected), retainOnDelete keeps the cloud object even if it leaves the program.
        const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };

        if (args.existingVolumeId) {
            // Not adopted as a resource: this stack never manages (or deletes) a volume it did not create.
            this.volumeId = pulumi.output(args.existingVolumeId);
        } else {
            this.volume = new oci.core.Volume(`${name}-volume`, {
                compartmentId: args.compartmentId,
                availabilityDomain: args.availabilityDomain,
                sizeInGbs: String(args.sizeInGbs ?? DEFAULTS.dataVolumeSizeInGbs),
                displayName: `${displayName}-volume`,
            }, keep);
            this.volumeId = this.volume.id;
        }

        this.devicePath = DATA_DEVICE_PATH;
        this.attachment = new oci.core.VolumeAttachment(`${name}-attachment`, {
            // Paravirtualized: no iSCSI login on the host, and the device path is stable across boots.
            attachmentType: "paravirtualized",
            instanceId: args.instanceId,
            volumeId: this.volumeId,
            device: this.devicePath,
            displayName: `${displayName}-attachment`,
            // A volume attaches to one instance at a time: detach from the old VM before the new attach.
        }, { parent: this, deleteBeforeReplace: true });

        if (args.reservePublicIp || args.existingPublicIpId) {
            this.reservedIp = new oci.core.PublicIp(`${name}-ip`, {
                compartmentId: args.compartmentId,
                lifetime: "RESERVED",
                privateIpId: primaryPrivateIpId(args.compartmentId, args.instanceId, { parent: this }),
                displayName: `${displayName}-ip`,
            }, { ...keep, ...(args.existingPublicIpId ? { import: args.existingPublicIpId } : {}) });
            this.publicIp = this.reservedIp.ipAddress;
        }

        this.registerOutputs({ volumeId: this.volumeId, attachmentId: this.attachment.id, publicIp: this.publicIp });
    }
}
