import { BadUserInputError, IntegrityError } from '../errors.js';
import { omnichartInterface } from './contract-artifact.js';
import { bytes16ToUuid, uuidToBytes16 } from './ids.js';
import type { AnchoredRecord, RecordAnchorItem } from './ledger-types.js';

/*
 * The ABI codec of the record-anchoring hot path, written out by hand: ethers' generic coder spent
 * more main-thread time per record than FHIR validation did (checksummed addresses, hex
 * round trips, a Result object per field). The layouts are fixed by the contract:
 *
 *   anchorRecords((address patient, bytes16 recordId, uint32 version, bytes cid)[] items)
 *   event RecordAnchored(address indexed patient, bytes16 indexed recordId, uint32 version, bytes cid)
 *
 * Both are checked byte for byte against ethers in test/ledger/anchor-codec.test.ts.
 */

const WORD = 64; // hex characters in one 32-byte ABI word
const SELECTOR = omnichartInterface.getFunction('anchorRecords')!.selector;
export const RECORD_ANCHORED_TOPIC = omnichartInterface.getEvent('RecordAnchored')!.topicHash;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const ZERO_WORD = '0'.repeat(WORD);

/** Calldata of `anchorRecords(items)`; BAD_USER_INPUT naming the item when a field is out of range. */
export function encodeAnchorRecords(items: readonly RecordAnchorItem[]): string {
  if (items.length === 0) throw new BadUserInputError('anchorRecords needs at least one record');
  const tuples = items.map((item, i) => {
    if (!ADDRESS.test(item.patient)) {
      throw new BadUserInputError(`items[${i}].patient is not an Ethereum address: ${item.patient}`);
    }
    if (!Number.isInteger(item.version) || item.version < 0 || item.version > 0xffffffff) {
      throw new BadUserInputError(`items[${i}].version must be a uint32, got ${item.version}`);
    }
    if (item.cid.length === 0) throw new BadUserInputError(`items[${i}].cid is empty`);
    const cid = Buffer.from(item.cid.buffer, item.cid.byteOffset, item.cid.byteLength).toString('hex');
    return (
      item.patient.slice(2).toLowerCase().padStart(WORD, '0') +
      uuidToBytes16(item.recordId).slice(2).padEnd(WORD, '0') +
      uint(item.version) +
      uint(4 * 32) + // the bytes' offset from the start of the tuple
      uint(item.cid.length) +
      cid.padEnd(Math.ceil(cid.length / WORD) * WORD, '0')
    );
  });
  // Dynamic tuples: the array holds one offset per tuple (from the end of the length word), then them.
  const offsets: string[] = [];
  let offset = tuples.length * 32;
  for (const tuple of tuples) {
    offsets.push(uint(offset));
    offset += tuple.length / 2;
  }
  return SELECTOR + uint(32) + uint(tuples.length) + offsets.join('') + tuples.join('');
}

/** The fields of a log that decoding needs, as `eth_getLogs` and receipts carry them. */
export interface RawLog {
  topics: readonly string[];
  data: string;
  transactionHash: string;
  blockNumber: number;
  index: number;
}

/**
 * A RecordAnchored log as an AnchoredRecord (`patient` lower-case).
 * @throws IntegrityError when the log does not have the event's layout.
 */
export function decodeRecordAnchoredLog(log: RawLog): AnchoredRecord {
  const [topic, patientTopic, recordTopic] = log.topics;
  const data = log.data.startsWith('0x') ? log.data.slice(2) : log.data;
  if (
    topic !== RECORD_ANCHORED_TOPIC ||
    !isWord(patientTopic) ||
    !isWord(recordTopic) ||
    !/^[0-9a-fA-F]*$/.test(data) ||
    data.length < 3 * WORD
  ) {
    throw new IntegrityError('not a RecordAnchored log');
  }
  const version = readUint(data, 0);
  const cidOffset = readUint(data, 1);
  if (
    !patientTopic.slice(2, 26).match(/^0+$/) ||
    !recordTopic.endsWith('0'.repeat(32)) ||
    version > 0xffffffff ||
    cidOffset % 32 !== 0
  ) {
    throw new IntegrityError('a RecordAnchored log has out-of-range fields');
  }
  const lengthAt = (cidOffset / 32) * WORD;
  const length = readUint(data, cidOffset / 32);
  const start = lengthAt + WORD;
  if (!Number.isSafeInteger(length) || start + length * 2 > data.length) {
    throw new IntegrityError('a RecordAnchored log is truncated');
  }
  return {
    patient: `0x${patientTopic.slice(26).toLowerCase()}`,
    recordId: bytes16ToUuid(recordTopic.slice(0, 34)),
    version,
    cid: new Uint8Array(Buffer.from(data.slice(start, start + length * 2), 'hex')),
    txHash: log.transactionHash,
    blockNumber: log.blockNumber,
    logIndex: log.index,
  };
}

function uint(value: number): string {
  return value.toString(16).padStart(WORD, '0');
}

/** Word `i` of `data` as a number; values past 2^53 come back as Infinity, which every check refuses. */
function readUint(data: string, i: number): number {
  const word = data.slice(i * WORD, (i + 1) * WORD);
  if (word.length !== WORD) return Number.POSITIVE_INFINITY;
  if (word.slice(0, WORD - 13) !== ZERO_WORD.slice(0, WORD - 13)) return Number.POSITIVE_INFINITY;
  return parseInt(word.slice(WORD - 13), 16);
}

function isWord(value: string | undefined): value is string {
  return typeof value === 'string' && /^0x[0-9a-fA-F]{64}$/.test(value);
}
