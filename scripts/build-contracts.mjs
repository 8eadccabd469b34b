// Compiles contracts/*.sol with solc-js (nothing downloaded) into src/ledger/artifacts/<Contract>.json.
// Skips the compile when the sources, the compiler and the settings hash to what the artifacts record.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const contractsDir = path.join(root, 'contracts');
const artifactsDir = path.join(root, 'src', 'ledger', 'artifacts');

const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
};

const files = readdirSync(contractsDir)
  .filter((f) => f.endsWith('.sol'))
  .sort();
if (files.length === 0) fail(`no .sol files in ${contractsDir}`);
const sources = Object.fromEntries(
  files.map((f) => [f, { content: readFileSync(path.join(contractsDir, f), 'utf8') }]),
);

// Versions come from package.json so the up-to-date check does not pay for loading the compiler.
const solcVersion = require('solc/package.json').version;
const ozVersion = require('@openzeppelin/contracts/package.json').version;
const hash = createHash('sha256');
hash.update(JSON.stringify({ solcVersion, ozVersion, settings }));
for (const f of files) hash.update(`\0${f}\0${sources[f].content}`);
const sourceHash = hash.digest('hex');

const indexPath = path.join(artifactsDir, 'index.json');
if (upToDate()) {
  console.log(`contracts: up to date (${files.join(', ')})`);
  process.exit(0);
}

const started = Date.now();
const { default: solc } = await import('solc');
const input = { language: 'Solidity', sources, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: resolveImport }));
const problems = output.errors ?? [];
for (const p of problems.filter((p) => p.severity !== 'error')) console.warn(p.formattedMessage);
const errors = problems.filter((p) => p.severity === 'error');
if (errors.length > 0) fail(errors.map((e) => e.formattedMessage).join('\n'));

mkdirSync(artifactsDir, { recursive: true });
const written = [];
for (const file of files) {
  for (const [contractName, out] of Object.entries(output.contracts?.[file] ?? {})) {
    const bytecode = out.evm?.bytecode?.object ?? '';
    if (bytecode.length === 0) continue; // interfaces and abstract contracts
    const artifact = {
      contractName,
      sourceName: `contracts/${file}`,
      abi: out.abi,
      bytecode: `0x${bytecode}`,
      compilerVersion: solc.version(),
      sourceHash,
    };
    writeAtomically(
      path.join(artifactsDir, `${contractName}.json`),
      JSON.stringify(artifact, null, 2) + '\n',
    );
    written.push(contractName);
  }
}
writeAtomically(indexPath, JSON.stringify({ sourceHash, contracts: written }, null, 2) + '\n');
console.log(
  `contracts: compiled ${written.join(', ')} with solc ${solc.version()} in ${Date.now() - started} ms`,
);

function upToDate() {
  if (!existsSync(indexPath)) return false;
  try {
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    return (
      index.sourceHash === sourceHash &&
      index.contracts.every((name) => {
        const file = path.join(artifactsDir, `${name}.json`);
        return existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).sourceHash === sourceHash;
      })
    );
  } catch {
    return false;
  }
}

/** solc import callback: `@scope/pkg/...` from node_modules, anything else relative to contracts/. */
function resolveImport(importPath) {
  try {
    const file = importPath.startsWith('@')
      ? require.resolve(importPath)
      : path.resolve(contractsDir, importPath);
    if (!file.startsWith(root + path.sep)) return { error: `import outside the project: ${importPath}` };
    return { contents: readFileSync(file, 'utf8') };
  } catch (error) {
    return { error: `cannot resolve import ${importPath}: ${error.message}` };
  }
}

function writeAtomically(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function fail(message) {
  console.error(`contracts: build failed\n${message}`);
  process.exit(1);
}
