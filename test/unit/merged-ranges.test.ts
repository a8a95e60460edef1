import { describe, expect, it } from 'vitest';
import { mergeSettledRanges, type PlannedRange } from '../../functions/db/memory-ranges.js';

const settled = { digest: 'd', live: 10, rejectsByReason: {} };

/** `pattern`: one letter per range in key order, r recorded, n not. */
function ranges(pattern: string): PlannedRange[] {
  return [...pattern].map((kind, index) => ({
    index,
    fromKey: index === 0 ? null : `k${index - 1}`,
    toKey: `k${index}`,
    userMap: 'm',
    ...(kind === 'r' ? { settled } : {}),
  }));
}

describe('mergeSettledRanges', () => {
  it('leaves few recorded ranges one to an item', () => {
    const planned = ranges('rrrr');
    expect(mergeSettledRanges(planned)).toEqual(planned);
  });

  it('hands out consecutive recorded ranges together, about four items in all, numbered afresh', () => {
    const items = mergeSettledRanges(ranges('r'.repeat(40)));
    expect(items).toHaveLength(4);
    expect(items.map((i) => i.index)).toEqual([0, 1, 2, 3]);
    expect(items[1]).toEqual({
      index: 1,
      fromKey: 'k9',
      toKey: 'k19',
      userMap: 'm',
      parts: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((n) => ({
        fromKey: `k${n - 1}`,
        toKey: `k${n}`,
        settled,
      })),
    });
  });

  it('never spans a range without a record, which stays an item of its own', () => {
    const items = mergeSettledRanges(ranges(`${'r'.repeat(20)}n${'r'.repeat(19)}n`));
    const unrecorded = items.filter((i) => !i.parts && !i.settled);
    expect(unrecorded.map((i) => [i.fromKey, i.toKey])).toEqual([
      ['k19', 'k20'],
      ['k39', 'k40'],
    ]);
    // Every range is in exactly one item, in key order, and items follow one another.
    const covered = items.flatMap((i) => (i.parts ?? [i]).map((r) => r.toKey));
    expect(covered).toEqual(ranges(`${'r'.repeat(20)}n${'r'.repeat(19)}n`).map((r) => r.toKey));
    items.slice(1).forEach((item, i) => {
      expect(item.fromKey).toBe(items[i]?.toKey);
    });
    // A lone recorded range left at the end of a run keeps its own record.
    expect(items.every((i) => (i.parts ? i.parts.length > 1 : true))).toBe(true);
  });

  it('holds at most sixteen ranges to an item', () => {
    const items = mergeSettledRanges(ranges('r'.repeat(1000)));
    expect(Math.max(...items.map((i) => i.parts?.length ?? 1))).toBe(16);
    expect(items).toHaveLength(Math.ceil(1000 / 16));
  });
});
