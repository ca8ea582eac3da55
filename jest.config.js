/** @type {import('jest').Config} */
// The unit tier (`npm test`, after the type-check): every test file under tests/ that jest.tiers.js does
// not send elsewhere. jest.assets.config.js, jest.engine.config.js and jest.e2e.config.js start from this.
const { ASSET_TESTS, OWN_TIERS, ignoring } = require("./jest.tiers");

module.exports = {
  // jest's node environment without the cost of source-mapping the stacks @pulumi/pulumi captures
  // eagerly for every resource (tests/helpers/environment.js: about half a program evaluation's CPU).
  testEnvironment: "<rootDir>/tests/helpers/environment.js",
  // @pulumi/pulumi keeps its runtime state on the global object (one store per worker); jest 30
  // would otherwise "soft delete" it between files and warn on every later access.
  testEnvironmentOptions: { globalsCleanup: "off" },
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", ...OWN_TIERS.map((dir) => `<rootDir>/${dir}`), ...ignoring(ASSET_TESTS)],
  transform: { "^.+\\.ts$": ["ts-jest", {}] },
  // Pulumi mocks hold global state: each test file gets its own module registry anyway,
  // but keep files in separate workers so setMocks never leaks across suites.
  maxWorkers: 2,
  // A bound against hangs, not a speed check: tests that evaluate the whole program (index.ts under
  // mocks) or start real servers take seconds, and on a busy 2-core machine jest's default 5 s was
  // seen to fail them (tests/offsite-component.test.ts at 18 s for the file in a cold CI run).
  testTimeout: 60000,
  reporters: ["default", "<rootDir>/scripts/jest-summary.js"],
};
