// OCI's sizing facts, defined once and kept pure (no Pulumi import): config.ts validates stack config
// against them and the policy pack (policy/, its own node_modules) enforces the same numbers.

/** The Ampere A1 shape the program launches. */
export const A1_FLEX_SHAPE = "VM.Standard.A1.Flex";
/** Free-tier allowance for Ampere A1 in a tenancy (all A1 instances together). */
export const FREE_TIER = { ocpus: 4, memoryInGbs: 24, blockStorageInGbs: 200 } as const;
/** VM.Standard.A1.Flex limits per instance. */
export const A1_FLEX = { maxOcpus: 80, minMemoryPerOcpu: 1, maxMemoryPerOcpu: 64, maxMemoryInGbs: 512 } as const;
/** OCI block volume size limits (GB); boot and data volumes are both block volumes. */
export const BLOCK_VOLUME = { minInGbs: 50, maxInGbs: 32768 } as const;
