import { CachedAccessState } from '../../src/auth/access-state.js';
import type { Caller } from '../../src/auth/caller.js';
import { ConsentPolicy } from '../../src/auth/consent-policy.js';
import { AccessDeniedError, type AccessRequest } from '../../src/auth/policy.js';
import type { AlertLog } from '../../src/audit/alert-log.js';
import type { AuditEvent, AuditLog } from '../../src/audit/audit-log.js';
import { OperationScope } from '../../src/operation-scope.js';
import { loadFhirDefinitions } from '../../src/records/fhir-validation.js';
import type { GrantEntity } from '../../src/storage/entities/index.js';
import { catchUpOncePerOperation } from '../../src/sync/operation-catch-up.js';

const patient = '0x' + 'aa'.repeat(20);
const doctor: Caller = { address: '0x' + 'bb'.repeat(20), role: 'PRACTITIONER', sessionId: 's' };
const self: Caller = { address: patient, role: 'PATIENT', sessionId: 'p' };
const now = new Date('2026-06-01T12:00:00Z');

function consent(scopes: string, changes: Partial<GrantEntity> = {}): GrantEntity {
  return {
    id: '7',
    kind: 'CONSENT',
    patient,
    grantee: doctor.address,
    scopes,
    expiresAt: new Date('2026-07-01T00:00:00Z'),
    revokedAt: null,
    reason: null,
    createdTx: null,
    createdBlock: null,
    revokedTx: null,
    createdAt: now,
    ...changes,
  };
}

/**
 * The policy over a fake cache: `chain` is what the chain says now, copied into `cache` only by the
 * catch-up, so a decision that skipped the catch-up would see stale grants.
 */
function harness(operations = new OperationScope()) {
  const chain = { grants: [consent('patient/*.rs')] };
  let cache: GrantEntity[] = [];
  const counts = { catchUps: 0, grantReads: 0 };
  const audited: AuditEvent[] = [];
  const alerted: unknown[] = [];
  const policy = new ConsentPolicy({
    state: new CachedAccessState({
      grants: {
        liveGrants: async (p, grantee, at) => {
          counts.grantReads += 1;
          return cache.filter(
            (g) => g.patient === p && g.grantee === grantee && !g.revokedAt && g.expiresAt > at,
          );
        },
      },
      caughtUp: catchUpOncePerOperation(operations, async () => {
        counts.catchUps += 1;
        cache = chain.grants.map((g) => ({ ...g }));
      }),
      now: () => now,
    }),
    accounts: { isPatient: async (address) => address === patient },
    audit: { append: async (event: AuditEvent) => void audited.push(event) } as unknown as AuditLog,
    alerts: { record: async (alert: unknown) => void alerted.push(alert) } as unknown as AlertLog,
    operations,
  });
  return { policy, chain, counts, audited, alerted };
}

const read: AccessRequest = { caller: doctor, patient, action: 'read', resourceType: 'Observation' };

describe('ConsentPolicy: decisions from the state they are given, recorded once per operation', () => {
  beforeAll(() => loadFhirDefinitions());

  it('catches up once and audits once for an operation that authorizes the same access twice', async () => {
    const operations = new OperationScope();
    const { policy, counts, audited } = harness(operations);
    await operations.run(async () => {
      await policy.authorize(read);
      await policy.authorize(read);
    });
    expect(counts).toEqual({ catchUps: 1, grantReads: 2 });
    expect(audited).toEqual([
      expect.objectContaining({ actor: doctor.address, action: 'read', outcome: 'ALLOWED' }),
    ]);
  });

  it('catches up and audits again in the next operation, and for each access outside any', async () => {
    const operations = new OperationScope();
    const { policy, counts, audited } = harness(operations);
    await operations.run(() => policy.authorize(read));
    await operations.run(() => policy.authorize(read));
    expect(counts.catchUps).toBe(2);
    await policy.authorize(read);
    await policy.authorize(read);
    expect(counts.catchUps).toBe(4);
    expect(audited).toHaveLength(4);
  });

  it('audits each distinct access of one operation (another type is another entry)', async () => {
    const operations = new OperationScope();
    const { policy, audited } = harness(operations);
    await operations.run(async () => {
      await policy.authorize(read);
      await policy.authorize({ ...read, resourceType: 'Condition' });
      await policy.authorize(read);
    });
    expect(audited.map((e) => e.resourceType)).toEqual(['Observation', 'Condition']);
  });

  it('denies on the next operation once the chain revoked the grant, and alerts once per operation', async () => {
    const operations = new OperationScope();
    const { policy, chain, audited, alerted } = harness(operations);
    await operations.run(() => policy.authorize(read));
    chain.grants = [consent('patient/*.rs', { revokedAt: new Date('2026-06-01T11:00:00Z') })];
    await operations.run(async () => {
      await expect(policy.authorize(read)).rejects.toThrow(AccessDeniedError);
      await expect(policy.authorize(read)).rejects.toThrow(/no active grant/);
    });
    expect(audited.map((e) => e.outcome)).toEqual(['ALLOWED', 'DENIED']);
    expect(alerted).toEqual([expect.objectContaining({ kind: 'DENIED', reasonCode: 'NO_GRANT' })]);
  });

  it('needs no chain state for the patient on their own chart or for a patient-only action', async () => {
    const { policy, counts, audited } = harness(new OperationScope());
    await expect(policy.authorize({ caller: self, patient, action: 'read' })).resolves.toEqual({
      via: 'self',
    });
    await expect(policy.decide({ caller: doctor, patient, action: 'grant' })).rejects.toThrow(
      /only the patient may grant/,
    );
    expect(counts).toEqual({ catchUps: 0, grantReads: 0 });
    expect(audited).toEqual([]);
  });

  it('decide writes nothing: the operation records once with record', async () => {
    const operations = new OperationScope();
    const { policy, audited } = harness(operations);
    await operations.run(async () => {
      const decision = await policy.decide(read);
      expect(decision).toEqual({ via: 'grant', grantId: '7', reason: null });
      expect(audited).toEqual([]);
      await policy.record(read, decision);
    });
    expect(audited).toHaveLength(1);
  });
});
