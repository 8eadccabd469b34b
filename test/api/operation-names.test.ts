import { OperationNameLabels } from '../../src/api/operation-names.js';

describe('operation name labels', () => {
  it('keeps plain names up to the cap and folds the rest into other', () => {
    const labels = new OperationNameLabels(3);
    expect(labels.label('ReadChart')).toBe('ReadChart');
    expect(labels.label(undefined)).toBe('anonymous');
    expect(labels.label('')).toBe('anonymous');
    expect(labels.label('Two')).toBe('Two');
    expect(labels.label('Three')).toBe('Three');
    expect(labels.label('Four')).toBe('other');
    // Names already kept stay kept after the cap is reached.
    expect(labels.label('ReadChart')).toBe('ReadChart');
    for (const odd of ['a b', 'x"}', 'é', '1st', 'x'.repeat(65), 'other', 'anonymous']) {
      expect(labels.label(odd)).toBe('other');
    }
  });
});
