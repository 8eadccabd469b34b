/**
 * The floor of the HTTP benchmark: `graphql-http` on plain `node:http` answering `{ hello }`, the least
 * a GraphQL-over-HTTP server can do per request on this machine. Prints its URL as a JSON line.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { createHandler } from 'graphql-http/lib/use/http';

const schema = buildSchema('type Query { hello: String }');
const handler = createHandler({ schema, rootValue: { hello: () => 'world' } });
const server = http.createServer((req, res) => void handler(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/graphql` }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
