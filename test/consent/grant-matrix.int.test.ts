import {
  ADD_RECORD,
  READ_RECORD,
  login,
  newIdentity,
  register,
  type Identity,
  type OmnichartClient,
} from '../../examples/client.js';
import { grant, revoke } from '../helpers/consent.js';
import { attestUser } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

type Role = 'PATIENT' | 'PRACTITIONER' | 'ORGANIZATION' | 'ANALYST' | 'ADMIN';
type State = 'none' | 'active' | 'wrong scope' | 'expired' | 'revoked' | 'break-glass';
type Operation = 'read' | 'search' | 'create' | 'predict' | 'predictAll' | 'grant' | 'audit';

const ROLES: Role[] = ['PRACTITIONER', 'ORGANIZATION', 'ANALYST', 'ADMIN', 'PATIENT'];
const STATES: State[] = ['none', 'active', 'wrong scope', 'expired', 'revoked', 'break-glass'];
const OPERATIONS: Operation[] = ['read', 'search', 'create', 'predict', 'predictAll', 'grant', 'audit'];

const observation = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2026-11-20T08:00:00Z',
  valueQuantity: { value: 71, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
};

/** What each cell must answer: true = allowed, false = FORBIDDEN. */
function expected(role: Role, state: State, operation: Operation): boolean {
  if (operation === 'grant' || operation === 'audit') return false; // only the patient, whatever a grant says
  if (state === 'active') return true; // patient/*.cruds + predict
  if (state === 'break-glass')
    return role === 'PRACTITIONER' && (operation === 'read' || operation === 'search');
  return false;
}

interface Party {
  identity: Identity;
  client: OmnichartClient;
}

