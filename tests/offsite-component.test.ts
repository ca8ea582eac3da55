// The off-host copy's cloud side under the fake cloud: the OffsiteCopy component (bucket, lifecycle,
// the IAM policy it needs, the write-only PAR), its wiring through the Host to the Backups step that
// installs the URL file, its config keys, and that the PAR URL never leaves a secret.
import { byName, byType, created, invokes, isSecretEnvelope, parentOf, plainStrings, resolve, settle, useConfig } from "./mocks";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { parse } from "yaml";
import { OffsiteCopy } from "../components/offsite";
import { Backups } from "../components/backups";
import { ConfigError, OFFSITE_CONFIG_KEYS, validateOffsiteConfig } from "../config";
import { FAKE_NAMESPACE, FAKE_PAR_TOKEN_PREFIX, RecordedResource } from "../lib/plan/mock-cloud";
import { OFFSITE_DEFAULTS, OFFSITE_URL_FILE, lifecycleRules, lifecycleServiceStatement, normalizeExpiry, offsiteUrlCommand, offsiteUrlFileText } from "../lib/host/offsite";
import { hmacSha256, sha256 } from "../lib/host/hash";
import { shellDefault } from "./helpers/shell";
import { REPO_ROOT, describeWithBinaries, requireBinaries } from "./helpers/servers";
import { scratchDir } from "./helpers/scratch";

const COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaaexamplecompartmentexampleexample";
const ARGS = { compartmentId: COMPARTMENT, region: "ap-chuncheon-1", bucketName: "coinpilot-backups", retentionDays: 30, uploadExpires: "2028-12-31T00:00:00Z" };
const INSTANCE_ID = "ocid1.instance.oc1..aaaaaaaaexampleinstance";

/** Inputs with secrets opened, for comparing two registrations of the same resource. */
const opened = (r: RecordedResource) => JSON.stringify(r.inputs, (_k, v) => (isSecretEnvelope(v) ? { secret: v.value } : v));

describe("OffsiteCopy under mocks", () => {
    let copy: OffsiteCopy;
    beforeAll(async () => {
        useConfig({});
        copy = new OffsiteCopy("off", ARGS);
        await settle();
    });

    it("is a coinpilot:backup:OffsiteCopy holding the bucket, its lifecycle, the IAM policy and the PAR", () => {
        expect(byName("off").type).toBe("coinpilot:backup:OffsiteCopy");
        const children = created.filter((r) => r.parent === byName("off").urn).map((r) => `${r.type} ${r.name}`);
        expect(children.sort()).toEqual([
            "oci:Identity/policy:Policy off-lifecycle-permission",
            "oci:ObjectStorage/bucket:Bucket off-bucket",
            "oci:ObjectStorage/objectLifecyclePolicy:ObjectLifecyclePolicy off-lifecycle",
            "oci:ObjectStorage/preauthrequest:Preauthrequest off-upload-par",
        ]);
        // The namespace comes from the tenancy, looked up once (the token the provider uses).
        expect(invokes().map((i) => i.token)).toEqual(["oci:ObjectStorage/getNamespace:getNamespace"]);
        expect(invokes()[0].inputs).toEqual({ compartmentId: COMPARTMENT });
    });

    it("makes the bucket private and versioned, and keeps it (and its copies) when the stack goes", () => {
        const bucket = byName("off-bucket");
        expect(bucket.inputs).toMatchObject({ compartmentId: COMPARTMENT, namespace: FAKE_NAMESPACE, name: "coinpilot-backups", accessType: "NoPublicAccess", versioning: "Enabled", storageTier: "Standard" });
        expect(bucket.options).toMatchObject({ protect: true, retainOnDelete: true });
    });

    it("deletes copies (and overwritten versions) after the retention, aborts stale uploads, and has the permission that needs", () => {
        const lifecycle = byName("off-lifecycle");
        expect(lifecycle.inputs).toMatchObject({ namespace: FAKE_NAMESPACE, bucket: "coinpilot-backups" });
        expect(lifecycle.inputs.rules).toEqual([
            { name: "delete-copies-after-retention", action: "DELETE", target: "objects", timeAmount: "30", timeUnit: "DAYS", isEnabled: true },
            { name: "delete-overwritten-versions-after-retention", action: "DELETE", target: "previous-object-versions", timeAmount: "30", timeUnit: "DAYS", isEnabled: true },
            { name: "abort-unfinished-uploads", action: "ABORT", target: "multipart-uploads", timeAmount: "1", timeUnit: "DAYS", isEnabled: true },
        ]);
        const policy = byName("off-lifecycle-permission");
        expect(policy.inputs.statements).toEqual([`Allow service objectstorage-ap-chuncheon-1 to manage object-family in compartment id ${COMPARTMENT}`]);
        expect(lifecycle.options.dependsOn).toEqual([policy.urn]);
        expect(lifecycleServiceStatement("eu-frankfurt-1", "ocid1.tenancy.oc1..aaaa")).toBe("Allow service objectstorage-eu-frankfurt-1 to manage object-family in tenancy");
    });

    it("gives the host a write-only PAR (AnyObjectWrite) on the bucket, and its URL only as a secret", async () => {
        const par = byName("off-upload-par");
        expect(par.inputs).toEqual({ namespace: FAKE_NAMESPACE, bucket: "coinpilot-backups", name: "coinpilot-host-upload", accessType: "AnyObjectWrite", timeExpires: "2028-12-31T00:00:00Z" });
        expect(parentOf(par)?.name).toBe("off");
        const url = await resolve(copy.uploadUrl);
        expect(url.secret).toBe(true);
        expect(url.value).toMatch(new RegExp(`^https://objectstorage\\.ap-chuncheon-1\\.oraclecloud\\.com/p/${FAKE_PAR_TOKEN_PREFIX}\\w+/n/${FAKE_NAMESPACE}/b/coinpilot-backups/o/$`));
        expect((await resolve(copy.namespace)).value).toBe(FAKE_NAMESPACE);
        expect(copy.uploadExpires).toBe("2028-12-31T00:00:00Z");
    });

    it("uses a namespace given in config instead of looking it up (no OCI API needed)", async () => {
        useConfig({});
        const named = new OffsiteCopy("named", { ...ARGS, namespace: "givenns" });
        await settle();
        expect(invokes()).toEqual([]);
        expect(byName("named-bucket").inputs.namespace).toBe("givenns");
        expect((await resolve(named.namespace)).value).toBe("givenns");
    });

    it("refuses to build without a region (the IAM policy names the region's service)", () => {
        expect(() => new OffsiteCopy("noregion", { ...ARGS, region: "" })).toThrow(/pulumi config set oci:region/);
    });
});

