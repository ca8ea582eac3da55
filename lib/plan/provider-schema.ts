// What the real providers' schemas say about the resource types this program uses: the inputs whose
// change forces a replacement (terraform-provider-oci `ForceNew`, pulumi-command `replaceOnChanges`,
// terraform-provider-random `RequiresReplace`) and the computed outputs a create returns. Read from the
// providers' sources; `block.field` names a field inside a nested block. One table for both sides:
// the offline plan's diff (lib/plan/plan-diff.ts) and the engine's stand-in providers (engine/standin).
export type PackageName = "oci" | "command" | "random";

export const PACKAGES: readonly PackageName[] = ["oci", "command", "random"];

/** `*`: the resource has no update, so any change replaces it. */
export const ANY_CHANGE = "*";

// terraform-provider-oci internal/service/{core,objectstorage} schemas (ForceNew, CustomizeDiff),
// pulumi-command's replaceOnChanges, terraform-provider-random's RequiresReplace. Fields of the real
// schemas this program never sets are left out. Not replacing, though destructive: an instance's
// sourceDetails.sourceId (a new image) swaps the boot volume in place.
export const REPLACE_ON_CHANGES: Readonly<Record<string, readonly string[]>> = {
    "oci:Core/vcn:Vcn": ["cidrBlock", "dnsLabel"],
    "oci:Core/internetGateway:InternetGateway": ["vcnId"],
    "oci:Core/routeTable:RouteTable": ["vcnId"],
    "oci:Core/securityList:SecurityList": ["vcnId"],
    "oci:Core/subnet:Subnet": ["vcnId", "availabilityDomain", "dnsLabel", "prohibitInternetIngress", "prohibitPublicIpOnVnic"],
    "oci:Core/instance:Instance": [
        "availabilityDomain",
        "isPvEncryptionInTransitEnabled",
        "preemptibleInstanceConfig",
        // metadata replaces only when one of these two keys changes (CustomizeDiff); other keys update.
        "metadata.ssh_authorized_keys",
        "metadata.user_data",
        "createVnicDetails.subnetId",
        "createVnicDetails.privateIp",
        "createVnicDetails.assignPrivateDnsRecord",
        "launchOptions.firmware",
        "launchOptions.remoteDataVolumeType",
    ],
    "oci:Core/volume:Volume": ["availabilityDomain", "sourceDetails", "volumeBackupId", "xrcKmsKeyId"],
    "oci:Core/volumeAttachment:VolumeAttachment": [ANY_CHANGE],
    "oci:Core/publicIp:PublicIp": ["lifetime", "publicIpPoolId"],
    "oci:ObjectStorage/bucket:Bucket": ["name", "namespace", "storageTier"],
    "oci:ObjectStorage/preauthrequest:Preauthrequest": [ANY_CHANGE],
    "oci:ObjectStorage/objectLifecyclePolicy:ObjectLifecyclePolicy": ["bucket", "namespace"],
    "command:remote:Command": ["triggers"],
    "command:remote:CopyToRemote": ["triggers"],
    "random:index/randomPassword:RandomPassword": [ANY_CHANGE],
};

export const COMPUTED_OUTPUTS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
    "oci:Core/instance:Instance": { publicIp: "192.0.2.10", privateIp: "10.0.1.10", state: "RUNNING" },
    "oci:Core/volume:Volume": { state: "AVAILABLE" },
    "oci:Core/volumeAttachment:VolumeAttachment": { state: "ATTACHED" },
    "oci:Core/vcn:Vcn": { state: "AVAILABLE" },
    "oci:Core/subnet:Subnet": { state: "AVAILABLE" },
    "command:remote:Command": { stdout: "", stderr: "" },
    // A pre-authenticated request answers its path (and the whole URL) only when it is created.
    "oci:ObjectStorage/preauthrequest:Preauthrequest": {
        accessUri: "/p/standin-par-token/n/standin-namespace/b/coinpilot-backups/o/",
        fullPath: "https://objectstorage.ap-chuncheon-1.oraclecloud.com/p/standin-par-token/n/standin-namespace/b/coinpilot-backups/o/",
    },
};
