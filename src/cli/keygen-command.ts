import { EXIT, parseCommandArgs, runCommand, UsageError } from './cli-args.js';
import { generateKeyFile, writeKeyFile } from './key-file.js';

const usage = `usage: omnichart keygen --out FILE [--force]
Writes a new patient key file (mode 0600): { address, privateKey, boxPublicKey, boxSecretKey }.
Refuses to overwrite an existing file unless --force. Prints the address.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('keygen', usage, async () => {
    const { values, positionals } = parseCommandArgs(argv, {
      out: { type: 'string' },
      force: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return EXIT.ok;
    }
    if (!values.out) throw new UsageError('--out FILE is required');
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const keys = generateKeyFile();
    await writeKeyFile(values.out, keys, values.force ?? false);
    process.stdout.write(`${keys.address}\n`);
    return EXIT.ok;
  });
}
