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

  it('refuses over graphql-ws what HTTP refuses: too deep or too broad', async () => {
    const patient = await signIn(test, 'PATIENT');
    const client = createClient({
      url: test.node.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${patient.client.token}` },
      retryAttempts: 0,
    });
    const outcome = (query: string) =>
      new Promise<string>((resolve) => {
        client.subscribe(
          { query },
          {
            next: () => resolve('data'),
            error: (errors) => resolve(String((errors as { message?: string }[])[0]?.message ?? errors)),
            complete: () => resolve('complete'),
          },
        );
      });
    const ofTypes = 'ofType { '.repeat(20) + 'name' + ' }'.repeat(20);
    expect(await outcome(`{ __schema { types { fields { type { ${ofTypes} } } } } }`)).toMatch(
      /deeper than 15/,
    );
    const aliases = Array.from({ length: 21 }, (_, i) => `a${i}: me { address }`).join(' ');
    expect(await outcome(`{ ${aliases} }`)).toMatch(/too many fields/);
    // Found by fuzzing: validation threw here and the socket closed with 4500 (HTTP answered 500).
    const skipped = `subscription ($x: Boolean!) { recordAdded(patient: "${patient.address}") @skip(if: $x) { id } }`;
    expect(await outcome(skipped)).toMatch(/was not provided a runtime value/);
    expect(await outcome(`{ me { address } }`)).toBe('data');
    await client.dispose();
  });
});