describe("rotating the PAR re-runs only what needs it", () => {
    async function build(expires: string, url: string): Promise<RecordedResource[]> {
        useConfig({});
        const vm = new random.RandomPassword("vm", { length: 8 });
        new OffsiteCopy("off", { ...ARGS, uploadExpires: expires });
        new Backups("bk", { connection: { host: "192.0.2.10", user: "ubuntu", privateKey: pulumi.secret("KEY") }, instanceId: INSTANCE_ID, instance: vm, offsiteUpload: { url: pulumi.secret(url), expires } });
        await settle();
        return [...created];
    }

    it("a later offsiteUploadExpires changes the PAR's timeExpires (a replacement: a new URL) and the host step that writes the URL file, nothing else", async () => {
        const before = await build("2028-12-31T00:00:00Z", "https://objectstorage.example/p/OLD-TOKEN/n/ns/b/coinpilot-backups/o/");
        const after = await build("2029-06-30T00:00:00Z", "https://objectstorage.example/p/NEW-TOKEN/n/ns/b/coinpilot-backups/o/");
        const changed = after.filter((r) => opened(r) !== opened(before.find((b) => b.name === r.name)!)).map((r) => r.name);
        expect(changed.sort()).toEqual(["bk-offsite-url", "off-upload-par"]);
        // The step's trigger follows the file's content through a digest keyed with the URL itself: plain
        // (so the offline diff sees a rotation), yet it reveals nothing of the URL.
        const step = after.find((r) => r.name === "bk-offsite-url")!;
        expect(isSecretEnvelope(step.inputs.triggers)).toBe(false);
        const text = offsiteUrlFileText("https://objectstorage.example/p/NEW-TOKEN/n/ns/b/coinpilot-backups/o/", "2029-06-30T00:00:00Z");
        expect(step.inputs.triggers).toEqual([INSTANCE_ID, sha256(offsiteUrlCommand()), hmacSha256(text, "coinpilot offsite upload URL")]);
        expect(JSON.stringify(step.inputs.triggers)).not.toContain("NEW-TOKEN");
        expect(step.inputs.stdin).toEqual(expect.objectContaining({ value: text }));
    });
});

describe("the whole program wires the copy to the host", () => {
    beforeAll(async () => {
        useConfig({});
        require("../index");
        await settle();
    });

    it("creates the OffsiteCopy at the top and the URL step under the host's Backups, with the URL in stdin only", () => {
        expect(byName("coinpilot-offsite").parent).not.toContain("coinpilot:");
        const step = byName("coinpilot-host-backups-offsite-url");
        expect(parentOf(step)?.type).toBe("coinpilot:host:Backups");
        expect(step.inputs.create).toBe(offsiteUrlCommand());
        expect(isSecretEnvelope(step.inputs.stdin)).toBe(true);
        expect((step.inputs.stdin as { value: string }).value).toMatch(new RegExp(`^https://\\S+/p/${FAKE_PAR_TOKEN_PREFIX}\\w+/n/${FAKE_NAMESPACE}/b/coinpilot-backups/o/\\nexpires=2028-12-31T00:00:00Z\\n$`));
        expect(step.inputs.delete).toBe(`sudo rm -f ${OFFSITE_URL_FILE}`);
        // A replacement (a rotated URL) removes the old file before writing the new one, never after.
        expect(step.options.deleteBeforeReplace).toBe(true);
    });

    it("never lets the PAR token reach a plain input of any resource", () => {
        for (const r of created) expect([r.name, plainStrings(r.inputs).join("\n")]).toEqual([r.name, expect.not.stringContaining(FAKE_PAR_TOKEN_PREFIX)]);
    });
});

