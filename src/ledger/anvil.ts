/**
 * The embedded chain's process: spawn, snapshots plus a journal of signed transactions (durable
 * across crashes), and salvage of an orphan left by a SIGKILL. Over 400 lines because those three
 * share one invariant (nothing acknowledged on chain is lost) and are easier to check together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { keccak256 } from 'ethers';
import { ServiceUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { fsyncDirectory, writeChunksDurably, writeFileDurably } from '../durable-file.js';
import { isProcessAlive } from '../process-alive.js';

/** Chain id of the embedded chain (anvil's default, and what wallets expect for a local node). */
export const EMBEDDED_CHAIN_ID = 31337n;

export interface StartAnvilParameters {
  /** Holds state.json (snapshot), journal.ndjson and anvil.pid. */
  stateDir: string;
  logger: Logger;
  /** Listen on this port (a restart reuses it); default: a free port from the OS. */
  port?: number;
  /** The longest a change to the chain waits for a snapshot; default 5 minutes. */
  snapshotIntervalMs?: number;
  /** A snapshot as soon as the journal holds this many transactions; default 256. */
  snapshotJournalEntries?: number;
  /** How long anvil may take to answer after spawn; default 20 s. */
  startTimeoutMs?: number;
}

/**
 * A periodic snapshot waits at least this many times the last one's duration after it. The dump is
 * anvil's whole state and history, so it grows with every anchor: at a fixed interval its cost (and
 * the memory its answer passes through) grew without bound under steady writes (`npm run bench:soak
 * -- --only writes`). The journal keeps every transaction durable in between; a later snapshot only
 * means more to replay after a crash. With 20, snapshots take at most about 5 % of the chain's time.
 */
const SNAPSHOT_PACING = 20;

/**
 * Snapshots are taken when the journal is long or old, not whenever the chain changed: each dump is
 * the whole chain (6 MB after 12 minutes of writes at 8/s), and at that rate one every ~2 s became
 * one every ~33 s. A journal of 256 transactions replays in under a second (a restart after SIGKILL
 * with 256 to replay took 813 ms, spawn included).
 */
const DEFAULT_SNAPSHOT_INTERVAL_MS = 300_000;
const DEFAULT_SNAPSHOT_JOURNAL_ENTRIES = 256;
/** How often the snapshot conditions are checked (no RPC unless one holds). */
const SNAPSHOT_CHECK_MS = 1000;

/** What one snapshot wrote. */
export interface SnapshotResult {
  blockNumber: number;
  bytes: number;
  durationMs: number;
}

/** A running anvil whose state survives restarts and crashes (snapshot + journal of signed txs). */
export interface AnvilProcess {
  readonly rpcUrl: string;
  readonly port: number;
  readonly pid: number;
  /** False once the child has exited, whether stopped or crashed. */
  readonly running: boolean;
  /** Durably records a raw signed tx; call BEFORE broadcasting it. Rejects once stopped. */
  journal(rawSignedTx: string, txHash: string): Promise<void>;
  /** Dumps the chain state durably and drops the journal entries it covers. */
  snapshot(): Promise<SnapshotResult>;
  /** Sets an account's balance (the embedded relayer pays gas from it) and snapshots. */
  fund(address: string, wei: bigint): Promise<void>;
  /** Snapshots (when alive), stops the child, removes the pid file. Safe to call twice. */
  stop(): Promise<void>;
}

interface JournalEntry {
  raw: string;
  hash: string;
}

/** state.json; format 1 (the dump as `state`) was written before the dump was streamed to disk. */
type SnapshotFile =
  | { format: 1; blockNumber: number; takenAt: string; /** Hex of gzipped JSON. */ state: string }
  | {
      format: 2;
      blockNumber: number;
      takenAt: string;
      /** anvil's whole JSON-RPC answer to anvil_dumpState, as it came: `result` is the dump. */
      dump: { result: string };
    };

const stateOf = (snapshot: SnapshotFile) => (snapshot.format === 1 ? snapshot.state : snapshot.dump.result);

