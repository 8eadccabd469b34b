// Polyfills first: helia and @medplum/core read these globals at import time.
import '../polyfills.js';
import { parseArgs } from 'node:util';
import { createNode } from '../app.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { lockDataDir } from '../data-dir-lock.js';
import { createLogger, type Logger } from '../logger.js';
import { UnanchoredWritesError } from '../storage/cache-reset.js';
import { CacheStateStore } from '../storage/cache-state-store.js';
import { ChainCursorStore } from '../storage/chain-cursor-store.js';
import { openDatabase } from '../storage/database.js';
import { isEmptyCache, isRebuildPending, type RebuildProgress } from '../sync/rebuild.js';

const USAGE = `usage: omnichart rebuild [--data-dir DIR] [--reset] [--quiet]

Rebuilds a stopped node's Postgres cache from the chain's events and the IPFS objects they name
(same node key, chain and blockstore, or peers). Configuration as for \`omnichart start\`
(OMNICHART_*, DATABASE_URL, CHAIN_RPC_URL, ...); --data-dir overrides OMNICHART_DATA_DIR.
An empty cache, or one whose rebuild was interrupted, is rebuilt as it is. --reset first clears a
cache that is not empty (refused while record versions wait to be anchored). Sessions, login
challenges, audit entries and training jobs are not on the chain: they do not come back.

exit status: 0 rebuilt, 1 failed, 2 bad usage or configuration, 3 the node is running,
4 the cache is not empty (and no --reset), 5 --reset refused (unanchored writes)`;

/** `omnichart rebuild`: answers the exit status. */
export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        reset: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config: Config;
  try {
    const env = { ...process.env, ...(args['data-dir'] ? { OMNICHART_DATA_DIR: args['data-dir'] } : {}) };
    const loaded = loadConfig(env);
    // GraphQL is not for clients during a rebuild: a loopback port nobody else picks.
    config = { ...loaded, http: { ...loaded.http, host: '127.0.0.1', port: 0, publicUrl: undefined } };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const say = (line: string) => {
    if (!args.quiet) process.stdout.write(`${line}\n`);
  };

  const prepared = await prepareCache(config, logger, args.reset);
  if (prepared !== 0) return prepared;
  say(`rebuilding the cache of ${config.dataDir} from the chain …`);
  try {
    const node = await createNode(config, logger, {
      onRebuildProgress: (progress) => say(progressLine(progress)),
    });
    const summary = node.rebuild;
    await node.close();
    if (!summary) {
      say('nothing to rebuild: the cache is current');
      return 0;
    }
    const { adopted, missing, refused } = summary.recordVersions;
    say(
      `rebuilt to block ${summary.targetBlock} in ${summary.seconds.toFixed(1)} s: ` +
        `${adopted} record versions indexed (${rate(adopted, summary.seconds)}/s), ` +
        `${missing} missing from the blockstore and peers, ${refused} refused by the adoption checks`,
    );
    return missing > 0 ? 1 : 0;
  } catch (error) {
    const message = (error as Error).message;
    if (/another Omnichart node \(pid \d+\) is using/.test(message)) {
      process.stderr.write(`${message}: stop it first (the rebuild needs the data dir to itself)\n`);
      return 3;
    }
    process.stderr.write(`rebuild failed: ${message}\n`);
    return 1;
  }
}

/**
 * With the data dir locked: refuses a cache that holds state (unless --reset clears it). A node that
 * is running holds the lock, so this is also where a running node is refused.
 */
async function prepareCache(config: Config, logger: Logger, reset: boolean): Promise<number> {
  let unlock: () => Promise<void>;
  try {
    unlock = await lockDataDir(config.dataDir);
  } catch (error) {
    process.stderr.write(
      `${(error as Error).message}: stop it first (the rebuild needs the data dir to itself)\n`,
    );
    return 3;
  }
  try {
    const database = await openDatabase({ url: config.database.url, dataDir: config.dataDir, logger });
    try {
      const stores = {
        cursors: new ChainCursorStore(database.dataSource),
        cache: new CacheStateStore(database.dataSource),
      };
      if ((await isEmptyCache(stores)) || (await isRebuildPending(stores.cursors))) return 0;
      if (!reset) {
        process.stderr.write(
          'the cache is not empty: drop the database (or pass --reset to clear it) to rebuild it\n',
        );
        return 4;
      }
      await stores.cache.clear();
      return 0;
    } finally {
      await database.close();
    }
  } catch (error) {
    if (error instanceof UnanchoredWritesError) {
      process.stderr.write(`${error.message}\n`);
      return 5;
    }
    throw error;
  } finally {
    await unlock();
  }
}

function progressLine(progress: RebuildProgress): string {
  const { adopted, missing, refused } = progress.recordVersions;
  return (
    `  block ${Math.max(0, progress.cursor)} of ${progress.targetBlock} (${Math.round(progress.fraction * 100)} %): ` +
    `${adopted} record versions indexed, ${missing} missing, ${refused} refused`
  );
}

function rate(count: number, seconds: number): string {
  return seconds > 0 ? Math.round(count / seconds).toString() : '–';
}
