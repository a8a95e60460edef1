import { describe, expect, it } from 'vitest';
import { verifySlicesOf } from '../../functions/db/range-planner.js';
import type { KeyRange } from '../../functions/db/source-reader.js';

const ranges: KeyRange[] = [
  { index: 0, fromKey: null, toKey: '10' },
  { index: 1, fromKey: '10', toKey: '20' },
  { index: 2, fromKey: '20', toKey: '30' },
  { index: 3, fromKey: '30', toKey: '40' },
  { index: 4, fromKey: '40', toKey: '45' },
];

describe('Function: verifySlicesOf', () => {
  it('groups consecutive ranges, the first slice open below and the last open above', () => {
    // Act
    const slices = verifySlicesOf(ranges, 2);

    // Assess
    expect(slices).toEqual([
      { index: 0, fromKey: null, toKey: '20' },
      { index: 1, fromKey: '20', toKey: '40' },
      { index: 2, fromKey: '40', toKey: null },
    ]);
  });

  it('takes at least one range a slice, for slices smaller than a batch', () => {
    // Act
    const slices = verifySlicesOf(ranges, 0.4);

    // Assess
    expect(slices).toHaveLength(ranges.length);
    expect(slices.map((s) => s.fromKey)).toEqual([null, '10', '20', '30', '40']);
    expect(slices.at(-1)?.toKey).toBeNull();
  });

  it('covers the whole key space with one slice when there is nothing, or everything fits', () => {
    // Act
    const none = verifySlicesOf([], 4);
    const one = verifySlicesOf(ranges, 400);

    // Assess
    expect(none).toEqual([{ index: 0, fromKey: null, toKey: null }]);
    expect(one).toEqual([{ index: 0, fromKey: null, toKey: null }]);
  });
});
