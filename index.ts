// CoinPilot's production host on OCI: wires the components and exports what an operator needs.
import { loadConfig } from "./config";
import { Network } from "./components/network";
import { A1Instance } from "./components/instance";

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
});

export const publicIp = host.publicIp;
export const instanceId = host.instanceId;
export const availabilityDomain = host.availabilityDomain;
export const sshCommand = host.publicIp.apply((ip) => `ssh ubuntu@${ip}`);
