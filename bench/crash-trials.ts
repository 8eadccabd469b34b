/**
 * 100 crash trials against the built node: writes and small bundle imports in flight, `kill -9` at a
 * seeded random moment, restart on the same data dir, then the checks of test/api/crash-trials.int.test.ts
 * (which runs 20). Prints the counts and the time per trial; it fails nothing, read the counts.
 *
 *   npm run bench:crash        (DATABASE_URL when set, else embedded Postgres in the data dir)
 *   CRASH_TRIALS=100 CRASH_SEED=<replay a run> CRASH_WRITERS=3 CRASH_MAX_KILL_MS=800
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchDatabase } from './bench-node.js';
import { killProcessesUsing } from '../test/helpers/built-node.js';
import { CrashTrials, crashSeed, totals, type TrialResult } from '../test/helpers/crash-trials.js';

const TRIALS = Number(process.env.CRASH_TRIALS ?? 100);
const WRITERS = Number(process.env.CRASH_WRITERS ?? 3);
const MAX_KILL_MS = Number(process.env.CRASH_MAX_KILL_MS ?? 800);

async function main(): Promise<void> {
  const seed = crashSeed();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-bench-crash-'));
  await chmod(dataDir, 0o755);
  const database = await benchDatabase();
  const env: Record<string, string> = database.url ? { DATABASE_URL: database.url } : {};
  console.log(
    `crash trials: ${TRIALS} trials, seed ${seed} (CRASH_SEED to replay), ${WRITERS} write streams, ` +
      `kill within ${MAX_KILL_MS} ms, Postgres: ${database.url ? 'DATABASE_URL' : 'embedded'}, ${os.cpus().length} cores`,
  );
  const trials = new CrashTrials({ dataDir, env, seed, writers: WRITERS, maxKillDelayMs: MAX_KILL_MS });
  const results: TrialResult[] = [];
  try {
    await trials.start();
    console.log(
      'trial  kill ms  acked writes  acked records  read back  unacked  partial  dups  verified  restart s  trial s',
    );
    for (let i = 0; i < TRIALS; i += 1) {
      const r = await trials.runTrial();
      results.push(r);
      console.log(
        `${String(r.trial).padStart(5)} ${String(r.killDelayMs).padStart(8)} ${String(r.acknowledgedWrites).padStart(13)} ` +
          `${String(r.acknowledged).padStart(14)} ${String(r.readBackEqual).padStart(10)} ${String(r.unacknowledgedWrites).padStart(8)} ` +
          `${String(r.partialImports).padStart(8)} ${String(r.duplicates).padStart(5)} ${`${r.verified}/${r.records}`.padStart(9)} ` +
          `${(r.restartMs / 1000).toFixed(1).padStart(10)} ${(r.trialMs / 1000).toFixed(1).padStart(8)}`,
      );
    }
  } finally {
    await trials.stop();
    killProcessesUsing(dataDir);
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const sum = totals(results);
  const n = Math.max(1, sum.trials);
  console.log(`\ntotals over ${sum.trials} trials (seed ${seed})`);
  console.log(`  acknowledged records      ${sum.acknowledged} (in ${sum.acknowledgedWrites} writes)`);
  console.log(`  read back equal           ${sum.readBackEqual}`);
  console.log(`  duplicates                ${sum.duplicates}`);
  console.log(`  verified on chain         ${sum.verified} of ${sum.records} records`);
  console.log(
    `  unacknowledged writes     ${sum.unacknowledgedWrites} (partial imports ${sum.partialImports}, failed retries ${sum.failedRetries})`,
  );
  console.log(`  content mismatches        ${sum.mismatched}`);
  console.log(`  outbox rows left          ${database.url ? sum.outboxLeft : 'n/a (embedded)'}`);
  console.log(
    `  time per trial            ${(sum.trialMs / n / 1000).toFixed(1)} s (restart ${(sum.restartMs / n / 1000).toFixed(1)} s)`,
  );
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
