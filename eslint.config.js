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
  ],
  message: 'IPFS storage packages are used behind ContentStore (src/storage) only.',
};
const sqlOnlyInStorage = {
  group: ['typeorm', 'typeorm/*', 'pg', 'pg-*'],
  message: 'SQL and TypeORM live in src/storage/*-store.ts; receive a store instead of a DataSource.',
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
  {
    files: ['src/**/*.ts'],
    ignores: ['src/ledger/**', 'src/storage/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ethersOnlyInLedger, ipfsOnlyInStorage] }] },
  },
  {
    // The record side holds no SQL (issue 11); the other services follow as their stores land.
    files: ['src/records/**/*.ts', 'src/consent/key-rotation.ts', 'src/consent/key-sharing.ts'],
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
    rules: { 'no-restricted-imports': ['error', { patterns: [ipfsOnlyInStorage] }] },
  },
);
