import { serverAudits } from 'graphql-http';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { startTestNode, type TestNode } from '../helpers/test-node.js';

describe('graphql-http server audit suite (GraphQL over HTTP spec)', () => {
  let test: TestNode;

  beforeAll(async () => {
    test = await startTestNode();
  });

  afterAll(async () => {
    await test?.close();
    await stopTestDatabaseServer();
  });

  it('passes every MUST and SHOULD audit', async () => {
    const results = await Promise.all(
      serverAudits({ url: test.node.url }).map(async (audit) => ({
        ...(await audit.fn()),
        name: audit.name,
      })),
    );
    const failures = results
      .filter((r) => r.status !== 'ok')
      .map((r) => `${r.status}: ${r.name} — ${r.reason}`);
    expect(failures).toEqual([]);
    expect(results.length).toBeGreaterThan(40);
  });
});
