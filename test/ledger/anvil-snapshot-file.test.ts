import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeChunksDurably } from '../../src/durable-file.js';
import { snapshotFileChunks } from '../../src/ledger/anvil.js';

const encoder = new TextEncoder();

/** anvil's answer to anvil_dumpState, in pieces, noting how many pieces were pulled so far. */
function answer(pieces: string[], pulled: { count: number }): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (const piece of pieces) {
      pulled.count += 1;
      yield encoder.encode(piece);
    }
  })();
}

async function collect(chunks: AsyncIterable<string | Uint8Array>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return text;
}

describe('chain snapshot file (state.json format 2)', () => {
  // A dump as anvil sends it: hex of gzip (1f8b...), here cut into 64 KiB-ish pieces.
  const hex = '0x1f8b08' + 'ab'.repeat(200_000);
  const body = `{"jsonrpc":"2.0","id":1,"result":"${hex}"}`;
  const pieces = Array.from({ length: Math.ceil(body.length / 65_536) }, (_, i) =>
    body.slice(i * 65_536, (i + 1) * 65_536),
  );

  it('wraps the answer with the block number, and the dump reads back as the result', async () => {
    const text = await collect(snapshotFileChunks(42, answer(pieces, { count: 0 })));
    const file = JSON.parse(text) as { format: number; blockNumber: number; dump: { result: string } };
    expect(file.format).toBe(2);
    expect(file.blockNumber).toBe(42);
    expect(file.dump.result).toBe(hex);
  });

  it('passes each piece on before pulling the next (the dump is never whole in memory)', async () => {
    const pulled = { count: 0 };
    const iterator = snapshotFileChunks(1, answer(pieces, pulled))[Symbol.asyncIterator]();
    await iterator.next(); // the header
    for (let i = 1; i <= pieces.length; i += 1) {
      const { value } = await iterator.next();
      expect(pulled.count).toBe(i);
      expect(Buffer.from(value as Uint8Array).toString()).toBe(pieces[i - 1]);
    }
    expect((await iterator.next()).value).toBe('}');
    expect(pieces.length).toBeGreaterThan(5);
  });

  it.each([
    ['an RPC error', '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}'],
    ['a cut-off answer', body.slice(0, 100_000)],
    ['a non-hex result', '{"jsonrpc":"2.0","id":1,"result":"zz"}'],
  ])('refuses %s and leaves the previous snapshot in place', async (_, bad) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-snapshot-file-'));
    try {
      const file = path.join(dir, 'state.json');
      await writeFile(file, 'previous');
      await expect(
        writeChunksDurably(file, snapshotFileChunks(7, answer([bad], { count: 0 }))),
      ).rejects.toThrow(/not a state dump/);
      expect(await readFile(file, 'utf8')).toBe('previous');
      expect(await readdir(dir)).toEqual(['state.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
