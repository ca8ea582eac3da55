import { createHash } from "crypto";

/** Hex SHA-256 of shipped content: the trigger that re-runs exactly the steps that ship it. */
export function sha256(content: string | Buffer): string {
    return createHash("sha256").update(content).digest("hex");
}
