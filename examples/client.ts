/**
 * A small Omnichart client: plain fetch for GraphQL, an ethers Wallet for signatures, tweetnacl for the
 * encryption key. Everything a wallet app does to register, log in and write a record.
 */
import { Wallet } from 'ethers';
import nacl from 'tweetnacl';

export interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [key: string]: unknown } }[];
}

export class GraphQLRequestError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
    readonly response: GraphQLResponse<unknown>,
  ) {
    super(message);
  }
}

export class OmnichartClient {
  token?: string;

  constructor(readonly url: string) {}

  /** Sends one operation; returns the whole response, errors included. */
  async send<T>(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse<T>> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResponse<T>;
  }

  /** Sends one operation and throws GraphQLRequestError on any error. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await this.send<T>(query, variables);
    if (response.errors?.length || !response.data) {
      const first = response.errors?.[0];
      throw new GraphQLRequestError(first?.extensions?.code, first?.message ?? 'no data', response);
    }
    return response.data;
  }
}

export interface Identity {
  wallet: Wallet;
  boxKeyPair: nacl.BoxKeyPair;
}

/** A fresh identity: an Ethereum key for signing and an X25519 key pair for decryption. */
export function newIdentity(): Identity {
  return { wallet: Wallet.createRandom() as unknown as Wallet, boxKeyPair: nacl.box.keyPair() };
}

/**
 * The identity in a key file written by `omnichart keygen` ({ address, privateKey, boxPublicKey,
 * boxSecretKey }): the same keys a wallet app keeps, and what `omnichart export` needs later.
 */
export async function identityFromKeyFile(file: string): Promise<Identity> {
  const { readFile } = await import('node:fs/promises');
  const keys = JSON.parse(await readFile(file, 'utf8')) as { privateKey: string; boxSecretKey: string };
  const boxKeyPair = nacl.box.keyPair.fromSecretKey(new Uint8Array(Buffer.from(keys.boxSecretKey, 'base64')));
  return { wallet: new Wallet(keys.privateKey), boxKeyPair };
}

export type Role = 'PATIENT' | 'PRACTITIONER' | 'ORGANIZATION' | 'ANALYST' | 'ADMIN';

/** registrationMessage → personal_sign → registerAccount. */
export async function register(client: OmnichartClient, identity: Identity, role: Role, displayName: string) {
  const input = {
    address: identity.wallet.address,
    role,
    displayName,
    boxPublicKey: Buffer.from(identity.boxKeyPair.publicKey).toString('base64'),
    issuedAt: new Date().toISOString(),
  };
  const { registrationMessage } = await client.request<{ registrationMessage: string }>(
    `query ($input: RegistrationInput!) { registrationMessage(input: $input) }`,
    { input },
  );
  const signature = await identity.wallet.signMessage(registrationMessage);
  const { registerAccount } = await client.request<{ registerAccount: { address: string; role: Role } }>(
    `mutation ($input: RegistrationInput!, $signature: String!) {
       registerAccount(input: $input, signature: $signature) { address role displayName }
     }`,
    { input, signature },
  );
  return registerAccount;
}

/** loginChallenge → sign the SIWE message → login; keeps the bearer token on the client. */
export async function login(client: OmnichartClient, identity: Identity): Promise<string> {
  const { loginChallenge } = await client.request<{ loginChallenge: { message: string } }>(
    `mutation ($address: String!) { loginChallenge(address: $address) { message nonce expiresAt } }`,
    { address: identity.wallet.address },
  );
  const signature = await identity.wallet.signMessage(loginChallenge.message);
  const { login: session } = await client.request<{ login: { token: string } }>(
    `mutation ($message: String!, $signature: String!) {
       login(message: $message, signature: $signature) { token expiresAt account { address role } }
     }`,
    { message: loginChallenge.message, signature },
  );
  client.token = session.token;
  return session.token;
}

export const ADD_RECORD = `
  mutation ($patient: String!, $resource: JSON!, $recordId: ID, $authorSignature: String) {
    addRecord(patient: $patient, resource: $resource, recordId: $recordId, authorSignature: $authorSignature) {
      id patient resourceType version cid authorVerified anchor { status }
    }
  }`;

// A signed write: the node answers what to sign (record id, version, type, content hash); the author signs it.
export const RECORD_TYPED_DATA = `
  query ($patient: String!, $resource: JSON!, $recordId: ID) {
    recordTypedData(patient: $patient, resource: $resource, recordId: $recordId)
  }`;
export const BUNDLE_TYPED_DATA = `
  query ($patient: String!, $bundle: JSON!) { bundleTypedData(patient: $patient, bundle: $bundle) }`;
export const IMPORT_BUNDLE = `
  mutation ($patient: String!, $bundle: JSON!, $recordIds: [ID], $authorSignature: String) {
    importBundle(patient: $patient, bundle: $bundle, recordIds: $recordIds, authorSignature: $authorSignature) {
      created updated unchanged rejected written entries { index recordId version outcome code reason }
    }
  }`;

export const READ_RECORD = `
  query ($id: ID!) {
    record(id: $id) {
      id patient resourceType version cid resource
      anchor { status txHash blockNumber }
      history { version cid createdAt anchor { status txHash } }
    }
  }`;

export const VERIFY_RECORD = `
  query ($id: ID!) {
    verifyRecord(id: $id) {
      recordId version cid contentMatchesCid decrypts anchorTx anchorBlock chainCid anchorMatches verified
    }
  }`;

// Consent: the patient signs EIP-712 typed data from the node; the contract checks the signature.

export const GRANT_TYPED_DATA = `query ($input: GrantInput!) { grantTypedData(input: $input) }`;
export const GRANT_ACCESS = `mutation ($input: GrantInput!, $signature: String!) {
  grantAccess(input: $input, signature: $signature) { id kind patient grantee scopes expiresAt active createdTx }
}`;
export const REVOKE_TYPED_DATA = `query ($grantId: ID!) { revokeTypedData(grantId: $grantId) }`;
export const REVOKE_ACCESS = `mutation ($grantId: ID!, $signature: String!) {
  revokeAccess(grantId: $grantId, signature: $signature) { id active revokedAt revokedTx }
}`;

interface TypedData {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
  message: Record<string, unknown>;
}

/** Signs EIP-712 typed data from the node the way a wallet does (ethers drops the domain type itself). */
export async function signTypedData(signer: Identity, typedData: unknown): Promise<string> {
  const { domain, types, message } = typedData as TypedData;
  const { EIP712Domain: _domainType, ...messageTypes } = types;
  return signer.wallet.signTypedData(domain, messageTypes, message);
}

export interface SignedRecord {
  id: string;
  patient: string;
  resourceType: string;
  version: number;
  cid: string;
  authorVerified: boolean;
  anchor: { status: string };
}

/**
 * recordTypedData → the author signs → addRecord with the record id and signature. `recordId` names an
 * existing record to update (else the node picks a fresh id for a new one, or the record the resource's
 * id already maps to). Returns the whole response (errors included).
 */
export async function addSignedRecord(
  client: OmnichartClient,
  author: Identity,
  patient: string,
  resource: unknown,
  options: { recordId?: string; signer?: Identity } = {},
) {
  const { recordTypedData } = await client.request<{
    recordTypedData: { message: { recordId: string } };
  }>(RECORD_TYPED_DATA, { patient, resource, recordId: options.recordId ?? null });
  const authorSignature = await signTypedData(options.signer ?? author, recordTypedData);
  return client.send<{ addRecord: SignedRecord }>(ADD_RECORD, {
    patient,
    resource,
    recordId: recordTypedData.message.recordId,
    authorSignature,
  });
}

/** bundleTypedData → the author signs the entries' root once → importBundle with the record ids. */
export async function importSignedBundle(
  client: OmnichartClient,
  author: Identity,
  patient: string,
  bundle: unknown,
) {
  const { bundleTypedData } = await client.request<{
    bundleTypedData: { typedData: unknown; recordIds: string[] };
  }>(BUNDLE_TYPED_DATA, { patient, bundle });
  const authorSignature = await signTypedData(author, bundleTypedData.typedData);
  return client.send<{
    importBundle: { written: boolean; entries: { recordId: string | null; outcome: string }[] };
  }>(IMPORT_BUNDLE, { patient, bundle, recordIds: bundleTypedData.recordIds, authorSignature });
}

export interface GrantParams {
  patient: Identity;
  grantee: string;
  scopes: string[];
  expiresAt: Date;
  /** Who signs; the patient unless a test forges it. */
  signer?: Identity;
}

/** grantTypedData → sign → grantAccess; returns the whole response (errors included). */
export async function grantAccess(client: OmnichartClient, params: GrantParams) {
  const input = {
    patient: params.patient.wallet.address,
    grantee: params.grantee,
    scopes: params.scopes,
    expiresAt: params.expiresAt.toISOString(),
  };
  const { grantTypedData } = await client.request<{ grantTypedData: unknown }>(GRANT_TYPED_DATA, { input });
  const signature = await signTypedData(params.signer ?? params.patient, grantTypedData);
  return client.send<{ grantAccess: { id: string; active: boolean } }>(GRANT_ACCESS, { input, signature });
}

export async function revokeAccess(client: OmnichartClient, patient: Identity, grantId: string) {
  const { revokeTypedData } = await client.request<{ revokeTypedData: unknown }>(REVOKE_TYPED_DATA, {
    grantId,
  });
  const signature = await signTypedData(patient, revokeTypedData);
  return client.send<{ revokeAccess: { id: string; active: boolean } }>(REVOKE_ACCESS, {
    grantId,
    signature,
  });
}

export const ATTESTATION_TYPED_DATA = `query ($input: AttestationInput!) { attestationTypedData(input: $input) }`;
export const ATTEST = `mutation ($input: AttestationInput!, $signature: String!) {
  attest(input: $input, signature: $signature) { status role organization identifier expiresAt txHash }
}`;

export interface AttestParams {
  /** The admitted organization's identity (its wallet signs). */
  organization: Identity;
  subject: string;
  role: 'PRACTITIONER' | 'ANALYST';
  /** FHIR system|value, e.g. an NPI. */
  identifier: string;
  expiresAt: Date;
}

/** attestationTypedData → the organization signs → attest (anyone may relay); the whole response. */
export async function attest(client: OmnichartClient, params: AttestParams) {
  const input = {
    subject: params.subject,
    role: params.role,
    organization: params.organization.wallet.address,
    identifier: params.identifier,
    expiresAt: params.expiresAt.toISOString(),
  };
  const { attestationTypedData } = await client.request<{ attestationTypedData: unknown }>(
    ATTESTATION_TYPED_DATA,
    { input },
  );
  const signature = await signTypedData(params.organization, attestationTypedData);
  return client.send<{ attest: { status: string; role: string; organization: string } }>(ATTEST, {
    input,
    signature,
  });
}
