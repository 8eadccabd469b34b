import { checksumAddress } from '../ledger/address.js';
import type { Caller } from '../auth/caller.js';
import { BadUserInputError, ForbiddenError } from '../errors.js';
import type { OmnichartDomain } from '../ledger/ledger-types.js';
import {
  bundleImportTypedData,
  entriesRoot,
  entryProof,
  recordVersionLeaf,
  recordVersionMessage,
  recordVersionTypedData,
  typedDataSigner,
} from '../ledger/record-typed-data.js';
import type { SealedPayload } from './sealed-payload.js';
import type { WriteItem, WriteResult } from './write-plan.js';

/** The author signature of one write, checked against the versions the write resolved. */
export interface WriteSigning {
  kind: 'record' | 'bundle';
  signature: string;
}

/** What a signed version carries in its envelope so other nodes can check it alone. */
export type CarriedSignature = Pick<SealedPayload, 'authorSignature' | 'bundleProof'>;

/** The Merkle leaf of one planned version: what a BundleImport signature covers. */
export function leafOf(patient: string, item: WriteItem, result: WriteResult): string {
  return recordVersionLeaf(
    recordVersionMessage({
      patient,
      recordId: result.recordId!,
      version: result.version!,
      resource: item.resource,
    }),
  );
}

/**
 * The author signature must be the caller's, over exactly the versions this write resolved to;
 * answers what each sealed version carries.
 * @throws BadUserInputError when the signature is malformed; ForbiddenError when it is not the caller's
 */
export function checkSigning(
  domain: OmnichartDomain,
  caller: Caller,
  patient: string,
  items: readonly WriteItem[],
  results: readonly WriteResult[],
  signing: WriteSigning,
): Map<WriteItem, CarriedSignature> {
  const { signature } = signing;
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new BadUserInputError('authorSignature must be a 65-byte 0x-hex signature', {
      field: 'authorSignature',
    });
  }
  const carried = new Map<WriteItem, CarriedSignature>();
  let signer: string | null;
  let what: string;
  if (signing.kind === 'record') {
    const [item] = items;
    const [result] = results;
    const message = recordVersionMessage({
      patient,
      recordId: result.recordId!,
      version: result.version!,
      resource: item.resource,
    });
    signer = typedDataSigner(recordVersionTypedData(domain, message), signature);
    what = `RecordVersion(record ${result.recordId}, version ${result.version})`;
    carried.set(item, { authorSignature: signature });
  } else {
    const leaves = items.map((item, i) => leafOf(patient, item, results[i]));
    const root = entriesRoot(leaves);
    signer = typedDataSigner(
      bundleImportTypedData(domain, {
        patient: checksumAddress(patient),
        entriesRoot: root,
        entryCount: leaves.length,
      }),
      signature,
    );
    what = `BundleImport(root ${root}, ${leaves.length} entries)`;
    items.forEach((item, index) => {
      carried.set(item, {
        authorSignature: signature,
        bundleProof: {
          entriesRoot: root,
          entryCount: leaves.length,
          index,
          proof: entryProof(leaves, index),
        },
      });
    });
  }
  if (signer === null) {
    throw new BadUserInputError('authorSignature is not a valid signature', { field: 'authorSignature' });
  }
  if (signer !== caller.address) {
    throw new ForbiddenError(
      `authorSignature over ${what} recovers to ${signer}, not to the caller ${caller.address}: ` +
        'sign exactly what recordTypedData / bundleTypedData answers, with the signed-in account',
    );
  }
  return carried;
}
