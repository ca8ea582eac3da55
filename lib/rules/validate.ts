// Pure validators for stack config values. Each returns a problem sentence (without the key)
// or undefined; config.ts prefixes the key so every message names what to fix.

export interface Ipv4Cidr {
    readonly address: number;
    readonly prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): number | undefined {
    const parts = text.split(".");
    if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
    return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(address: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

export function parseCidr(text: string): Ipv4Cidr | undefined {
    const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
    if (!match) return undefined;
    const address = parseIpv4(match[1]);
    const prefix = Number(match[2]);
    if (address === undefined || prefix > 32) return undefined;
    return { address, prefix };
}

function blockSize(prefix: number): number {
    return 2 ** (32 - prefix);
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    const start = outer.address - (outer.address % blockSize(outer.prefix));
    return inner.prefix >= outer.prefix && inner.address >= start && inner.address < start + blockSize(outer.prefix);
}

/** Ranges an SSH client on the internet can never come from; a /32 in them locks the owner out. */
const NON_PUBLIC_RANGES: [string, string][] = [
    ["0.0.0.0/8", "the 'this network' range"],
    ["10.0.0.0/8", "a private (RFC 1918) address, e.g. a home LAN or WSL address"],
    ["100.64.0.0/10", "a carrier-grade NAT address"],
    ["127.0.0.0/8", "a loopback address"],
    ["169.254.0.0/16", "a link-local address"],
    ["172.16.0.0/12", "a private (RFC 1918) address, e.g. a home LAN or WSL address"],
    ["192.168.0.0/16", "a private (RFC 1918) address, e.g. a home LAN or WSL address"],
    ["224.0.0.0/3", "a multicast or reserved address"],
];

/** Validates the single public address allowed to reach SSH. */
export function checkSshCidr(text: string): string | undefined {
    const fix = "set it to your own public IPv4 address with /32, e.g. 198.51.100.7/32 (find it with `curl -4 ifconfig.me`)";
    const trimmed = text.trim();
    if (/^0\.0\.0\.0\/0$/.test(trimmed)) return `0.0.0.0/0 would open SSH to the whole internet; ${fix}`;
    if (parseIpv4(trimmed) !== undefined) return `"${trimmed}" has no prefix; write "${trimmed}/32"`;
    const cidr = parseCidr(trimmed);
    if (!cidr) return `"${text}" is not an IPv4 CIDR; ${fix}`;
    if (cidr.prefix !== 32) return `"${text}" allows ${blockSize(cidr.prefix)} addresses; SSH is opened to exactly one address: ${fix}`;
    for (const [range, what] of NON_PUBLIC_RANGES) {
        if (cidrContains(parseCidr(range)!, cidr)) return `"${text}" is ${what}, which never reaches an OCI public IP; ${fix}`;
    }
    return undefined;
}

/** Validates the VCN and subnet ranges against each other and OCI's VCN size limits. */
export function checkNetworkCidrs(vcnText: string, subnetText: string): { vcn?: string; subnet?: string } {
    const problems: { vcn?: string; subnet?: string } = {};
    const vcn = parseCidr(vcnText);
    const subnet = parseCidr(subnetText);
    if (!vcn) problems.vcn = `"${vcnText}" is not an IPv4 CIDR such as 10.0.0.0/16`;
    else if (vcn.prefix < 16 || vcn.prefix > 30) problems.vcn = `"${vcnText}": OCI accepts VCN prefixes /16 to /30`;
    else if (vcn.address % blockSize(vcn.prefix) !== 0) problems.vcn = `"${vcnText}" has host bits set; use ${formatIpv4(vcn.address - (vcn.address % blockSize(vcn.prefix)))}/${vcn.prefix}`;
    if (!subnet) problems.subnet = `"${subnetText}" is not an IPv4 CIDR such as 10.0.1.0/24`;
    else if (subnet.prefix > 30) problems.subnet = `"${subnetText}": OCI subnets need a prefix of /30 or shorter`;
    else if (subnet.address % blockSize(subnet.prefix) !== 0) problems.subnet = `"${subnetText}" has host bits set; use ${formatIpv4(subnet.address - (subnet.address % blockSize(subnet.prefix)))}/${subnet.prefix}`;
    else if (vcn && !problems.vcn && !cidrContains(vcn, subnet)) problems.subnet = `"${subnetText}" is not inside the VCN ${vcnText}; pick a subnet range within it, e.g. the VCN's first /24`;
    return problems;
}

const OCID = /^ocid1\.([a-z0-9]+)\.(oc[0-9]+)\.([a-z0-9-]*)(?:\.[a-z0-9-]+)?\.([a-z0-9]{20,})$/;

/** Validates an OCID and that it names one of the expected resource types. */
export function checkOcid(text: string, kinds: readonly string[]): string | undefined {
    const match = OCID.exec(text.trim());
    const example = `ocid1.${kinds[0]}.oc1..aaaaaaaa…`;
    if (!match) return `"${text}" is not an OCID (expected something like ${example}; copy it from the OCI console)`;
    if (!kinds.includes(match[1])) return `"${text}" is a ${match[1]} OCID; expected a ${kinds.join(" or ")} OCID`;
    return undefined;
}

const KEY_TYPES = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"];

/** Validates an OpenSSH public key line, and refuses private-key material. */
export function checkSshPublicKey(text: string): string | undefined {
    const fix = "paste the one-line contents of your .pub file (ssh-keygen -t ed25519 creates one)";
    if (/PRIVATE KEY/.test(text)) return `this is PRIVATE key material: never put it in config; ${fix}, and treat the pasted key as leaked`;
    const trimmed = text.trim();
    if (trimmed.includes("\n")) return `expected exactly one key line; ${fix}`;
    const [type, blob] = trimmed.split(/\s+/);
    if (!KEY_TYPES.includes(type)) return `key type "${type ?? ""}" is not one of ${KEY_TYPES.join(", ")}; ${fix}`;
    if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return `the key body is not base64; ${fix}`;
    // The blob starts with its own type name (RFC 4253 string): a truncated or mixed-up key fails here.
    const bytes = Buffer.from(blob, "base64");
    const nameLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
    if (nameLength < 0 || bytes.subarray(4, 4 + nameLength).toString("latin1") !== type) {
        return `the key body does not match its type "${type}" (truncated or corrupted when copied?); ${fix}`;
    }
    return undefined;
}

/** Parses a config number the way a user writes it; undefined when it is not a finite number. */
export function parseNumber(text: string): number | undefined {
    if (!/^\s*-?\d+(\.\d+)?\s*$/.test(text)) return undefined;
    return Number(text);
}

export function parseBoolean(text: string): boolean | undefined {
    const lowered = text.trim().toLowerCase();
    if (lowered === "true") return true;
    if (lowered === "false") return false;
    return undefined;
}

/**
 * Whether a private key block needs a passphrase to use: PKCS#8 `ENCRYPTED PRIVATE KEY`, a legacy PEM
 * with `Proc-Type: 4,ENCRYPTED`, or an OpenSSH key whose cipher (the field after the magic) is not
 * "none". The remote steps connect without a prompt, so such a key fails only once the VM exists.
 */
export function isPassphraseProtected(block: string): boolean {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(block) || /Proc-Type:\s*4,ENCRYPTED/.test(block)) return true;
    const openssh = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(block);
    if (!openssh) return false;
    const blob = Buffer.from(openssh[1].replace(/\s+/g, ""), "base64");
    const magic = "openssh-key-v1\0";
    if (blob.subarray(0, magic.length).toString("latin1") !== magic || blob.length < magic.length + 4) return false;
    const length = blob.readUInt32BE(magic.length);
    return blob.subarray(magic.length + 4, magic.length + 4 + length).toString("latin1") !== "none";
}
