import { open, rename } from 'node:fs/promises';
import type { ChartExport, VersionFailure } from '../export/patient-export.js';

/** What export prints and writes with --summary (JSON): counts, and every failure with its reason. */
export interface ExportSummary {
  patient: string;
  chainId: string;
  contract: string;
  headBlock: number;
  headTime: string;
  /** Distinct records anchored for the patient. */
  records: number;
  /** Distinct record versions anchored. */
  versions: number;
  /** Records exported: every version verified. */
  verified: number;
  failed: VersionFailure[];
  ignoredAnchors: VersionFailure[];
  entries: number;
  out: string;
  seconds: number;
}

export function summarize(chart: ChartExport, entries: number, out: string, seconds: number): ExportSummary {
  const versions = new Set<string>();
  for (const record of chart.records)
    for (const v of record.versions) versions.add(`${v.recordId}/${v.version}`);
  for (const f of [...chart.failed, ...chart.ignoredAnchors]) versions.add(`${f.recordId}/${f.version}`);
  return {
    patient: chart.patient,
    chainId: chart.chainId,
    contract: chart.contract,
    headBlock: chart.head.number,
    headTime: new Date(chart.head.timestamp * 1000).toISOString(),
    records: chart.records.length + chart.failed.length,
    versions: versions.size,
    verified: chart.records.length,
    failed: chart.failed,
    ignoredAnchors: chart.ignoredAnchors,
    entries,
    out,
    seconds,
  };
}

export function summaryText(s: ExportSummary): string {
  const lines = [
    `patient ${s.patient} on chain ${s.chainId}, contract ${s.contract}, head block ${s.headBlock} (${s.headTime})`,
    `records ${s.records}, versions ${s.versions}, verified ${s.verified}, failed ${s.failed.length}`,
    ...s.failed.map((f) => `  failed ${f.recordId} v${f.version} ${f.cid ?? '-'}: ${f.reason}: ${f.detail}`),
    ...s.ignoredAnchors.map(
      (f) =>
        `  ignored anchor ${f.recordId} v${f.version} ${f.cid ?? '-'} (tx ${f.txHash}): ${f.reason}: ${f.detail}`,
    ),
    `wrote ${s.entries} entries to ${s.out} in ${s.seconds.toFixed(2)} s`,
  ];
  return lines.join('\n') + '\n';
}

/** Writes through a temporary file and renames, mode 0600: the file holds decrypted health records. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}
