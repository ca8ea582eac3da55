/** @type {import('jest').Config} */
// The assets tier (`npm run test:assets`): the files jest.tiers.js lists, which run the shipped assets,
// the npm entry points and the capacity-hunt simulations for real on this machine.
const base = require("./jest.config");
const { ASSET_TESTS } = require("./jest.tiers");

module.exports = {
  ...base,
  testMatch: ASSET_TESTS.map((file) => `<rootDir>/${file}`),
  testPathIgnorePatterns: ["/node_modules/"],
};
