import { createHash, createHmac } from "crypto";

/** Hex SHA-256 of shipped content: the trigger that re-runs exactly the steps that ship it. */
export function sha256(content: string | Buffer): string {
    return createHash("sha256").update(content).digest("hex");
}

/** Hex HMAC-SHA-256: a digest of secret content that only the key's holder can recompute. */
export function hmacSha256(key: string, content: string): string {
    return createHmac("sha256", key).update(content).digest("hex");
}
