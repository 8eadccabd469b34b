import { AlertStore, alertKindRank, type AlertRow } from '../../src/storage/alert-store.js';
import { AuditStore } from '../../src/storage/audit-store.js';
import { address, migratedDatabase } from '../helpers/migrated-database.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';

const patient = address(0x11);
const other = address(0x12);
const actor = address(0x22);
const hash = (n: number) => n.toString(16).padStart(64, '0');

describe('AuditStore and AlertStore', () => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let audit: AuditStore;
  let alerts: AlertStore;

  beforeAll(async () => {
    db = await migratedDatabase();
    audit = new AuditStore(db.dataSource);
    alerts = new AlertStore(db.dataSource);
  });

  afterAll(async () => {
    await db.close();
    await stopTestDatabaseServer();
  });

  const entry = (who: string, seq: number) => ({
    patient: who,
    seq,
    actor,
    action: 'read',
    resourceType: 'Observation',
    recordId: null,
    outcome: 'ALLOWED' as const,
    purpose: null,
    reason: null,
    at: new Date(Date.UTC(2026, 4, 1, 10, 0, seq)),
    prevHash: hash(seq - 1),
    hash: hash(seq),
  });

  it('appends entries and answers null, not an error, when a seq is taken, writing none of them', async () => {
    expect(await audit.insertEntries([entry(patient, 1)])).toHaveLength(1);
    expect(await audit.insertEntries([entry(patient, 2), entry(patient, 3)])).toHaveLength(2);
    // One taken seq among new ones: the whole INSERT is refused, seq 4 is not kept either.
    expect(
      await audit.insertEntries([{ ...entry(patient, 3), actor: address(0x99) }, entry(patient, 4)]),
    ).toBeNull();
    expect(await audit.lastEntry(patient)).toEqual({ seq: 3, hash: hash(3) });
    expect(await audit.lastEntry(other)).toBeNull();
    const page = await audit.entriesNewestFirst(patient, 2);
    expect(page.entries.map((e) => e.seq)).toEqual([3, 2]);
    expect(page.total).toBe(3);
    expect((await audit.entriesNewestFirst(patient, 5, 2)).entries.map((e) => e.seq)).toEqual([1]);
  });

  it('stores anchored batches all or nothing', async () => {
    await audit.insertEntries([entry(other, 1)]);
    expect(await audit.patientsWithUnbatched(10)).toEqual([patient, other]);
    expect(await audit.unbatchedEntries(patient, 2)).toEqual([
      { seq: 1, hash: hash(1) },
      { seq: 2, hash: hash(2) },
    ]);
    // The second batch's root does not fit its column: the first batch must not be kept either.
    await expect(
      audit.saveAnchoredBatches(
        [
          { patient, firstSeq: 1, lastSeq: 2, root: hash(0xa) },
          { patient: other, firstSeq: 1, lastSeq: 1, root: hash(0xb) + 'ff' },
        ],
        { txHash: '0xanchor', blockNumber: 7 },
      ),
    ).rejects.toThrow();
    expect(await audit.batchesOf(patient)).toEqual([]);
    expect(await audit.unbatchedEntries(patient, 10)).toHaveLength(3);

    await audit.saveAnchoredBatches([{ patient, firstSeq: 1, lastSeq: 2, root: hash(0xa) }], {
      txHash: '0xanchor',
      blockNumber: 7,
    });
    const [batch] = await audit.batchesOf(patient);
    expect(batch).toMatchObject({
      firstSeq: 1,
      lastSeq: 2,
      root: hash(0xa),
      anchorTx: '0xanchor',
      anchorBlock: 7,
    });
    expect(await audit.batchLeaves(patient, batch.id)).toEqual([hash(1), hash(2)]);
    expect(await audit.unbatchedEntries(patient, 10)).toEqual([{ seq: 3, hash: hash(3) }]);
    expect(await audit.lastBatchEnd(patient)).toEqual({ seq: 2, hash: hash(0xa) });
  });

  it('adopts a root read back from the chain once', async () => {
    const root = {
      patient: address(0x13),
      firstSeq: 1,
      lastSeq: 4,
      root: hash(0xc),
      txHash: '0xr',
      blockNumber: 9,
    };
    expect(await audit.adoptAnchoredRoot(root)).toBe(true);
    expect(await audit.adoptAnchoredRoot({ ...root, blockNumber: 10 })).toBe(false);
    expect(await audit.batchesOf(address(0x13))).toHaveLength(1);
    expect(await audit.lastEntry(address(0x13))).toBeNull();
    expect(await audit.lastBatchEnd(address(0x13))).toEqual({ seq: 4, hash: hash(0xc) });
  });

  const alert = (changes: Partial<AlertRow>): AlertRow => ({
    patient,
    kind: 'DENIED',
    actor,
    action: 'read',
    resourceType: null,
    reasonCode: 'NO_GRANT',
    reason: 'not allowed',
    breakGlassId: null,
    organization: null,
    txHash: null,
    at: new Date('2026-05-01T10:00:00Z'),
    ...changes,
  });

  it('stores a break-glass alert once and fills in the reason the first copy lacked', async () => {
    const opened = alert({
      kind: 'BREAK_GLASS',
      reasonCode: 'PRACTITIONER_STATEMENT',
      breakGlassId: '5',
      reason: null,
    });
    // add answers the new alert's id (what replicas are told), or null when it was already stored.
    const first = await alerts.add(opened);
    expect(first).toMatch(/^\d+$/);
    expect(await alerts.add({ ...opened, reason: 'unconscious' })).toBeNull();
    expect(await alerts.add({ ...opened, reason: 'something else' })).toBeNull();
    expect((await alerts.byId(first!))?.reason).toBe('unconscious');
    // Denials carry no break-glass id: each one is its own alert.
    const denials = [await alerts.add(alert({})), await alerts.add(alert({}))];
    expect(denials.every((id) => id !== null && id !== first)).toBe(true);
    expect(denials[0]).not.toBe(denials[1]);
    const listed = await alerts.newestFirst(patient, 10);
    expect(listed).toHaveLength(3);
    expect(listed.find((a) => a.kind === 'BREAK_GLASS')?.reason).toBe('unconscious');
  });

  it('pages newest first, strictly before the cursor', async () => {
    await alerts.add(alert({ at: new Date('2026-05-02T10:00:00Z') }));
    const [newest, next] = await alerts.newestFirst(patient, 2);
    expect(newest.at.toISOString()).toBe('2026-05-02T10:00:00.000Z');
    const rest = await alerts.newestFirst(patient, 10, {
      at: next.at.toISOString(),
      rank: alertKindRank(next.kind),
      id: next.id,
    });
    expect(rest).toHaveLength(2);
    expect(rest.every((a) => a.at.getTime() <= next.at.getTime() && a.id !== next.id)).toBe(true);
    expect(await alerts.newestFirst(other, 10)).toEqual([]);
  });

  it('lists an end after its opening in the same second, even when the end was stored first', async () => {
    const second = new Date('2026-05-03T08:00:00Z');
    const chart = address(0x13);
    // The end stored first, as a node does when the opening waited in quarantine.
    const breakGlass = [
      { kind: 'BREAK_GLASS_ENDED', action: 'end-break-glass', reasonCode: 'BREAK_GLASS_ENDED' },
      { kind: 'BREAK_GLASS', action: 'break-glass', reasonCode: 'PRACTITIONER_STATEMENT' },
    ] as const;
    for (const row of breakGlass) {
      await alerts.add({ ...alert(row), patient: chart, breakGlassId: '77', at: second, reason: null });
    }
    await alerts.add({ ...alert({}), patient: chart, at: new Date('2026-05-03T07:59:59Z') });
    const listed = await alerts.newestFirst(chart, 10);
    expect(listed.map((a) => a.kind)).toEqual(['BREAK_GLASS_ENDED', 'BREAK_GLASS', 'DENIED']);
    // Pages continue from the end to its opening, not past it.
    const [end] = listed;
    const after = await alerts.newestFirst(chart, 10, {
      at: end!.at.toISOString(),
      rank: alertKindRank(end!.kind),
      id: end!.id,
    });
    expect(after.map((a) => a.kind)).toEqual(['BREAK_GLASS', 'DENIED']);
  });
});
