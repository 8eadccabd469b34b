import { randomBytes } from 'node:crypto';
import {
  cohortStatistics,
  validateCohortQuery,
  type CohortMember,
} from '../../src/research/cohort-statistics.js';
import { KeyedLaplaceNoise } from '../../src/research/laplace-noise.js';

const NOW = new Date('2024-01-01T00:00:00Z');
const FLU = 'http://snomed.info/sct|6142004';

/** n women aged 40, the first `withFlu` of them with flu in March 2023. */
function women(n: number, withFlu: number): CohortMember[] {
  return Array.from({ length: n }, (_, i) => ({
    birthDate: '1983-06-01',
    sex: 'female' as const,
    onsets: i < withFlu ? new Map([[FLU, new Date('2023-03-10T00:00:00Z')]]) : new Map<string, Date>(),
  }));
}

describe('cohort statistics (no node)', () => {
  const query = (input: Parameters<typeof validateCohortQuery>[0]) => validateCohortQuery(input, NOW);

  it('a count of 9 is suppressed and 10 is released, with its rate', () => {
    const options = { organization: '0xorg', minCellSize: 10 };
    const nine = cohortStatistics(women(20, 9), query({ conditions: [FLU] }), options);
    expect(nine.cells[0]).toMatchObject({ suppressed: true, count: null, patients: null, rate: null });
    const ten = cohortStatistics(women(20, 10), query({ conditions: [FLU] }), options);
    expect(ten.cells[0]).toMatchObject({ suppressed: false, count: 10, patients: 20, rate: 0.5 });
  });

  it('a stratum under k suppresses its cells even when the count could be shown', () => {
    const result = cohortStatistics(women(9, 9), query({}), { organization: '0xorg', minCellSize: 10 });
    expect(result.cohortSize).toBeNull();
    expect(result.cells[0].suppressed).toBe(true);
  });

  it('with noise, the same query answers the same twice, and suppression is decided on true counts', () => {
    const noise = new KeyedLaplaceNoise(randomBytes(32), 0.5);
    const options = { organization: '0xorg', minCellSize: 10, noise };
    const q = query({ conditions: [FLU], groupBy: ['SEX', 'AGE_BAND'] });
    const first = cohortStatistics(women(40, 25), q, options);
    const second = cohortStatistics(women(40, 25), q, options);
    expect(second).toEqual(first);
    expect(first.epsilon).toBe(0.5);
    const shown = first.cells.filter((c) => !c.suppressed);
    expect(shown.map((c) => [c.sex, c.ageBand])).toEqual([['female', '40-49']]);
    const nine = cohortStatistics(women(40, 9), q, options);
    expect(nine.cells.every((c) => c.suppressed)).toBe(true);
  });

  it('the grid comes from the query: bands, sexes and months as asked', () => {
    const q = query({
      conditions: [FLU],
      groupBy: ['MONTH'],
      from: new Date('2023-01-15Z'),
      to: new Date('2023-04-01Z'),
    });
    const result = cohortStatistics(women(30, 12), q, { organization: '0xorg', minCellSize: 10 });
    expect(result.cells.map((c) => [c.month, c.count])).toEqual([
      ['2023-01', null],
      ['2023-02', null],
      ['2023-03', 12],
      ['2023-04', null],
    ]);
  });

  it('refuses bad queries with BAD_USER_INPUT', () => {
    for (const input of [
      { conditions: ['not a code'] },
      { groupBy: ['MONTH' as const] },
      {
        conditions: [FLU],
        groupBy: ['MONTH' as const],
        from: new Date('2020-01-01Z'),
        to: new Date('2019-01-01Z'),
      },
      { ageBandYears: 7 },
      {
        conditions: [FLU],
        groupBy: ['MONTH' as const],
        from: new Date('2000-01-01Z'),
        to: new Date('2020-01-01Z'),
      },
    ]) {
      expect(() => query(input)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    }
  });
});
