import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ADD_RECORD,
  OmnichartClient,
  READ_RECORD,
  VERIFY_RECORD,
  login,
  newIdentity,
  register,
} from '../../examples/client.js';
import {
  exited,
  killNode,
  killProcessesUsing,
  processesUsing,
  startBuiltNode,
  type BuiltNode,
} from '../helpers/built-node.js';

const root = path.resolve(import.meta.dirname, '..', '..');

describe('npm start with no configuration', () => {
  let dataDir: string;
  let running: BuiltNode | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-start-'));
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    if (running) await killNode(running);
    killProcessesUsing(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('boots embedded Postgres, anvil and Helia, recovers from kill -9, and stops cleanly', async () => {
    running = await startBuiltNode(dataDir);
    const client = new OmnichartClient(running.url);
    expect(await client.request(`{ me { address } }`)).toEqual({ me: null });

    const patient = newIdentity();
    await register(client, patient, 'PATIENT', 'Start Test');
    await login(client, patient);
    const resource = JSON.parse(
      readFileSync(path.join(root, 'test', 'fixtures', 'fhir', 'Observation-f001.json'), 'utf8'),
    );
    const { addRecord } = await client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.wallet.address,
      resource,
    });

    // kill -9 mid-flight: postgres and anvil are orphaned; the next start must clean up and recover.
    await killNode(running);
    running = await startBuiltNode(dataDir);
    const again = new OmnichartClient(running.url);
    again.token = client.token;
    const { record } = await again.request<{ record: { resource: unknown } }>(READ_RECORD, {
      id: addRecord.id,
    });
    expect(record.resource).toEqual(resource);
    let verified = false;
    for (let attempt = 0; attempt < 100 && !verified; attempt += 1) {
      const { verifyRecord } = await again.request<{ verifyRecord: { verified: boolean } }>(VERIFY_RECORD, {
        id: addRecord.id,
      });
      verified = verifyRecord.verified;
      if (!verified) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(verified).toBe(true);

    running.child.kill('SIGTERM');
    expect(await exited(running.child)).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
  });
});
