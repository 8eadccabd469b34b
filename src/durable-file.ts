import { randomBytes } from 'node:crypto';
import { access, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces `file` with `data` so that a crash leaves either the old or the new content, never a torn
 * file: write a unique temp file, fsync it, rename it over the target, fsync the directory (the rename).
 */
export async function writeFileDurably(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await writeChunksDurably(file, [data], mode);
}

/**
 * writeFileDurably for content that arrives in pieces: each chunk is written as it comes, so the
 * whole never sits in memory. A chunk source that throws leaves the old file in place.
 * @returns the bytes written
 */
export async function writeChunksDurably(
  file: string,
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  mode = 0o600,
): Promise<number> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', mode);
  let bytes = 0;
  try {
    // writeFile on an open handle writes the whole chunk at the current position (write() may not).
    for await (const chunk of chunks) {
      await handle.writeFile(chunk);
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(tmp, file);
  await fsyncDirectory(path.dirname(file));
  return bytes;
}

/** Makes a rename or a new file in `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function pathExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
