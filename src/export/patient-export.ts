import { CID } from 'multiformats/cid';
import { IntegrityError, NotFoundError } from '../errors.js';
import type { AnchoredRecord } from '../ledger/ledger-types.js';
import { openRecord } from '../storage/envelope.js';
import type { BlockSource } from './block-source.js';
import type { ChainReader } from '../ledger/chain-reader.js';
import { readVerifiedFile } from './verified-file.js';

/*
 * The patient's chart from chain + IPFS alone. For every RecordAnchored event of the patient: fetch
 * the envelope by its CID block by block (each block re-hashed), open it with the patient's box
 * secret key, and check that the sealed payload names the anchored record, version and patient and
 * that each version points at the previous one's CID. A record is exported only when every one of
 * its versions passes; otherwise it is reported with the reason and left out.
 */

/** Why a record version could not be exported. */
export type FailureReason =
  | 'BAD_ANCHOR' // the event's CID does not parse
  | 'BLOCK_MISSING' // the IPFS source does not hold a block of the envelope
  | 'BLOCK_CORRUPT' // a block does not hash to its CID, or does not decode as UnixFS
  | 'IPFS_UNAVAILABLE' // the gateway did not answer
  | 'DECRYPT_FAILED' // the envelope does not open with the patient's key
  | 'PAYLOAD_MISMATCH' // the sealed payload names another record, version or patient
  | 'VERSION_GAP' // a version number is missing from the chain
  | 'PREVIOUS_CID_MISMATCH'; // a version does not continue the one before it

export interface VersionFailure {
  recordId: string;
  version: number;
  cid: string | null;
  txHash: string;
  reason: FailureReason;
  detail: string;
}

/** One verified record version: its anchor, and what was sealed in it. */
export interface VerifiedVersion {
  recordId: string;
  version: number;
  cid: string;
  previousCid: string | null;
  txHash: string;
  blockNumber: number;
  logIndex: number;
  resource: Record<string, unknown> & { resourceType: string };
  /** The entry's fullUrl at import, when the record came from a Bundle. */
  fullUrl: string | null;
  /** Whether the sealed payload carries the author's EIP-712 signature (not checked here). */
  authorSigned: boolean;
}

export interface ExportedRecord {
  recordId: string;
  /** Oldest first. */
  versions: VerifiedVersion[];
}

export interface ChartExport {
  patient: string;
  chainId: string;
  contract: string;
  head: { number: number; timestamp: number };
  /** Records whose every version verified, in the order of their first anchor. */
  records: ExportedRecord[];
  /** Records left out, each with the failure that stopped it. */
  failed: VersionFailure[];
  /** Further anchors of a version already exported (a repeat with another CID, or one that did not open). */
  ignoredAnchors: VersionFailure[];
  anchors: number;
}

export interface ExportChartParameters {
  chain: ChainReader;
  blocks: BlockSource;
  patient: string;
  boxSecretKey: Uint8Array;
  /** Envelopes fetched at once; default 8. */
  concurrency?: number;
}

type Outcome = { ok: true; version: VerifiedVersion } | { ok: false; failure: VersionFailure };

/** Reads, verifies and decrypts every record version of the patient. */
export async function exportChart(parameters: ExportChartParameters): Promise<ChartExport> {
  const { chain, blocks, boxSecretKey } = parameters;
  const patient = parameters.patient.toLowerCase();
  const head = await chain.head();
  const anchors = await chain.anchorsForPatient(patient);
  const outcomes = await mapLimited(anchors, parameters.concurrency ?? 8, (anchor) =>
    openAnchor(anchor, patient, blocks, boxSecretKey),
  );

  const byRecord = new Map<string, { anchor: AnchoredRecord; outcome: Outcome }[]>();
  anchors.forEach((anchor, i) => {
    const list = byRecord.get(anchor.recordId) ?? [];
    list.push({ anchor, outcome: outcomes[i] });
    byRecord.set(anchor.recordId, list);
  });

  const records: ExportedRecord[] = [];
  const failed: VersionFailure[] = [];
  const ignoredAnchors: VersionFailure[] = [];
  for (const [recordId, candidates] of byRecord) {
    const result = chooseVersions(recordId, candidates);
    ignoredAnchors.push(...result.ignored);
    if (result.failure) failed.push(result.failure);
    else records.push({ recordId, versions: result.versions });
  }
  return {
    patient,
    chainId: chain.chainId.toString(),
    contract: chain.contract,
    head,
    records,
    failed,
    ignoredAnchors,
    anchors: anchors.length,
  };
}

/**
 * Picks, version by version, the first anchor (chain order) that verified and continues the chosen
 * previous version. An admitted relayer could anchor junk for a patient; that must not hide the real
 * version, so such anchors are only listed as ignored.
 */
