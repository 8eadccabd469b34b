import { Wallet, parseEther } from 'ethers';
import { ADD_RECORD, VERIFY_RECORD } from '../../examples/client.js';
import { grant, revoke } from '../helpers/consent.js';
import { HARDHAT_CHAIN_ID, startHardhatNetwork, type HardhatNetwork } from '../helpers/test-chains.js';
import { stopTestDatabaseServer } from '../helpers/test-database.js';
import { signIn, startTestNode, type SignedInUser, type TestNode } from '../helpers/test-node.js';
import { eventually } from '../helpers/wait-for.js';

const READ = `query ($id: ID!) { record(id: $id) { id resource } }`;

const heartRate = {
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  effectiveDateTime: '2024-03-01T08:00:00Z',
  valueQuantity: { value: 64, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
};

// The whole node on an external chain that is not anvil: deploys its contract there, anchors, relays
// patient-signed grants and revocations, and verifies a record against the chain.
describe("a node on Hardhat's network as its external chain", () => {
  let network: HardhatNetwork;
  let test: TestNode;
  let patient: SignedInUser;
  let doctor: SignedInUser;

  beforeAll(async () => {
    network = await startHardhatNetwork();
    const relayer = Wallet.createRandom();
    await network.fund(relayer.address, parseEther('100'));
    test = await startTestNode({ chain: { rpcUrl: network.rpcUrl, relayerKey: relayer.privateKey } });
    patient = await signIn(test, 'PATIENT');
    doctor = await signIn(test, 'PRACTITIONER');
  });

  afterAll(async () => {
    await test?.close();
    await network?.stop();
    await stopTestDatabaseServer();
  });

  it('runs on the chain it was pointed at, with its contract deployed there', async () => {
    expect(test.node.ledger.chainId).toBe(HARDHAT_CHAIN_ID);
    const code = await network.provider.getCode(test.node.ledger.contractAddress);
    expect(code.length).toBeGreaterThan(100);
  });

  it('anchors a record, verifies it on chain, and enforces a grant and its revocation', async () => {
    const { addRecord } = await patient.client.request<{ addRecord: { id: string } }>(ADD_RECORD, {
      patient: patient.address,
      resource: heartRate,
    });
    const verified = await eventually(async () => {
      const { verifyRecord } = await patient.client.request<{
        verifyRecord: { verified: boolean; anchorTx: string | null };
      }>(VERIFY_RECORD, { id: addRecord.id });
      return verifyRecord.verified ? verifyRecord : undefined;
    }, 'the record to be anchored and verified');
    const receipt = await network.provider.getTransactionReceipt(verified.anchorTx!);
    expect(receipt?.status).toBe(1);
    expect(receipt?.to?.toLowerCase()).toBe(test.node.ledger.contractAddress.toLowerCase());

    const denied = await doctor.client.send(READ, { id: addRecord.id });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const granted = await grant(patient.client, {
      patient: patient.identity,
      grantee: doctor.address,
      scopes: ['patient/Observation.rs'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(granted.errors).toBeUndefined();
    const read = await doctor.client.request<{ record: { resource: typeof heartRate } }>(READ, {
      id: addRecord.id,
    });
    expect(read.record.resource.valueQuantity).toEqual(heartRate.valueQuantity);

    const revoked = await revoke(patient.client, patient.identity, granted.data!.grantAccess.id);
    expect(revoked.errors).toBeUndefined();
    const after = await doctor.client.send(READ, { id: addRecord.id });
    expect(after.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