describe('consent: the authorization matrix through GraphQL', () => {
  let test: TestNode;
  const actors = new Map<Role, Party>();
  const patients = new Map<State, Party & { recordId: string }>();

  async function party(role: Role, name: string): Promise<Party> {
    const identity = newIdentity();
    const client = test.client();
    await register(client, identity, role, name);
    await login(client, identity);
    return { identity, client };
  }

  beforeAll(async () => {
    const admin = newIdentity();
    test = await startTestNode({ auth: { admins: [admin.wallet.address.toLowerCase()] } });
    for (const role of ROLES) {
      if (role === 'ADMIN') {
        const client = test.client();
        await register(client, admin, 'ADMIN', 'Admin');
        await login(client, admin);
        actors.set(role, { identity: admin, client });
      } else {
        const actor = await party(role, `${role} actor`);
        // Break-glass needs an attested practitioner; the other roles stay self-declared.
        if (role === 'PRACTITIONER') {
          await attestUser(test, { ...actor, address: actor.identity.wallet.address }, 'PRACTITIONER');
        }
        actors.set(role, actor);
      }
    }
    for (const state of STATES) {
      const patient = await party('PATIENT', `patient ${state}`);
      const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient: patient.identity.wallet.address,
        resource: observation,
      });
      patients.set(state, { ...patient, recordId: addRecord.id });
    }
    const inAnHour = new Date(Date.now() + 3_600_000);
    let lastExpiry = 0;
    for (const [role, actor] of actors) {
      const grantee = actor.identity.wallet.address;
      const as = (state: State) => patients.get(state)!;
      const full = ['patient/*.cruds', 'predict'];
      for (const [state, scopes, expiresAt] of [
        ['active', full, inAnHour],
        ['wrong scope', ['patient/Condition.rs'], inAnHour],
        ['expired', full, null],
        ['revoked', full, inAnHour],
      ] as const) {
        // A short grant that will have run out by the time the cells run.
        const until = expiresAt ?? new Date(Date.now() + 8_000);
        if (!expiresAt) lastExpiry = until.getTime();
        const response = await grant(as(state).client, {
          patient: as(state).identity,
          grantee,
          scopes: [...scopes],
          expiresAt: until,
        });
        expect(response.errors).toBeUndefined();
        if (state === 'revoked') {
          const revoked = await revoke(as(state).client, as(state).identity, response.data!.grantAccess.id);
          expect(revoked.data?.revokeAccess.active).toBe(false);
        }
      }
      const glass = await actor.client.send(
        `mutation ($p: String!) { breakGlass(patient: $p, reason: "unconscious in the ER, allergies unknown") { id kind } }`,
        {
          p: as('break-glass').identity.wallet.address,
        },
      );
      expect(glass.errors?.[0]?.extensions?.code ?? 'OK').toBe(role === 'PRACTITIONER' ? 'OK' : 'FORBIDDEN');
    }
    // Let the 8-second grants run out.
    const wait = lastExpiry - Date.now() + 500;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }, 240_000);

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  async function attempt(
    actor: Party,
    patient: Party & { recordId: string },
    operation: Operation,
  ): Promise<string> {
    const patientAddress = patient.identity.wallet.address;
    let response: { errors?: { extensions?: { code?: string } }[]; data?: unknown };
    switch (operation) {
      case 'read':
        response = await actor.client.send<{ record: { resource: unknown } }>(READ_RECORD, {
          id: patient.recordId,
        });
        if (!response.errors)
          expect((response.data as { record: { resource: unknown } }).record.resource).toEqual(observation);
        break;
      case 'search':
        response = await actor.client.send<{ phr: { timeline: { totalCount: number } } }>(
          `query ($p: String!) { phr(patient: $p) { timeline(first: 5) { totalCount } } }`,
          { p: patientAddress },
        );
        if (!response.errors) {
          expect(
            (response.data as { phr: { timeline: { totalCount: number } } }).phr.timeline.totalCount,
          ).toBeGreaterThan(0);
        }
        break;
      case 'create':
        response = await actor.client.send(ADD_RECORD, { patient: patientAddress, resource: observation });
        break;
      case 'predict': {
        response = await actor.client.send(
          `query ($p: String!) { predictForPatient(patient: $p, model: "cleveland-gnb") { label } }`,
          { p: patientAddress },
        );
        // One heart rate is far too little for a prediction: allowed callers get that answer instead.
        const error = response.errors?.[0]?.extensions as { code?: string; reason?: string } | undefined;
        if (error?.code === 'BAD_USER_INPUT' && error.reason === 'TOO_MANY_MISSING') return 'OK';
        break;
      }
      case 'predictAll':
        // Every model on the chart: the same door as predictForPatient, and no way around it.
        response = await actor.client.send(
          `query ($p: String!) { predictionsForPatient(patient: $p) { modelId status missing { feature } } }`,
          { p: patientAddress },
        );
        break;
      case 'grant': {
        // The actor tries to grant itself more access, signing with its own key.
        const forged = await grant(actor.client, {
          patient: patient.identity,
          grantee: actor.identity.wallet.address,
          scopes: ['patient/*.cruds'],
          expiresAt: new Date(Date.now() + 3_600_000),
          signer: actor.identity,
        });
        response = forged;
        break;
      }
      case 'audit':
        response = await actor.client.send(`query ($p: String!) { auditTrail(patient: $p) { totalCount } }`, {
          p: patientAddress,
        });
        break;
    }
    return response.errors?.[0]?.extensions?.code ?? 'OK';
  }

  for (const role of ROLES) {
    for (const state of STATES) {
      it(`${role} with grant state "${state}"`, async () => {
        const actor = actors.get(role)!;
        const patient = patients.get(state)!;
        const outcomes = Object.fromEntries(
          await Promise.all(OPERATIONS.map(async (op) => [op, await attempt(actor, patient, op)] as const)),
        );
        const wanted = Object.fromEntries(
          OPERATIONS.map((op) => [op, expected(role, state, op) ? 'OK' : 'FORBIDDEN']),
        );
        expect(outcomes).toEqual(wanted);
      });
    }
  }
});