function chooseVersions(
  recordId: string,
  candidates: { anchor: AnchoredRecord; outcome: Outcome }[],
): { versions: VerifiedVersion[]; failure?: VersionFailure; ignored: VersionFailure[] } {
  const versions: VerifiedVersion[] = [];
  const ignored: VersionFailure[] = [];
  const highest = Math.max(...candidates.map((c) => c.anchor.version));
  for (let version = 1; version <= highest; version += 1) {
    const here = candidates.filter((c) => c.anchor.version === version);
    const previousCid = version === 1 ? null : versions[version - 2].cid;
    let chosen: VerifiedVersion | undefined;
    const rejected: VersionFailure[] = [];
    for (const { anchor, outcome } of here) {
      if (!outcome.ok) {
        rejected.push(outcome.failure);
      } else if (chosen && outcome.version.cid === chosen.cid) {
        continue; // the same version anchored twice (a resend after a crash): nothing to tell
      } else if (outcome.version.previousCid !== previousCid) {
        rejected.push(
          failureOf(
            anchor,
            'PREVIOUS_CID_MISMATCH',
            `names previous version ${outcome.version.previousCid ?? '(none)'}, expected ${previousCid ?? '(none)'}`,
          ),
        );
      } else if (!chosen) {
        chosen = outcome.version;
      } else {
        rejected.push(
          failureOf(anchor, 'PAYLOAD_MISMATCH', `another CID for version ${version}, anchored later`),
        );
      }
    }
    if (!chosen) {
      const first = here[0];
      const failure =
        rejected[0] ??
        ({
          recordId,
          version,
          cid: null,
          txHash: first?.anchor.txHash ?? '',
          reason: 'VERSION_GAP',
          detail: `version ${version} of ${highest} is not anchored`,
        } satisfies VersionFailure);
      return { versions, failure, ignored: [...ignored, ...rejected.slice(1)] };
    }
    ignored.push(...rejected);
    versions.push(chosen);
  }
  return { versions, ignored };
}

async function openAnchor(
  anchor: AnchoredRecord,
  patient: string,
  blocks: BlockSource,
  boxSecretKey: Uint8Array,
): Promise<Outcome> {
  const fail = (reason: FailureReason, detail: string, cid: string | null): Outcome => ({
    ok: false,
    failure: { ...failureOf(anchor, reason, detail), cid },
  });
  let cid: CID;
  try {
    cid = CID.decode(anchor.cid);
  } catch {
    return fail('BAD_ANCHOR', 'the anchored CID does not parse', null);
  }
  const cidText = cid.toString();
  let envelope: Uint8Array;
  try {
    envelope = await readVerifiedFile(blocks, cid);
  } catch (error) {
    const message = (error as Error).message;
    if (error instanceof NotFoundError) return fail('BLOCK_MISSING', message, cidText);
    if (error instanceof IntegrityError) return fail('BLOCK_CORRUPT', message, cidText);
    return fail('IPFS_UNAVAILABLE', message, cidText);
  }
  let payload: Record<string, unknown>;
  try {
    const plaintext = openRecord({ envelope, boxSecretKey });
    payload = JSON.parse(Buffer.from(plaintext).toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    return fail('DECRYPT_FAILED', (error as Error).message, cidText);
  }
  const resource = payload.resource as VerifiedVersion['resource'] | undefined;
  if (
    payload.recordId !== anchor.recordId ||
    payload.version !== anchor.version ||
    typeof payload.patient !== 'string' ||
    payload.patient.toLowerCase() !== patient ||
    typeof resource !== 'object' ||
    resource === null ||
    typeof resource.resourceType !== 'string'
  ) {
    return fail(
      'PAYLOAD_MISMATCH',
      `the envelope was sealed for ${String(payload.recordId)} v${String(payload.version)} of ${String(payload.patient)}`,
      cidText,
    );
  }
  return {
    ok: true,
    version: {
      recordId: anchor.recordId,
      version: anchor.version,
      cid: cidText,
      previousCid: typeof payload.previousCid === 'string' ? payload.previousCid : null,
      txHash: anchor.txHash,
      blockNumber: anchor.blockNumber,
      logIndex: anchor.logIndex,
      resource,
      fullUrl: typeof payload.fullUrl === 'string' ? payload.fullUrl : null,
      authorSigned: typeof payload.authorSignature === 'string',
    },
  };
}

function failureOf(anchor: AnchoredRecord, reason: FailureReason, detail: string): VersionFailure {
  let cid: string | null = null;
  try {
    cid = CID.decode(anchor.cid).toString();
  } catch {
    // reported as BAD_ANCHOR by openAnchor
  }
  return { recordId: anchor.recordId, version: anchor.version, cid, txHash: anchor.txHash, reason, detail };
}

/** `fn` over `items` with at most `limit` running at once; results in input order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
