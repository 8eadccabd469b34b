/** `npm run import -- …`: the same as `omnichart import …` (src/cli/import-command.ts). */
import { run } from '../src/cli/import-command.js';

process.exitCode = await run(process.argv.slice(2));
