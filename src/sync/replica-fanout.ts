import type { AlertLog } from '../audit/alert-log.js';
import type { Logger } from '../logger.js';
import type { RecordEvents } from '../records/record-events.js';
import type { RecordEntity } from '../storage/entities/index.js';
import type { RecordStore } from '../storage/record-store.js';
import { MAX_PAYLOAD_BYTES, type ReplicaChannel } from '../storage/replica-channel.js';

const VERSION_REF = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(\d{1,9})$/;
const ALERT_ID = /^\d{1,19}$/;

export interface ReplicaFanoutParameters {
  channel: ReplicaChannel;
  events: RecordEvents;
  records: Pick<RecordStore, 'recordsByIds'>;
  alerts: AlertLog;
  logger: Logger;
  /**
   * Whether this process tells the others what it publishes: only with replicas on. A lone process
   * has no one to tell, and the NOTIFY would be one more statement on every write.
   */
  announce: boolean;
}

/**
 * `recordAdded` and `accessAlert` on every replica: what one replica publishes goes to the others as
 * ids over NOTIFY; each of them re-reads the rows from the shared Postgres and hands them to its own
 * subscribers, whose streams check access again for every record (record-reader.ts `watch`). A
 * replica ignores its own notices (it delivered locally), so nothing is delivered twice.
 */
export function fanOutAcrossReplicas(parameters: ReplicaFanoutParameters): void {
  const { channel, events, records, alerts, logger, announce } = parameters;
  const send = (name: 'records' | 'alerts', payload: string) =>
    channel.notify(name, payload).catch((error: Error) =>
      logger.warn('replica notice not sent; other replicas miss this live event', {
        channel: name,
        error: error.message,
      }),
    );
  if (announce) {
    events.forwardTo((written) => {
      for (const payload of chunks(written.map((r) => `${r.id}:${r.currentVersion}`)))
        void send('records', payload);
    });
    alerts.forwardTo((id) => void send('alerts', id));
  }

  // Notices are handled in arrival order, one at a time, so a subscriber sees versions in order.
  let tail: Promise<void> = Promise.resolve();
  const inOrder = (work: () => Promise<void>) => {
    tail = tail
      .then(work)
      .catch((error: Error) => logger.warn('replica notice not delivered', { error: error.message }));
  };
  channel.on('records', (payload) =>
    inOrder(async () => {
      const wanted = parseVersionRefs(payload);
      if (wanted.size === 0) return;
      const found = await records.recordsByIds([...wanted.keys()]);
      const byId = new Map(found.map((r) => [r.id, r]));
      const deliver: RecordEntity[] = [];
      for (const [id, version] of wanted) {
        const record = byId.get(id);
        // A record that moved on meanwhile is delivered with its newer version's own notice.
        if (record && record.currentVersion === version) deliver.push(record);
      }
      events.deliver(deliver);
    }),
  );
  channel.on('alerts', (payload) =>
    inOrder(async () => {
      if (ALERT_ID.test(payload)) await alerts.deliverStored(payload);
    }),
  );
}

/** `id:version` pairs of a notice; anything malformed is left out (the channel is not trusted). */
function parseVersionRefs(payload: string): Map<string, number> {
  const refs = new Map<string, number>();
  for (const item of payload.split(',')) {
    const match = VERSION_REF.exec(item);
    if (match) refs.set(match[1], Number(match[2]));
  }
  return refs;
}

/** Comma-joined payloads under the NOTIFY size cap. */
function chunks(items: string[]): string[] {
  const out: string[] = [];
  let current = '';
  for (const item of items) {
    if (current && current.length + item.length + 1 > MAX_PAYLOAD_BYTES) {
      out.push(current);
      current = '';
    }
    current = current ? `${current},${item}` : item;
  }
  if (current) out.push(current);
  return out;
}
