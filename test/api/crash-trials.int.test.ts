import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killProcessesUsing } from '../helpers/built-node.js';
import { CrashTrials, crashSeed, totals, type TrialResult } from '../helpers/crash-trials.js';
import { createTestDatabase, stopTestDatabaseServer } from '../helpers/test-database.js';

// Most trials run on the machine's Postgres (DATABASE_URL): a restart then costs anvil and Helia only.
// A few run on embedded Postgres, the path `npm start` takes, so its kill -9 recovery is tried too.
// Without DATABASE_URL every trial runs embedded. One data dir per group: kill, restart, continue.
const TRIALS = Number(process.env.CRASH_TRIALS ?? 20);
const EMBEDDED_TRIALS = process.env.DATABASE_URL ? Math.min(3, TRIALS - 1) : TRIALS;
const seed = crashSeed();

interface Group {
  name: string;
  trials: number;
  env: () => Promise<{ env: Record<string, string>; drop: () => Promise<void> }>;
}

const groups: Group[] = [
  {
    name: 'embedded Postgres',
    trials: EMBEDDED_TRIALS,
    env: async () => ({ env: {}, drop: async () => {} }),
  },
];
if (TRIALS > EMBEDDED_TRIALS) {
  groups.unshift({
    name: 'DATABASE_URL',
    trials: TRIALS - EMBEDDED_TRIALS,
    env: async () => {
      const database = await createTestDatabase();
      return { env: { DATABASE_URL: database.url }, drop: database.drop };
    },
  });
}

describe(`crash trials: kill -9 during writes and imports (CRASH_SEED=${seed})`, () => {
  const results: TrialResult[] = [];

  afterAll(async () => {
    await stopTestDatabaseServer();
    const sum = totals(results);
    console.log(
      `crash trials (seed ${seed}): ${sum.trials} trials, ${sum.acknowledged} acknowledged records ` +
        `(${sum.acknowledgedWrites} writes), ${sum.readBackEqual} read back equal, ${sum.duplicates} duplicates, ` +
        `${sum.verified}/${sum.records} verified, ${sum.unacknowledgedWrites} unacknowledged writes retried, ` +
        `${(sum.trialMs / Math.max(1, sum.trials) / 1000).toFixed(1)} s per trial`,
    );
  });

  for (const [g, group] of groups.entries()) {
    it(`${group.trials} trials on ${group.name}`, async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), `omnichart-crash-${g}-`));
      await chmod(dataDir, 0o755);
      const { env, drop } = await group.env();
      // Each group draws its own stream from the printed seed, so a failing group replays alone.
      const trials = new CrashTrials({ dataDir, env, seed: seed + g, writers: 3, maxKillDelayMs: 800 });
      try {
        await trials.start();
        for (let i = 0; i < group.trials; i += 1) {
          const result = await trials.runTrial();
          results.push(result);
          const label = `${group.name} trial ${result.trial} (kill after ${result.killDelayMs} ms)`;
          expect({ label, ...result }).toEqual({
            label,
            ...result,
            readBackEqual: result.acknowledged,
            partialImports: 0,
            failedRetries: 0,
            duplicates: 0,
            mismatched: 0,
            verified: result.records,
            outboxLeft: 0,
          });
        }
      } finally {
        await trials.stop();
        killProcessesUsing(dataDir);
        await drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    }, 600_000);
  }

  it('the kills landed both after answers and before them', () => {
    // Trials whose kill always came before the first answer (or after the last) would check little.
    const sum = totals(results);
    expect(sum.trials).toBe(TRIALS);
    expect(sum.acknowledged).toBeGreaterThan(0);
    expect(sum.unacknowledgedWrites).toBeGreaterThan(0);
  });
});
