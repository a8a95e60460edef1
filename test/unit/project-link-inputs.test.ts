import { describe, expect, it } from 'vitest';
import {
  projectLinkInputs,
  recordedTasksReached,
  type TaskProjectReference,
} from '../../functions/core/project-links.js';

const ref = (task: string, found: Partial<TaskProjectReference>): TaskProjectReference => ({
  taskSourceId: task,
  taskCreatedAt: new Date(0),
  projectIdRef: null,
  projectNameRef: null,
  byId: null,
  byName: null,
  ...found,
});

describe('Function: projectLinkInputs', () => {
  it('records each task with the memories it found and the id that found none', () => {
    // Prepare
    const refs = [
      ref('t1', { projectIdRef: 'p1', byId: { sourceId: 'p1', deleted: false } }),
      ref('t2', {
        projectIdRef: 'gone',
        projectNameRef: 'Atlas',
        byName: { sourceId: 'p2', deleted: false },
      }),
    ];

    // Act
    const inputs = projectLinkInputs(refs);

    // Assess
    expect(inputs?.tasks).toEqual([
      { task: 't1', found: ['p1'] },
      { task: 't2', found: ['p2'], unresolvedId: 'gone' },
    ]);
  });

  it('records nothing for an item of more tasks than a record holds', () => {
    // Act
    const inputs = projectLinkInputs(Array.from({ length: 4001 }, (_, i) => ref(`t${i}`, {})));

    // Assess
    expect(inputs).toBeNull();
  });
});

describe('Function: recordedTasksReached', () => {
  it('names the tasks that changed or found a memory that changed, and no other', () => {
    // Prepare
    const inputs = {
      tasks: [
        { task: 't1', found: ['p1'] },
        { task: 't2', found: ['p2'] },
        { task: 't3', found: [], unresolvedId: 'x' },
      ],
    };

    // Act
    const reached = recordedTasksReached(inputs, new Set(['p2', 't3', 'x', 'unrelated']));

    // Assess: an unfound id is the source's to compare, by the key's own type
    expect(reached).toEqual(['t2', 't3']);
  });
});
