// Temporary directories for one test file, removed after its tests: a directory left behind per run
// adds up on machines that run the tiers over and over (the swap-file tests write 1 GB each; leaked
// ones once filled this machine's disk mid-CI). A script outside jest (the backup benchmark) removes
// its own.
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

const made: string[] = [];
if (typeof afterAll === "function") afterAll(() => made.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

export function scratchDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
    made.push(dir);
    return dir;
}
