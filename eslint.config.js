import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Module borders (issue 11): each engine's library is used behind one folder's interface. */
const ethersOnlyInLedger = {
  group: ['ethers', 'ethers/*'],
  message:
    'ethers is used in src/ledger only; use or add a helper there (address.ts, account-key.ts, ids.ts).',
};
const ipfsOnlyInStorage = {
  group: [
    'helia',
    '@helia/*',
    'blockstore-*',
    'classic-level',
    'ipfs-unixfs-importer',
    'ipfs-unixfs-importer/*',
    'kubo-rpc-client',
    '@ipld/car',
    '@ipld/car/*',
    'libp2p',
    'libp2p/*',
    '@libp2p/*',
    '@chainsafe/libp2p-*',
    '@multiformats/multiaddr',
    '@multiformats/multiaddr/*',
  ],
  message: 'IPFS and libp2p packages are used behind ContentStore (src/storage) only.',
};
const sqlOnlyInStorage = {
  group: ['typeorm', 'typeorm/*', 'pg', 'pg/*', 'pg-*'],
  message: 'SQL and TypeORM live in src/storage/*-store.ts; give the service a store instead.',
};
export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.omnichart', 'src/ledger/artifacts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Hardhat reads its config with require(): the one CommonJS file in the tree.
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // migrations/, test/, bench/ and scripts/ may use any of these (they set up and inspect the engines).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/ledger/**', 'src/storage/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [ethersOnlyInLedger, ipfsOnlyInStorage, sqlOnlyInStorage] },
      ],
    },
  },
  {
    files: ['src/storage/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ethersOnlyInLedger] }] },
  },
  {
    files: ['src/ledger/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ipfsOnlyInStorage, sqlOnlyInStorage] }] },
  },
);
