import type { ChartExport, VerifiedVersion } from './patient-export.js';

/*
 * The export as a FHIR R4 `collection` Bundle. Resources are exactly as sealed (nothing added to
 * them, so they compare equal to what was written); each entry carries where it came from in an
 * extension, which `omnichart verify` checks again:
 *   entry.extension[{ url: ANCHOR_EXTENSION, extension: [recordId, version, cid, txHash, blockNumber] }]
 * `fullUrl` is the entry's fullUrl at import (so references between imported resources still resolve
 * inside the export), else `urn:uuid:<record id>`.
 */
export const ANCHOR_EXTENSION = 'urn:omnichart:fhir:extension:record-anchor';
const BUNDLE_SYSTEM = 'urn:omnichart:export';

interface Extension {
  url: string;
  valueString?: string;
  valueInteger?: number;
  extension?: Extension[];
}

export interface ExportBundleEntry {
  fullUrl: string;
  resource: Record<string, unknown>;
  extension: Extension[];
}

export interface ExportBundle {
  resourceType: 'Bundle';
  identifier: { system: string; value: string };
  type: 'collection';
  timestamp: string;
  entry: ExportBundleEntry[];
}

/** The anchor an export entry claims (what verify checks). */
export interface EntryAnchor {
  recordId: string;
  version: number;
  cid: string;
  txHash: string;
  blockNumber: number;
}

/** Latest version of each record, or every version (oldest first per record) with `allVersions`. */
export function exportBundle(
  chart: ChartExport,
  options: { allVersions: boolean; now?: Date },
): ExportBundle {
  const versions = chart.records.flatMap((r) => (options.allVersions ? r.versions : [r.versions.at(-1)!]));
  return {
    resourceType: 'Bundle',
    identifier: {
      system: BUNDLE_SYSTEM,
      value: `${chart.chainId}/${chart.contract}/${chart.patient}@${chart.head.number}`,
    },
    type: 'collection',
    timestamp: (options.now ?? new Date()).toISOString(),
    entry: versions.map(entryOf),
  };
}

function entryOf(version: VerifiedVersion): ExportBundleEntry {
  return {
    fullUrl: version.fullUrl ?? `urn:uuid:${version.recordId}`,
    resource: version.resource,
    extension: [
      {
        url: ANCHOR_EXTENSION,
        extension: [
          { url: 'recordId', valueString: version.recordId },
          { url: 'version', valueInteger: version.version },
          { url: 'cid', valueString: version.cid },
          { url: 'txHash', valueString: version.txHash },
          { url: 'blockNumber', valueInteger: version.blockNumber },
        ],
      },
    ],
  };
}

/**
 * The anchor an entry of an export claims, or a sentence saying why it has none.
 */
export function anchorOfEntry(entry: unknown): EntryAnchor | string {
  if (typeof entry !== 'object' || entry === null) return 'not an object';
  const extensions = (entry as { extension?: unknown }).extension;
  const anchor = Array.isArray(extensions)
    ? (extensions.find((e) => (e as Extension)?.url === ANCHOR_EXTENSION) as Extension | undefined)
    : undefined;
  if (!anchor || !Array.isArray(anchor.extension)) return `no ${ANCHOR_EXTENSION} extension`;
  const part = (url: string) => anchor.extension!.find((e) => e?.url === url);
  const recordId = part('recordId')?.valueString;
  const version = part('version')?.valueInteger;
  const cid = part('cid')?.valueString;
  const txHash = part('txHash')?.valueString;
  const blockNumber = part('blockNumber')?.valueInteger;
  if (
    typeof recordId !== 'string' ||
    !Number.isInteger(version) ||
    typeof cid !== 'string' ||
    typeof txHash !== 'string' ||
    !Number.isInteger(blockNumber)
  ) {
    return 'its anchor extension lacks recordId, version, cid, txHash or blockNumber';
  }
  return { recordId, version: version!, cid, txHash, blockNumber: blockNumber! };
}
