import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { newIdentity, type Identity } from '../../examples/client.js';
import { RateLimits } from '../../src/auth/rate-limits.js';
import { DEFAULT_RATE_LIMITS, type RateLimitName, type RateLimitRule } from '../../src/config.js';
import type { EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { RateLimitStore } from '../../src/storage/rate-limit-store.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';

// Windows far longer than the test, so a slow machine never sees a window end mid-test.
const rule = (perIp: number, perAccount: number): RateLimitRule => ({
  perIp,
  perAccount,
  windowSeconds: 3600,
});

interface Answer {
  status: number;
  retryAfterHeader: string | null;
  body: {
    data?: Record<string, unknown>;
    errors?: { extensions?: { code?: string; retryAfter?: number } }[];
  };
}

/**
 * The rate limits of two nodes sharing one database, each on its own connection as two replicas
 * are; `flushMs` is how often each batches its request budget into Postgres.
 */
async function replicaLimits(
  url: string,
  rules: Partial<Record<RateLimitName, RateLimitRule>>,
  flushMs?: number,
) {
  const dataSources = [createDataSource(url), createDataSource(url)];
  const stores: RateLimitStore[] = [];
  const limits: RateLimits[] = [];
  const close = async () => {
    for (const store of stores) await store.close();
    for (const dataSource of dataSources) if (dataSource.isInitialized) await dataSource.destroy();
  };
  try {
    for (const dataSource of dataSources) {
      await dataSource.initialize();
      const store = new RateLimitStore(dataSource, flushMs);
      stores.push(store);
      limits.push(
        new RateLimits({
          rules: { ...DEFAULT_RATE_LIMITS, ...rules },
          limiter: store.limiter,
          logger: silentLogger,
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { dataSources, stores, limits, close };
}

/** One GraphQL POST with the headers a test chooses (a client address behind a proxy, a token). */
async function post(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    retryAfterHeader: response.headers.get('retry-after'),
    body: (await response.json()) as Answer['body'],
  };
}

const codeOf = (answer: Answer) => answer.body.errors?.[0]?.extensions?.code ?? 'OK';

const CHALLENGE = `mutation ($a: String!) { loginChallenge(address: $a) { nonce } }`;
const REGISTRATION_MESSAGE = `query ($input: RegistrationInput!) { registrationMessage(input: $input) }`;
const REGISTER = `mutation ($input: RegistrationInput!, $signature: String!) {
  registerAccount(input: $input, signature: $signature) { address displayName } }`;

/** A signed registration of `identity` (issued `offsetSeconds` from now), sent from `ip`. */
async function registerFrom(
  test: TestNode,
  ip: string,
  identity: Identity,
  displayName: string,
  offsetSeconds = 0,
): Promise<Answer> {
  const input = {
    address: identity.wallet.address,
    role: 'PATIENT',
    displayName,
    boxPublicKey: Buffer.from(identity.boxKeyPair.publicKey).toString('base64'),
    issuedAt: new Date(Date.now() + offsetSeconds * 1000).toISOString(),
  };
  const message = await post(test.node.url, REGISTRATION_MESSAGE, { input }, { 'x-forwarded-for': ip });
  const text = message.body.data!.registrationMessage as string;
  const signature = await identity.wallet.signMessage(text);
  return post(test.node.url, REGISTER, { input, signature }, { 'x-forwarded-for': ip });
}

/** Transactions the node's relayer has sent (its nonce), read from the chain itself. */
async function relayerTransactions(test: TestNode): Promise<number> {
  const rpcUrl = (test.node.ledger as EmbeddedLedger).chain.anvil.rpcUrl;
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_getTransactionCount',
      params: [test.node.ledger.relayerAddress, 'pending'],
    }),
  });
  return Number(((await response.json()) as { result: string }).result);
}

describe('rate limits behind a trusted proxy (X-Forwarded-For from loopback is believed)', () => {
  let test: TestNode;
  let budgetUser: SignedInUser;
  let relayUser: SignedInUser;
  let bystander: SignedInUser;

  beforeAll(async () => {
    test = await startTestNode({
      rateLimits: {
        trustedProxies: ['loopback'],
        rules: {
          ...DEFAULT_RATE_LIMITS,
          request: rule(1000, 30),
          loginChallenge: rule(5, 0),
          registerAccount: rule(6, 2),
          relay: rule(1000, 3),
        },
      },
    });
    // Three sign-ins from 127.0.0.1 itself: within its 5 challenges and 6 registrations.
    budgetUser = await signIn(test);
    relayUser = await signIn(test);
    bystander = await signIn(test);
  }, 120_000);
  afterAll(() => test?.close());

  it('200 loginChallenge calls in a row from one address: 5 served, then RATE_LIMITED with retryAfter', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 200; i += 1) {
      answers.push(
        await post(
          test.node.url,
          CHALLENGE,
          { a: newIdentity().wallet.address },
          { 'x-forwarded-for': '203.0.113.1' },
        ),
      );
    }
    expect(answers.map(codeOf).filter((c) => c === 'OK')).toHaveLength(5);
    expect(answers.slice(0, 5).map(codeOf)).toEqual(Array(5).fill('OK'));
    const refused = answers.slice(5);
    expect(new Set(refused.map(codeOf))).toEqual(new Set(['RATE_LIMITED']));
    for (const answer of refused) {
      const retryAfter = answer.body.errors![0].extensions!.retryAfter!;
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600).toBe(true);
    }
    // Per client address: the next address is served.
    expect(
      codeOf(
        await post(
          test.node.url,
          CHALLENGE,
          { a: newIdentity().wallet.address },
          { 'x-forwarded-for': '203.0.113.2' },
        ),
      ),
    ).toBe('OK');
  }, 120_000);

  it('a registration flood sends no more transactions than the per-address limit allows', async () => {
    const before = await relayerTransactions(test);
    const codes: string[] = [];
    for (let i = 0; i < 10; i += 1)
      codes.push(codeOf(await registerFrom(test, '203.0.113.3', newIdentity(), `flood ${i}`)));
    expect(codes).toEqual([...Array(6).fill('OK'), ...Array(4).fill('RATE_LIMITED')]);
    expect((await relayerTransactions(test)) - before).toBe(6);
  }, 120_000);

  it('an unchanged registration sends nothing; a new display name is relayed, within the per-account limit', async () => {
    const identity = newIdentity();
    const ip = '203.0.113.4';
    const start = await relayerTransactions(test);
    expect(codeOf(await registerFrom(test, ip, identity, 'Ada'))).toBe('OK');
    expect(await relayerTransactions(test)).toBe(start + 1);
    // Same key, role and name, issued later: answered, and the relayer's nonce does not move.
    const same = await registerFrom(test, ip, identity, 'Ada', 5);
    expect(same.body.data?.registerAccount).toEqual({ address: identity.wallet.address, displayName: 'Ada' });
    expect(await relayerTransactions(test)).toBe(start + 1);
    // A new display name must reach the other nodes: one transaction, the account's second point.
    expect(codeOf(await registerFrom(test, ip, identity, 'Ada L.', 10))).toBe('OK');
    expect(await relayerTransactions(test)).toBe(start + 2);
    // The third change is over the per-account limit (2), although this address has points left.
    expect(codeOf(await registerFrom(test, ip, identity, 'Ada Lovelace', 15))).toBe('RATE_LIMITED');
    expect(await relayerTransactions(test)).toBe(start + 2);
    expect(codeOf(await registerFrom(test, ip, newIdentity(), 'Grace'))).toBe('OK');
  }, 120_000);

  it('the overall budget is per account: 429 with Retry-After for one, another account is served', async () => {
    const auth = (user: SignedInUser) => ({ authorization: `Bearer ${user.client.token}` });
    const answers: Answer[] = [];
    for (let i = 0; i < 40; i += 1)
      answers.push(await post(test.node.url, `{ me { address } }`, {}, auth(budgetUser)));
    expect(answers.slice(0, 30).map((a) => a.status)).toEqual(Array(30).fill(200));
    const refused = answers.slice(30);
    expect(refused.map((a) => a.status)).toEqual(Array(10).fill(429));
    for (const answer of refused) {
      expect(codeOf(answer)).toBe('RATE_LIMITED');
      expect(Number(answer.retryAfterHeader)).toBe(answer.body.errors![0].extensions!.retryAfter);
      expect(Number(answer.retryAfterHeader)).toBeGreaterThanOrEqual(1);
    }
    // Same client address, another account: unaffected.
    const other = await post(test.node.url, `{ me { address } }`, {}, auth(bystander));
    expect(other.status).toBe(200);
    expect(other.body.data).toEqual({ me: { address: bystander.address } });
  }, 120_000);

  it('relays are limited per account: the fourth grantAccess is refused before any work, others still relay', async () => {
    const input = {
      patient: relayUser.address,
      grantee: bystander.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    const GRANT = `mutation ($input: GrantInput!, $signature: String!) { grantAccess(input: $input, signature: $signature) { id } }`;
    const junk = `0x${'11'.repeat(65)}`;
    const codes: string[] = [];
    for (let i = 0; i < 5; i += 1)
      codes.push(
        codeOf(
          await post(
            test.node.url,
            GRANT,
            { input, signature: junk },
            { authorization: `Bearer ${relayUser.client.token}` },
          ),
        ),
      );
    // The first three reach the relay and fail on the signature; then the limit answers.
    expect(codes.slice(0, 3).every((c) => c !== 'OK' && c !== 'RATE_LIMITED')).toBe(true);
    expect(codes.slice(3)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    const other = await post(
      test.node.url,
      GRANT,
      { input, signature: junk },
      { authorization: `Bearer ${bystander.client.token}` },
    );
    expect(codeOf(other)).not.toBe('RATE_LIMITED');
  }, 120_000);
});

