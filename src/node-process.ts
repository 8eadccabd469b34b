import { createNode } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

/**
 * Starts a node from the environment, as `npm start` and `omnichart start` do, and stops it cleanly on
 * SIGINT/SIGTERM (a second signal exits at once). Resolves once GraphQL listens.
 */
export async function runNodeProcess(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `${error.message}\nSee README.md, "Configuration", for every variable and its default.\n`,
      );
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const node = await createNode(config, logger);
  logger.info(`GraphQL listening at ${node.url}`, {
    dataDir: config.dataDir,
    database: node.database.embedded ? 'embedded' : 'external',
    chainId: node.ledger.chainId.toString(),
    contract: node.ledger.contractAddress,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn('second signal: exiting without a clean stop', { signal });
      process.exit(130);
    }
    stopping = true;
    logger.info('stopping', { signal });
    node.close().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error('stop failed', { error: error.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
