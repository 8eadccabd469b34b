import { randomBytes, randomUUID } from 'node:crypto';
import { getAddress, hexlify } from 'ethers';
import { BadUserInputError, IntegrityError } from '../../src/errors.js';
import {
  RECORD_ANCHORED_TOPIC,
  decodeRecordAnchoredLog,
  encodeAnchorRecords,
  type RawLog,
} from '../../src/ledger/anchor-codec.js';
import { omnichartInterface } from '../../src/ledger/contract-artifact.js';
import { uuidToBytes16 } from '../../src/ledger/ids.js';
import type { RecordAnchorItem } from '../../src/ledger/ledger-types.js';

/** Items with every CID length class around the 32-byte padding boundary. */
function items(count: number): RecordAnchorItem[] {
  const lengths = [1, 31, 32, 33, 36, 64, 65];
  return Array.from({ length: count }, (_, i) => ({
    patient: getAddress(hexlify(randomBytes(20))),
    recordId: randomUUID(),
    version: [0, 1, 7, 0xffffffff][i % 4],
    cid: new Uint8Array(randomBytes(lengths[i % lengths.length])),
  }));
}

function ethersLog(item: RecordAnchorItem, logIndex: number): RawLog {
  const { data, topics } = omnichartInterface.encodeEventLog('RecordAnchored', [
    item.patient,
    uuidToBytes16(item.recordId),
    item.version,
    item.cid,
  ]);
  return { topics, data, transactionHash: `0x${'ab'.repeat(32)}`, blockNumber: 12, index: logIndex };
}

describe('anchorRecords calldata', () => {
  it.each([1, 2, 7, 250])('is byte for byte what ethers encodes for %i records', (count) => {
    const batch = items(count);
    const expected = omnichartInterface.encodeFunctionData('anchorRecords', [
      batch.map((item) => [item.patient, uuidToBytes16(item.recordId), item.version, item.cid]),
    ]);
    expect(encodeAnchorRecords(batch)).toBe(expected);
  });

  it('refuses fields the contract cannot hold, naming the item', () => {
    const [good] = items(1);
    expect(() => encodeAnchorRecords([])).toThrow(BadUserInputError);
    expect(() => encodeAnchorRecords([good, { ...good, version: 2 ** 32 }])).toThrow(/items\[1\]\.version/);
    expect(() => encodeAnchorRecords([{ ...good, version: 1.5 }])).toThrow(/uint32/);
    expect(() => encodeAnchorRecords([{ ...good, cid: new Uint8Array() }])).toThrow(/cid is empty/);
    expect(() => encodeAnchorRecords([{ ...good, patient: '0x1234' }])).toThrow(/not an Ethereum address/);
    expect(() => encodeAnchorRecords([{ ...good, recordId: 'nope' }])).toThrow(/not a UUID/);
  });
});

describe('RecordAnchored logs', () => {
  it('decode to the anchored fields, as ethers reads them', () => {
    items(14).forEach((item, i) => {
      const log = ethersLog(item, i);
      const parsed = omnichartInterface.decodeEventLog('RecordAnchored', log.data, log.topics);
      const decoded = decodeRecordAnchoredLog(log);
      expect(decoded).toEqual({
        patient: item.patient.toLowerCase(),
        recordId: item.recordId,
        version: item.version,
        cid: item.cid,
        txHash: log.transactionHash,
        blockNumber: 12,
        logIndex: i,
      });
      expect(decoded.patient).toBe((parsed.patient as string).toLowerCase());
      expect(hexlify(decoded.cid)).toBe(parsed.cid);
    });
  });

  const log = ethersLog(items(1)[0], 0);
  it.each<[string, RawLog]>([
    ['another event', { ...log, topics: [`0x${'00'.repeat(32)}`, ...log.topics.slice(1)] }],
    ['a missing topic', { ...log, topics: log.topics.slice(0, 2) }],
    ['truncated data', { ...log, data: log.data.slice(0, log.data.length - 64) }],
    ['a dirty address topic', { ...log, topics: [log.topics[0], `0x${'11'.repeat(32)}`, log.topics[2]] }],
    ['a dirty bytes16 topic', { ...log, topics: [log.topics[0], log.topics[1], `0x${'11'.repeat(32)}`] }],
    [
      'a huge cid length',
      { ...log, data: log.data.slice(0, 2 + 128) + 'f'.repeat(64) + log.data.slice(194) },
    ],
    ['non-hex data', { ...log, data: `${log.data.slice(0, -2)}zz` }],
  ])('refuses a log with %s', (_what, value) => {
    expect(() => decodeRecordAnchoredLog(value)).toThrow(IntegrityError);
  });

  it('accepts the untouched log those cases start from', () => {
    expect(log.topics[0]).toBe(RECORD_ANCHORED_TOPIC);
    expect(() => decodeRecordAnchoredLog(log)).not.toThrow();
  });
});
