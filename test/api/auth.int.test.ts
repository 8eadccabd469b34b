import { Wallet } from 'ethers';
import { OmnichartClient, login, newIdentity, register } from '../../examples/client.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { MAX_OPEN_CHALLENGES } from '../../src/auth/login-service.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

const CHALLENGE = `mutation ($address: String!) { loginChallenge(address: $address) { message nonce expiresAt } }`;
const LOGIN = `mutation ($message: String!, $signature: String!) { login(message: $message, signature: $signature) { token } }`;
const ME = `{ me { address role displayName boxPublicKey keyAnchorTx } }`;

type Me = {
  me: {
    address: string;
    role: string;
    displayName: string;
    boxPublicKey: string;
    keyAnchorTx: string;
  } | null;
};

describe('accounts and Sign-In with Ethereum', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode({ auth: { challengeTtlSeconds: 2 } });
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('registers an account, anchors its box key on chain and logs in', async () => {
    const identity = newIdentity();
    const client = test.client();
    expect((await client.request<Me>(ME)).me).toBeNull();
    await register(client, identity, 'PATIENT', 'Ada Patient');
    await login(client, identity);
    const { me } = await client.request<Me>(ME);
    expect(me).toMatchObject({
      address: identity.wallet.address,
      role: 'PATIENT',
      displayName: 'Ada Patient',
    });
    expect(me!.boxPublicKey).toBe(Buffer.from(identity.boxKeyPair.publicKey).toString('base64'));
    const onChain = await test.node.ledger.accountKey(identity.wallet.address);
    expect(Buffer.from(onChain!).equals(Buffer.from(identity.boxKeyPair.publicKey))).toBe(true);
  });

  it('the registration text names the chain and contract the signature is for', async () => {
    const identity = newIdentity();
    const input = {
      address: identity.wallet.address,
      role: 'PRACTITIONER',
      displayName: 'Dr. Who',
      boxPublicKey: Buffer.from(identity.boxKeyPair.publicKey).toString('base64'),
      issuedAt: '2026-01-02T03:04:05.000Z',
    };
    const { registrationMessage } = await test
      .client()
      .request<{ registrationMessage: string }>(
        `query ($input: RegistrationInput!) { registrationMessage(input: $input) }`,
        {
          input,
        },
      );
    expect(registrationMessage.split('\n')).toEqual([
      'Omnichart account registration',
      '',
      `Address: ${identity.wallet.address}`,
      'Role: PRACTITIONER',
      'Display name: Dr. Who',
      `Box public key (X25519, base64): ${input.boxPublicKey}`,
      'Chain ID: 31337',
      `Contract: ${test.node.ledger.contractAddress}`,
      'Issued at: 2026-01-02T03:04:05.000Z',
    ]);
  });

  it('refuses a registration signed by another key, and one issued long ago', async () => {
    const identity = newIdentity();
    const client = test.client();
    const input = {
      address: identity.wallet.address,
      role: 'PATIENT',
      displayName: 'Mallory',
      boxPublicKey: Buffer.from(identity.boxKeyPair.publicKey).toString('base64'),
      issuedAt: new Date().toISOString(),
    };
    const { registrationMessage } = await client.request<{ registrationMessage: string }>(
      `query ($input: RegistrationInput!) { registrationMessage(input: $input) }`,
      { input },
    );
    const REGISTER = `mutation ($input: RegistrationInput!, $signature: String!) { registerAccount(input: $input, signature: $signature) { address } }`;
    const forged = await Wallet.createRandom().signMessage(registrationMessage);
    expect((await client.send(REGISTER, { input, signature: forged })).errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    const old = { ...input, issuedAt: '2020-01-01T00:00:00.000Z' };
    const oldMessage = (
      await client.request<{ registrationMessage: string }>(
        `query ($input: RegistrationInput!) { registrationMessage(input: $input) }`,
        { input: old },
      )
    ).registrationMessage;
    const oldSignature = await identity.wallet.signMessage(oldMessage);
    expect(
      (await client.send(REGISTER, { input: old, signature: oldSignature })).errors?.[0]?.extensions?.code,
    ).toBe('BAD_USER_INPUT');
    expect((await client.send(REGISTER, { input, signature: '0x1234' })).errors?.[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
    expect(await test.node.services.accounts.find(identity.wallet.address.toLowerCase())).toBeNull();
  });

  it('refuses ADMIN self-registration unless configured', async () => {
    const identity = newIdentity();
    await expect(register(test.client(), identity, 'ADMIN', 'Eve')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('rejects a bad login signature, a replayed challenge and an expired one', async () => {
    const identity = newIdentity();
    const client = test.client();
    await register(client, identity, 'PATIENT', 'Bob');
    const challenge = async () =>
      (
        await client.request<{ loginChallenge: { message: string } }>(CHALLENGE, {
          address: identity.wallet.address,
        })
      ).loginChallenge.message;

    const first = await challenge();
    const wrongSigner = await Wallet.createRandom().signMessage(first);
    expect(
      (await client.send(LOGIN, { message: first, signature: wrongSigner })).errors?.[0]?.extensions?.code,
    ).toBe('UNAUTHENTICATED');
    const tampered = first.replace('Sign in to Omnichart.', 'Sign in to Omnichart!');
    const tamperedSignature = await identity.wallet.signMessage(tampered);
    expect(
      (await client.send(LOGIN, { message: tampered, signature: tamperedSignature })).errors?.[0]?.extensions
        ?.code,
    ).toBe('UNAUTHENTICATED');

    const signature = await identity.wallet.signMessage(first);
    const ok = await client.send<{ login: { token: string } }>(LOGIN, { message: first, signature });
    expect(ok.data?.login.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const replay = await client.send(LOGIN, { message: first, signature });
    expect(replay.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect(replay.errors?.[0]?.message).toMatch(/already used/);

    const late = await challenge();
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const expired = await client.send(LOGIN, {
      message: late,
      signature: await identity.wallet.signMessage(late),
    });
    expect(expired.errors?.[0]?.message).toMatch(/expired/);
    expect(expired.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    expect((await client.send(LOGIN, { message: 'hello', signature })).errors?.[0]?.extensions?.code).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('keeps login challenges bounded: five open per address, expired ones swept after an hour', async () => {
    const identity = newIdentity();
    const client = test.client();
    await register(client, identity, 'PATIENT', 'Carol');
    const address = identity.wallet.address;
    const messages: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { loginChallenge } = await client.request<{ loginChallenge: { message: string } }>(CHALLENGE, {
        address,
      });
      messages.push(loginChallenge.message);
    }
    const open = async () =>
      Number(
        (
          await test.node.database.dataSource.query(
            'SELECT count(*) AS n FROM login_challenge WHERE address = $1',
            [address.toLowerCase()],
          )
        )[0].n,
      );
    expect(await open()).toBe(MAX_OPEN_CHALLENGES);
    // The oldest were dropped; the newest still log in.
    const dropped = await client.send(LOGIN, {
      message: messages[0],
      signature: await identity.wallet.signMessage(messages[0]),
    });
    expect(dropped.errors?.[0]?.message).toMatch(/unknown login challenge/);
    const newest = await client.send<{ login: { token: string } }>(LOGIN, {
      message: messages[7],
      signature: await identity.wallet.signMessage(messages[7]),
    });
    expect(newest.data?.login.token).toBeDefined();

    // Expired for over an hour: swept; expired more recently: kept, so a late login still hears "expired".
    await test.node.database.dataSource.query(
      `UPDATE login_challenge SET expires_at = now() - interval '61 minutes' WHERE address = $1
         AND nonce IN (SELECT nonce FROM login_challenge WHERE address = $1 ORDER BY created_at LIMIT 2)`,
      [address.toLowerCase()],
    );
    await test.node.database.dataSource.query(
      `UPDATE login_challenge SET expires_at = now() - interval '59 minutes' WHERE address = $1
         AND expires_at > now()`,
      [address.toLowerCase()],
    );
    expect(await test.node.services.logins.sweepExpiredChallenges()).toBeGreaterThanOrEqual(2);
    expect(await open()).toBe(MAX_OPEN_CHALLENGES - 2);
  });

  it('revokes a session on logout and rejects unknown tokens', async () => {
    const identity = newIdentity();
    const client = test.client();
    await register(client, identity, 'PATIENT', 'Carol');
    await login(client, identity);
    expect((await client.request<Me>(ME)).me?.address).toBe(identity.wallet.address);
    expect(await client.request(`mutation { logout }`)).toEqual({ logout: true });
    expect((await client.send(ME)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const stranger = new OmnichartClient(test.node.url);
    stranger.token = 'A'.repeat(43);
    expect((await stranger.send(ME)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
