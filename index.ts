// CoinPilot's production host on OCI: wires the components and exports what an operator needs.
import { launchRetrySettings, loadConfig } from "./config";
import { Network } from "./components/network";
import { A1Instance } from "./components/instance";
import { DataStorage } from "./components/storage";

const config = loadConfig();

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
    assignPublicIp: !config.reservePublicIp,
    capacityHunt: {
        settings: launchRetrySettings(config),
        deadlineMinutes: config.launchDeadlineMinutes,
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

export const publicIp = address;
export const instanceId = host.instanceId;
export const availabilityDomain = host.availabilityDomain;
export const dataVolumeId = storage.volumeId;
export const sshCommand = address.apply((ip) => `ssh ubuntu@${ip}`);
