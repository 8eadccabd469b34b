import { EXIT, parseCommandArgs, runCommand, UsageError } from './cli-args.js';

const usage = `usage: omnichart start
Runs a node exactly as \`npm start\` does (configuration from the environment: see the README,
"Configuration"). Stops cleanly on Ctrl-C or SIGTERM.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('start', usage, async () => {
    const { values, positionals } = parseCommandArgs(argv, {});
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    // Polyfills before anything that imports helia or @medplum/core (as src/main.ts does).
    await import('../polyfills.js');
    const { runNodeProcess } = await import('../node-process.js');
    await runNodeProcess();
    // The node keeps the process alive; its signal handlers exit.
    return EXIT.ok;
  });
}
