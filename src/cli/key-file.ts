import { open, readFile } from 'node:fs/promises';
import nacl from 'tweetnacl';
import { bytesEqual, fromBase64Strict, toBase64 } from '../storage/bytes.js';
import { boxKeyProblem } from '../storage/box-key.js';
import { addressOfPrivateKey, createAccountKey } from '../ledger/account-key.js';
import { UsageError } from './cli-args.js';

/*
 * A patient's key file, as a wallet app would keep it:
 *   { "address": "0x…", "privateKey": "0x…", "boxPublicKey": "<base64>", "boxSecretKey": "<base64>" }
 * The Ethereum key identifies the patient on chain; the X25519 (nacl.box) key pair opens their records.
 */
export interface KeyFile {
  address: string;
  privateKey: string;
  boxPublicKey: string;
  boxSecretKey: string;
}

/** A key file checked for consistency, with its keys as bytes. */
export interface PatientKeys {
  /** Checksummed. */
  address: string;
  privateKey: string;
  boxPublicKey: Uint8Array;
  boxSecretKey: Uint8Array;
}

const FIELDS = ['address', 'boxPublicKey', 'boxSecretKey', 'privateKey'];

/** Fresh keys: a random Ethereum wallet and a random X25519 box key pair. */
export function generateKeyFile(): KeyFile {
  const account = createAccountKey();
  const box = nacl.box.keyPair();
  return {
    address: account.address,
    privateKey: account.privateKey,
    boxPublicKey: toBase64(box.publicKey),
    boxSecretKey: toBase64(box.secretKey),
  };
}

/**
 * Writes the key file with mode 0600. Without `force` an existing file is left alone (`wx`), so a key
 * that may already guard records is never overwritten by accident.
 * @throws UsageError when the file exists and `force` is not set.
 */
export async function writeKeyFile(file: string, keys: KeyFile, force: boolean): Promise<void> {
  let handle;
  try {
    handle = await open(file, force ? 'w' : 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${file} exists; refusing to overwrite a key file (use --force to replace it)`);
    }
    throw error;
  }
  try {
    await handle.chmod(0o600); // `w` on an existing file keeps its old mode
    await handle.writeFile(JSON.stringify(keys, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Reads and checks a key file: exact fields, the address is the private key's, the box public key is
 * the secret key's and is usable.
 * @throws UsageError (exit status 2) naming what is wrong.
 */
export async function readKeyFile(file: string): Promise<PatientKeys> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read key file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  return parseKeyFile(text, file);
}

/** @throws UsageError naming what is wrong with the key file's text. */
export function parseKeyFile(text: string, file = 'key file'): PatientKeys {
  const bad = (why: string) => new UsageError(`malformed key file ${file}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const fields = Object.keys(json).sort();
  if (fields.length !== FIELDS.length || !fields.every((f, i) => f === FIELDS[i])) {
    throw bad(`expected exactly the fields ${FIELDS.join(', ')}`);
  }
  const { address, privateKey, boxPublicKey, boxSecretKey } = json as Record<string, unknown>;
  if (typeof privateKey !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(privateKey)) {
    throw bad('privateKey must be 0x followed by 64 hex digits');
  }
  const derived = addressOfPrivateKey(privateKey);
  if (!derived) throw bad('privateKey is not a valid secp256k1 key');
  if (typeof address !== 'string' || address.toLowerCase() !== derived.toLowerCase()) {
    throw bad(`address is not the private key's address (${derived})`);
  }
  const secret = fromBase64Strict(boxSecretKey, nacl.box.secretKeyLength);
  if (!secret) throw bad('boxSecretKey must be 32 bytes in canonical base64');
  const pub = fromBase64Strict(boxPublicKey, nacl.box.publicKeyLength);
  if (!pub) throw bad('boxPublicKey must be 32 bytes in canonical base64');
  if (!bytesEqual(nacl.box.keyPair.fromSecretKey(secret).publicKey, pub)) {
    throw bad('boxPublicKey is not the public key of boxSecretKey');
  }
  if (boxKeyProblem(pub)) throw bad('boxPublicKey is not a usable X25519 key');
  return { address: derived, privateKey, boxPublicKey: pub, boxSecretKey: secret };
}