const stateFileName = 'state.json';
const journalFileName = 'journal.ndjson';
const pidFileName = 'anvil.pid';
const require = createRequire(import.meta.url);

/**
 * Starts anvil on 127.0.0.1: stops an orphan left by a crashed node, loads the last snapshot, replays the
 * journal on top of it, then takes a fresh snapshot. anvil's own --state file is written without fsync,
 * which is why persistence is done here.
 */
export async function startAnvil(parameters: StartAnvilParameters): Promise<AnvilProcess> {
  const { stateDir, logger } = parameters;
  await mkdir(stateDir, { recursive: true });
  await stopOrphan(stateDir, logger);
  const port = parameters.port ?? (await freePort());
  const child = spawn(
    anvilBinary(),
    [
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--chain-id',
      String(EMBEDDED_CHAIN_ID),
      '--quiet',
      '--no-request-size-limit',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const anvil = new AnvilChild(child, port, stateDir, logger, {
    intervalMs: parameters.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS,
    journalEntries: parameters.snapshotJournalEntries ?? DEFAULT_SNAPSHOT_JOURNAL_ENTRIES,
  });
  try {
    await anvil.waitUntilReady(parameters.startTimeoutMs ?? 20_000);
    await writeFileDurably(path.join(stateDir, pidFileName), `${anvil.pid}\n${port}\n`);
    await anvil.restore();
  } catch (error) {
    await anvil.stop({ snapshot: false });
    throw error;
  }
  return anvil;
}

class AnvilChild implements AnvilProcess {
  readonly rpcUrl: string;
  readonly pid: number;
  private exited = false;
  private stopping = false;
  private closed = false;
  private readonly exit: Promise<void>;
  private stderrTail = '';
  private lock: Promise<unknown> = Promise.resolve();
  private entries: JournalEntry[] = [];
  private journalHandle: FileHandle | null = null;
  private dirty = false;
  private snapshotBlock = -1;
  /** No periodic snapshot before this time (see SNAPSHOT_PACING). */
  private nextSnapshotAt = 0;
  private lastSnapshotAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly stateDir: string,
    private readonly logger: Logger,
    private readonly snapshotPolicy: { intervalMs: number; journalEntries: number },
  ) {
    this.rpcUrl = `http://127.0.0.1:${port}`;
    this.pid = child.pid ?? -1;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000);
    });
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        if (this.timer) clearInterval(this.timer);
        if (!this.stopping) {
          logger.error('anvil exited unexpectedly', { pid: this.pid, code, signal, stderr: this.stderrTail });
        }
        resolve();
      });
      child.once('error', (error) => {
        logger.error('anvil failed to run', { error: error.message });
        this.exited = true;
        resolve();
      });
    });
  }

  get running(): boolean {
    return !this.exited;
  }

  private get statePath() {
    return path.join(this.stateDir, stateFileName);
  }

  private get journalPath() {
    return path.join(this.stateDir, journalFileName);
  }

  async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`anvil exited during start: ${this.stderrTail.trim() || 'no output'}`);
      try {
        await this.rpc('eth_chainId', [], 1000);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`anvil did not answer within ${timeoutMs} ms: ${error}`);
        await sleep(50);
      }
    }
  }

  /** Snapshot in, journal replayed, fresh snapshot out, periodic snapshots on. */
  async restore(): Promise<void> {
    const snapshot = await readJson<SnapshotFile>(this.statePath);
    if (snapshot) {
      await this.rpc('anvil_loadState', [stateOf(snapshot)], 120_000);
      this.logger.info('chain snapshot loaded', {
        blockNumber: snapshot.blockNumber,
        takenAt: snapshot.takenAt,
      });
    }
    const journaled = await readJournal(this.journalPath, this.logger);
    for (const entry of journaled) {
      try {
        await this.rpc('eth_sendRawTransaction', [entry.raw]);
      } catch (error) {
        // A journaled tx already in the snapshot is rejected as known or stale: that is the covered case.
        const message = String((error as Error).message);
        if (!/already known|already imported|nonce too low|nonce.*lower/i.test(message)) {
          this.logger.warn('journaled tx could not be replayed', { hash: entry.hash, error: message });
        }
      }
    }
    await this.waitForReceipts(journaled, 10_000);
    if (journaled.length > 0) this.logger.info('chain journal replayed', { transactions: journaled.length });
    // Every replayed tx is now either mined (the snapshot covers it) or impossible; start a clean journal.
    this.entries = journaled;
    await this.snapshot({ keepInFlight: false });
    const check = Math.min(this.snapshotPolicy.intervalMs, SNAPSHOT_CHECK_MS);
    this.timer = setInterval(() => void this.periodicSnapshot(), check);
    this.timer.unref();
  }

  /** Automine mines each tx as it arrives, but the snapshot after replay must not race it. */
  private async waitForReceipts(entries: JournalEntry[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const entry of entries) {
      while (!(await this.rpc('eth_getTransactionReceipt', [entry.hash]))) {
        if (Date.now() > deadline || !(await this.rpc('eth_getTransactionByHash', [entry.hash]))) break;
        await sleep(20);
      }
    }
  }

  journal(rawSignedTx: string, txHash: string): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed || this.exited) throw new ServiceUnavailableError('Embedded chain is stopped');
      if (!this.journalHandle) {
        this.journalHandle = await open(this.journalPath, 'a', 0o600);
        await fsyncDirectory(this.stateDir);
      }
      await this.journalHandle.appendFile(JSON.stringify({ raw: rawSignedTx }) + '\n');
      await this.journalHandle.datasync();
      this.entries.push({ raw: rawSignedTx, hash: txHash });
      this.dirty = true;
    });
  }

  snapshot(options: { keepInFlight?: boolean } = {}): Promise<SnapshotResult> {
    const keepInFlight = options.keepInFlight ?? true;
    return this.exclusive(async () => {
      if (this.exited) throw new ServiceUnavailableError('Embedded chain is not running');
      const started = Date.now();
      // Entries mined before the dump are in it; the rest may still be on their way to the node.
      const covered = new Set<JournalEntry>();
      for (const entry of this.entries) {
        if (!keepInFlight || (await this.rpc('eth_getTransactionReceipt', [entry.hash]))) covered.add(entry);
      }
      const blockNumber = Number(await this.rpc('eth_blockNumber', []));
      const bytes = await dumpStateInChild(this.rpcUrl, this.statePath, blockNumber, 120_000);
      const remaining = this.entries.filter((entry) => !covered.has(entry));
      await this.rewriteJournal(remaining);
      this.entries = remaining;
      this.dirty = remaining.length > 0;
      this.snapshotBlock = blockNumber;
      const result = { blockNumber, bytes, durationMs: Date.now() - started };
      this.lastSnapshotAt = Date.now();
      this.nextSnapshotAt = this.lastSnapshotAt + SNAPSHOT_PACING * result.durationMs;
      this.logger.debug('chain snapshot written', { ...result });
      return result;
    });
  }

  async fund(address: string, wei: bigint): Promise<void> {
    await this.rpc('anvil_setBalance', [address, `0x${wei.toString(16)}`]);
    this.dirty = true;
    await this.snapshot();
  }

  async stop(options: { snapshot?: boolean } = {}): Promise<void> {
    if (this.stopping) return this.exit;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    if (options.snapshot !== false && !this.exited) {
      try {
        const result = await this.snapshot();
        this.logger.info('chain snapshot taken at stop', { ...result });
      } catch (error) {
        this.logger.warn('chain snapshot at stop failed; the journal still covers it', { error: `${error}` });
      }
    }
    await this.exclusive(async () => {
      this.closed = true;
      await this.journalHandle?.close();
      this.journalHandle = null;
    });
    if (!this.exited) {
      this.child.kill('SIGTERM');
      if (!(await settlesWithin(this.exit, 5000))) this.child.kill('SIGKILL');
    }
    await this.exit;
    await removePidFile(this.stateDir, this.pid);
  }

  private async periodicSnapshot(): Promise<void> {
    if (this.stopping || this.exited || Date.now() < this.nextSnapshotAt) return;
    const { intervalMs, journalEntries } = this.snapshotPolicy;
    const long = this.entries.length >= journalEntries;
    if (!long && Date.now() - this.lastSnapshotAt < intervalMs) return;
    try {
      const head = Number(await this.rpc('eth_blockNumber', []));
      if (this.dirty || head !== this.snapshotBlock) await this.snapshot();
    } catch (error) {
      if (!this.stopping && !this.exited)
        this.logger.warn('periodic chain snapshot failed', { error: `${error}` });
    }
  }

  private async rewriteJournal(entries: JournalEntry[]): Promise<void> {
    await this.journalHandle?.close();
    this.journalHandle = null;
    await writeFileDurably(
      this.journalPath,
      entries.map((e) => JSON.stringify({ raw: e.raw }) + '\n').join(''),
    );
  }

  /** Journal appends and snapshots never interleave: a snapshot must not drop an entry it did not cover. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private rpc(method: string, params: unknown[], timeoutMs = 10_000): Promise<unknown> {
    return jsonRpc(this.rpcUrl, method, params, timeoutMs);
  }
}

/**
 * anvil_dumpState streamed from anvil's answer into `file` (as SnapshotFile format 2), never whole in
 * memory: the dump is the entire chain state and grows with every anchor, and pulling it in as one
 * answer, one string and one file text every snapshot grew the node's malloc heap with it (soak).
 * Anything but a result (an RPC error, a cut-off answer) throws and leaves the old snapshot in place.
 * @returns the bytes written
 */
