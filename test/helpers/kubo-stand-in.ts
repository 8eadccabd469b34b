import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importBytes, type ImporterOptions } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced, trickle } from 'ipfs-unixfs-importer/layout';
import type { CID } from 'multiformats/cid';

/** One `add` call as the stand-in received it. */
export interface AddCall {
  params: URLSearchParams;
  authorization: string | undefined;
  cids: string[];
}

/**
 * A stand-in for Kubo's RPC API, speaking only `POST /api/v0/add` as Kubo does (multipart body,
 * NDJSON answer, Kubo's defaults for absent parameters: CIDv0, `size-262144`, raw leaves only with
 * CIDv1, balanced layout), because Kubo itself cannot run on these machines. It computes each CID
 * itself from the parameters it was sent, so a client that sends other settings gets another CID.
 */
export class KuboStandIn {
  /** Pinned objects by CID. */
  readonly pinned = new Map<string, Uint8Array>();
  readonly calls: AddCall[] = [];
  /** While set, every call answers 500 with Kubo's error shape. */
  failing = false;
  /** When set, `add` answers this CID whatever it computed (a misconfigured deployment). */
  answerWith?: string;
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(
        ({ status, body }) => {
          response.writeHead(status, {
            'content-type': status === 200 ? 'application/x-ndjson' : 'application/json',
          });
          response.end(body);
        },
        (error: Error) => {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ Message: error.message, Code: 0, Type: 'error' }));
        },
      );
    });
    // Node closes idle keep-alive sockets after 5 s, racing a client that reuses one (ECONNRESET);
    // Kubo's Go server keeps them far longer.
    this.server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(request: IncomingMessage): Promise<{ status: number; body: string }> {
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method !== 'POST' || url.pathname !== '/api/v0/add') {
      return { status: 404, body: JSON.stringify({ Message: '404 page not found', Code: 0, Type: 'error' }) };
    }
    if (this.failing) {
      return {
        status: 500,
        body: JSON.stringify({ Message: 'stand-in is failing', Code: 0, Type: 'error' }),
      };
    }
    // undici parses multipart bodies the way any HTTP server would.
    const form = await new Response(Buffer.concat(chunks), {
      headers: { 'content-type': request.headers['content-type'] ?? '' },
    }).formData();
    const options = importerOptions(url.searchParams);
    const lines: string[] = [];
    const cids: string[] = [];
    for (const [, value] of form.entries()) {
      if (typeof value === 'string') continue;
      const bytes = new Uint8Array(await value.arrayBuffer());
      const discard = { put: async (cid: CID) => cid };
      const computed = (await importBytes(bytes, discard, options)).cid.toString();
      const cid = this.answerWith ?? computed;
      if (url.searchParams.get('pin') !== 'false') this.pinned.set(cid, bytes);
      cids.push(cid);
      lines.push(JSON.stringify({ Name: cid, Hash: cid, Size: String(bytes.byteLength) }));
    }
    this.calls.push({ params: url.searchParams, authorization: request.headers.authorization, cids });
    return { status: 200, body: lines.map((line) => `${line}\n`).join('') };
  }
}

function importerOptions(params: URLSearchParams): ImporterOptions {
  const cidVersion = params.get('cid-version') === '1' ? 1 : 0;
  const chunker = /^size-(\d+)$/.exec(params.get('chunker') ?? 'size-262144');
  if (!chunker) throw new Error(`unsupported chunker ${params.get('chunker')}`);
  const rawLeaves = params.has('raw-leaves') ? params.get('raw-leaves') === 'true' : cidVersion === 1;
  return {
    cidVersion,
    rawLeaves,
    chunker: fixedSize({ chunkSize: Number(chunker[1]) }),
    layout: params.get('trickle') === 'true' ? trickle() : balanced({ maxChildrenPerNode: 174 }),
  };
}
