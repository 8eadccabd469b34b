import { writeFile } from 'node:fs/promises';
import { exportBundle } from '../export/export-bundle.js';
import { EXIT, parseCommandArgs, runCommand, UsageError } from './cli-args.js';
import { chartOfKey, openChartSources, sourceOptions, sourceUsage } from './chart-sources.js';
import { summarize, summaryText, writePrivateFile } from './export-summary.js';
import { readKeyFile } from './key-file.js';

const usage = `usage: omnichart export --key FILE --out FILE (--rpc URL --contract ADDRESS --ipfs URL | --data-dir DIR) [--all-versions] [--summary FILE]
Writes the patient's whole chart as a FHIR R4 collection Bundle (latest version of each record, or every
version with --all-versions), from chain + IPFS and the patient's key file only.
${sourceUsage}
  --summary FILE                                  also write the summary as JSON
Exit status: 0 when every record verified; 1 when any failed (it is reported and left out) or the
sources or key do not fit; 2 for bad arguments or a malformed key file.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand('export', usage, async () => {
    const { values, positionals } = parseCommandArgs(argv, {
      ...sourceOptions,
      key: { type: 'string' },
      out: { type: 'string' },
      summary: { type: 'string' },
      'all-versions': { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    if (!values.key) throw new UsageError('--key FILE is required');
    if (!values.out) throw new UsageError('--out FILE is required');
    const keys = await readKeyFile(values.key);
    const started = performance.now();
    const sources = await openChartSources(values);
    try {
      const chart = await chartOfKey(sources, keys);
      const bundle = exportBundle(chart, { allVersions: values['all-versions'] ?? false });
      await writePrivateFile(values.out, JSON.stringify(bundle, null, 2) + '\n');
      const summary = summarize(chart, bundle.entry.length, values.out, (performance.now() - started) / 1000);
      process.stdout.write(summaryText(summary));
      if (values.summary) await writeFile(values.summary, JSON.stringify(summary, null, 2) + '\n');
      return summary.failed.length === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      await sources.close();
    }
  });
}