describe('rate limits without a trusted proxy, across restarts and replicas', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode({
      rateLimits: { rules: { ...DEFAULT_RATE_LIMITS, request: rule(8, 1000) } },
    });
  }, 120_000);
  afterAll(() => test?.close());

  it('the anonymous budget is per socket address: a forged X-Forwarded-For does not reset it, and a restart keeps it', async () => {
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 12; i += 1) {
      last = await post(test.node.url, `{ __typename }`, {}, { 'x-forwarded-for': `198.51.100.${i}` });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(8).fill(200), ...Array(4).fill(429)]);
    expect(codeOf(last!)).toBe('RATE_LIMITED');
    expect(Number(last!.retryAfterHeader)).toBeGreaterThanOrEqual(1);

    // The counters are rows in the node's Postgres: a restarted node still refuses.
    await test.restart();
    const afterRestart = await post(test.node.url, `{ __typename }`);
    expect(afterRestart.status).toBe(429);
    expect(Number(afterRestart.retryAfterHeader)).toBeGreaterThanOrEqual(1);

    // An operation over graphql-ws spends the same budget and is refused with the same code.
    const ws = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    const refusal = await new Promise<{ extensions?: { code?: string; retryAfter?: number } }>((resolve) => {
      ws.subscribe(
        { query: '{ __typename }' },
        {
          next: () => resolve({}),
          error: (errors) => resolve((errors as { extensions?: { code?: string } }[])[0] ?? {}),
          complete: () => resolve({}),
        },
      );
    });
    await ws.dispose();
    expect(refusal.extensions?.code).toBe('RATE_LIMITED');
    expect(refusal.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('two nodes on one database share one count', async () => {
    const { limits, close } = await replicaLimits(test.config.database.url!, { breakGlass: rule(3, 0) });
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const refusal = await limits[i % 2].check('breakGlass', { ip: '192.0.2.7' });
        outcomes.push(refusal ? refusal.code : 'OK');
      }
      expect(outcomes).toEqual(['OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    } finally {
      await close();
    }
  }, 60_000);
  it('the request budget is counted in memory between flushes: two nodes still share it, and one flush bounds the overshoot', async () => {
    // Flushed by hand only, so the test sees each step.
    const {
      dataSources: nodes,
      stores,
      limits,
      close,
    } = await replicaLimits(test.config.database.url!, { request: rule(10, 0) }, 3_600_000);
    const ip = '192.0.2.50';
    const rowPoints = async () => {
      const rows = (await nodes[0].query('SELECT points FROM rate_limit WHERE key = $1', [
        `request:ip:${ip}`,
      ])) as { points: number }[];
      return rows[0]?.points;
    };
    try {
      const [a, b] = limits;
      const outcome = async (node: RateLimits) =>
        (await node.check('request', { ip })) ? 'RATE_LIMITED' : 'OK';
      const run = async (node: RateLimits, n: number) => {
        const outcomes: string[] = [];
        for (let i = 0; i < n; i += 1) outcomes.push(await outcome(node));
        return outcomes;
      };

      // The first point of a window goes to Postgres at once; the next five only at the flush.
      expect(await run(a, 6)).toEqual(Array(6).fill('OK'));
      expect(await rowPoints()).toBe(1);
      await stores[0].flush();
      expect(await rowPoints()).toBe(6);

      // Node B starts from the shared count: 4 more are served in all, then it refuses.
      expect(await run(b, 6)).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
      await stores[1].flush();
      expect(await rowPoints()).toBe(10);

      // Node A has not heard of B's points until its own next flush: the overshoot of one interval.
      expect(await outcome(a)).toBe('OK');
      await stores[0].flush();
      expect(await rowPoints()).toBe(11);
      expect(await run(a, 3)).toEqual(Array(3).fill('RATE_LIMITED'));

      // A flush that fails (the database gone) closes the budget until one succeeds.
      const otherIp = { ip: '192.0.2.51' };
      expect(await b.check('request', otherIp)).toBeNull();
      expect(await b.check('request', otherIp)).toBeNull();
      await nodes[1].destroy();
      await stores[1].flush();
      await expect(b.check('request', otherIp)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await close();
    }
  }, 60_000);
});
