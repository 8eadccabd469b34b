import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { newIdentity } from '../../examples/client.js';
import { AuditAnchorer } from '../../src/audit/audit-anchorer.js';
import { silentLogger } from '../../src/logger.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { AuditStore } from '../../src/storage/audit-store.js';

const MARKER = 'ZZ-CALLER-CHOSEN-7f3a';
const TIMELINE = `query ($p: String!, $types: [String!]) { phr(patient: $p) { timeline(types: $types) { edges { cursor } } } }`;
const ALERTS = `query ($p: String!) { alerts(patient: $p) {
  edges { node { kind actor action resourceType reasonCode message reason } } } }`;
const AUDIT = `query ($p: String!) { auditTrail(patient: $p) { edges { node { action resourceType outcome reason } } } }`;
const BREAK_GLASS = `mutation ($p: String!, $r: String!) { breakGlass(patient: $p, reason: $r) { id } }`;

type Code = string;
const codeOf = (response: { errors?: { extensions?: { code?: string } }[] }): Code =>
  response.errors?.[0]?.extensions?.code ?? 'OK';

describe('audit guards: nobody is audited for nobody, anchoring order, alert text', () => {
  let test: TestNode;
  let patient: SignedInUser;
  let stranger: SignedInUser;

  const rows = async (sql: string, params: unknown[]) =>
    (await test.node.database.dataSource.query(sql, params)) as Record<string, unknown>[];

  beforeAll(async () => {
    // The node's own anchorer waits an hour, so only this test decides when batches are anchored.
    test = await startTestNode({ chain: { auditAnchorIntervalMs: 3_600_000 } });
    patient = await signIn(test);
    stranger = await signIn(test);
  }, 120_000);
  afterAll(() => test?.close());

  it('a denied read against an address that is no registered patient leaves no audit row, no alert, no anchor', async () => {
    const nobody = newIdentity().wallet.address;
    for (const [query, variables] of [
      [TIMELINE, { p: nobody }],
      [AUDIT, { p: nobody }],
      [ALERTS, { p: nobody }],
    ] as const) {
      expect(codeOf(await stranger.client.send(query, variables))).toBe('FORBIDDEN');
    }
    // The same denial against a real patient is recorded: the guard tells the two apart.
    expect(codeOf(await stranger.client.send(TIMELINE, { p: patient.address }))).toBe('FORBIDDEN');
    const count = async (table: string, address: string) =>
      Number(
        (await rows(`SELECT count(*) AS n FROM ${table} WHERE patient = $1`, [address.toLowerCase()]))[0].n,
      );
    expect(await count('audit_entry', nobody)).toBe(0);
    expect(await count('access_alert', nobody)).toBe(0);
    expect(await count('audit_entry', patient.address)).toBe(1);
    expect(await count('access_alert', patient.address)).toBe(1);
    await test.node.auditAnchorer.flush();
    expect(await count('audit_batch', nobody)).toBe(0);
    expect(await count('audit_batch', patient.address)).toBe(1);
  }, 60_000);

  it('anchors the patients whose entries waited longest first', async () => {
    await test.node.auditAnchorer.flush(); // nothing else pending
    // Oldest to newest, in the reverse of alphabetical order, so neither address nor chance gives it.
    const [oldest, middle, newest] = ['0x' + 'f'.repeat(40), '0x' + '8'.repeat(40), '0x' + '1'.repeat(40)];
    for (const address of [oldest, middle, newest]) {
      await test.node.services.audit.append({
        patient: address,
        actor: stranger.address.toLowerCase(),
        action: 'read',
        outcome: 'DENIED',
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const rounds: string[][] = [];
    const ledger = test.node.ledger;
    const anchorer = new AuditAnchorer({
      store: new AuditStore(test.node.database.dataSource),
      ledger: {
        anchorAuditRoots: (roots) => {
          rounds.push(roots.map((r) => r.patient));
          return ledger.anchorAuditRoots(roots);
        },
      },
      intervalMs: 3_600_000,
      maxPatientsPerRound: 2,
      logger: silentLogger,
    });
    await anchorer.flush();
    await anchorer.flush();
    expect(rounds).toEqual([[oldest, middle], [newest]]);
    const batches = await rows(
      `SELECT patient, anchor_block FROM audit_batch WHERE patient = ANY($1) ORDER BY anchor_block, patient DESC`,
      [[oldest, middle, newest]],
    );
    expect(batches.map((b) => b.patient)).toEqual([oldest, middle, newest]);
    expect(batches[0].anchor_block).toBe(batches[1].anchor_block);
    expect(Number(batches[2].anchor_block)).toBeGreaterThan(Number(batches[0].anchor_block));
  }, 60_000);

  it('alerts and audit entries repeat no caller-chosen text; a known FHIR type is kept', async () => {
    const evil = `<b>${MARKER}</b> call 555-0100 now`;
    expect(
      codeOf(await stranger.client.send(TIMELINE, { p: patient.address, types: [evil, 'Observation'] })),
    ).toBe('FORBIDDEN');
    expect(codeOf(await stranger.client.send(TIMELINE, { p: patient.address, types: ['Observation'] }))).toBe(
      'FORBIDDEN',
    );

    const { alerts } = await patient.client.request<{
      alerts: { edges: { node: Record<string, string | null> }[] };
    }>(ALERTS, { p: patient.address });
    const { auditTrail } = await patient.client.request<{ auditTrail: unknown }>(AUDIT, {
      p: patient.address,
    });
    expect(JSON.stringify(alerts)).not.toContain(MARKER);
    expect(JSON.stringify(auditTrail)).not.toContain(MARKER);
    const stored = await rows(`SELECT * FROM access_alert WHERE patient = $1`, [
      patient.address.toLowerCase(),
    ]);
    expect(JSON.stringify(stored)).not.toContain(MARKER);

    const [observation, dropped] = alerts.edges.map((e) => e.node); // newest first
    expect(dropped).toMatchObject({
      kind: 'DENIED',
      resourceType: null,
      reasonCode: 'NO_GRANT',
      action: 'search',
    });
    expect(dropped.message).toBe('Access refused: no active grant from you covers search.');
    expect(observation).toMatchObject({
      kind: 'DENIED',
      resourceType: 'Observation',
      reasonCode: 'NO_GRANT',
    });
    expect(observation.message).toBe(
      'Access refused: no active grant from you covers search of Observation records.',
    );
  }, 60_000);

  it('a break-glass reason is one line of plain text: control and direction characters are refused', async () => {
    for (const reason of [
      'unconscious after a crash\u202Eexe.gnp',
      'unconscious after a crash\nSIGNED: your doctor',
      'unconscious\u0007 after a crash',
      'unconscious after a crash\u200B',
      'short',
      'x'.repeat(501),
    ]) {
      expect(codeOf(await stranger.client.send(BREAK_GLASS, { p: patient.address, r: reason }))).toBe(
        'BAD_USER_INPUT',
      );
    }
    // Plain text passes the reason check and meets the next rule (this stranger is not attested).
    expect(
      codeOf(
        await stranger.client.send(BREAK_GLASS, {
          p: patient.address,
          r: 'unconscious after a crash, Ünfall',
        }),
      ),
    ).toBe('FORBIDDEN');
  }, 60_000);
});
