/**
 * Streams one anvil_dumpState answer into a snapshot file, in a process of its own: the dump is the
 * whole chain, and passing it through the node left the node's malloc heap as large as the largest
 * dump so far (see `dumpStateInChild` in anvil.ts). Here that memory goes back to the OS at exit.
 *
 *   node state-dump-process.js <rpc url> <file> <block number> <timeout ms>
 *
 * Prints the bytes written as a JSON line; on failure prints the error to stderr and exits 1.
 */
import { dumpStateDurably } from './anvil.js';

const [url, file, blockNumber, timeoutMs] = process.argv.slice(2);
try {
  const bytes = await dumpStateDurably(url, file, Number(blockNumber), Number(timeoutMs));
  process.stdout.write(JSON.stringify({ bytes }) + '\n');
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
}
