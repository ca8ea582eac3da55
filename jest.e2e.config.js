/** @type {import('jest').Config} */
// The end-to-end tier (`npm run test:e2e`): the real Pulumi CLI deploys to a booted test host over SSH
// (tests/e2e). Its files are *.e2e.ts, so the unit tier's `*.test.ts` never picks them up.
const base = require("./jest.config");
module.exports = {
  ...base,
  roots: ["<rootDir>/tests/e2e"],
  testMatch: ["**/*.e2e.ts"],
  testPathIgnorePatterns: ["/node_modules/"],
  maxWorkers: 1,
  // A whole deploy takes minutes on 2 busy cores; a bound against hangs, not a timing assertion.
  testTimeout: 1800000,
};
