// Hardhat's own network (EDR), the second EVM the ledger tests run on. Nothing is compiled here (the
// contract ships pre-built in src/ledger/artifacts); the chain id differs from anvil's on purpose, so
// a hard-coded 31337 shows up as a failure.
const os = require('node:os');
const path = require('node:path');

module.exports = {
  networks: {
    hardhat: {
      chainId: 1337,
      allowUnlimitedContractSize: false,
    },
  },
  paths: {
    root: __dirname,
    sources: path.join(__dirname, 'no-sources'),
    cache: path.join(os.tmpdir(), 'omnichart-hardhat-cache'),
    artifacts: path.join(os.tmpdir(), 'omnichart-hardhat-artifacts'),
  },
};
