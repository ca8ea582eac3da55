/** @type {import('jest').Config} */
// The real-engine tier (`npm run test:engine`): the pinned Pulumi CLI runs the program, so each test
// takes seconds and the files run one at a time (each drives its own engine processes).
const base = require("./jest.config");
module.exports = {
  ...base,
  roots: ["<rootDir>/tests/engine"],
  testPathIgnorePatterns: [],
  maxWorkers: 1,
  // One engine run (preview/up) takes 10-60 s on 2 busy cores; a bound, not a timing assertion.
  testTimeout: 600000,
};
