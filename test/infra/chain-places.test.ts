import { describe, expect, it } from 'vitest';
import { STEPS } from '../../functions/steps/index.js';
import { placeChainedSteps } from '../../infra/constructs/chain-places.js';

const BASE = [
  ['Preflight', 'state:Preflight'],
  ['Users', 'state:Users'],
  ['RebuildCmi', 'state:RebuildCmi'],
  ['Report', 'state:Report'],
] as const;

const make = (name: string, result: string) => `task:${name}->$.${result}`;

describe('Function: placeChainedSteps', () => {
  it('puts each chained step right after the step it names, one after another in turn', () => {
    // Prepare: Audit follows a chained step, declared before it
    const registry = {
      Preflight: {},
      Audit: { chain: { after: 'Prune', result: 'audit' } },
      Prune: { chain: { after: 'RebuildCmi', result: 'prune' } },
      Report: {},
    };

    // Act
    const placed = placeChainedSteps(BASE, registry, make);

    // Assess
    expect(placed).toEqual([
      ['Preflight', 'state:Preflight'],
      ['Users', 'state:Users'],
      ['RebuildCmi', 'state:RebuildCmi'],
      ['Prune', 'task:Prune->$.prune'],
      ['Audit', 'task:Audit->$.audit'],
      ['Report', 'state:Report'],
    ]);
  });

  it('stops, naming the step, when what it follows is not in the chain', () => {
    // Prepare
    const registry = { Audit: { chain: { after: 'Rollback', result: 'audit' } } };

    // Act
    const place = () => placeChainedSteps(BASE, registry, make);

    // Assess
    expect(place).toThrow('Chained steps name no step of the chain to follow: Audit (after Rollback)');
  });

  it('places every chained step of the registry, keeping the base states in their order', () => {
    // Act
    const placed = placeChainedSteps(BASE, STEPS, make).map(([name]) => name);

    // Assess
    expect(placed.filter((name) => BASE.some(([base]) => base === name))).toEqual(BASE.map(([name]) => name));
    const chained = Object.entries(STEPS).filter(([, entry]) => 'chain' in entry);
    expect(placed).toHaveLength(BASE.length + chained.length);
  });
});
