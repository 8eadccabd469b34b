import { BadUserInputError } from '../../src/errors.js';
import { bytes16ToUuid, uuidToBytes16 } from '../../src/ledger/ids.js';

describe('record id conversion', () => {
  it('maps a UUID to bytes16 hex and back', () => {
    const uuid = '3F2C9A1E-7B4D-4C8E-9A0B-1C2D3E4F5A6B';
    expect(uuidToBytes16(uuid)).toBe('0x3f2c9a1e7b4d4c8e9a0b1c2d3e4f5a6b');
    expect(bytes16ToUuid('0x3f2c9a1e7b4d4c8e9a0b1c2d3e4f5a6b')).toBe(uuid.toLowerCase());
  });

  it('rejects what is not a UUID or a bytes16 value', () => {
    expect(() => uuidToBytes16('not-a-uuid')).toThrow(BadUserInputError);
    expect(() => bytes16ToUuid('0x1234')).toThrow(BadUserInputError);
  });
});
