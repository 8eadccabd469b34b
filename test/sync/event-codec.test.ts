import type { LedgerEvent } from '../../src/ledger/chain-events.js';
import { eventFromJson, eventToJson } from '../../src/sync/event-codec.js';

describe('quarantine event codec', () => {
  it('survives a JSON round trip with bytes and bigints intact', () => {
    const event = {
      type: 'ModelAnchored',
      blockNumber: 12,
      logIndex: 3,
      txHash: '0xabc',
      modelId: '0x01',
      cid: new Uint8Array([0, 1, 254, 255]),
      metricsHash: '0x02',
      extra: { amount: 2n ** 70n, list: [new Uint8Array([9])] },
    } as unknown as LedgerEvent;
    const stored = JSON.parse(JSON.stringify(eventToJson(event)));
    expect(stored.cid).toEqual({ $bytes: 'AAH+/w==' });
    expect(stored.extra.amount).toEqual({ $bigint: '1180591620717411303424' });
    const back = eventFromJson(stored) as unknown as Record<string, unknown>;
    expect(back).toEqual(event);
    expect(back.cid).toBeInstanceOf(Uint8Array);
  });
});