export async function dumpStateDurably(url: string, file: string, blockNumber: number, timeoutMs: number) {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_dumpState', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new ServiceUnavailableError(
      `anvil at ${url} unreachable (anvil_dumpState): ${(error as Error).message}`,
    );
  }
  if (!response.ok || !response.body) throw new Error(`anvil_dumpState: HTTP ${response.status}`);
  return writeChunksDurably(file, snapshotFileChunks(blockNumber, response.body));
}

/**
 * The built script of state-dump-process.ts, or null when this module runs from source (ts-jest):
 * looked for once, since the built tree does not change while the node runs.
 */
const stateDumpScript: string | null = (() => {
  const script = path.join(import.meta.dirname, 'state-dump-process.js');
  return existsSync(script) ? script : null;
})();

/**
 * {@link dumpStateDurably} in a short-lived node process. Streaming a dump still costs about three
 * times its size at the peak (a 6 MB dump raised a process's RSS by 15–20 MB), and glibc keeps that
 * peak, so in the node memory grew with the chain's history: +2.3 MB/min over a 14-minute writes
 * soak, against +0.16 MB/min after warm-up with the dump in a child. From source (ts-jest), with no
 * built script, it runs in this process.
 */
async function dumpStateInChild(url: string, file: string, blockNumber: number, timeoutMs: number) {
  if (stateDumpScript === null) return dumpStateDurably(url, file, blockNumber, timeoutMs);
  const args = [stateDumpScript, url, file, String(blockNumber), String(timeoutMs)];
  // The child times its own request out; the kill is for a child that hangs anyway (it holds the
  // journal's lock meanwhile).
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs + 10_000,
    killSignal: 'SIGKILL',
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-2000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new ServiceUnavailableError(`chain snapshot failed: ${err.trim() || `exit ${code}`}`);
  return (JSON.parse(out) as { bytes: number }).bytes;
}

