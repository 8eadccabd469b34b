import { Wallet } from 'ethers';

/** A fresh random Ethereum account key (secp256k1): its checksummed address and 0x-hex private key. */
export function createAccountKey(): { address: string; privateKey: string } {
  const wallet = Wallet.createRandom();
  return { address: wallet.address, privateKey: wallet.privateKey };
}

/** The checksummed address of a 0x-hex private key, or null when it is not a valid secp256k1 key. */
export function addressOfPrivateKey(privateKey: string): string | null {
  try {
    return new Wallet(privateKey).address;
  } catch {
    return null;
  }
}
