import { randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import nacl from 'tweetnacl';
import { writeFileDurably } from '../durable-file.js';
import type { Logger } from '../logger.js';
import { bytesEqual, fromBase64Strict, toBase64 } from './bytes.js';
import { addressOfPrivateKey, createAccountKey } from '../ledger/account-key.js';

/** The node's own keys: a NaCl box key pair to open records, an Ethereum key to relay transactions. */
export interface NodeKeys {
  boxPublicKey: Uint8Array;
  boxSecretKey: Uint8Array;
  /** 0x-prefixed hex. */
  relayerPrivateKey: string;
  /** EIP-55 checksummed address of `relayerPrivateKey`. */
  relayerAddress: string;
}

export interface LoadOrCreateNodeKeysParameters {
  dataDir: string;
  /** Usually OMNICHART_KEY_PASSPHRASE. Without it, a generated one is kept in `<dataDir>/passphrase`. */
  passphrase?: string;
  /** The key file (OMNICHART_NODE_KEYS_FILE: every replica of a node reads the same keys); default `<dataDir>/node-keys.json`. */
  keyFile?: string;
  logger: Logger;
}

/** The key file cannot be read, decrypted or written; the message says what to do. */
export class NodeKeyError extends Error {
  readonly code = 'NODE_KEY_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'NodeKeyError';
  }
}

export const NODE_KEYS_FILE = 'node-keys.json';
export const PASSPHRASE_FILE = 'passphrase';

// N=2^15, r=8 needs 32 MiB, exactly Node's default scrypt memory limit, hence the explicit maxmem.
const KDF = { name: 'scrypt', N: 2 ** 15, r: 8, p: 1 } as const;
const MAX_KDF_MEMORY = 256 * 1024 * 1024;

/** What `<dataDir>/node-keys.json` holds. Public parts are in the clear so operators can read them. */
interface KeyFile {
  v: 1;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  alg: 'xsalsa20-poly1305';
  nonce: string;
  ciphertext: string;
  boxPublicKey: string;
  relayerAddress: string;
}

/**
 * Loads the node keys from the key file (`<dataDir>/node-keys.json` by default), or generates and stores them on first start,
 * encrypted with a key derived from the passphrase (scrypt) and sealed with XSalsa20-Poly1305.
 * @throws NodeKeyError on a wrong passphrase, a corrupted file or a missing passphrase.
 */
export async function loadOrCreateNodeKeys(options: LoadOrCreateNodeKeysParameters): Promise<NodeKeys> {
  const { dataDir, logger } = options;
  const keyPath = options.keyFile ?? join(dataDir, NODE_KEYS_FILE);
  const existing = await readIfExists(keyPath);
  if (options.passphrase === '') throw new NodeKeyError('OMNICHART_KEY_PASSPHRASE is set but empty');
  const passphrase =
    options.passphrase ?? (await generatedPassphrase(dataDir, existing === undefined, logger));
  if (existing !== undefined) {
    await warnIfReadableByOthers(keyPath, logger);
    return decryptKeyFile(existing, passphrase, keyPath);
  }

  const box = nacl.box.keyPair();
  const relayer = createAccountKey();
  const keys: NodeKeys = {
    boxPublicKey: box.publicKey,
    boxSecretKey: box.secretKey,
    relayerPrivateKey: relayer.privateKey,
    relayerAddress: relayer.address,
  };
  await writeFileAtomic(keyPath, JSON.stringify(await encryptKeyFile(keys, passphrase), null, 2) + '\n');
  logger.info('generated node keys', { path: keyPath, relayerAddress: keys.relayerAddress });
  return keys;
}

async function encryptKeyFile(keys: NodeKeys, passphrase: string): Promise<KeyFile> {
  const salt = randomBytes(16);
  const key = await deriveKey(passphrase, salt, KDF);
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  const secrets = JSON.stringify({
    boxSecretKey: toBase64(keys.boxSecretKey),
    relayerPrivateKey: keys.relayerPrivateKey,
  });
  const ciphertext = nacl.secretbox(new TextEncoder().encode(secrets), nonce, key);
  key.fill(0);
  return {
    v: 1,
    kdf: { ...KDF, salt: toBase64(salt) },
    alg: 'xsalsa20-poly1305',
    nonce: toBase64(nonce),
    ciphertext: toBase64(ciphertext),
    boxPublicKey: toBase64(keys.boxPublicKey),
    relayerAddress: keys.relayerAddress,
  };
}

