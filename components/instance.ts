import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import { DEFAULTS } from "../config";
import { CapacityHuntArgs, createInstanceCapacityHunt } from "../lib/launch/engine-hook";
import { huntProviderArgs } from "../lib/launch/provider";
import { A1_FLEX_SHAPE } from "../lib/rules/limits";


export interface A1InstanceArgs {
    /** OCID of the compartment the instance lives in. */
    readonly compartmentId: pulumi.Input<string>;
    /** The public subnet for the primary VNIC. */
    readonly subnetId: pulumi.Input<string>;
    /** Pinned arm64 Ubuntu image OCID. A different value replaces the instance and wipes its boot volume. */
    readonly imageId: pulumi.Input<string>;
    /** One OpenSSH public key line for the `ubuntu` user. Changing it replaces the instance. */
    readonly sshPublicKey: pulumi.Input<string>;
    /** OCPUs. Defaults to 2. */
    readonly ocpus?: number;
    /** Memory in GB. Defaults to 12. */
    readonly memoryInGbs?: number;
    /** Boot volume size in GB. Defaults to 50 (OCI's minimum). */
    readonly bootVolumeSizeInGbs?: number;
    /** Display name and hostname. Defaults to "coinpilot-ins". */
    readonly displayName?: string;
    /**
     * Availability domain name. Defaults to the region's first AD from `getAvailabilityDomains`
     * (a stable choice: the AD is part of the instance's identity, changing it replaces the instance).
     */
    readonly availabilityDomain?: pulumi.Input<string>;
    /**
     * 1-based position of the AD in the region's list, used when `availabilityDomain` is not given.
     * Defaults to 1. Lets a multi-AD region's capacity hunt move to another AD between runs.
     */
    readonly availabilityDomainIndex?: number;
    /**
     * Give the primary VNIC an ephemeral public IP. Defaults to true. Set false when a reserved public
     * IP is bound instead (DataStorage): a private IP carries at most one public IP.
     */
    readonly assignPublicIp?: boolean;
    /**
     * Extra resource options for the instance itself, e.g. the capacity hunt's error hooks
     * (`hooks: { onError: [...] }`) or `dependsOn`. Defaults to none.
     */
    readonly instanceOptions?: pulumi.CustomResourceOptions;
    /**
     * Keep retrying the launch through "Out of host capacity" and 429s with hooks on the instance,
     * which then gets its own OCI provider (`${name}-provider`: the stack's `oci:*` config with the
     * provider's own retries off, so the hunt decides). README "Capacity hunt". Defaults to none: a
     * failed launch fails the update, on the default provider.
     */
    readonly capacityHunt?: CapacityHuntArgs;
}

/** The CoinPilot host: one Ampere A1.Flex VM with a public IP, launched from a pinned image. */
export class A1Instance extends pulumi.ComponentResource {
    public readonly instance: oci.core.Instance;
    public readonly instanceId: pulumi.Output<string>;
    public readonly publicIp: pulumi.Output<string>;
    public readonly privateIp: pulumi.Output<string>;
    public readonly availabilityDomain: pulumi.Output<string>;

    constructor(name: string, args: A1InstanceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:compute:A1Instance", name, {}, opts);
        const displayName = args.displayName ?? DEFAULTS.instanceName;
        const availabilityDomain =
            args.availabilityDomain ??
            oci.identity
                .getAvailabilityDomainsOutput({ compartmentId: args.compartmentId }, { parent: this })
                .apply((result) => pickAvailabilityDomain(result.availabilityDomains.map((ad) => ad.name), args.availabilityDomainIndex ?? 1));

        const hunt = args.capacityHunt ? createInstanceCapacityHunt(`${name}-capacity-hunt`, args.capacityHunt) : undefined;
        const provider = hunt ? new oci.Provider(`${name}-provider`, huntProviderArgs(), { parent: this }) : undefined;
        this.instance = new oci.core.Instance(`${name}-vm`, {
            compartmentId: args.compartmentId,
            availabilityDomain,
            // Fault domain left unset on purpose: OCI then places the VM in any FD with capacity.
            displayName,
            shape: A1_FLEX_SHAPE,
            shapeConfig: {
                ocpus: args.ocpus ?? DEFAULTS.ocpus,
                memoryInGbs: args.memoryInGbs ?? DEFAULTS.memoryInGbs,
            },
            sourceDetails: {
                sourceType: "image",
                sourceId: args.imageId,
                bootVolumeSizeInGbs: String(args.bootVolumeSizeInGbs ?? DEFAULTS.bootVolumeSizeInGbs),
            },
            createVnicDetails: {
                subnetId: args.subnetId,
                assignPublicIp: args.assignPublicIp === false ? "false" : "true",
                hostnameLabel: hostnameLabel(displayName),
                displayName: `${displayName}-vnic`,
            },
            metadata: { ssh_authorized_keys: args.sshPublicKey },
            // Only IMDSv2: a container that reaches the metadata service cannot use the legacy endpoints.
            instanceOptions: { areLegacyImdsEndpointsDisabled: true },
            // A kept boot volume would eat the 200 GB free allowance and make the next launch fail with
            // LimitExceeded; data that must survive lives on the separate data volume instead.
            preserveBootVolume: false,
        }, {
            ...args.instanceOptions,
            ...(provider ? { provider } : {}),
            hooks: withCapacityHunt(args.instanceOptions?.hooks, hunt),
            // The replacement can't exist beside the old VM: its hostname label must be unique in the
            // subnet, the data volume attaches to one VM at a time, and two VMs exceed the free tier.
            deleteBeforeReplace: true,
            parent: this,
        });

        this.instanceId = this.instance.id;
        this.publicIp = this.instance.publicIp;
        this.privateIp = this.instance.privateIp;
        // The AD as chosen, not as the instance reports it: known at preview even while the VM is being
        // replaced, and what depends on it (the data volume) does not depend on the VM itself.
        this.availabilityDomain = pulumi.output(availabilityDomain);
        this.registerOutputs({
            instanceId: this.instanceId,
            publicIp: this.publicIp,
            privateIp: this.privateIp,
            availabilityDomain: this.availabilityDomain,
        });
    }
}

function withCapacityHunt(hooks: pulumi.ResourceHookBinding | undefined, hunt: pulumi.ResourceHookBinding | undefined): pulumi.ResourceHookBinding | undefined {
    if (!hunt) return hooks;
    return {
        ...hooks,
        beforeCreate: [...(hooks?.beforeCreate ?? []), ...(hunt.beforeCreate ?? [])],
        afterCreate: [...(hooks?.afterCreate ?? []), ...(hunt.afterCreate ?? [])],
        onError: [...(hooks?.onError ?? []), ...(hunt.onError ?? [])],
    };
}

/** The AD at a 1-based position; fails with the list when the region has fewer. */
export function pickAvailabilityDomain(names: readonly string[], index: number): string {
    const name = names[index - 1];
    if (!name) {
        throw new Error(
            `coinpilot:availabilityDomain: position ${index} does not exist; this region has ${names.length} availability domain(s): ${names.join(", ") || "none"}`,
        );
    }
    return name;
}

/** OCI hostname labels: lowercase letters, digits and hyphens, starting with a letter, at most 63. */
export function hostnameLabel(displayName: string): string {
    const label = displayName.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^[^a-z]+/, "").slice(0, 63);
    return label || "coinpilot";
}
