import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad arguments or a bad input file: the command exits with status 2 and this one-line message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit statuses every subcommand shares (scripts test them). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `util.parseArgs` in strict mode with `--help`/`-h` added; its errors (unknown option, missing value)
 * become UsageError.
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Runs a command body and turns its failures into an exit status: UsageError → 2 with its message,
 * anything else → 1 with its message (no stack: these are answers for a person or a script).
 */
export async function runCommand(name: string, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`omnichart ${name}: ${error.message}\n${usage.split('\n')[0]}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`omnichart ${name}: ${(error as Error).message}\n`);
    return EXIT.failed;
  }
}
