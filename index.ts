// CoinPilot's production host on OCI: wires the components and exports what an operator needs.
import * as pulumi from "@pulumi/pulumi";
import { hostAlertWebhookUrl, launchRetrySettings, loadConfig } from "./config";
import { Network } from "./components/network";
import { A1Instance } from "./components/instance";
import { DataStorage } from "./components/storage";
import { Host } from "./components/host";
import { OffsiteCopy } from "./components/offsite";
import { sshTunnelCommand as tunnelCommand } from "./lib/host/tunnels";
import { opsCheckCommand as checkCommand } from "./lib/host/backup-files";

const { stack: config, host: hostConfig, offsite: offsiteConfig } = loadConfig();

const network = new Network("coinpilot-network", {
    compartmentId: config.compartmentId,
    sshAllowedCidr: config.sshAllowedCidr,
    vcnCidr: config.vcnCidr,
    subnetCidr: config.subnetCidr,
});

const host = new A1Instance("coinpilot-a1", {
    compartmentId: config.compartmentId,
    subnetId: network.subnetId,
    imageId: config.imageId,
    sshPublicKey: config.sshPublicKey,
    ocpus: config.ocpus,
    memoryInGbs: config.memoryInGbs,
    bootVolumeSizeInGbs: config.bootVolumeSizeInGbs,
    displayName: config.instanceName,
    availabilityDomain: config.availabilityDomain,
    availabilityDomainIndex: config.availabilityDomainIndex,
    assignPublicIp: !config.reservePublicIp,
    capacityHunt: {
        settings: launchRetrySettings(config),
        deadlineMinutes: config.launchDeadlineMinutes,
        huntDeadlineHours: config.launchHuntDeadlineHours,
        discordWebhookUrl: config.discordWebhookUrl,
    },
});

// What must outlive the VM: the data volume (Docker's data root) and, if asked, a reserved address.
const storage = new DataStorage("coinpilot-data", {
    compartmentId: config.compartmentId,
    availabilityDomain: host.availabilityDomain,
    instanceId: host.instanceId,
    sizeInGbs: config.dataVolumeSizeInGbs,
    existingVolumeId: config.dataVolumeId,
    reservePublicIp: config.reservePublicIp,
    existingPublicIpId: config.reservedPublicIpId,
});
/** The address the host answers on: the reserved one when there is one. */
const address = storage.publicIp ?? host.publicIp;

// A copy of every backup off the host: a bucket the host can only write to (README "Off-host copy").
const offsite = offsiteConfig.enabled
    ? new OffsiteCopy("coinpilot-offsite", {
          compartmentId: config.compartmentId,
          region: new pulumi.Config("oci").get("region") ?? "",
          bucketName: offsiteConfig.bucketName,
          retentionDays: offsiteConfig.retentionDays,
          uploadExpires: offsiteConfig.uploadExpires,
          namespace: offsiteConfig.namespace,
      })
    : undefined;

const alertWebhook = hostAlertWebhookUrl(config, hostConfig);
// Docker, firewall, the app at appRef, its .env, the systemd unit and a health gate, over SSH.
const bootstrap = new Host("coinpilot-host", {
    instance: host.instance,
    instanceId: host.instanceId,
    bootImageId: config.imageId,
    publicIp: address,
    sshPrivateKey: pulumi.secret(hostConfig.sshPrivateKey.reveal()),
    appRepoUrl: hostConfig.appRepoUrl,
    appRef: hostConfig.appRef,
    appRepoToken: hostConfig.appRepoToken && pulumi.secret(hostConfig.appRepoToken.reveal()),
    appSecrets: {
        upbitAccessKey: pulumi.secret(hostConfig.upbitAccessKey.reveal()),
        upbitSecretKey: pulumi.secret(hostConfig.upbitSecretKey.reveal()),
        openaiApiKey: hostConfig.openaiApiKey && pulumi.secret(hostConfig.openaiApiKey.reveal()),
    },
    timezone: hostConfig.timezone,
    swapSizeGb: hostConfig.swapSizeGb,
    // The app's other .env variables (README "The app's .env").
    appEnv: hostConfig.appEnv,
    appSecretEnv: Object.fromEntries(Object.entries(hostConfig.appSecretEnv).map(([key, value]) => [key, pulumi.secret(value.reveal())])),
    dataVolumeAttachment: storage.attachment,
    ...(offsite ? { offsiteUpload: { url: offsite.uploadUrl, expires: offsite.uploadExpires } } : {}),
    // Host alerts (failed backup jobs, compose unit or boot health check; the daily backup heartbeat): opsWebhookUrl, else the hunt's channel.
    ...(alertWebhook ? { alertWebhookUrl: pulumi.secret(alertWebhook.reveal()) } : {}),
    // Saved values of the generated secrets (restore into an empty stack); the rest are generated.
    generatedSecretOverrides: Object.fromEntries(
        Object.entries(hostConfig.generatedSecretOverrides).map(([key, value]) => [key, pulumi.secret(value.reveal())]),
    ),
});

export const publicIp = address;
export const instanceId = host.instanceId;
export const availabilityDomain = host.availabilityDomain;
export const dataVolumeId = storage.volumeId;
export const deployedCommit = bootstrap.deployedCommit;
/** Secret: the generated .env passwords in use; `npm run secrets:save` copies them into encrypted stack config. */
export const generatedSecrets = bootstrap.generatedSecrets;
export const sshCommand = address.apply((ip) => `ssh ubuntu@${ip}`);
/** The runbook's tunnels: dashboard localhost:18501, n8n :15678, Grafana :13000, Prometheus :19090 (README "Reaching the internal UIs"). */
export const sshTunnelCommand = address.apply((ip) => tunnelCommand(ip));
/** The runbook's 24-hour check on the host, PASS/FAIL per check and its exit status (README "The runbook on this layout"). */
export const opsCheckCommand = address.apply((ip) => checkCommand(ip));
/** Where the off-host copies are (`oci os object list --namespace … --bucket-name …`); the upload URL is never exported. */
export const offsiteBucket = offsite ? pulumi.interpolate`${offsite.namespace}/${offsite.bucketName}` : "";
