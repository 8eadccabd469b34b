import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { GraphQLRequestError } from '../../examples/client.js';
import type { Trainer } from '../../src/ml/model-service.js';
import { trainModel } from '../../src/ml/training.js';
import { attestUser } from '../helpers/identity.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/wait-for.js';

const JOB_FIELDS =
  'id dataset algorithm state foldsDone foldsTotal requestedBy error model { id cid anchorTx }';
const START = `mutation ($dataset: String!, $algorithm: String!) {
  startTraining(dataset: $dataset, algorithm: $algorithm) { ${JOB_FIELDS} }
}`;
const JOB = `query ($id: ID!) { trainingJob(id: $id) { ${JOB_FIELDS} } }`;
const PROGRESS = `subscription ($id: ID!) { trainingProgress(id: $id) { ${JOB_FIELDS} } }`;

interface Job {
  id: string;
  dataset: string;
  algorithm: string;
  state: string;
  foldsDone: number;
  foldsTotal: number | null;
  requestedBy: string;
  error: string | null;
  model: { id: string; cid: string; anchorTx: string } | null;
}

/** Jobs wait at this gate until the test opens it, so every state can be observed. */
class Gate {
  private open!: () => void;
  opened = new Promise<void>((resolve) => (this.open = resolve));
  release() {
    this.open();
  }
}

describe('training jobs over GraphQL (startTraining, trainingJob, trainingProgress)', () => {
  let test: TestNode;
  let analyst: SignedInUser;
  let patient: SignedInUser;
  let gate = new Gate();
  let started = 0;

  // Real training (Cleveland, one repeat of 10 folds) in process, behind the gate.
  const trainer: Trainer = async (job, { onFold, signal }) => {
    started += 1;
    await Promise.race([
      gate.opened,
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    ]);
    return (await trainModel({ ...job, protocol: { ...job.protocol, repeats: 1 }, hooks: { onFold } }))
      .artifact;
  };

  beforeAll(async () => {
    test = await startTestNode({}, { trainer });
    analyst = await signIn(test, 'ANALYST');
    await attestUser(test, analyst, 'ANALYST');
    patient = await signIn(test, 'PATIENT');
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  function wsClient(token: string): Client {
    return createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
  }

  async function codeOf(work: Promise<unknown>): Promise<string | undefined> {
    try {
      await work;
    } catch (error) {
      if (error instanceof GraphQLRequestError) return error.code;
      throw error;
    }
    return undefined;
  }

  it('refuses callers who may not train, unknown datasets and malformed or unknown job ids', async () => {
    const start = { dataset: 'cleveland', algorithm: 'gnb' };
    expect(await codeOf(patient.client.request(START, start))).toBe('FORBIDDEN');
    expect(await codeOf(analyst.client.request(START, { ...start, dataset: 'nope' }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(analyst.client.request(START, { ...start, algorithm: 'nope' }))).toBe(
      'BAD_USER_INPUT',
    );
    expect(await codeOf(analyst.client.request(JOB, { id: 'not-a-uuid' }))).toBe('BAD_USER_INPUT');
    expect(await codeOf(analyst.client.request(JOB, { id: randomUUID() }))).toBe('NOT_FOUND');
    expect(started).toBe(0);
  });

  it('answers at once, streams every fold, then serves the anchored model', async () => {
    const { startTraining: job } = await analyst.client.request<{ startTraining: Job }>(START, {
      dataset: 'cleveland',
      algorithm: 'gnb',
    });
    expect(job).toMatchObject({ dataset: 'cleveland', algorithm: 'gnb', foldsDone: 0, model: null });
    expect(['QUEUED', 'RUNNING']).toContain(job.state);
    expect(job.requestedBy).toBe(analyst.address);

    const ws = wsClient(analyst.client.token!);
    const events: Job[] = [];
    const streamed = new Promise<void>((resolve, reject) => {
      ws.subscribe<{ trainingProgress: Job }>(
        { query: PROGRESS, variables: { id: job.id } },
        {
          next: ({ data, errors }) => {
            if (errors) reject(new Error(errors[0].message));
            else events.push(data!.trainingProgress);
            if (events.length === 1) gate.release(); // subscribed: let the training run
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    await streamed;
    await ws.dispose();

    const last = events.at(-1)!;
    expect(last.state).toBe('SUCCEEDED');
    expect(last.model!.id).toBe('cleveland-gnb');
    expect(last.model!.anchorTx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(last).toMatchObject({ foldsDone: 10, foldsTotal: 10, error: null });
    // One event per finished fold, in order, between the first snapshot and the end.
    const folds = events.filter((e) => e.state === 'RUNNING' && e.foldsDone > 0).map((e) => e.foldsDone);
    expect(folds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    const { trainingJob } = await analyst.client.request<{ trainingJob: Job }>(JOB, { id: job.id });
    expect(trainingJob).toEqual(last);
    const { models } = await patient.client.request<{ models: { id: string; cid: string }[] }>(
      '{ models { id cid } }',
    );
    expect(models.find((m) => m.id === 'cleveland-gnb')!.cid).toBe(last.model!.cid);
  });

  it('runs a job again after the node restarts in the middle of it', async () => {
    gate = new Gate();
    started = 0;
    const { startTraining: job } = await analyst.client.request<{ startTraining: Job }>(START, {
      dataset: 'cleveland',
      algorithm: 'gnb',
    });
    await waitFor(() => started === 1, 60_000);
    // Asking again for the same model while it trains gives the same job, not a second one.
    const again = await analyst.client.request<{ startTraining: Job }>(START, {
      dataset: 'cleveland',
      algorithm: 'gnb',
    });
    expect(again.startTraining.id).toBe(job.id);
    await test.restart(); // stops the running job; it stays RUNNING in Postgres
    await waitFor(() => started === 2, 60_000); // resumed at start
    gate.release();

    const relogged = await signIn(test, 'ANALYST');
    await attestUser(test, relogged, 'ANALYST');
    let state = '';
    await waitFor(async () => {
      const { trainingJob } = await relogged.client.request<{ trainingJob: Job }>(JOB, { id: job.id });
      state = trainingJob.state;
      return state === 'SUCCEEDED' || state === 'FAILED';
    }, 60_000);
    expect(state).toBe('SUCCEEDED');
  });
});
