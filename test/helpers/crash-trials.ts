import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import canonicalize from 'canonicalize';
import pg from 'pg';
import {
  ADD_RECORD,
  IMPORT_BUNDLE,
  OmnichartClient,
  VERIFY_RECORD,
  login,
  newIdentity,
  register,
  type Identity,
} from '../../examples/client.js';
import { createRandom } from '../../src/ml/random.js';
import { killNode, startBuiltNode, type BuiltNode } from './built-node.js';

/**
 * Crash trials: a stream of writes (`addRecord`, `importBundle`) against the built node, `kill -9` at a
 * seeded random moment, restart on the same data dir, then check what the node promises
 * (README "Writes", docs/chart.md "All or nothing" and "Identity and re-imports"):
 * - every acknowledged write reads back equal, exactly once;
 * - an unacknowledged import is all or nothing, and retrying any unacknowledged write (same resource
 *   ids) leaves each resource once;
 * - the anchor outbox drains and every record verifies on chain.
 * Shared by test/api/crash-trials.int.test.ts and bench/crash-trials.ts.
 */
export interface CrashTrialOptions {
  dataDir: string;
  /** Environment for the node on top of the data dir (DATABASE_URL for the machine's Postgres). */
  env?: Record<string, string>;
  seed: number;
  /** Concurrent write streams while the kill is pending. */
  writers?: number;
  /** The kill lands uniformly in [minKillDelayMs, maxKillDelayMs] after the writes start. */
  minKillDelayMs?: number;
  maxKillDelayMs?: number;
  /** Share of writes that are bundle imports (the rest are single addRecord calls). */
  importShare?: number;
  /** Entries of an imported Bundle: uniformly in [min, max]. */
  bundleEntries?: [number, number];
  /** How long the outbox may take to drain after a restart. */
  drainTimeoutMs?: number;
}

export interface TrialResult {
  trial: number;
  killDelayMs: number;
  /** Writes (addRecord or importBundle calls) answered with data before the kill. */
  acknowledgedWrites: number;
  /** Records those acknowledged writes created or updated. */
  acknowledged: number;
  /** Acknowledged records found after the restart with the content that was sent. */
  readBackEqual: number;
  /** Writes in flight at the kill (no answer, or no data in it). */
  unacknowledgedWrites: number;
  /** Unacknowledged imports found partly written after the restart (the docs promise none). */
  partialImports: number;
  /** Unacknowledged writes the retry answered with an error. */
  failedRetries: number;
  /** Resources of this trial stored more than once (extra copies counted). */
  duplicates: number;
  /** Resources sent in this trial whose stored content differs from what was sent, after retries. */
  mismatched: number;
  /** Records of this trial after the retries, and how many of them `verifyRecord` calls verified. */
  records: number;
  verified: number;
  /** Rows left in anchor_outbox after the drain (only counted with a database URL; else 0). */
  outboxLeft: number;
  restartMs: number;
  trialMs: number;
}

interface Resource {
  resourceType: string;
  id: string;
  [key: string]: unknown;
}

interface Write {
  kind: 'add' | 'import';
  resources: Resource[];
  /** Record ids from the answer; undefined while unacknowledged. */
  recordIds?: string[];
  error?: string;
}

