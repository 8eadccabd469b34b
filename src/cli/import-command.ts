/**
 * `omnichart import`: FHIR R4 Bundles (a file, or every .json file of a folder) into a patient's chart
 * over GraphQL.
 *
 *   omnichart import --url http://127.0.0.1:4000/graphql --token <bearer> --patient 0x... <file-or-folder>
 *   npm run import -- (the same arguments)
 *
 * Progress goes to stderr, the summary to stdout; the exit code is 1 when any bundle was refused.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EXIT, parseCommandArgs, runCommand, UsageError } from './cli-args.js';

const IMPORT_BUNDLE = `
  mutation ($patient: String!, $bundle: JSON!) {
    importBundle(patient: $patient, bundle: $bundle) {
      created updated unchanged rejected written
      entries { index outcome code reason }
    }
  }`;

interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  written: boolean;
  entries: { index: number; outcome: string; code: string | null; reason: string | null }[];
}

const usage = `usage: omnichart import --url <graphql url> --token <bearer token> --patient <0x address> <file-or-folder>
Imports each Bundle with importBundle; progress on stderr, the summary on stdout; exit status 1 when
any bundle was refused. --url and --token default to OMNICHART_URL and OMNICHART_TOKEN.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('import', usage, () => importFiles(argv));
}

async function importFiles(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      url: { type: 'string', default: process.env.OMNICHART_URL ?? 'http://127.0.0.1:4000/graphql' },
      token: { type: 'string', default: process.env.OMNICHART_TOKEN },
      patient: { type: 'string' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (!values.token) throw new UsageError('--token is required (or OMNICHART_TOKEN)');
  if (!values.patient) throw new UsageError('--patient is required');
  if (positionals.length !== 1) throw new UsageError('name exactly one bundle file or folder');
  const files = await bundleFiles(positionals[0]).catch((error: Error) => {
    throw new UsageError(`cannot read ${positionals[0]}: ${error.message}`);
  });
  if (files.length === 0) throw new UsageError(`no .json files in ${positionals[0]}`);

  const totals = { created: 0, updated: 0, unchanged: 0, rejected: 0, failedFiles: 0 };
  const problems: string[] = [];
  const started = Date.now();
  for (const [i, file] of files.entries()) {
    progress(i, files.length, totals, path.basename(file));
    try {
      const bundle = JSON.parse(await readFile(file, 'utf8'));
      const result = await importBundle(values.url!, values.token, values.patient, bundle);
      totals.created += result.created;
      totals.updated += result.updated;
      totals.unchanged += result.unchanged;
      if (!result.written) {
        totals.failedFiles += 1;
        totals.rejected += result.rejected;
        const reasons = result.entries
          .filter((e) => e.code && e.code !== 'BUNDLE_REJECTED')
          .slice(0, 5)
          .map((e) => `    entry ${e.index}: ${e.code}: ${e.reason}`);
        problems.push(`${file}: rejected, nothing written\n${reasons.join('\n')}`);
      }
    } catch (error) {
      totals.failedFiles += 1;
      problems.push(`${file}: ${(error as Error).message}`);
    }
  }
  progress(files.length, files.length, totals, 'done');
  process.stderr.write('\n');

  const seconds = (Date.now() - started) / 1000;
  const resources = totals.created + totals.updated + totals.unchanged;
  for (const problem of problems) process.stdout.write(`${problem}\n`);
  process.stdout.write(
    `${files.length} bundle(s), ${resources} resources in ${seconds.toFixed(1)} s: ` +
      `${totals.created} created, ${totals.updated} updated, ${totals.unchanged} unchanged, ` +
      `${totals.failedFiles} bundle(s) refused\n`,
  );
  return totals.failedFiles > 0 ? 1 : 0;
}

async function bundleFiles(target: string): Promise<string[]> {
  const info = await stat(target);
  if (info.isFile()) return [target];
  const names = await readdir(target);
  return names
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => path.join(target, name));
}

async function importBundle(
  url: string,
  token: string,
  patient: string,
  bundle: unknown,
): Promise<ImportResult> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: IMPORT_BUNDLE, variables: { patient, bundle } }),
  });
  const body = (await response.json()) as {
    data?: { importBundle: ImportResult } | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (body.errors?.length || !body.data) {
    const error = body.errors?.[0];
    throw new Error(
      `${error?.extensions?.code ?? `HTTP ${response.status}`}: ${error?.message ?? 'no data'}`,
    );
  }
  return body.data.importBundle;
}

function progress(
  done: number,
  total: number,
  totals: { created: number; updated: number; unchanged: number; failedFiles: number },
  current: string,
): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const line =
    `[${bar}] ${done}/${total} bundles | created ${totals.created} updated ${totals.updated} ` +
    `unchanged ${totals.unchanged} refused ${totals.failedFiles} | ${current.slice(0, 40)}`;
  process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
}
