// Polyfills first: helia and @medplum/core read these globals at import time.
import './polyfills.js';
import { runNodeProcess } from './node-process.js';

runNodeProcess().catch((error: Error) => {
  process.stderr.write(`Omnichart failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
