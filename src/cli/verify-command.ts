import { readFile, writeFile } from 'node:fs/promises';
import canonicalize from 'canonicalize';
import { anchorOfEntry } from '../export/export-bundle.js';
import type { VerifiedVersion } from '../export/patient-export.js';
import { EXIT, parseCommandArgs, runCommand, UsageError } from './cli-args.js';
import { chartOfKey, openChartSources, sourceOptions, sourceUsage } from './chart-sources.js';
import { readKeyFile } from './key-file.js';

const usage = `usage: omnichart verify FILE --key FILE (--rpc URL --contract ADDRESS --ipfs URL | --data-dir DIR) [--summary FILE]
Checks an export again: every entry's anchor (record, version, CID, transaction) is on chain for the
key's patient, and its resource is exactly what that envelope decrypts to. Also says which records
have a newer version on chain or are missing from the file.
${sourceUsage}
Exit status: 0 when every entry verified; 1 when any did not; 2 for bad arguments or files.`;

/** Why an entry of an export did not verify. */
type EntryProblem =
  'NO_ANCHOR' | 'NOT_ON_CHAIN' | 'NOT_VERIFIABLE' | 'CID_MISMATCH' | 'TX_MISMATCH' | 'CONTENT_CHANGED';

interface EntryResult {
  index: number;
  recordId: string | null;
  version: number | null;
  problem: EntryProblem;
  detail: string;
}

export async function run(argv: string[]): Promise<number> {
  return runCommand('verify', usage, async () => {
    const { values, positionals } = parseCommandArgs(
      argv,
      { ...sourceOptions, key: { type: 'string' }, summary: { type: 'string' } },
      true,
    );
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError('name exactly one export file');
    if (!values.key) throw new UsageError('--key FILE is required');
    const entries = await readExportEntries(positionals[0]);
    const keys = await readKeyFile(values.key);
    const sources = await openChartSources(values);
    try {
      const chart = await chartOfKey(sources, keys);
      const onChain = new Map<string, VerifiedVersion>();
      for (const record of chart.records)
        for (const v of record.versions) onChain.set(`${v.recordId}/${v.version}`, v);
      const failedOnChain = new Map(chart.failed.map((f) => [f.recordId, f]));
      const problems: EntryResult[] = [];
      const newestInFile = new Map<string, number>();
      entries.forEach((entry, index) => {
        const anchor = anchorOfEntry(entry);
        if (typeof anchor === 'string') {
          problems.push({ index, recordId: null, version: null, problem: 'NO_ANCHOR', detail: anchor });
          return;
        }
        const at = { index, recordId: anchor.recordId, version: anchor.version };
        newestInFile.set(anchor.recordId, Math.max(anchor.version, newestInFile.get(anchor.recordId) ?? 0));
        const chain = onChain.get(`${anchor.recordId}/${anchor.version}`);
        const failure = failedOnChain.get(anchor.recordId);
        if (!chain && failure) {
          problems.push({ ...at, problem: 'NOT_VERIFIABLE', detail: `${failure.reason}: ${failure.detail}` });
        } else if (!chain) {
          problems.push({
            ...at,
            problem: 'NOT_ON_CHAIN',
            detail: 'no such record version is anchored for this patient',
          });
        } else if (chain.cid !== anchor.cid) {
          problems.push({
            ...at,
            problem: 'CID_MISMATCH',
            detail: `the chain anchors ${chain.cid}, the file names ${anchor.cid}`,
          });
        } else if (chain.txHash !== anchor.txHash) {
          problems.push({
            ...at,
            problem: 'TX_MISMATCH',
            detail: `anchored in ${chain.txHash}, the file names ${anchor.txHash}`,
          });
        } else if (
          canonicalize((entry as { resource?: unknown }).resource) !== canonicalize(chain.resource)
        ) {
          problems.push({
            ...at,
            problem: 'CONTENT_CHANGED',
            detail: 'the resource differs from what its envelope decrypts to',
          });
        }
      });
      const newerOnChain = chart.records
        .filter((r) => newestInFile.has(r.recordId) && r.versions.length > newestInFile.get(r.recordId)!)
        .map((r) => ({
          recordId: r.recordId,
          inFile: newestInFile.get(r.recordId)!,
          onChain: r.versions.length,
        }));
      const notInFile = chart.records.filter((r) => !newestInFile.has(r.recordId)).map((r) => r.recordId);
      const summary = {
        file: positionals[0],
        patient: chart.patient,
        headBlock: chart.head.number,
        entries: entries.length,
        verified: entries.length - problems.length,
        problems,
        newerOnChain,
        notInFile,
      };
      process.stdout.write(
        [
          `patient ${chart.patient}, chain ${chart.chainId} head block ${chart.head.number}`,
          `entries ${summary.entries}, verified ${summary.verified}, not verified ${problems.length}`,
          ...problems.map(
            (p) => `  entry ${p.index} ${p.recordId ?? '-'} v${p.version ?? '-'}: ${p.problem}: ${p.detail}`,
          ),
          ...newerOnChain.map(
            (n) => `  note: ${n.recordId} has version ${n.onChain} on chain, the file ${n.inFile}`,
          ),
          ...(notInFile.length ? [`  note: ${notInFile.length} record(s) on chain are not in the file`] : []),
        ].join('\n') + '\n',
      );
      if (values.summary) await writeFile(values.summary, JSON.stringify(summary, null, 2) + '\n');
      return problems.length === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      await sources.close();
    }
  });
}

async function readExportEntries(file: string): Promise<unknown[]> {
  let bundle: unknown;
  try {
    bundle = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read ${file} as JSON: ${(error as Error).message}`);
  }
  const b = bundle as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (b?.resourceType !== 'Bundle' || b.type !== 'collection') {
    throw new UsageError(`${file} is not a FHIR collection Bundle (an omnichart export)`);
  }
  return Array.isArray(b.entry) ? b.entry : [];
}
