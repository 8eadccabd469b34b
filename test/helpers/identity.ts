import { attest, newIdentity, type Identity } from '../../examples/client.js';
import type { SignedInUser, TestNode } from './test-node.js';

/** A sample NPI (a valid Luhn check digit) as FHIR system|value. */
export const SAMPLE_NPI = 'http://hl7.org/fhir/sid/us-npi|1234567893';

/**
 * Gives `user` a real attestation on chain: the node's relayer (the contract owner on embedded
 * defaults) admits a fresh organization, which signs the attestation; the user relays it.
 */
export async function attestUser(
  test: TestNode,
  user: SignedInUser,
  role: 'PRACTITIONER' | 'ANALYST',
  options: { organization?: Identity; expiresAt?: Date } = {},
): Promise<Identity> {
  const organization = options.organization ?? newIdentity();
  if (!options.organization) await test.node.ledger.admitOrganization(organization.wallet.address, true);
  const response = await attest(user.client, {
    organization,
    subject: user.address,
    role,
    identifier: SAMPLE_NPI,
    expiresAt: options.expiresAt ?? new Date(Date.now() + 24 * 3600_000),
  });
  if (response.errors) throw new Error(`attestation failed: ${JSON.stringify(response.errors)}`);
  return organization;
}