/**
 * state.json (format 2) around anvil's answer, each piece passed on as it arrives; checks on the way
 * that the answer is a hex string result, and throws at the end when it is not.
 */
export async function* snapshotFileChunks(
  blockNumber: number,
  answer: AsyncIterable<Uint8Array>,
): AsyncGenerator<string | Uint8Array> {
  yield `{"format":2,"blockNumber":${blockNumber},"takenAt":"${new Date().toISOString()}","dump":`;
  const decoder = new TextDecoder();
  let head = '';
  let tail = '';
  for await (const chunk of answer) {
    if (head.length < 64) head += decoder.decode(chunk.subarray(0, 64));
    tail = (tail + decoder.decode(chunk.subarray(-2))).slice(-2);
    yield chunk;
  }
  // anvil answers {"jsonrpc":"2.0","id":1,"result":"0x…"}; an error answer has no "result".
  if (!/^\{"jsonrpc":"2\.0","id":1,"result":"0x[0-9a-f]/.test(head) || tail !== '"}') {
    throw new Error(`anvil_dumpState: not a state dump (${head.slice(0, 60)}…)`);
  }
  yield '}';
}

async function jsonRpc(url: string, method: string, params: unknown[], timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new ServiceUnavailableError(`anvil at ${url} unreachable (${method}): ${(error as Error).message}`);
  }
  const body = (await response.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message ?? 'RPC error'}`);
  return body.result;
}

/**
 * A node killed with SIGKILL leaves its anvil running with state newer than our snapshot: salvage that
 * state when it still answers, then stop it so the new node starts from one consistent history.
 */
async function stopOrphan(stateDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(stateDir, pidFileName);
  const text = await readFile(pidFile, 'utf8').catch(() => null);
  if (text === null) return;
  const [pid, port] = text.split('\n').map((s) => Number.parseInt(s, 10));
  if (!Number.isInteger(pid) || pid <= 1 || !isProcessAlive(pid) || !(await isAnvil(pid))) {
    await rm(pidFile, { force: true });
    return;
  }
  logger.warn('stopping orphaned anvil from an earlier run', { pid, port });
  if (Number.isInteger(port)) {
    try {
      const url = `http://127.0.0.1:${port}`;
      const blockNumber = Number(await jsonRpc(url, 'eth_blockNumber', [], 2000));
      await dumpStateDurably(url, path.join(stateDir, stateFileName), blockNumber, 10_000);
      logger.info('salvaged state from the orphaned anvil', { blockNumber });
    } catch (error) {
      logger.warn('orphaned anvil did not answer; using the snapshot and journal', { error: `${error}` });
    }
  }
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 5000 && isProcessAlive(pid); waited += 50) await sleep(50);
  if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  for (let waited = 0; waited < 5000 && isProcessAlive(pid); waited += 50) await sleep(50);
  await rm(pidFile, { force: true });
}

