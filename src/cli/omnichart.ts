#!/usr/bin/env node
/**
 * The `omnichart` command: one subcommand per module (`src/cli/<name>-command.ts`), each exporting
 * `run(argv): Promise<number>` (the exit status). Modules load on demand, so `keygen` or `export` never
 * pulls in the node's GraphQL server.
 */

interface Command {
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  start: { summary: 'run a node (as npm start does)', load: () => import('./start-command.js') },
  keygen: { summary: 'write a new patient key file', load: () => import('./keygen-command.js') },
  import: {
    summary: 'import FHIR Bundles into a chart over GraphQL',
    load: () => import('./import-command.js'),
  },
  export: {
    summary: "export a patient's whole chart from chain + IPFS with the patient's key file",
    load: () => import('./export-command.js'),
  },
  verify: {
    summary: 'check an export again against chain + IPFS',
    load: () => import('./verify-command.js'),
  },
  rebuild: {
    summary: "rebuild a stopped node's Postgres cache from the chain and its blockstore",
    load: () => import('./rebuild-command.js'),
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: omnichart <command> [options]   (omnichart <command> --help for its options)\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic && Object.hasOwn(commands, topic)) return (await commands[topic].load()).run(['--help']);
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(commands, name)) {
    process.stderr.write(`omnichart: unknown command ${JSON.stringify(name)}\n${help()}`);
    return 2;
  }
  return (await commands[name].load()).run(rest);
}

process.exitCode = await main(process.argv.slice(2));
