import { describe, expect, it } from 'vitest';
import {
  connectionsNeeded,
  type DatabaseRole,
  widestFittingMap,
} from '../../functions/core/connection-needs.js';

describe('Function: connectionsNeeded', () => {
  it('counts a connection to the source and two to the target per item in flight, and one more', () => {
    // Act + Assess
    expect(connectionsNeeded('source', 500)).toBe(501);
    expect(connectionsNeeded('target', 500)).toBe(1001);
    expect(connectionsNeeded('target', 4)).toBe(9);
  });

  it('never counts fewer than Plan’s and Verify’s four per database, and one more', () => {
    // Act + Assess
    expect(connectionsNeeded('source', 1)).toBe(5);
    expect(connectionsNeeded('target', 1)).toBe(5);
    expect(connectionsNeeded('target', 2)).toBe(5);
  });
});

describe('Function: widestFittingMap', () => {
  it('names the widest Map whose run fits the free connections, and no wider', () => {
    for (const role of ['source', 'target'] as DatabaseRole[]) {
      for (let free = 0; free <= 60; free += 1) {
        // Act
        const widest = widestFittingMap(role, free);

        // Assess
        if (widest === 0) expect(connectionsNeeded(role, 1)).toBeGreaterThan(free);
        else {
          expect(connectionsNeeded(role, widest)).toBeLessThanOrEqual(free);
          expect(connectionsNeeded(role, widest + 1)).toBeGreaterThan(free);
        }
      }
    }
  });

  it('answers 0 where not even Verify’s four sessions fit', () => {
    // Act + Assess
    expect(widestFittingMap('target', 4)).toBe(0);
    expect(widestFittingMap('source', 5)).toBe(4);
    expect(widestFittingMap('target', 9)).toBe(4);
  });
});
