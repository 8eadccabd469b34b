import { RecordEvents } from '../../src/records/record-events.js';
import type { RecordEntity } from '../../src/storage/entities/index.js';

const record = (patient: string, id: string) => ({ id, patient }) as RecordEntity;

describe('RecordEvents', () => {
  it("delivers a patient's records in order, and only theirs", async () => {
    const events = new RecordEvents();
    const stream = events.subscribe('0xa');
    events.publish([record('0xa', '1'), record('0xb', '2'), record('0xa', '3')]);
    expect((await stream.next()).value.id).toBe('1');
    expect((await stream.next()).value.id).toBe('3');
    const pending = stream.next();
    events.publish([record('0xa', '4')]);
    expect((await pending).value.id).toBe('4');
  });

  it('unsubscribes on return(), also while a next() is pending', async () => {
    const events = new RecordEvents();
    const stream = events.subscribe('0xa');
    expect(events.subscriberCount).toBe(1);
    const pending = stream.next();
    await stream.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(events.subscriberCount).toBe(0);
  });

  it('ends a subscriber that falls more than 1,000 records behind', async () => {
    const events = new RecordEvents();
    const stream = events.subscribe('0xa');
    events.publish(Array.from({ length: 1_001 }, (_, i) => record('0xa', String(i))));
    expect(events.subscriberCount).toBe(0);
    for (let i = 0; i < 1_000; i += 1) expect((await stream.next()).value.id).toBe(String(i));
    await expect(stream.next()).rejects.toThrow(/fell more than 1000 records behind/);
  });
});
