import { CID } from 'multiformats/cid';
import type { Caller } from '../auth/caller.js';
import { IntegrityError, NotFoundError } from '../errors.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { ContentStore } from '../storage/content-store.js';
import type { NodeKeys } from '../storage/node-keys.js';
import type { RecordReader } from './record-reader.js';
import { openPayload } from './sealed-payload.js';

export interface RecordProof {
  recordId: string;
  version: number;
  cid: string;
  /** The stored bytes hash to the CID. */
  contentMatchesCid: boolean;
  /** The envelope authenticates and opens with the node key. */
  decrypts: boolean;
  anchorTx: string | null;
  anchorBlock: number | null;
  /** The CID the chain event carries, when anchored. */
  chainCid: string | null;
  anchorMatches: boolean;
  verified: boolean;
}

export interface RecordVerificationOptions {
  content: ContentStore;
  ledger: Ledger;
  keys: NodeKeys;
  reader: RecordReader;
}

/** Whether a record's current version, its stored bytes and its chain anchor agree. */
export class RecordVerification {
  constructor(private readonly options: RecordVerificationOptions) {}

  /** The proof for verifyRecord(id); authorized (and audited) as a `verify` of that record. */
  async verifyRecord(caller: Caller, idInput: string): Promise<RecordProof> {
    const { reader, content, ledger, keys } = this.options;
    const record = await reader.getRecord(caller, idInput, 'verify');
    const row = await reader.currentVersion(record);
    const proof: RecordProof = {
      recordId: record.id,
      version: row.version,
      cid: row.cid,
      contentMatchesCid: false,
      decrypts: false,
      anchorTx: row.anchorTx,
      anchorBlock: row.anchorBlock,
      chainCid: null,
      anchorMatches: false,
      verified: false,
    };
    try {
      const envelope = await content.get(CID.parse(row.cid));
      proof.contentMatchesCid = (await content.cidOf(envelope)).toString() === row.cid;
      const payload = openPayload(envelope, keys.boxSecretKey);
      proof.decrypts = payload.recordId === record.id && payload.version === row.version;
    } catch (error) {
      if (!(error instanceof IntegrityError || error instanceof NotFoundError)) throw error;
    }
    if (row.anchorTx) {
      const events = await ledger.anchorsInTransaction(row.anchorTx);
      const event = events.find((e) => e.recordId === record.id && e.version === row.version);
      if (event) {
        proof.chainCid = CID.decode(event.cid).toString();
        proof.anchorMatches = proof.chainCid === row.cid && event.patient.toLowerCase() === record.patient;
      }
    }
    proof.verified = proof.contentMatchesCid && proof.decrypts && proof.anchorMatches;
    return proof;
  }
}