/** Only kill what is really anvil: the pid may have been reused since the file was written. */
async function isAnvil(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (cmdline === null) return false; // no /proc (not Linux) or already gone: never kill blind
  const argv = cmdline.split('\0');
  if (argv.some((arg) => arg.includes('<defunct>'))) return false;
  return path.basename(argv[0] ?? '') === 'anvil' || argv.some((arg) => arg.includes('@foundry-rs/anvil'));
}

async function removePidFile(stateDir: string, pid: number): Promise<void> {
  const pidFile = path.join(stateDir, pidFileName);
  const text = await readFile(pidFile, 'utf8').catch(() => null);
  if (text !== null && Number.parseInt(text, 10) === pid) await rm(pidFile, { force: true });
}

/**
 * Path of the anvil executable: the platform binary itself, so the pid we hold is anvil's
 * (the npm wrapper would put a node process in between).
 */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil';
  try {
    return require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/${exe}`);
  } catch {
    const wrapper = require.resolve('@foundry-rs/anvil/package.json');
    return path.join(path.dirname(wrapper), '..', '..', '.bin', 'anvil');
  }
}

async function readJournal(file: string, logger: Logger): Promise<JournalEntry[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const entries: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const { raw } = JSON.parse(line) as { raw: string };
      entries.push({ raw, hash: keccak256(raw) });
    } catch {
      // Only the last line can be torn (a crash mid-append); its tx was never broadcast.
      logger.warn('skipping a torn chain journal line', { line: line.slice(0, 80) });
    }
  }
  return entries;
}

async function readJson<T>(file: string): Promise<T | null> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  return text === null ? null : (JSON.parse(text) as T);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
