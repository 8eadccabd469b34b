import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { JsonRpcProvider, Network, Wallet, type TypedDataDomain, type TypedDataField } from 'ethers';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { registrationMessage } from '../../src/auth/registration-message.js';

/** A fresh temp dir and its removal. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `omnichart-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function randomKey(): string {
  return Wallet.createRandom().privateKey;
}

export function randomAddress(): string {
  return Wallet.createRandom().address;
}

/** A real CIDv1 (raw, sha2-256) of `text`, as binary bytes (36 bytes). */
export async function cidOf(text: string): Promise<Uint8Array> {
  const digest = await sha256.digest(new TextEncoder().encode(text));
  return CID.create(1, raw.code, digest).bytes;
}

export { waitFor } from '../helpers/wait-for.js';

/** A provider for anvil's chain id that never probes the network (no retry noise while it is down). */
export function localProvider(url: string): JsonRpcProvider {
  const network = Network.from(31337n);
  return new JsonRpcProvider(url, network, { staticNetwork: network, cacheTimeout: -1 });
}

export async function waitForRpc(provider: JsonRpcProvider, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await provider.getBlockNumber();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Signs an eth_signTypedData_v4 payload with ethers (which wants EIP712Domain left out of `types`). */
export function signPayload(
  wallet: Pick<Wallet, 'signTypedData'>,
  payload: { domain: TypedDataDomain; types: Record<string, TypedDataField[]>; message: object },
): Promise<string> {
  const { EIP712Domain: _domain, ...types } = payload.types;
  return wallet.signTypedData(payload.domain, types, payload.message as Record<string, unknown>);
}

/** A random account that can sign. */
export function newWallet(): Wallet {
  return new Wallet(randomKey());
}

/** Moves anvil's clock forward and mines a block at the new time. */
export async function advanceChainTime(provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds]);
  await provider.send('evm_mine', []);
}

/**
 * A registration signed by `wallet` exactly as a client signs `registrationMessage` (EIP-191), ready to
 * relay with `ledger.registerAccount`.
 */
export async function signedRegistration(
  wallet: Wallet,
  chain: { chainId: bigint; contractAddress: string },
  fields: { role?: string; displayName?: string; boxPublicKey?: Uint8Array; issuedAt?: Date } = {},
) {
  const registration = {
    address: wallet.address.toLowerCase(),
    role: (fields.role ?? 'PATIENT') as 'PATIENT',
    displayName: fields.displayName ?? 'Test Patient',
    boxPublicKey: fields.boxPublicKey ?? new Uint8Array(32).fill(5),
    issuedAt: fields.issuedAt ?? new Date(),
  };
  const signature = await wallet.signMessage(registrationMessage(registration, chain));
  return {
    account: wallet.address,
    role: registration.role,
    displayName: registration.displayName,
    boxPublicKey: registration.boxPublicKey,
    issuedAt: registration.issuedAt.toISOString(),
    signature,
  };
}
