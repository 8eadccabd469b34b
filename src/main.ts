// Polyfills first: helia and @medplum/core read these globals at import time.
import './polyfills.js';
import { createNode } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
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

main().catch((error: Error) => {
  process.stderr.write(`Omnichart failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
