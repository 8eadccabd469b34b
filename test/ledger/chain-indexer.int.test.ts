import { randomUUID } from 'node:crypto';
import { hexlify, keccak256, toUtf8Bytes } from 'ethers';
import { ServiceUnavailableError } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/ledger/chain-events.js';
import type { Ledger } from '../../src/ledger/chain-client.js';
import { silentLogger } from '../../src/logger.js';
import {
  cidOf,
  newWallet,
  randomAddress,
  randomKey,
  signPayload,
  signedRegistration,
  waitFor,
} from './helpers.js';
import { chainKinds, openTestChain, type TestChain } from '../helpers/test-chains.js';

describe.each(chainKinds)('chain indexer on %s', (kind) => {
  let chain: TestChain;
  let ledger: Ledger;

  beforeAll(async () => {
    chain = await openTestChain(kind, randomKey());
    ledger = chain.ledger;
  });

  afterAll(async () => {
    await chain?.close();
  });

  /** An indexer that appends what it is given and remembers the last toBlock (the "persisted" cursor). */
  function collector(fromBlock?: number) {
    const seen: LedgerEvent[] = [];
    const state = { cursor: -1, calls: 0 };
    const indexer = ledger.createIndexer({
      fromBlock,
      pollIntervalMs: 50,
      maxBackoffMs: 200,
      logger: silentLogger,
      onEvents: async (events, toBlock) => {
        state.calls += 1;
        seen.push(...events);
        state.cursor = toBlock;
      },
    });
    return { indexer, seen, state };
  }

  it('delivers a known sequence of every event type, in order, then resumes without duplicates', async () => {
    const patient = newWallet();
    const grantee = newWallet();
    const key = new Uint8Array(32).fill(7);
    const records = [
      { patient: patient.address, recordId: randomUUID(), version: 1, cid: await cidOf('r1') },
      { patient: patient.address, recordId: randomUUID(), version: 2, cid: await cidOf('r2') },
    ];
    const keyTx = await ledger.registerNodeKey(key);
    const registration = await signedRegistration(patient, ledger, { boxPublicKey: key });
    const registerTx = await ledger.registerAccount(registration);
    const anchorTx = await ledger.anchorRecords(records);
    const expiresAt = (await ledger.latestBlock()).timestamp + 3600;
    const grantPayload = await ledger.grantTypedData({
      patient: patient.address,
      grantee: grantee.address,
      scopes: 'patient/*.rs',
      expiresAt,
    });
    const grant = await ledger.relayGrant({
      ...grantPayload.message,
      signature: await signPayload(patient, grantPayload),
    });
    const revokePayload = await ledger.revokeTypedData({ patient: patient.address, grantId: grant.grantId });
    const revokeTx = await ledger.relayRevoke({
      grantId: grant.grantId,
      nonce: revokePayload.message.nonce,
      signature: await signPayload(patient, revokePayload),
    });
    const organization = newWallet();
    const practitioner = newWallet().address;
    const admitTx = await ledger.admitOrganization(organization.address, true);
    const attestation = await ledger.attestationTypedData({
      subject: practitioner,
      role: 'PRACTITIONER',
      organization: organization.address,
      identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893',
      expiresAt,
    });
    const attestTx = await ledger.relayAttestation({
      ...attestation.message,
      signature: await signPayload(organization, attestation),
    });
    const glass = await ledger.recordBreakGlass({
      patient: patient.address,
      practitioner,
      reason: 'cardiac arrest',
      expiresAt,
    });
    const endTx = await ledger.endBreakGlass(glass.breakGlassId);
    const policy = await ledger.breakGlassPolicyTypedData({ patient: patient.address, refuse: true });
    const policyTx = await ledger.relayBreakGlassPolicy({
      ...policy.message,
      signature: await signPayload(patient, policy),
    });
    const revocation = await ledger.revokeAttestationTypedData({
      subject: practitioner,
      organization: organization.address,
    });
    const unattestTx = await ledger.relayRevokeAttestation({
      subject: practitioner,
      nonce: revocation.message.nonce,
      signature: await signPayload(organization, revocation),
    });
    const root = keccak256(toUtf8Bytes('audit batch'));
    const auditTx = await ledger.anchorAuditRoots([
      { patient: patient.address, root, firstSeq: 1, lastSeq: 4 },
    ]);
    const modelId = keccak256(toUtf8Bytes('model'));
    const modelCid = await cidOf('model');
    const metricsHash = keccak256(toUtf8Bytes('metrics'));
    const modelTx = await ledger.anchorModel({ modelId, cid: modelCid, metricsHash });

    const { indexer, seen, state } = collector();
    await indexer.catchUp();
    expect(state.cursor).toBe(modelTx.blockNumber);
    expect(indexer.cursor).toBe(modelTx.blockNumber + 1);
    const at = (tx: { txHash: string; blockNumber: number }) => ({
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
    });
    expect(seen).toEqual([
      {
        type: 'AccountKeyRegistered',
        ...at(keyTx),
        logIndex: 0,
        account: ledger.relayerAddress,
        boxPublicKey: key,
      },
      {
        type: 'AccountRegistered',
        ...at(registerTx),
        logIndex: 0,
        account: patient.address,
        role: 'PATIENT',
        displayName: registration.displayName,
        boxPublicKey: key,
        issuedAt: registration.issuedAt,
        signature: registration.signature,
      },
      ...records.map((r, i) => ({
        type: 'RecordAnchored',
        ...at(anchorTx),
        logIndex: i,
        ...r,
        patient: r.patient.toLowerCase(),
      })),
      {
        type: 'GrantCreated',
        ...at(grant),
        logIndex: 0,
        grantId: grant.grantId,
        patient: patient.address,
        grantee: grantee.address,
        scopes: 'patient/*.rs',
        expiresAt,
      },
      {
        type: 'GrantRevoked',
        ...at(revokeTx),
        logIndex: 0,
        grantId: grant.grantId,
        patient: patient.address,
        grantee: grantee.address,
      },
      {
        type: 'OrganizationAdmitted',
        ...at(admitTx),
        logIndex: 0,
        organization: organization.address,
        admitted: true,
      },
      {
        type: 'Attested',
        ...at(attestTx),
        logIndex: 0,
        subject: practitioner,
        organization: organization.address,
        role: 'PRACTITIONER',
        identifier: 'http://hl7.org/fhir/sid/us-npi|1234567893',
        expiresAt,
      },
      {
        type: 'BreakGlass',
        ...at(glass),
        logIndex: 0,
        breakGlassId: glass.breakGlassId,
        patient: patient.address,
        practitioner,
        organization: organization.address,
        reasonHash: keccak256(toUtf8Bytes('cardiac arrest')),
        expiresAt,
      },
      {
        type: 'BreakGlassEnded',
        ...at(endTx),
        logIndex: 0,
        breakGlassId: glass.breakGlassId,
        patient: patient.address,
        practitioner,
      },
      { type: 'BreakGlassPolicySet', ...at(policyTx), logIndex: 0, patient: patient.address, refuse: true },
      {
        type: 'AttestationRevoked',
        ...at(unattestTx),
        logIndex: 0,
        subject: practitioner,
        organization: organization.address,
        revokedBy: organization.address,
      },
      {
        type: 'AuditRootAnchored',
        ...at(auditTx),
        logIndex: 0,
        patient: patient.address,
        root,
        firstSeq: 1,
        lastSeq: 4,
      },
      { type: 'ModelAnchored', ...at(modelTx), logIndex: 0, modelId, cid: modelCid, metricsHash },
    ]);
    expect(hexlify((seen[2] as { cid: Uint8Array }).cid)).toBe(hexlify(records[0].cid));

    // Resume from the persisted cursor: nothing old again, then exactly the new event.
    const resumed = collector(state.cursor + 1);
    await resumed.indexer.catchUp();
    expect(resumed.seen).toEqual([]);
    const late = { patient: patient.address, recordId: randomUUID(), version: 1, cid: await cidOf('late') };
    const lateTx = await ledger.anchorRecords([late]);
    await Promise.all([resumed.indexer.catchUp(), resumed.indexer.catchUp(), resumed.indexer.catchUp()]);
    expect(resumed.seen).toEqual([
      { type: 'RecordAnchored', ...at(lateTx), logIndex: 0, ...late, patient: late.patient.toLowerCase() },
    ]);
    expect(resumed.state.cursor).toBe(lateTx.blockNumber);
  });

  it('delivers the same range again when the handler fails (the cursor does not move)', async () => {
    const head = (await ledger.latestBlock()).number;
    const item = { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf('retry') };
    const tx = await ledger.anchorRecords([item]);
    const delivered: LedgerEvent[][] = [];
    let failNext = true;
    const indexer = ledger.createIndexer({
      fromBlock: head + 1,
      logger: silentLogger,
      onEvents: async (events) => {
        delivered.push(events);
        if (failNext) {
          failNext = false;
          throw new Error('database down');
        }
      },
    });
    await expect(indexer.catchUp()).rejects.toThrow('database down');
    expect(indexer.cursor).toBe(head + 1);
    await indexer.catchUp();
    expect(indexer.cursor).toBe(tx.blockNumber + 1);
    expect(delivered.map((events) => events.map((e) => e.txHash))).toEqual([[tx.txHash], [tx.txHash]]);
  });

  // Stopping and restarting the chain under a live indexer needs the embedded chain's controls.
  if (kind === 'anvil')
    it('keeps polling through a chain stop and restart, then delivers what came after', async () => {
      const { indexer, seen, state } = collector((await ledger.latestBlock()).number + 1);
      indexer.start();
      try {
        const before = {
          patient: randomAddress(),
          recordId: randomUUID(),
          version: 1,
          cid: await cidOf('b'),
        };
        const beforeTx = await ledger.anchorRecords([before]);
        await waitFor(() => state.cursor >= beforeTx.blockNumber);

        await chain.embedded!.chain.stop();
        const error = await indexer.catchUp().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ServiceUnavailableError);
        const callsWhileDown = state.calls;
        await new Promise((resolve) => setTimeout(resolve, 400)); // several failed polls, no crash
        expect(state.calls).toBe(callsWhileDown);

        await chain.embedded!.chain.restart();
        const after = { patient: randomAddress(), recordId: randomUUID(), version: 1, cid: await cidOf('a') };
        const afterTx = await ledger.anchorRecords([after]);
        await waitFor(() => state.cursor >= afterTx.blockNumber, 10_000);
        expect(seen.map((e) => e.txHash)).toEqual([beforeTx.txHash, afterTx.txHash]);
      } finally {
        await indexer.stop();
      }
    });
});
