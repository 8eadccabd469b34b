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
  mutation ($patient: String!, $resource: JSON!) {
    addRecord(patient: $patient, resource: $resource) { id patient resourceType version cid anchor { status } }
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
