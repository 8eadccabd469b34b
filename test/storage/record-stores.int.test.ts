import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ConflictError } from '../../src/errors.js';
import { ChartStore } from '../../src/storage/chart-store.js';
import { GrantStore } from '../../src/storage/grant-store.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { KeyShareStore } from '../../src/storage/key-share-store.js';
import { RecordAdoptionStore } from '../../src/storage/record-adoption-store.js';
import { RecordStore } from '../../src/storage/record-store.js';
import { RecordWriteStore, type VersionRowInput } from '../../src/storage/record-write-store.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

const patient = '0x' + 'a1'.repeat(20);
const doctor = '0x' + 'd4'.repeat(20);
const hmac = (c: string) => c.repeat(64);

function row(id: string, version: number, over: Partial<VersionRowInput> = {}): VersionRowInput {
  return {
    id,
    version,
    resource_type: 'Observation',
    source_id: `obs-${id.slice(0, 4)}`,
    source_key: `obs-${id.slice(0, 4)}`,
    full_url: null,
    effective_at: '2021-05-08T10:00:00.000Z',
    codes: ['http://loinc.org|8867-4'],
    status: 'final',
    cid: `cid-${id}-${version}`,
    envelope_bytes: 100 + version,
    content_hmac: hmac(String(version % 10)),
    previous_cid: version === 1 ? null : `cid-${id}-${version - 1}`,
    author_verified: false,
    written_at: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

describe('record stores against Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let writes: RecordWriteStore;
  let records: RecordStore;
  let shares: KeyShareStore;
  let adoption: RecordAdoptionStore;
  let chart: ChartStore;
  const count = async (table: string) =>
    Number((await dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = createDataSource(database.url);
    await dataSource.initialize();
    await dataSource.runMigrations();
    writes = new RecordWriteStore(dataSource);
    records = new RecordStore(dataSource);
    shares = new KeyShareStore(dataSource);
    adoption = new RecordAdoptionStore(dataSource);
    chart = new ChartStore(dataSource);
    for (const [address, role, key] of [
      [patient, 'PATIENT', 'P'.repeat(43) + '='],
      [doctor, 'PRACTITIONER', 'D'.repeat(43) + '='],
    ]) {
      await dataSource.query(
        `INSERT INTO account (address, role, display_name, box_public_key, registration_issued_at, registration_signature)
         VALUES ($1, $2, $3, $4, now(), '0x')`,
        [address, role, `${role} one`, key],
      );
    }
  });

  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
    await stopTestDatabaseServer();
  });

  it('writes records, versions, aliases and outbox rows of a write together, and reads them back', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const written = await writes.writeVersions({
      patient,
      author: doctor,
      rows: [
        row(a, 1),
        row(b, 1, { resource_type: 'Condition', status: 'active', effective_at: '2020-01-01T00:00:00Z' }),
      ],
      patientReferences: ['Patient/p1', 'Patient/p1'],
      dropKeyShares: false,
    });
    expect(written.map(({ record: r }) => [r.id, r.currentVersion, r.author]).sort()).toEqual(
      [
        [a, 1, doctor],
        [b, 1, doctor],
      ].sort(),
    );
    // Each with the version row as written (what the reply to a write shows without a read-back).
    const writtenA = written.find(({ record }) => record.id === a)!.version;
    expect(writtenA).toMatchObject({
      recordId: a,
      version: 1,
      cid: `cid-${a}-1`,
      envelopeBytes: 101,
      author: doctor,
      contentHmac: hmac('1'),
      previousCid: null,
      authorVerified: false,
      anchorTx: null,
      anchorBlock: null,
      anchoredAt: null,
    });
    expect(writtenA.createdAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect((await records.versions([{ recordId: a, version: 1 }])).get(`${a}:1`)).toEqual(writtenA);
    expect(await count('anchor_outbox')).toBe(2);
    expect(await dataSource.query(`SELECT source, reference, patient FROM patient_alias`)).toEqual([
      { source: doctor, reference: 'Patient/p1', patient },
    ]);

    const found = await records.recordWithCid(a);
    expect(found?.cid).toBe(`cid-${a}-1`);
    expect(found?.record).toMatchObject({ patient, resourceType: 'Observation', status: 'final' });
    expect(found?.record.effectiveAt.toISOString()).toBe('2021-05-08T10:00:00.000Z');
    expect(await records.recordWithCid(randomUUID())).toBeNull();

    // A second version continues the first; the lookup a write plans with sees it.
    await writes.writeVersions({
      patient,
      author: doctor,
      rows: [row(a, 2, { status: 'amended' })],
      patientReferences: [],
      dropKeyShares: false,
    });
    // The chart's consent grants: the lookup answers only the active ones, with the grantee's box key.
    const grants = new GrantStore(dataSource);
    const consent = (id: string, expiresInHours: number, revoked = false) =>
      grants.saveConsent({
        id,
        patient,
        grantee: doctor,
        scopes: 'patient/Observation.rs',
        expiresAt: new Date(Date.now() + expiresInHours * 3600_000),
        revokedAt: revoked ? new Date() : null,
        reason: null,
        createdTx: `0x${id}`,
        createdBlock: 1,
        revokedTx: revoked ? `0xr${id}` : null,
      });
    await consent('lookup-live', 1);
    await consent('lookup-expired', -1);
    await consent('lookup-revoked', 1, true);
    const lookup = await writes.lookupForWrite({
      patient,
      author: doctor,
      identities: [{ resourceType: 'Observation', sourceKey: `obs-${a.slice(0, 4)}` }],
      patientReferences: ['Patient/p1', 'Patient/other'],
    });
    expect(lookup.account).toEqual({ role: 'PATIENT', boxPublicKey: 'P'.repeat(43) + '=' });
    expect(lookup.existing.map((e) => [e.record.id, e.record.currentVersion, e.cid, e.contentHmac])).toEqual([
      [a, 2, `cid-${a}-2`, hmac('2')],
    ]);
    expect(lookup.mismatched).toEqual([]);
    expect(lookup.consents).toEqual([
      { scopes: 'patient/Observation.rs', boxPublicKey: 'D'.repeat(43) + '=' },
    ]);
    expect(await grants.activeConsentKeys(patient)).toEqual(lookup.consents);
    expect(await writes.takenIds([a, randomUUID()])).toEqual([a]);

    expect((await records.versionsOf([a])).map((v) => [v.version, v.cid, v.previousCid])).toEqual([
      [2, `cid-${a}-2`, `cid-${a}-1`],
      [1, `cid-${a}-1`, null],
    ]);
    const cids = await records.cidsOf([
      { recordId: a, version: 1 },
      { recordId: b, version: 1 },
      { recordId: b, version: 9 },
    ]);
    expect(Object.fromEntries(cids)).toEqual({ [`${a}:1`]: `cid-${a}-1`, [`${b}:1`]: `cid-${b}-1` });
    const versions = await records.versions([{ recordId: a, version: 2 }]);
    expect(versions.get(`${a}:2`)).toMatchObject({ envelopeBytes: 102, author: doctor, anchorTx: null });
  });

  it('refuses a write that races another as a whole: CONCURRENT_WRITE, nothing of it written', async () => {
    const a = randomUUID();
    await writes.writeVersions({
      patient,
      author: doctor,
      rows: [row(a, 1)],
      patientReferences: [],
      dropKeyShares: false,
    });
    const before = await Promise.all(['record', 'record_version', 'anchor_outbox'].map(count));
    const fresh = randomUUID();
    // Version 1 of `a` again (another writer got there first) next to a new record.
    const racing = writes.writeVersions({
      patient,
      author: doctor,
      rows: [row(fresh, 1), row(a, 1, { cid: 'other' })],
      patientReferences: ['Patient/race'],
      dropKeyShares: false,
    });
    await expect(racing).rejects.toBeInstanceOf(ConflictError);
    await expect(racing).rejects.toMatchObject({ code: 'CONFLICT', details: { reason: 'CONCURRENT_WRITE' } });
    expect(await Promise.all(['record', 'record_version', 'anchor_outbox'].map(count))).toEqual(before);
    expect(await records.recordWithCid(fresh)).toBeNull();
  });

  it('commits an anchored version once, only when it continues the record', async () => {
    const id = randomUUID();
    const anchored = {
      recordId: id,
      version: 1,
      patient,
      resourceType: 'Observation',
      sourceId: 'x',
      sourceKey: 'x',
      fullUrl: null,
      cid: 'cid-anchored-1',
      envelopeBytes: 50,
      author: patient,
      contentHmac: hmac('a'),
      previousCid: null,
      authorVerified: false,
      anchorTx: '0x' + '1'.repeat(64),
      anchorBlock: 7,
      effectiveAt: new Date('2022-02-02T00:00:00Z'),
      codes: [],
      status: null,
      writtenAt: new Date('2022-02-03T00:00:00Z'),
      patientReferences: [],
    };
    await adoption.quarantine({
      recordId: id,
      version: 1,
      cid: 'cid-anchored-1',
      patient,
      author: null,
      anchorTx: anchored.anchorTx,
      anchorBlock: 7,
      reason: 'VERSION_GAP',
      detail: 'waiting',
    });
    expect((await adoption.waitingFor(id, 1)).map((q) => q.cid)).toEqual(['cid-anchored-1']);
    const outbox = await count('anchor_outbox');
    expect((await writes.commitAnchored(anchored))?.currentVersion).toBe(1);
    expect(await writes.commitAnchored(anchored)).toBeNull();
    // Anchored elsewhere already: no outbox row; the quarantine entry is cleared.
    expect(await count('anchor_outbox')).toBe(outbox);
    expect(await adoption.quarantined(id)).toEqual([]);
    // Version 3 does not continue version 1: the record does not move to it.
    expect(await writes.commitAnchored({ ...anchored, version: 3, cid: 'cid-anchored-3' })).toBeNull();
    expect((await records.recordWithCid(id))?.record.currentVersion).toBe(1);
    expect(await adoption.held(id, 1)).toEqual({
      patient,
      resourceType: 'Observation',
      version: 1,
      cid: 'cid-anchored-1',
      contentHmac: hmac('a'),
      sameVersionCid: 'cid-anchored-1',
      homeTx: anchored.anchorTx,
    });
    expect(await adoption.held(randomUUID(), 1)).toBeNull();
  });

  it('keeps key copies per grantee and version, and answers who holds one', async () => {
    const id = randomUUID();
    await writes.writeVersions({
      patient,
      author: patient,
      rows: [row(id, 1)],
      patientReferences: [],
      dropKeyShares: false,
    });
    expect((await shares.candidates(patient, doctor)).find((c) => c.recordId === id)).toEqual({
      recordId: id,
      version: 1,
      resourceType: 'Observation',
      cid: `cid-${id}-1`,
      shareCid: null,
    });
    await shares.upsert([{ recordId: id, version: 1, grantee: doctor, cid: 'copy-1' }]);
    await shares.upsert([{ recordId: id, version: 1, grantee: doctor, cid: 'copy-2' }]);
    expect(Object.fromEntries(await shares.sharesFor(doctor, [{ recordId: id, version: 1 }]))).toEqual({
      [`${id}:1`]: 'copy-2',
    });
    expect(await shares.currentSharesOf(patient)).toContainEqual({
      recordId: id,
      boxPublicKey: 'D'.repeat(43) + '=',
    });
    expect(await shares.boxPublicKeyOf(doctor)).toBe('D'.repeat(43) + '=');
    expect(await shares.boxPublicKeyOf('0x' + '0'.repeat(40))).toBeNull();
    // A re-seal drops the copies of the records it writes, in the same statement.
    await writes.writeVersions({
      patient,
      author: patient,
      rows: [row(id, 2)],
      patientReferences: [],
      dropKeyShares: true,
    });
    expect((await shares.sharesFor(doctor, [{ recordId: id, version: 1 }])).size).toBe(0);
  });

  it('answers chart metadata: timeline pages, counts, sources, chart queries, references', async () => {
    const other = '0x' + 'c3'.repeat(20);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await writes.writeVersions({
      patient: other,
      author: doctor,
      rows: [
        row(ids[0], 1, { effective_at: '2021-01-01T00:00:00Z', full_url: 'urn:uuid:first' }),
        row(ids[1], 1, { effective_at: '2021-06-01T00:00:00Z', codes: ['http://loinc.org|1234-5'] }),
        row(ids[2], 1, {
          resource_type: 'Patient',
          source_id: 'pat-1',
          source_key: 'pat-1',
          effective_at: '2020-01-01T00:00:00Z',
        }),
      ],
      patientReferences: [],
      dropKeyShares: false,
    });
    const first = await chart.timelinePage({ patient: other }, null, 2);
    expect(first.map((e) => e.record.id)).toEqual([ids[1], ids[0]]);
    const next = await chart.timelinePage({ patient: other }, first[1].position, 2);
    expect(next.map((e) => e.record.id)).toEqual([ids[2]]);
    expect(await chart.timelineCount({ patient: other, types: ['Observation'] })).toBe(2);
    expect(await chart.timelineCount({ patient: other, code: '1234-5' })).toBe(1);
    expect(
      await chart.timelineCount({
        patient: other,
        from: new Date('2021-01-01T00:00:00Z'),
        before: new Date('2021-06-01T00:00:00Z'),
      }),
    ).toBe(1);
    expect(await chart.counts(other)).toEqual([
      { resourceType: 'Observation', count: 2 },
      { resourceType: 'Patient', count: 1 },
    ]);
    expect(await chart.sources(other)).toEqual([
      {
        author: doctor,
        displayName: 'PRACTITIONER one',
        role: 'PRACTITIONER',
        resourceType: 'Observation',
        count: 2,
      },
      {
        author: doctor,
        displayName: 'PRACTITIONER one',
        role: 'PRACTITIONER',
        resourceType: 'Patient',
        count: 1,
      },
    ]);
    const matches = await records.findInChart(other, [
      {
        resourceType: 'Observation',
        codes: null,
        until: new Date('2021-03-01T00:00:00Z'),
        excludeStatus: null,
      },
      {
        resourceType: 'Observation',
        codes: ['http://loinc.org|1234-5'],
        until: null,
        excludeStatus: ['final'],
      },
    ]);
    expect(matches.map((m) => [m.query, m.record.id])).toEqual([[0, ids[0]]]);
    expect((await records.currentRecordsOf(other)).length).toBe(3);
    const refs = await records.referencedRecords([
      { item: 0, reference: 'urn:uuid:first', patient: other, author: doctor },
      { item: 0, reference: 'Patient/pat-1', patient: other, author: doctor },
      { item: 1, reference: 'Patient/pat-1', patient: other, author: patient },
    ]);
    expect(Object.fromEntries(refs)).toEqual({
      '0\u0000urn:uuid:first': ids[0],
      '0\u0000Patient/pat-1': ids[2],
    });
  });
});