async function decryptKeyFile(text: string, passphrase: string, path: string): Promise<NodeKeys> {
  const corrupted = (why: string) =>
    new NodeKeyError(`Node key file ${path} is unreadable (${why}); restore it from backup`);
  let file: KeyFile;
  try {
    file = JSON.parse(text) as KeyFile;
  } catch {
    throw corrupted('not JSON');
  }
  if (file?.v !== 1 || file.alg !== 'xsalsa20-poly1305' || file.kdf?.name !== 'scrypt') {
    throw corrupted('unknown version or algorithm');
  }
  const salt = fromBase64Strict(file.kdf.salt);
  const nonce = fromBase64Strict(file.nonce, nacl.secretbox.nonceLength);
  const ciphertext = fromBase64Strict(file.ciphertext);
  if (!salt || !nonce || !ciphertext) throw corrupted('bad salt, nonce or ciphertext');

  let key: Uint8Array;
  try {
    key = await deriveKey(passphrase, salt, file.kdf);
  } catch (err) {
    throw corrupted(`bad scrypt parameters: ${(err as Error).message}`);
  }
  const plaintext = nacl.secretbox.open(ciphertext, nonce, key);
  key.fill(0);
  if (!plaintext) {
    throw new NodeKeyError(
      `Cannot decrypt node keys in ${path}: wrong passphrase. Set OMNICHART_KEY_PASSPHRASE to the passphrase ` +
        `the keys were created with (or restore ${PASSPHRASE_FILE} in the data directory)`,
    );
  }

  let secrets: { boxSecretKey?: unknown; relayerPrivateKey?: unknown };
  try {
    secrets = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    throw corrupted('sealed content is not JSON');
  } finally {
    plaintext.fill(0);
  }
  const boxSecretKey = fromBase64Strict(secrets.boxSecretKey, nacl.box.secretKeyLength);
  if (!boxSecretKey || typeof secrets.relayerPrivateKey !== 'string') throw corrupted('missing keys');
  const boxPublicKey = nacl.box.keyPair.fromSecretKey(boxSecretKey).publicKey;
  const relayerAddress = addressOfPrivateKey(secrets.relayerPrivateKey);
  if (relayerAddress === null) {
    throw corrupted('invalid relayer key');
  }
  // The clear-text public parts must describe the sealed secrets, or someone edited the file.
  const listedBox = fromBase64Strict(file.boxPublicKey, nacl.box.publicKeyLength);
  if (!listedBox || !bytesEqual(listedBox, boxPublicKey) || file.relayerAddress !== relayerAddress) {
    throw corrupted('public keys do not match the sealed secret keys');
  }
  return { boxPublicKey, boxSecretKey, relayerPrivateKey: secrets.relayerPrivateKey, relayerAddress };
}

function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: MAX_KDF_MEMORY };
  return new Promise((resolve, reject) =>
    scryptCallback(passphrase.normalize('NFC'), salt, nacl.secretbox.keyLength, options, (err, key) =>
      err ? reject(err) : resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength)),
    ),
  );
}

/**
 * The development fallback: a random passphrase kept next to the keys. That protects nothing if the
 * directory leaks, hence the warning.
 */
async function generatedPassphrase(dataDir: string, mayCreate: boolean, logger: Logger): Promise<string> {
  const path = join(dataDir, PASSPHRASE_FILE);
  const stored = await readIfExists(path);
  if (stored !== undefined) {
    logger.warn(`node keys are protected by ${path}; production should supply OMNICHART_KEY_PASSPHRASE`);
    return stored.trim();
  }
  if (!mayCreate) {
    throw new NodeKeyError(
      `Node keys exist in ${dataDir} but no passphrase was given: set OMNICHART_KEY_PASSPHRASE ` +
        `(or restore ${PASSPHRASE_FILE} in the data directory)`,
    );
  }
  const passphrase = randomBytes(32).toString('base64url');
  await writeFileAtomic(path, passphrase + '\n');
  logger.warn(
    `generated a random key passphrase into ${path}; production should supply OMNICHART_KEY_PASSPHRASE`,
  );
  return passphrase;
}

/** Creates the directory (0700) if needed, then writes the file durably (0600). */
async function writeFileAtomic(path: string, contents: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileDurably(path, contents);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NodeKeyError(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

async function warnIfReadableByOthers(path: string, logger: Logger): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    logger.warn('node key file is accessible to other users; chmod 600 it', {
      path,
      mode: (mode & 0o777).toString(8),
    });
  }
}