const TIMELINE = `query ($patient: String!, $after: String, $from: String, $to: String) {
  phr(patient: $patient) {
    timeline(first: 100, after: $after, from: $from, to: $to) {
      edges { node { id resource anchor { status } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

interface StoredRecord {
  id: string;
  resource: Resource;
  anchor: { status: string };
}

const PATIENT_ID = 'crash-trial-patient';
const PATIENT_FULL_URL = 'urn:uuid:5c1e8f6e-0000-4000-8000-00000000c4a5';

/** Runs trials against one data dir: the node is killed and restarted in each, never stopped cleanly. */
export class CrashTrials {
  private node?: BuiltNode;
  private client?: OmnichartClient;
  private patient?: Identity;
  private readonly random: () => number;
  private trialCount = 0;

  constructor(private readonly options: CrashTrialOptions) {
    this.random = createRandom(options.seed);
  }

  /** Starts the node and signs a patient in (the session lives in Postgres, so it survives kills). */
  async start(): Promise<void> {
    this.node = await this.startNode();
    this.client = new OmnichartClient(this.node.url);
    this.patient = newIdentity();
    await register(this.client, this.patient, 'PATIENT', 'Crash Trial');
    await login(this.client, this.patient);
  }

  /** Kills whatever is left (the data dir's orphans are the caller's to clean up). */
  async stop(): Promise<void> {
    if (this.node) await killNode(this.node);
    this.node = undefined;
  }

  get url(): string | undefined {
    return this.node?.url;
  }

  async runTrial(): Promise<TrialResult> {
    const trial = this.trialCount++;
    const started = performance.now();
    const o = this.options;
    const writes: Write[] = [];
    const day = trialDay(trial);
    let sequence = 0;
    let stopping = false;

    // Write streams: each sends one write after another until the kill; whatever is in flight then is lost.
    const writer = async (stream: number) => {
      while (!stopping) {
        const write = this.nextWrite(trial, stream, sequence++, day);
        writes.push(write);
        try {
          write.recordIds = await this.send(write);
        } catch (error) {
          write.error = (error as Error).message;
          return;
        }
      }
    };
    const streams = Array.from({ length: o.writers ?? 3 }, (_, i) => writer(i));
    const minDelay = o.minKillDelayMs ?? 20;
    const killDelayMs = Math.round(minDelay + this.random() * ((o.maxKillDelayMs ?? 1000) - minDelay));
    await sleep(killDelayMs);
    stopping = true;
    await killNode(this.node!);
    await Promise.all(streams);

    const restartStarted = performance.now();
    this.node = await this.startNode();
    const restartMs = performance.now() - restartStarted;
    const token = this.client!.token;
    this.client = new OmnichartClient(this.node.url);
    this.client.token = token;

    const acknowledged = writes.filter((w) => w.recordIds);
    const unacknowledged = writes.filter((w) => !w.recordIds);
    let stored = await this.recordsOn(day);
    const byResourceId = groupByResourceId(stored);

    // Acknowledged: under the ids the answer gave, with the content that was sent.
    const storedById = new Map(stored.map((r) => [r.id, r]));
    let acknowledgedRecords = 0;
    let readBackEqual = 0;
    for (const write of acknowledged) {
      write.resources.forEach((resource, i) => {
        acknowledgedRecords += 1;
        const record = storedById.get(write.recordIds![i]);
        if (record && sameJson(record.resource, resource)) readBackEqual += 1;
      });
    }

    // Unacknowledged imports: all of the entries or none (one SQL statement writes them).
    let partialImports = 0;
    for (const write of unacknowledged.filter((w) => w.kind === 'import')) {
      const present = write.resources.filter((r) => byResourceId.has(r.id)).length;
      if (present !== 0 && present !== write.resources.length) partialImports += 1;
    }

    // A client retries what got no answer; the resource ids make the retry land on the same records.
    let failedRetries = 0;
    for (const write of unacknowledged) {
      try {
        write.recordIds = await this.send(write);
      } catch {
        failedRetries += 1;
      }
    }

    stored = await this.waitForAnchors(day, o.drainTimeoutMs ?? 60_000);
    const after = groupByResourceId(stored);
    const sent = writes.flatMap((w) => w.resources);
    let duplicates = 0;
    let mismatched = 0;
    for (const resource of sent) {
      const copies = after.get(resource.id) ?? [];
      duplicates += Math.max(0, copies.length - 1);
      if (copies.length !== 1 || !sameJson(copies[0].resource, resource)) mismatched += 1;
    }
    const verified = await this.countVerified(stored.map((r) => r.id));
    const outboxLeft = await this.outboxRows();

    return {
      trial,
      killDelayMs,
      acknowledgedWrites: acknowledged.length,
      acknowledged: acknowledgedRecords,
      readBackEqual,
      unacknowledgedWrites: unacknowledged.length,
      partialImports,
      failedRetries,
      duplicates,
      mismatched,
      records: stored.length,
      verified,
      outboxLeft,
      restartMs,
      trialMs: performance.now() - started,
    };
  }

  /**
   * Rate limits would refuse a trial's stream of writes from one account: ask for them off
   * (OMNICHART_RATE_LIMITS, unless the caller set it). A node that refuses the value at start
   * (exit 2 naming it) is started again without it.
   */
  private async startNode(): Promise<BuiltNode> {
    const env = { OMNICHART_RATE_LIMITS: process.env.OMNICHART_RATE_LIMITS ?? 'off', ...this.options.env };
    try {
      return await startBuiltNode(this.options.dataDir, { env });
    } catch (error) {
      if (!/OMNICHART_RATE_LIMITS/.test((error as Error).message)) throw error;
      const { OMNICHART_RATE_LIMITS: _dropped, ...rest } = env;
      return startBuiltNode(this.options.dataDir, { env: rest });
    }
  }

  private nextWrite(trial: number, stream: number, n: number, day: string): Write {
    const o = this.options;
    const prefix = `crash-t${trial}-s${stream}-n${n}`;
    if (this.random() >= (o.importShare ?? 0.3)) {
      return { kind: 'add', resources: [observation(`${prefix}`, day, this.random)] };
    }
    const [min, max] = o.bundleEntries ?? [20, 30];
    const count = min + Math.floor(this.random() * (max - min + 1));
    return {
      kind: 'import',
      resources: Array.from({ length: count }, (_, i) => observation(`${prefix}-e${i}`, day, this.random)),
    };
  }

  /** One write; the record ids on success, or throws (connection reset by the kill, or a GraphQL error). */
  private async send(write: Write): Promise<string[]> {
    const patient = this.patient!.wallet.address;
    if (write.kind === 'add') {
      const { addRecord } = await this.client!.request<{ addRecord: { id: string } }>(ADD_RECORD, {
        patient,
        resource: write.resources[0],
      });
      return [addRecord.id];
    }
    const { importBundle } = await this.client!.request<{
      importBundle: { written: boolean; entries: { index: number; recordId: string | null }[] };
    }>(IMPORT_BUNDLE, { patient, bundle: syntheaShapedBundle(write.resources) });
    if (!importBundle.written) throw new Error('import rejected');
    // Entry 0 is the Patient; the records of interest are the Observations after it, in entry order.
    const byIndex = new Map(importBundle.entries.map((e) => [e.index, e.recordId]));
    return write.resources.map((_, i) => byIndex.get(i + 1) ?? 'missing');
  }

  /** Every record of one trial: its Observations all fall on that trial's day. */
  private async recordsOn(day: string): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    let after: string | null = null;
    for (;;) {
      const data: {
        phr: {
          timeline: {
            edges: { node: StoredRecord }[];
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
          };
        };
      } = await this.client!.request(TIMELINE, {
        patient: this.patient!.wallet.address,
        after,
        from: day,
        to: day,
      });
      out.push(...data.phr.timeline.edges.map((e) => e.node));
      if (!data.phr.timeline.pageInfo.hasNextPage) return out;
      after = data.phr.timeline.pageInfo.endCursor;
    }
  }

  /** Polls until every record of the day is anchored (the outbox has drained for them). */
  private async waitForAnchors(day: string, timeoutMs: number): Promise<StoredRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stored = await this.recordsOn(day);
      if (stored.every((r) => r.anchor.status === 'ANCHORED') || Date.now() > deadline) return stored;
      await sleep(100);
    }
  }

  private async countVerified(ids: string[]): Promise<number> {
    let verified = 0;
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const { verifyRecord } = await this.client!.request<{ verifyRecord: { verified: boolean } }>(
          VERIFY_RECORD,
          { id },
        );
        if (verifyRecord.verified) verified += 1;
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    return verified;
  }

  /** Rows still in the node's anchor outbox, when the test knows its database (DATABASE_URL). */
  private async outboxRows(): Promise<number> {
    const url = this.options.env?.DATABASE_URL;
    if (!url) return 0;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM anchor_outbox');
      return Number(rows[0].n);
    } finally {
      await client.end();
    }
  }
}

/** Sums trial results (counts add up; times are summed too, divide by `trials` for a mean). */
export function totals(
  results: TrialResult[],
): Omit<TrialResult, 'trial' | 'killDelayMs'> & { trials: number } {
  const sum = (key: keyof TrialResult) => results.reduce((acc, r) => acc + r[key], 0);
  return {
    trials: results.length,
    acknowledgedWrites: sum('acknowledgedWrites'),
    acknowledged: sum('acknowledged'),
    readBackEqual: sum('readBackEqual'),
    unacknowledgedWrites: sum('unacknowledgedWrites'),
    partialImports: sum('partialImports'),
    failedRetries: sum('failedRetries'),
    duplicates: sum('duplicates'),
    mismatched: sum('mismatched'),
    records: sum('records'),
    verified: sum('verified'),
    outboxLeft: sum('outboxLeft'),
    restartMs: sum('restartMs'),
    trialMs: sum('trialMs'),
  };
}

/** A seed from CRASH_SEED when given (to replay a run), else a fresh one. */
export function crashSeed(): number {
  const given = process.env.CRASH_SEED;
  return given ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
}

/** Each trial's Observations share a day of their own, so a timeline date filter finds exactly them. */
function trialDay(trial: number): string {
  return new Date(Date.UTC(2001, 0, 1) + trial * 86_400_000).toISOString().slice(0, 10);
}

const VITALS = [
  ['8867-4', 'Heart rate', '/min', 50, 110],
  ['29463-7', 'Body weight', 'kg', 50, 100],
  ['2339-0', 'Glucose', 'mg/dL', 70, 140],
] as const;

function observation(id: string, day: string, random: () => number): Resource {
  const [code, display, unit, low, high] = VITALS[Math.floor(random() * VITALS.length)];
  const value = Math.round((low + random() * (high - low)) * 10) / 10;
  const at = `${day}T${String(Math.floor(random() * 24)).padStart(2, '0')}:00:00Z`;
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' },
        ],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code, display }], text: display },
    // Type/id, so the same resource is valid alone (addRecord) and inside a Bundle (resolved by id).
    subject: { reference: `Patient/${PATIENT_ID}` },
    effectiveDateTime: at,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

/** A transaction Bundle as Synthea writes one: the Patient first, then resources referring to it by urn:uuid. */
function syntheaShapedBundle(observations: Resource[]) {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: PATIENT_FULL_URL,
        resource: {
          resourceType: 'Patient',
          id: PATIENT_ID,
          name: [{ family: 'Trial', given: ['Crash'] }],
          gender: 'female',
          birthDate: '1970-01-01',
        },
        request: { method: 'POST', url: 'Patient' },
      },
      ...observations.map((resource) => ({
        fullUrl: `urn:uuid:${uuidFor(resource.id)}`,
        resource,
        request: { method: 'POST', url: 'Observation' },
      })),
    ],
  };
}

/** A stable uuid-shaped fullUrl per resource id, so a retried import names the same entries. */
function uuidFor(id: string): string {
  const hex = createHash('sha256').update(id).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function groupByResourceId(records: StoredRecord[]): Map<string, StoredRecord[]> {
  const out = new Map<string, StoredRecord[]>();
  for (const record of records) {
    const list = out.get(record.resource.id) ?? [];
    list.push(record);
    out.set(record.resource.id, list);
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** JSON equality by canonical form: the answer's objects come from another realm under Jest's VM. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonicalize(a) === canonicalize(b);
}
