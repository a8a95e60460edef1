import { describe, expect, it } from 'vitest';
import { LAZY_STEPS } from '../../functions/local/lazy-steps.js';
import { STEPS } from '../../functions/steps/index.js';

describe('Constant: LAZY_STEPS', () => {
  it('loads exactly the steps the deployed functions run', async () => {
    // Act
    const loaded = Object.fromEntries(
      await Promise.all(Object.entries(LAZY_STEPS).map(async ([name, load]) => [name, await load()])),
    );

    // Assess: the same names, each bound to the very function of STEPS
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(STEPS).sort());
    for (const [name, step] of Object.entries(STEPS)) expect(loaded[name], name).toBe(step);
  });
});
