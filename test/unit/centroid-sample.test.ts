import { describe, expect, it } from 'vitest';
import { changedSamplePositions, sampleRowId } from '../../functions/core/centroid-sample.js';

describe('Function: changedSamplePositions', () => {
  it('names the rows whose hash changed while the sample holds the same memories in order', () => {
    // Prepare: ids that hold a colon themselves
    const before = ['a:1', 'b:c:2', 'd:3'];

    // Act
    const changed = changedSamplePositions(before, ['a:1', 'b:c:9', 'd:7']);

    // Assess
    expect(changed).toEqual([1, 2]);
    expect(sampleRowId('b:c:9')).toBe('b:c');
  });

  it('gives nothing to compare when a memory joined, left or moved within the sample', () => {
    // Prepare
    const before = ['a:1', 'b:2', 'd:3'];

    // Act
    const joined = changedSamplePositions(before, ['a:1', 'b:2', 'c:5', 'd:3']);
    const replaced = changedSamplePositions(before, ['a:1', 'c:5', 'd:3']);
    const reordered = changedSamplePositions(before, ['b:2', 'a:1', 'd:3']);

    // Assess
    expect(joined).toBeNull();
    expect(replaced).toBeNull();
    expect(reordered).toBeNull();
  });

  it('finds no change in a sample hashed alike', () => {
    // Act
    const changed = changedSamplePositions(['a:1', 'b:2'], ['a:1', 'b:2']);

    // Assess
    expect(changed).toEqual([]);
  });
});
