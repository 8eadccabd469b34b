import { parseScopes, scopesAllow } from '../auth/scopes.js';
import {
  bundleImportTypedData,
  recordVersionLeaf,
  recordVersionMessage,
  recordVersionTypedData,
  rootFromProof,
  typedDataSigner,
  type BundleEntryProof,
} from '../ledger/record-typed-data.js';
import type { OmnichartDomain } from '../ledger/ledger-types.js';
import type { QuarantineReason } from '../storage/entities/index.js';
import { checksumAddress } from '../ledger/address.js';

/*
 * The checks a node makes before it serves a record version written elsewhere. Each answers a
 * problem (a stable reason and a sentence) or null; none has side effects, so the caller decides
 * where a refused version goes (the quarantine).
 */

export interface VersionProblem {
  reason: QuarantineReason;
  detail: string;
}

/** The record as this node serves it now: its current version. */
export interface HeldVersion {
  patient: string;
  resourceType: string;
  version: number;
  cid: string;
}

/** What a version written elsewhere claims about itself (from its envelope). */
export interface ClaimedVersion {
  patient: string;
  resourceType: string;
  version: number;
  previousCid: string | null;
}

/**
 * A version continues the record it names: the next number, pointing at the current CID, same
 * patient and type; a new record starts at 1 with no predecessor. Versions at or below the current
 * one are not new (the caller has already told an identical copy apart).
 */
export function continuityProblem(held: HeldVersion | null, claimed: ClaimedVersion): VersionProblem | null {
  if (!held) {
    if (claimed.version !== 1) {
      return {
        reason: 'VERSION_GAP',
        detail: `version ${claimed.version} of a record this node holds no version of`,
      };
    }
    if (claimed.previousCid !== null) {
      return { reason: 'PREVIOUS_CID_MISMATCH', detail: 'version 1 names a previous version' };
    }
    return null;
  }
  if (claimed.version <= held.version) {
    return claimed.patient !== held.patient || claimed.version === 1
      ? {
          reason: 'RECORD_ID_REUSED',
          detail: `the record id is in use (patient ${held.patient}, version ${held.version})`,
        }
      : { reason: 'VERSION_CONFLICT', detail: `another version ${claimed.version} is already held` };
  }
  if (claimed.version > held.version + 1) {
    return { reason: 'VERSION_GAP', detail: `version ${claimed.version} after ${held.version}` };
  }
  if (claimed.patient !== held.patient) {
    return { reason: 'PATIENT_CHANGED', detail: `patient ${held.patient} became ${claimed.patient}` };
  }
  if (claimed.resourceType !== held.resourceType) {
    return { reason: 'TYPE_CHANGED', detail: `${held.resourceType} became ${claimed.resourceType}` };
  }
  if (claimed.previousCid !== held.cid) {
    return {
      reason: 'PREVIOUS_CID_MISMATCH',
      detail: `previous CID ${claimed.previousCid ?? '(none)'}, current is ${held.cid}`,
    };
  }
  return null;
}

/**
 * An unsigned later version is only the anchoring node's word for who wrote it. It is served when the
 * node that anchored the record's first version (its home, where the author's writes arrive) anchored
 * it too, or when it changes nothing but the keys (a re-seal: the same content as the current
 * version). Anything else needs the author's signature.
 */
export function unsignedUpdateProblem(params: {
  sameContent: boolean;
  anchoredBy: string | null;
  home: string | null;
}): VersionProblem | null {
  if (params.sameContent) return null;
  if (params.anchoredBy !== null && params.anchoredBy === params.home) return null;
  return {
    reason: 'UNSIGNED_FOREIGN_UPDATE',
    detail: `an unsigned change anchored by ${params.anchoredBy ?? 'an unknown sender'}, not by the record's home node ${params.home ?? '(unknown)'}`,
  };
}

/** A CONSENT grant as cached, with what adoption needs to judge it at a block. */
export interface GrantAtBlock {
  scopes: string;
  createdBlock: number | null;
  revokedAt: Date | null;
  revokedBlock: number | null;
  expiresAt: Date;
}

/**
 * The author may write this version: the patient always; anyone else only under a grant that held at
 * the anchor block (created at or before it, not revoked at or before it, not expired at its time)
 * with `c` for a first version or `u` for a later one, for this resource type. A revocation whose
 * block is unknown counts as having always been in force.
 */
export function entitlementProblem(params: {
  author: string;
  patient: string;
  resourceType: string;
  version: number;
  anchorBlock: number;
  /** Unix seconds of the anchor block. */
  blockTime: number;
  grants: readonly GrantAtBlock[];
}): VersionProblem | null {
  const { author, patient, resourceType, version, anchorBlock, blockTime } = params;
  if (author === patient) return null;
  const action = version === 1 ? 'create' : 'update';
  const held = params.grants.some(
    (grant) =>
      grant.createdBlock !== null &&
      grant.createdBlock <= anchorBlock &&
      (grant.revokedAt === null || (grant.revokedBlock !== null && grant.revokedBlock > anchorBlock)) &&
      grant.expiresAt.getTime() > blockTime * 1000 &&
      scopesAllow(parseScopes(grant.scopes.split(' ')), action, resourceType),
  );
  return held
    ? null
    : {
        reason: 'AUTHOR_NOT_ENTITLED',
        detail: `${author} held no grant to ${action} ${resourceType} for ${patient} at block ${anchorBlock}`,
      };
}

/** The signed part of a sealed version. */
export interface SignedVersion {
  patient: string;
  recordId: string;
  version: number;
  resource: { resourceType: string };
  author: string;
  authorSignature: string;
  bundleProof?: BundleEntryProof;
}

/**
 * Whether the author signed exactly this version: a RecordVersion signature, or a BundleImport
 * signature over a root this version's leaf proves into. Fields come from an envelope someone else
 * sealed, so anything malformed is a bad signature rather than an error.
 */
export function authorSignatureProblem(
  domain: OmnichartDomain,
  signed: SignedVersion,
): VersionProblem | null {
  const bad = (detail: string): VersionProblem => ({ reason: 'BAD_AUTHOR_SIGNATURE', detail });
  try {
    const message = recordVersionMessage(signed);
    let signer: string | null;
    const proof = signed.bundleProof;
    if (proof) {
      const root = rootFromProof(recordVersionLeaf(message), proof.index, proof.entryCount, proof.proof);
      if (root === null || root.toLowerCase() !== String(proof.entriesRoot).toLowerCase()) {
        return bad('the bundle proof does not lead to the signed root');
      }
      signer = typedDataSigner(
        bundleImportTypedData(domain, {
          patient: checksumAddress(signed.patient),
          entriesRoot: proof.entriesRoot,
          entryCount: proof.entryCount,
        }),
        signed.authorSignature,
      );
    } else {
      signer = typedDataSigner(recordVersionTypedData(domain, message), signed.authorSignature);
    }
    if (signer !== signed.author.toLowerCase()) {
      return bad(`signed by ${signer ?? 'no one (malformed signature)'}, not by the author ${signed.author}`);
    }
    return null;
  } catch (error) {
    return bad(`the signed fields are malformed: ${(error as Error).message}`);
  }
}
