import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type TestNode } from '../helpers/test-node.js';

describe('document limits over WebSocket', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode();
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('refuses over graphql-ws what HTTP refuses: too deep, too many aliases, too costly', async () => {
    const patient = await signIn(test, 'PATIENT');
    const client = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${patient.client.token}` },
      retryAttempts: 0,
    });
    const outcome = (query: string, variables?: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        client.subscribe(
          { query, variables },
          {
            next: () => resolve('data'),
            error: (errors) => {
              const [first] = errors as { extensions?: { code?: string; reason?: string } }[];
              resolve(`${first?.extensions?.code}/${first?.extensions?.reason}`);
            },
            complete: () => resolve('complete'),
          },
        );
      });
    const ofTypes = 'ofType { '.repeat(20) + 'name' + ' }'.repeat(20);
    expect(await outcome(`{ __schema { types { fields { type { ${ofTypes} } } } } }`)).toBe(
      'GRAPHQL_VALIDATION_FAILED/TOO_DEEP',
    );
    const aliases = Array.from({ length: 21 }, (_, i) => `a${i}: me { address }`).join(' ');
    expect(await outcome(`{ ... on Query { ${aliases} } }`)).toBe(
      'GRAPHQL_VALIDATION_FAILED/TOO_MANY_ALIASES',
    );
    // A subscription whose every event would cost more than the limit: 300 spreads of a record's history.
    const spreads = ' ...H'.repeat(300);
    const costly =
      `subscription ($p: String!) { recordAdded(patient: $p) { ${spreads} } } ` +
      'fragment H on HealthRecord { history { version cid author createdAt authorVerified anchor { status txHash blockNumber } } }';
    expect(await outcome(costly, { p: patient.address })).toBe('GRAPHQL_VALIDATION_FAILED/QUERY_TOO_COSTLY');
    // Found by fuzzing: validation threw here and the socket closed with 4500 (HTTP answered 500).
    const skipped = `subscription ($x: Boolean!) { recordAdded(patient: "${patient.address}") @skip(if: $x) { id } }`;
    // Now a clean error on this operation (not a closed socket): the next operation is still served.
    expect(await outcome(skipped)).toBe('BAD_REQUEST/undefined');
    expect(await outcome(`{ me { address } }`)).toBe('data');
    await client.dispose();
  });
});
