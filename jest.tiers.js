// Which tier runs each test file (README "Two commands for a newcomer"). Every *.test.ts under tests/
// runs in exactly one tier; tests/tiers.test.ts holds the tiers to that.
//  - unit (`npm test`, jest.config.js): everything below not listed here, in-process: pure functions and
//    components under Pulumi's mocks, bash/ssh/ssh-keygen at most.
//  - assets (`npm run test:assets`, jest.assets.config.js): what runs for real on this machine: the
//    shipped scripts on real PostgreSQL/Redis, shellcheck, systemd-analyze, logrotate, namespaces; the
//    npm entry points (plan, secrets:save, the benchmarks) and the policy pack in child processes; the
//    capacity-hunt simulations, whose virtual-clock runs take seconds of CPU each.
//  - engine (`npm run test:engine`, jest.engine.config.js): tests/engine/, the real Pulumi CLI.
//  - e2e (`npm run test:e2e`, jest.e2e.config.js): tests/e2e/*.e2e.ts, a deploy to a booted test host.
const ASSET_TESTS = [
    "alerts",
    "assets-shellcheck",
    "backup-assets",
    "backup-component",
    "backup-failures",
    "backup-offsite",
    "backup-postgres",
    "backup-redis",
    "backup-retention",
    "bench",
    "host-scripts",
    "launch-hunt",
    "logrotate",
    "mount-data-volume",
    "offsite-component",
    "ops-check",
    "plan-cli",
    "policy",
    "save-secrets",
    "storage-plan",
    "systemd-unit",
].map((name) => `tests/${name}.test.ts`);

/** Directories with a jest config of their own. */
const OWN_TIERS = ["tests/engine/", "tests/e2e/"];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

module.exports = {
    ASSET_TESTS,
    OWN_TIERS,
    /** testPathIgnorePatterns entries (regexes on absolute paths) for the listed files. */
    ignoring: (files) => files.map((file) => `<rootDir>/${escape(file)}$`),
};
