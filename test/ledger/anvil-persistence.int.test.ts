import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Wallet, parseEther } from 'ethers';
import { anvilBinary, dumpStateDurably, startAnvil } from '../../src/ledger/anvil.js';
import {
  openEmbeddedLedger,
  type EmbeddedLedger,
  type OpenEmbeddedLedgerParameters,
} from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import {
  cidOf,
  freePort,
  localProvider,
  randomAddress,
  randomKey,
  tempDir,
  waitFor,
  waitForRpc,
} from './helpers.js';

const journalLines = async (dataDir: string) =>
  (await readFile(path.join(dataDir, 'chain', 'journal.ndjson'), 'utf8')).split('\n').filter(Boolean).length;

/**
 * Waits (up to 5 s) for a snapshot that covers `blockNumber` with an empty journal; answers the
 * snapshot's block and the journal's length as they are then. A snapshot racing a send keeps the
 * entry as in flight; the next one drops it.
 */
async function snapshotAfter(
  dataDir: string,
  blockNumber: number,
): Promise<{ block: number; journal: number }> {
  const now = async () => ({
    block: JSON.parse(await readFile(path.join(dataDir, 'chain', 'state.json'), 'utf8'))
      .blockNumber as number,
    journal: await journalLines(dataDir),
  });
  const deadline = Date.now() + 5000;
  let seen = await now();
  while ((seen.block < blockNumber || seen.journal > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    seen = await now();
  }
  return seen;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('embedded chain persistence', () => {
  let remove: () => Promise<void>;
  let dataDir: string;
  const open: EmbeddedLedger[] = [];
  /** Long interval by default: these tests decide when snapshots happen. */
  const openLedger = async (
    snapshots: Pick<OpenEmbeddedLedgerParameters, 'snapshotIntervalMs' | 'snapshotJournalEntries'> = {},
  ) => {
    const ledger = await openEmbeddedLedger({
      dataDir,
      relayerKey,
      logger: silentLogger,
      snapshotIntervalMs: 600_000,
      ...snapshots,
    });
    open.push(ledger);
    return ledger;
  };
  const relayerKey = randomKey();

  beforeEach(async () => {
    ({ dir: dataDir, remove } = await tempDir('chain'));
  });

  afterEach(async () => {
    for (const ledger of open.splice(0)) await ledger.close();
    await remove();
  });

  it('keeps the contract, keys and past events across a clean stop and start', async () => {
    const first = await openLedger();
    const patient = randomAddress();
    const item = { patient, recordId: randomUUID(), version: 3, cid: await cidOf('kept') };
    const tx = await first.anchorRecords([item]);
    const key = new Uint8Array(32).fill(9);
    const keyTx = await first.registerNodeKey(key);
    const snapshot = await first.chain.anvil.snapshot();
    console.log(
      `snapshot: ${snapshot.bytes} bytes at block ${snapshot.blockNumber} in ${snapshot.durationMs} ms`,
    );
    expect(snapshot.blockNumber).toBe(keyTx.blockNumber);
    const started = Date.now();
    await first.close();
    console.log(`stop with snapshot took ${Date.now() - started} ms`);
    expect(await journalLines(dataDir)).toBe(0);
    expect((await stat(path.join(dataDir, 'chain', 'state.json'))).size).toBeGreaterThan(0);
    await expect(stat(path.join(dataDir, 'chain', 'anvil.pid'))).rejects.toThrow();

    const second = await openLedger();
    expect(second.contractAddress).toBe(first.contractAddress);
    const anchors = await second.anchorsForPatient(patient);
    expect(anchors).toHaveLength(1);
    expect(anchors[0]).toMatchObject({
      recordId: item.recordId,
      version: 3,
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
    });
    expect(await second.accountKey(second.relayerAddress)).toEqual(key);
    // The relayer nonce continues where it stopped.
    await expect(second.anchorRecords([{ ...item, version: 4 }])).resolves.toBeDefined();
  });

  it('restores a snapshot written before the dump was streamed (state.json format 1)', async () => {
    const first = await openLedger();
    const patient = randomAddress();
    const item = { patient, recordId: randomUUID(), version: 1, cid: await cidOf('format 1') };
    const tx = await first.anchorRecords([item]);
    await first.close();
    const statePath = path.join(dataDir, 'chain', 'state.json');
    const streamed = JSON.parse(await readFile(statePath, 'utf8')) as {
      format: number;
      blockNumber: number;
      takenAt: string;
      dump: { result: string };
    };
    expect(streamed.format).toBe(2);
    expect(streamed.blockNumber).toBeGreaterThanOrEqual(tx.blockNumber);
    // What the node wrote before: the dump as a string field.
    const { blockNumber, takenAt } = streamed;
    await writeFile(
      statePath,
      JSON.stringify({ format: 1, blockNumber, takenAt, state: streamed.dump.result }),
    );

    const second = await openLedger();
    expect(await second.anchorsForPatient(patient)).toMatchObject([
      { recordId: item.recordId, txHash: tx.txHash },
    ]);
  });

  it('snapshots periodically once the chain changed, emptying the journal', async () => {
    const ledger = await openLedger({ snapshotIntervalMs: 100 });
    const tx = await ledger.anchorRecords([
      { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf('periodic') },
    ]);
    expect(await snapshotAfter(dataDir, tx.blockNumber)).toEqual({ block: tx.blockNumber, journal: 0 });
  });

  it('snapshots as soon as the journal is long, however long the interval', async () => {
    const ledger = await openLedger({ snapshotJournalEntries: 4 });
    const anchor = async (n: number) =>
      ledger.anchorRecords([
        { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf(`long-${n}`) },
      ]);
    // The deployment is journaled; two anchors make three entries, under the threshold.
    await anchor(1);
    await anchor(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await journalLines(dataDir)).toBe(3);
    const fourth = await anchor(3);
    expect(await snapshotAfter(dataDir, fourth.blockNumber)).toEqual({
      block: fourth.blockNumber,
      journal: 0,
    });
  });

  it('takes a snapshot in a child process of the built code, as it would in this one', async () => {
    // npm test builds first; the node runs this script for every snapshot (see dumpStateInChild).
    const script = path.join(
      import.meta.dirname,
      '..',
      '..',
      'dist',
      'src',
      'ledger',
      'state-dump-process.js',
    );
    const ledger = await openLedger();
    const tx = await ledger.anchorRecords([
      { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf('child') },
    ]);
    const { rpcUrl } = ledger.chain.anvil;
    const inChild = path.join(dataDir, 'child.json');
    const inHere = path.join(dataDir, 'here.json');
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [
      script,
      rpcUrl,
      inChild,
      String(tx.blockNumber),
      '10000',
    ]);
    const bytes = await dumpStateDurably(rpcUrl, inHere, tx.blockNumber, 10_000);
    expect(JSON.parse(stdout)).toEqual({ bytes: (await stat(inChild)).size });
    const [child, here] = [
      JSON.parse(await readFile(inChild, 'utf8')),
      JSON.parse(await readFile(inHere, 'utf8')),
    ];
    expect((await stat(inHere)).size).toBe(bytes);
    expect({ ...child, takenAt: null }).toEqual({ ...here, takenAt: null });
    expect(child.blockNumber).toBe(tx.blockNumber);
    // A chain that does not answer: exit 1 with the reason, and no file.
    const refused = run(process.execPath, [
      script,
      'http://127.0.0.1:9',
      path.join(dataDir, 'no.json'),
      '1',
      '2000',
    ]);
    await expect(refused).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/unreachable/) });
    await expect(stat(path.join(dataDir, 'no.json'))).rejects.toThrow(/ENOENT/);
  });

  it('replays journaled transactions after anvil is killed without a snapshot', async () => {
    const ledger = await openLedger();
    const patient = randomAddress();
    const item = { patient, recordId: randomUUID(), version: 1, cid: await cidOf('journaled') };
    const tx = await ledger.anchorRecords([item]);
    // Deployment and anchor are journaled: no snapshot covered them yet.
    expect(await journalLines(dataDir)).toBe(2);

    const anvil = ledger.chain.anvil;
    process.kill(anvil.pid, 'SIGKILL');
    await waitFor(() => !anvil.running);
    expect(await ledger.isReachable()).toBe(false);

    await ledger.chain.restart();
    expect(ledger.chain.anvil.pid).not.toBe(anvil.pid);
    expect(await journalLines(dataDir)).toBe(0);
    expect(await ledger.transactionBlock(tx.txHash)).toBe(tx.blockNumber);
    const anchors = await ledger.anchorsInTransaction(tx.txHash);
    expect(anchors.map((a) => [a.patient, a.recordId, a.version])).toEqual([
      [patient.toLowerCase(), item.recordId, 1],
    ]);
    await expect(ledger.anchorRecords([{ ...item, version: 2 }])).resolves.toBeDefined();
  });

  it('stops an orphaned anvil left by a crashed node, keeping its state', async () => {
    // A crashed node leaves its anvil running (with changes newer than any snapshot) and the pid file.
    const stateDir = path.join(dataDir, 'chain');
    await mkdir(stateDir, { recursive: true });
    const port = await freePort();
    const orphan = spawn(anvilBinary(), ['--host', '127.0.0.1', '--port', String(port), '--quiet'], {
      stdio: 'ignore',
    });
    const orphanExit = new Promise((resolve) => orphan.once('exit', resolve));
    const orphanRpc = localProvider(`http://127.0.0.1:${port}`);
    try {
      await waitForRpc(orphanRpc);
      const funder = new Wallet(randomKey(), orphanRpc);
      await orphanRpc.send('anvil_setBalance', [funder.address, '0x' + parseEther('2').toString(16)]);
      const payee = randomAddress();
      await (await funder.sendTransaction({ to: payee, value: parseEther('1') })).wait();
      await writeFile(path.join(stateDir, 'anvil.pid'), `${orphan.pid}\n${port}\n`);

      const anvil = await startAnvil({ stateDir, logger: silentLogger, snapshotIntervalMs: 600_000 });
      try {
        await orphanExit;
        expect(isAlive(orphan.pid!)).toBe(false);
        expect(anvil.pid).not.toBe(orphan.pid);
        expect((await readFile(path.join(stateDir, 'anvil.pid'), 'utf8')).split('\n')[0]).toBe(
          String(anvil.pid),
        );
        const fresh = localProvider(anvil.rpcUrl);
        try {
          expect(await fresh.getBalance(payee)).toBe(parseEther('1'));
        } finally {
          fresh.destroy();
        }
      } finally {
        await anvil.stop();
      }
    } finally {
      orphanRpc.destroy();
      if (orphan.exitCode === null && orphan.signalCode === null) orphan.kill('SIGKILL');
    }
  });
});
