import * as pulumi from "@pulumi/pulumi";
import * as oci from "@pulumi/oci";
import { lifecycleRules, lifecycleServiceStatement } from "../lib/host/offsite";

export interface OffsiteCopyArgs {
    /** Compartment of the bucket and of the IAM policy that lets lifecycle rules delete. Required. */
    readonly compartmentId: pulumi.Input<string>;
    /** The region (oci:region): names the Object Storage service in the IAM policy. Required. */
    readonly region: string;
    /** Bucket name, unique in the tenancy's namespace. Required. */
    readonly bucketName: string;
    /** Days a copy is kept before the lifecycle rule deletes it. Required. */
    readonly retentionDays: number;
    /** When the host's write-only PAR stops working (RFC 3339, UTC). A new value replaces the PAR: that is the rotation. Required. */
    readonly uploadExpires: string;
    /** The tenancy's Object Storage namespace. Defaults to looking it up (getNamespace, which needs the OCI API). */
    readonly namespace?: string;
}

/**
 * The off-host copy of the backups: a private, versioned OCI Object Storage bucket, a lifecycle
 * policy that deletes copies after `retentionDays` (and the IAM policy Object Storage needs to
 * apply it), and a write-only pre-authenticated request (AnyObjectWrite) for the host. The host
 * holds no OCI credentials: with the PAR it can add objects, never list, read or delete them, and
 * an overwrite only adds a version (the old one stays until the lifecycle rule deletes it). The PAR
 * URL is a secret output (`uploadUrl`), kept encrypted in the state and never printed.
 */
export class OffsiteCopy extends pulumi.ComponentResource {
    /** The bucket's name. */
    public readonly bucketName: pulumi.Output<string>;
    /** The tenancy's Object Storage namespace (for `oci os object get --namespace`). */
    public readonly namespace: pulumi.Output<string>;
    /** The PAR URL, ending in /o/ (append the object name); secret. */
    public readonly uploadUrl: pulumi.Output<string>;
    /** When the PAR expires (RFC 3339). */
    public readonly uploadExpires: string;

    constructor(name: string, args: OffsiteCopyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coinpilot:backup:OffsiteCopy", name, {}, opts);
        if (!args.region) throw new Error(`OffsiteCopy ${name}: the region is unknown: pulumi config set oci:region <region> (or turn the copy off: pulumi config set coinpilot:offsiteCopy false)`);

        this.namespace = args.namespace
            ? pulumi.output(args.namespace)
            : oci.objectstorage.getNamespaceOutput({ compartmentId: args.compartmentId }, { parent: this }).namespace;
        const bucket = new oci.objectstorage.Bucket(
            `${name}-bucket`,
            {
                compartmentId: args.compartmentId,
                namespace: this.namespace,
                name: args.bucketName,
                accessType: "NoPublicAccess",
                storageTier: "Standard",
                autoTiering: "Disabled",
                // An object written again through the PAR becomes a new version; the old one stays.
                versioning: "Enabled",
                freeformTags: { "coinpilot-role": "offsite-backups" },
            },
            // The copies must outlive the stack, like the data volume they back up.
            { parent: this, protect: true, retainOnDelete: true },
        );
        this.bucketName = bucket.name;

        const servicePolicy = new oci.identity.Policy(
            `${name}-lifecycle-permission`,
            {
                compartmentId: args.compartmentId,
                name: `${args.bucketName}-lifecycle`,
                description: `Lets Object Storage apply the lifecycle rules of the ${args.bucketName} bucket (delete copies after ${args.retentionDays} days)`,
                statements: [lifecycleServiceStatement(args.region, String(args.compartmentId))],
            },
            { parent: this },
        );
        new oci.objectstorage.ObjectLifecyclePolicy(
            `${name}-lifecycle`,
            { namespace: this.namespace, bucket: bucket.name, rules: lifecycleRules(args.retentionDays) },
            { parent: this, dependsOn: [servicePolicy] },
        );

        const par = new oci.objectstorage.Preauthrequest(
            `${name}-upload-par`,
            {
                namespace: this.namespace,
                bucket: bucket.name,
                name: "coinpilot-host-upload",
                accessType: "AnyObjectWrite",
                timeExpires: args.uploadExpires,
            },
            // The URL carries the PAR's token: encrypted in the state, [secret] in every diff.
            { parent: this, additionalSecretOutputs: ["accessUri", "fullPath"] },
        );
        this.uploadExpires = args.uploadExpires;
        // fullPath is the whole URL; older provider answers only fill accessUri (a path on the regional endpoint).
        this.uploadUrl = pulumi.secret(
            pulumi.all([par.fullPath, par.accessUri]).apply(([fullPath, accessUri]) => fullPath || `https://objectstorage.${args.region}.oraclecloud.com${accessUri}`),
        );

        this.registerOutputs({ bucketName: this.bucketName, namespace: this.namespace, uploadExpires: this.uploadExpires });
    }
}