describe("config keys of the off-host copy", () => {
    const raw = (over: Record<string, string>) => ({ ...over });

    it("defaults: on, coinpilot-backups, 30 days, a PAR until the end of 2028", () => {
        expect(validateOffsiteConfig(raw({}))).toEqual({ enabled: true, bucketName: "coinpilot-backups", retentionDays: 30, uploadExpires: "2028-12-31T00:00:00Z" });
        expect(validateOffsiteConfig(raw({ offsiteCopy: "false", offsiteUploadExpires: "2030-01-15T12:00:00Z", offsiteRetentionDays: "14" }))).toMatchObject({ enabled: false, uploadExpires: "2030-01-15T12:00:00Z", retentionDays: 14 });
    });

    it("lists every problem, naming the key", () => {
        let error: ConfigError | undefined;
        try {
            validateOffsiteConfig(raw({ offsiteBucketName: "my bucket!", offsiteRetentionDays: "0", offsiteUploadExpires: "next year" }));
        } catch (e) {
            error = e as ConfigError;
        }
        expect(error?.problems).toEqual([
            expect.stringMatching(/^coinpilot:offsiteBucketName: "my bucket!" must be 1–256 letters/),
            expect.stringMatching(/^coinpilot:offsiteRetentionDays: 0 is outside 1–3650/),
            expect.stringMatching(/^coinpilot:offsiteUploadExpires: "next year" is neither a date/),
        ]);
        expect(() => validateOffsiteConfig(raw({ offsiteNamespace: "Not A Namespace" }))).toThrow(/coinpilot:offsiteNamespace: "Not A Namespace" is not an Object Storage namespace/);
        expect(validateOffsiteConfig(raw({ offsiteNamespace: "axk2tenancy" })).namespace).toBe("axk2tenancy");
        expect(normalizeExpiry("2028-02-30")).toBeUndefined();
        expect(normalizeExpiry("2028-12-31T10:00:00+09:00")).toBeUndefined();
    });

    it("Pulumi.yaml states the same defaults, and lib.sh reads the file the host step writes", () => {
        const project = parse(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"));
        for (const key of OFFSITE_CONFIG_KEYS) expect([key, project.config[`coinpilot:${key}`].default]).toEqual([key, OFFSITE_DEFAULTS[key]]);
        expect(shellDefault(fs.readFileSync(path.join(REPO_ROOT, "assets", "backup", "lib.sh"), "utf8"), "OFFSITE_URL_FILE")).toBe(OFFSITE_URL_FILE);
        expect(lifecycleRules(7).map((r) => r.timeAmount)).toEqual(["7", "7", "1"]);
    });

    it("with the copy off, the program declares no bucket and ships no URL", async () => {
        useConfig({ "coinpilot:offsiteCopy": "false" });
        jest.isolateModules(() => require("../index"));
        await settle();
        expect(byType("coinpilot:backup:OffsiteCopy")).toEqual([]);
        expect(created.find((r) => r.name.endsWith("-offsite-url"))).toBeUndefined();
    });
});

describeWithBinaries(["shellcheck"], "the URL file step, run for real in a temp root", () => {
    it("writes the file 0600 in a 0700 directory from stdin, atomically, and is shellcheck-clean", () => {
        requireBinaries(["shellcheck"]);
        const check = spawnSync("shellcheck", ["--shell=bash", "-"], { input: offsiteUrlCommand(), encoding: "utf8" });
        expect(check.stdout).toBe("");
        const root = scratchDir("offsite-url");
        try {
            // Every absolute path moves under ROOT; chown needs root, so it is dropped elsewhere.
            const sudo = `sudo() { local a; local -a args=(); for a in "$@"; do case $a in /*) args+=("$ROOT$a") ;; *) args+=("$a") ;; esac; done; if [ "$1" = sh ]; then "\${args[@]:0:2}" "$(printf '%s' "\${args[2]}" | sed "s#/etc/#$ROOT/etc/#g")"; else "\${args[@]}"; fi; }`;
            const text = offsiteUrlFileText("https://objectstorage.example/p/TOKEN/n/ns/b/b/o/", "2028-12-31T00:00:00Z");
            const run = spawnSync("bash", ["-c", `${sudo}\n${offsiteUrlCommand()}`], { input: text, env: { ...process.env, ROOT: root }, encoding: "utf8" });
            expect(run.stderr).toBe("");
            expect(run.status).toBe(0);
            const file = path.join(root, OFFSITE_URL_FILE);
            expect(fs.readFileSync(file, "utf8")).toBe(text);
            expect((fs.statSync(file).mode & 0o777).toString(8)).toBe("600");
            expect((fs.statSync(path.dirname(file)).mode & 0o777).toString(8)).toBe("700");
            expect(fs.existsSync(`${file}.new`)).toBe(false);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});
