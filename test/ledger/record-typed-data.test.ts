import { AbiCoder, concat, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import {
  bundleImportTypedData,
  entriesRoot,
  entryProof,
  recordVersionLeaf,
  recordVersionMessage,
  recordVersionTypedData,
  resourceContentHash,
  rootFromProof,
  typedDataSigner,
} from '../../src/ledger/record-typed-data.js';
import { omnichartDomain } from '../../src/ledger/typed-data.js';

const domain = omnichartDomain(31337n, '0x5FbDB2315678afecb367f032d93F642f64180aa3');
// Hardhat/anvil's well-known account 0: a fixed key, so signatures are reproducible.
const author = new Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');

describe('record typed data', () => {
  it('hashes content as RFC 8785 canonical JSON (the RFC’s own example)', () => {
    // RFC 8785 section 3.2.2 input and section 3.2.3 output.
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    const expected =
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
      '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}';
    expect(resourceContentHash(input)).toBe(keccak256(toUtf8Bytes(expected)));
    // Key order does not matter; content does.
    expect(resourceContentHash({ b: 1, a: 2 })).toBe(resourceContentHash({ a: 2, b: 1 }));
    expect(resourceContentHash({ a: 2 })).not.toBe(resourceContentHash({ a: 3 }));
  });

  it('a RecordVersion signed with ethers recovers to its author, and not once a field changes', async () => {
    const message = recordVersionMessage({
      patient: author.address.toLowerCase(),
      recordId: '0f8fad5b-d9cb-469f-a165-70867728950e',
      version: 2,
      resource: { resourceType: 'Observation', status: 'final' } as { resourceType: string },
    });
    expect(message.recordId).toBe('0x0f8fad5bd9cb469fa16570867728950e');
    const typedData = recordVersionTypedData(domain, message);
    const { EIP712Domain: _d, ...types } = typedData.types;
    const signature = await author.signTypedData(domain, types, message);
    expect(typedDataSigner(typedData, signature)).toBe(author.address.toLowerCase());
    // The leaf is the EIP-712 struct hash of exactly the documented type string, encoded by hand.
    const typeHash = keccak256(
      toUtf8Bytes(
        'RecordVersion(address patient,bytes16 recordId,uint32 version,string resourceType,bytes32 contentHash)',
      ),
    );
    const encoded = AbiCoder.defaultAbiCoder().encode(
      ['bytes32', 'address', 'bytes16', 'uint32', 'bytes32', 'bytes32'],
      [
        typeHash,
        message.patient,
        message.recordId,
        2,
        keccak256(toUtf8Bytes('Observation')),
        message.contentHash,
      ],
    );
    expect(recordVersionLeaf(message)).toBe(keccak256(encoded));
    expect(message.contentHash).toBe(
      keccak256(toUtf8Bytes('{"resourceType":"Observation","status":"final"}')),
    );
    const changed = recordVersionTypedData(domain, { ...message, version: 3 });
    expect(typedDataSigner(changed, signature)).not.toBe(author.address.toLowerCase());
    expect(typedDataSigner(typedData, '0x1234')).toBeNull();
  });

  it('proves every entry of a bundle into the signed root, and nothing else', async () => {
    const leaves = [1, 2, 3, 4, 5].map((n) => keccak256(toUtf8Bytes(`leaf ${n}`)));
    const root = entriesRoot(leaves);
    // By hand: pairs left to right, the odd fifth leaf carried up twice.
    const h = (a: string, b: string) => keccak256(concat([a, b]));
    expect(root).toBe(h(h(h(leaves[0], leaves[1]), h(leaves[2], leaves[3])), leaves[4]));
    leaves.forEach((leaf, i) => {
      expect(rootFromProof(leaf, i, leaves.length, entryProof(leaves, i))).toBe(root);
    });
    expect(rootFromProof(leaves[1], 0, leaves.length, entryProof(leaves, 0))).not.toBe(root);
    expect(rootFromProof(leaves[0], 0, 4, entryProof(leaves, 0))).not.toBe(root);
    expect(rootFromProof(leaves[0], 0, leaves.length, [...entryProof(leaves, 0), leaves[4]])).toBeNull();
    expect(rootFromProof(leaves[0], 7, leaves.length, [])).toBeNull();
    const bundle = bundleImportTypedData(domain, {
      patient: author.address,
      entriesRoot: root,
      entryCount: 5,
    });
    const { EIP712Domain: _d, ...types } = bundle.types;
    const signature = await author.signTypedData(domain, types, bundle.message);
    expect(typedDataSigner(bundle, signature)).toBe(author.address.toLowerCase());
  });
});
