/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  // @pulumi/pulumi keeps its runtime state on the global object (one store per worker); jest 30
  // would otherwise "soft delete" it between files and warn on every later access.
  testEnvironmentOptions: { globalsCleanup: "off" },
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // The real-engine tier runs on its own (jest.engine.config.js, npm run test:engine).
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/tests/engine/"],
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
