import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import nacl from 'tweetnacl';
import type { Logger } from '../../src/logger.js';
import { loadOrCreateNodeKeys, NodeKeyError } from '../../src/storage/node-keys.js';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  return { warnings, debug: noop, info: noop, error: noop, warn: (m) => void warnings.push(m) };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('loadOrCreateNodeKeys', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'omnichart-keys-'));
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates consistent keys and reloads the identical keys with the same passphrase', async () => {
    const logger = recordingLogger();
    const created = await loadOrCreateNodeKeys({ dataDir, passphrase: 'correct horse battery', logger });
    expect(hex(nacl.box.keyPair.fromSecretKey(created.boxSecretKey).publicKey)).toBe(
      hex(created.boxPublicKey),
    );
    expect(created.relayerPrivateKey).toMatch(/^0x[0-9a-f]{64}$/);
    expect(new Wallet(created.relayerPrivateKey).address).toBe(created.relayerAddress);

    const reloaded = await loadOrCreateNodeKeys({ dataDir, passphrase: 'correct horse battery', logger });
    expect(hex(reloaded.boxSecretKey)).toBe(hex(created.boxSecretKey));
    expect(hex(reloaded.boxPublicKey)).toBe(hex(created.boxPublicKey));
    expect(reloaded.relayerPrivateKey).toBe(created.relayerPrivateKey);
    expect(reloaded.relayerAddress).toBe(created.relayerAddress);
    expect(logger.warnings).toEqual([]);
  });

  it('fails clearly on a wrong passphrase, naming OMNICHART_KEY_PASSPHRASE', async () => {
    await loadOrCreateNodeKeys({ dataDir, passphrase: 'right', logger: recordingLogger() });
    const attempt = loadOrCreateNodeKeys({ dataDir, passphrase: 'wrong', logger: recordingLogger() });
    await expect(attempt).rejects.toThrow(NodeKeyError);
    await expect(
      loadOrCreateNodeKeys({ dataDir, passphrase: 'wrong', logger: recordingLogger() }),
    ).rejects.toThrow(/wrong passphrase.*OMNICHART_KEY_PASSPHRASE/);
  });

  it('stores no secret key material in the clear, in a 0600 file', async () => {
    const keys = await loadOrCreateNodeKeys({ dataDir, passphrase: 'p', logger: recordingLogger() });
    const path = join(dataDir, 'node-keys.json');
    const text = await readFile(path, 'utf8');
    const box = Buffer.from(keys.boxSecretKey);
    const eth = keys.relayerPrivateKey.slice(2);
    for (const secret of [
      box.toString('hex'),
      box.toString('base64'),
      box.toString('base64url'),
      eth,
      eth.toUpperCase(),
      Buffer.from(eth, 'hex').toString('base64'),
    ]) {
      expect(text.includes(secret)).toBe(false);
      expect(text.toLowerCase().includes(secret.toLowerCase().slice(0, 24))).toBe(false);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(text)).toMatchObject({
      v: 1,
      alg: 'xsalsa20-poly1305',
      kdf: { name: 'scrypt', N: 32768, r: 8, p: 1 },
      relayerAddress: keys.relayerAddress,
    });
  });

  it('without a passphrase, generates one into <dataDir>/passphrase (0600), warns, and reuses it', async () => {
    const logger = recordingLogger();
    const created = await loadOrCreateNodeKeys({ dataDir, logger });
    expect(logger.warnings.join('\n')).toMatch(/OMNICHART_KEY_PASSPHRASE/);
    const passphraseFile = join(dataDir, 'passphrase');
    expect((await stat(passphraseFile)).mode & 0o777).toBe(0o600);

    const reloaded = await loadOrCreateNodeKeys({ dataDir, logger: recordingLogger() });
    expect(hex(reloaded.boxSecretKey)).toBe(hex(created.boxSecretKey));
    // The generated passphrase is the real one: supplying it explicitly opens the same keys.
    const passphrase = (await readFile(passphraseFile, 'utf8')).trim();
    const explicit = await loadOrCreateNodeKeys({ dataDir, passphrase, logger: recordingLogger() });
    expect(explicit.relayerPrivateKey).toBe(created.relayerPrivateKey);
  });

  it('refuses to start when keys exist but no passphrase is available', async () => {
    await loadOrCreateNodeKeys({ dataDir, passphrase: 'p', logger: recordingLogger() });
    await expect(loadOrCreateNodeKeys({ dataDir, logger: recordingLogger() })).rejects.toThrow(
      /no passphrase was given: set OMNICHART_KEY_PASSPHRASE/,
    );
  });

  it('rejects a file whose clear-text public parts were edited', async () => {
    await loadOrCreateNodeKeys({ dataDir, passphrase: 'p', logger: recordingLogger() });
    const path = join(dataDir, 'node-keys.json');
    const file = JSON.parse(await readFile(path, 'utf8'));
    file.relayerAddress = Wallet.createRandom().address;
    await writeFile(path, JSON.stringify(file), { mode: 0o600 });
    await expect(
      loadOrCreateNodeKeys({ dataDir, passphrase: 'p', logger: recordingLogger() }),
    ).rejects.toThrow(NodeKeyError);
  });
});
