import { describe, expect, it } from 'vitest';
import {
  ndcgAt,
  rankModules,
  recallAt,
  SearchRecallTally,
  userBucket,
} from '../../functions/core/search-recall.js';

describe('search recall figures', () => {
  it('recall@k is the share of the source top-k found, in any order', () => {
    expect(recallAt(['a', 'b', 'c', 'd'], ['d', 'x', 'b', 'a'])).toBe(0.75);
    expect(recallAt([], ['x'])).toBe(1);
  });

  it('nDCG@k drops when the right memories come back lower', () => {
    expect(ndcgAt(['a', 'b'], ['a', 'b', 'x'], 3)).toBeCloseTo(1, 12);
    const lower = ndcgAt(['a', 'b'], ['x', 'a', 'b'], 3);
    expect(lower).toBeLessThan(1);
    expect(lower).toBeCloseTo((1 / Math.log2(3) + 1 / Math.log2(4)) / (1 + 1 / Math.log2(3)), 12);
  });

  it('ranks modules as routeQuery does, then fills the places by the average of all entries', () => {
    const route = rankModules([
      { module: 'work', matchedAverage: null, average: 0.5 },
      { module: 'personal', matchedAverage: 0.75, average: 0.1 },
      { module: 'learning', matchedAverage: 0.9, average: 0.2 },
      { module: 'creative', matchedAverage: null, average: 0.3 },
    ]);
    expect(route).toEqual(['learning', 'personal', 'work']);
  });

  it('tallies per module and bucket and counts a routing loss only when the exact search found it', () => {
    const tally = new SearchRecallTally(3);
    const modules: Record<string, string> = { t1: 'work', t2: 'work', t3: 'personal' };
    const moduleOf = (id: string) => modules[id] ?? 'gone';
    const sourceOf = (id: string) => `s${id.slice(1)}`;
    tally.add(
      'u1',
      {
        bucket: userBucket(5),
        expected: ['t1', 't2', 't3'],
        exact: ['t1', 't2', 't3'],
        routed: ['t1', 't2'],
      },
      moduleOf,
      sourceOf,
    );
    tally.add(
      'u2',
      { bucket: userBucket(500), expected: ['t1', 't3'], exact: ['t1'], routed: ['t1'] },
      moduleOf,
      sourceOf,
    );
    const r = tally.result({ queryKind: 'neighbours', minRecall: 0.9, seconds: 1 });
    expect(r.exact.recall).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(r.routed.recall).toBeCloseTo((2 / 3 + 0.5) / 2, 12);
    expect(r.passed).toBe(false);
    expect(r.byModule.find((m) => m.module === 'personal')).toMatchObject({
      expected: 2,
      exactFound: 1,
      routedFound: 0,
    });
    expect(r.byBucket.map((b) => b.bucket)).toEqual(['≤10', '101-1,000']);
    expect(r.routingLosses).toEqual([{ sourceId: 's3', targetId: 't3', module: 'personal', lostIn: 1 }]);
  });
});
