import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

const root = path.resolve(import.meta.dirname, '..', '..');
const main = path.join(root, 'dist', 'src', 'main.js');

interface Running {
  child: ChildProcess;
  url: string;
}

/** Starts the built node the way `npm start` does, with no configuration but a data dir. */
async function startNode(dataDir: string): Promise<Running> {
  if (!existsSync(main)) throw new Error('dist/src/main.js is missing: run `npm run build` (npm test does)');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('OMNICHART_') && !['DATABASE_URL', 'CHAIN_RPC_URL'].includes(key),
    ),
  );
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { ...env, OMNICHART_DATA_DIR: dataDir, OMNICHART_PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`node did not start in time:\n${log}`)), 90_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /GraphQL listening at (http:\/\/\S+?\/graphql)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before listening:\n${log}`));
    });
  });
  return { child, url };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Processes whose command line names the data dir: postgres and anvil children of a node. */
function processesUsing(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('npm start with no configuration', () => {
  let dataDir: string;
  let running: Running | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-start-'));
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await exited(running.child);
    }
    for (const pid of processesUsing(dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('boots embedded Postgres, anvil and Helia, recovers from kill -9, and stops cleanly', async () => {
    running = await startNode(dataDir);
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
    running.child.kill('SIGKILL');
    await exited(running.child);
    running = await startNode(dataDir);
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
