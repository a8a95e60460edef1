import { describe, expect, it } from 'vitest';
import { relationshipId, targetMemoryId } from '../../functions/core/ids.js';
import {
  chooseProject,
  dryRunProjectLinks,
  resolveProjectLinks,
  type TaskProjectReference,
} from '../../functions/core/project-links.js';
import {
  type DryRunRelation,
  dryRunRelations,
  type EndState,
  endsToLookUp,
  type LedgerEnd,
  relationMetadata,
  resolveRelations,
  withEndStates,
} from '../../functions/core/relationships.js';

const CREATED = new Date('2024-03-05T10:11:12.345Z');

function relation(overrides: Partial<DryRunRelation> = {}): DryRunRelation {
  return {
    id: 'rel-1',
    userId: 'user-1',
    sourceMemoryId: 'mem-a',
    targetMemoryId: 'mem-b',
    relationType: 'references',
    strength: 0.375,
    metadata: { createdBy: 'auto-linker' },
    createdAt: CREATED,
    sourceState: 'live',
    targetState: 'live',
    sourceOwner: 'user-1',
    targetOwner: 'user-1',
    ...overrides,
  };
}

const migrated = (module: string, sourceId: string, user = 'target-user-1'): LedgerEnd => ({
  status: 'migrated',
  module,
  targetId: targetMemoryId(sourceId),
  targetUserId: user,
});
const rejected: LedgerEnd = { status: 'rejected', module: null, targetId: null, targetUserId: null };

function ledgerOf(entries: Record<string, LedgerEnd>): Map<string, LedgerEnd> {
  return new Map(Object.entries(entries));
}

const LEDGER = ledgerOf({
  'mem-a': migrated('work', 'mem-a'),
  'mem-b': migrated('technical', 'mem-b'),
  'mem-c': migrated('personal', 'mem-c'),
  'mem-o': migrated('work', 'mem-o', 'target-user-2'),
  'mem-x': rejected,
});

describe('Function: resolveRelations', () => {
  it('resolves a cross-module relation to both ends’ modules and new ids', () => {
    // Prepare
    const input = [relation()];

    // Act
    const { migrated: rows, skipped } = resolveRelations(input, LEDGER);

    // Assess
    expect(skipped).toEqual([]);
    expect(rows).toHaveLength(1);
    const row = rows[0]?.row;
    expect(rows[0]?.key).toBe('relation:rel-1');
    expect(row).toMatchObject({
      sourceModule: 'work',
      sourceMemoryId: targetMemoryId('mem-a'),
      targetModule: 'technical',
      targetMemoryId: targetMemoryId('mem-b'),
      relationshipType: 'references',
      userId: 'target-user-1',
      createdAt: CREATED,
    });
    expect(row?.id).toBe(
      relationshipId('work', targetMemoryId('mem-a'), 'technical', targetMemoryId('mem-b'), 'references'),
    );
  });

  it('keeps the strength exactly and gives NULL the target default 1.0', () => {
    // Prepare
    const input = [
      relation({ id: 'rel-1', strength: 0.1 + 0.2 }),
      relation({ id: 'rel-2', targetMemoryId: 'mem-c', strength: null }),
      relation({ id: 'rel-3', targetMemoryId: 'mem-c', relationType: 'follows', strength: 0 }),
    ];

    // Act
    const { migrated: rows } = resolveRelations(input, LEDGER);

    // Assess
    expect(rows.map((r) => r.row.strength)).toEqual([0.1 + 0.2, 1.0, 0]);
  });

  it('keeps object metadata and adds the migration markers', () => {
    // Prepare
    const input = [relation({ metadata: { createdBy: 'user', score: 0.42, nested: { a: [1] } } })];

    // Act
    const { migrated: rows } = resolveRelations(input, LEDGER);

    // Assess
    expect(rows[0]?.row.metadata).toEqual({
      createdBy: 'user',
      score: 0.42,
      nested: { a: [1] },
      migrated_from: 'bigmemory',
      original_relation_id: 'rel-1',
    });
  });

  it('keeps non-object metadata under original_metadata', () => {
    // Prepare
    const values: unknown[] = [['a', 'b'], 'free text', 7, null];

    // Act
    const results = values.map((v) => relationMetadata(v));

    // Assess
    expect(results).toEqual([
      { original_metadata: ['a', 'b'] },
      { original_metadata: 'free text' },
      { original_metadata: 7 },
      {},
    ]);
  });

  it.each([
    ['source_deleted', relation({ sourceState: 'deleted' })],
    ['target_deleted', relation({ targetState: 'deleted' })],
    ['source_missing', relation({ sourceState: 'missing' })],
    ['target_missing', relation({ targetState: 'missing' })],
    ['source_missing', relation({ sourceMemoryId: 'mem-not-in-ledger' })],
    ['target_missing', relation({ targetMemoryId: 'mem-not-in-ledger' })],
    ['source_rejected', relation({ sourceMemoryId: 'mem-x' })],
    ['target_rejected', relation({ targetMemoryId: 'mem-x' })],
    ['self_relation', relation({ targetMemoryId: 'mem-a' })],
    ['cross_user', relation({ targetMemoryId: 'mem-o' })],
    ['cross_user', relation({ sourceMemoryId: 'mem-o' })],
  ])('skips with %s', (reason, input) => {
    // Act
    const { migrated: rows, skipped } = resolveRelations([input], LEDGER);

    // Assess
    expect(rows).toEqual([]);
    expect(skipped).toEqual([{ key: 'relation:rel-1', reason, detail: expect.any(String) }]);
  });

  it('prefers a deleted end over a missing one and the source over the target', () => {
    // Prepare
    const input = [
      relation({ id: 'r1', sourceState: 'missing', targetState: 'deleted' }),
      relation({ id: 'r2', sourceState: 'deleted', targetState: 'deleted' }),
      relation({ id: 'r3', sourceMemoryId: 'mem-x', targetMemoryId: 'mem-x' }),
    ];

    // Act
    const { skipped } = resolveRelations(input, LEDGER);

    // Assess
    expect(skipped.map((s) => s.reason)).toEqual(['target_deleted', 'source_deleted', 'source_rejected']);
  });

  it('keeps the first of relations with one target key and skips the rest as duplicate', () => {
    // Prepare
    const input = [
      relation({ id: 'rel-1', strength: 0.5 }),
      relation({ id: 'rel-2', strength: 0.9, metadata: { other: true } }),
      relation({ id: 'rel-3', relationType: 'follows' }),
      relation({ id: 'rel-4', sourceMemoryId: 'mem-b', targetMemoryId: 'mem-a' }),
    ];

    // Act
    const { migrated: rows, skipped } = resolveRelations(input, LEDGER);

    // Assess
    expect(rows.map((r) => r.key)).toEqual(['relation:rel-1', 'relation:rel-3', 'relation:rel-4']);
    expect(rows[0]?.row.strength).toBe(0.5);
    expect(skipped).toEqual([
      { key: 'relation:rel-2', reason: 'duplicate', detail: expect.stringContaining('rel-1') },
    ]);
  });

  it('gives the same ids on every call', () => {
    // Prepare
    const input = [relation(), relation({ id: 'rel-2', targetMemoryId: 'mem-c' })];

    // Act
    const first = resolveRelations(input, LEDGER);
    const second = resolveRelations(structuredClone(input), new Map(LEDGER));

    // Assess
    expect(second.migrated.map((m) => m.row.id)).toEqual(first.migrated.map((m) => m.row.id));
    expect(new Set(first.migrated.map((m) => m.row.id)).size).toBe(2);
  });
});

describe('Functions: endsToLookUp and withEndStates', () => {
  it('looks up only the ends the ledger did not migrate, and resolves as with every end read from the source', () => {
    // Prepare: the source's own states; ends the ledger migrated are live there
    const sourceStates = new Map<string, EndState>([
      ['mem-a', 'live'],
      ['mem-b', 'live'],
      ['mem-c', 'live'],
      ['mem-x', 'live'],
      ['mem-gone', 'deleted'],
      ['mem-new', 'live'],
    ]);
    const pairs: [string, string][] = [
      ['mem-a', 'mem-b'],
      ['mem-a', 'mem-gone'],
      ['mem-nowhere', 'mem-c'],
      ['mem-x', 'mem-gone'],
      ['mem-new', 'mem-b'],
      ['mem-x', 'mem-a'],
    ];
    const joined = pairs.map(([from, to], i) =>
      relation({
        id: `r${i}`,
        sourceMemoryId: from,
        targetMemoryId: to,
        sourceState: sourceStates.get(from) ?? 'missing',
        targetState: sourceStates.get(to) ?? 'missing',
      }),
    );
    const rows = joined.map(({ sourceState: _s, targetState: _t, ...row }) => row);

    // Act
    const lookUp = endsToLookUp(rows, LEDGER);
    const found = new Map([...sourceStates].filter(([id]) => lookUp.includes(id)));
    const settled = withEndStates(rows, LEDGER, found);

    // Assess
    expect(lookUp.sort()).toEqual(['mem-gone', 'mem-new', 'mem-nowhere', 'mem-x']);
    expect(settled).toEqual(joined);
    expect(resolveRelations(settled, LEDGER)).toEqual(resolveRelations(joined, LEDGER));
    expect(resolveRelations(settled, LEDGER).skipped.map((s) => s.reason)).toEqual([
      'target_deleted',
      'source_missing',
      'target_deleted',
      'source_missing',
      'source_rejected',
    ]);
  });
});

describe('Function: dryRunRelations', () => {
  it('counts what the source alone tells, by reason and type', () => {
    // Prepare
    const input = [
      relation({ id: 'r1' }),
      relation({ id: 'r2' }),
      relation({ id: 'r3', sourceState: 'deleted' }),
      relation({ id: 'r4', targetState: 'missing' }),
      relation({ id: 'r5', targetMemoryId: 'mem-a' }),
      relation({ id: 'r6', relationType: 'follows', sourceMemoryId: 'never-migrated' }),
      relation({ id: 'r7', targetMemoryId: 'mem-o', targetOwner: 'user-2' }),
    ];

    // Act
    const outcome = dryRunRelations(input);

    // Assess
    expect(outcome).toEqual({
      wouldMigrate: 2,
      skippedByReason: {
        duplicate: 1,
        source_deleted: 1,
        target_missing: 1,
        self_relation: 1,
        cross_user: 1,
      },
      byType: { references: 1, follows: 1 },
    });
  });
});

function taskRef(overrides: Partial<TaskProjectReference> = {}): TaskProjectReference {
  return {
    taskSourceId: 'task-1',
    taskCreatedAt: CREATED,
    projectIdRef: 'proj-1',
    projectNameRef: null,
    byId: { sourceId: 'proj-1', deleted: false },
    byName: null,
    ...overrides,
  };
}

const LINK_LEDGER = ledgerOf({
  'task-1': migrated('work', 'task-1'),
  'proj-1': migrated('work', 'proj-1'),
  'proj-2': migrated('work', 'proj-2'),
  'proj-o': migrated('work', 'proj-o', 'target-user-2'),
  'proj-x': rejected,
  'task-x': rejected,
});

describe('Function: resolveProjectLinks', () => {
  it('links a task to its project by id: a belongs_to row and the project’s new id', () => {
    // Prepare
    const refs = [taskRef()];

    // Act
    const result = resolveProjectLinks(refs, LINK_LEDGER);

    // Assess
    expect(result.skipped).toEqual([]);
    expect(result.migrated).toHaveLength(1);
    expect(result.migrated[0]?.key).toBe('project:task-1');
    expect(result.migrated[0]?.row).toMatchObject({
      id: relationshipId('work', targetMemoryId('task-1'), 'work', targetMemoryId('proj-1'), 'belongs_to'),
      sourceMemoryId: targetMemoryId('task-1'),
      targetMemoryId: targetMemoryId('proj-1'),
      relationshipType: 'belongs_to',
      strength: 1,
      createdAt: CREATED,
      metadata: { migrated_from: 'bigmemory', original_task_id: 'task-1', original_project_id: 'proj-1' },
    });
    expect(result.updates).toEqual([
      {
        module: 'work',
        taskTargetId: targetMemoryId('task-1'),
        projectTargetId: targetMemoryId('proj-1'),
        projectSourceId: 'proj-1',
      },
    ]);
  });

  it('falls back to the name when the id names a deleted or unknown memory', () => {
    // Prepare
    const deletedById = taskRef({
      projectNameRef: 'Atlas Portal',
      byId: { sourceId: 'proj-1', deleted: true },
      byName: { sourceId: 'proj-2', deleted: false },
    });
    const unknownId = taskRef({
      byId: null,
      projectNameRef: 'Atlas Portal',
      byName: { sourceId: 'proj-2', deleted: false },
    });

    // Act
    const choices = [chooseProject(deletedById), chooseProject(unknownId)];

    // Assess
    expect(choices).toEqual([
      { project: { sourceId: 'proj-2', deleted: false }, resolvedBy: 'projectName' },
      { project: { sourceId: 'proj-2', deleted: false }, resolvedBy: 'projectName' },
    ]);
  });

  it.each([
    ['project_not_found', taskRef({ byId: null }), LINK_LEDGER],
    [
      'project_not_found',
      taskRef({ projectIdRef: null, projectNameRef: 'Retired', byId: null }),
      LINK_LEDGER,
    ],
    ['project_deleted', taskRef({ byId: { sourceId: 'proj-1', deleted: true } }), LINK_LEDGER],
    ['project_deleted', taskRef({ byId: null, byName: { sourceId: 'proj-2', deleted: true } }), LINK_LEDGER],
    ['project_rejected', taskRef({ byId: { sourceId: 'proj-x', deleted: false } }), LINK_LEDGER],
    ['project_rejected', taskRef({ byId: { sourceId: 'proj-unknown', deleted: false } }), LINK_LEDGER],
    ['task_rejected', taskRef({ taskSourceId: 'task-x' }), LINK_LEDGER],
    ['self_relation', taskRef({ byId: { sourceId: 'task-1', deleted: false } }), LINK_LEDGER],
    ['cross_user', taskRef({ byId: { sourceId: 'proj-o', deleted: false, otherUser: true } }), LINK_LEDGER],
    ['cross_user', taskRef({ byId: { sourceId: 'proj-o', deleted: false } }), LINK_LEDGER],
  ])('skips with %s', (reason, ref, ledger) => {
    // Act
    const result = resolveProjectLinks([ref], ledger);

    // Assess
    expect(result.migrated).toEqual([]);
    expect(result.updates).toEqual([]);
    expect(result.skipped).toEqual([
      { key: `project:${ref.taskSourceId}`, reason, detail: expect.any(String) },
    ]);
  });

  it('links by name to the user’s own project when the id names another user’s', () => {
    // Prepare
    const refs = [
      taskRef({
        projectNameRef: 'Launch',
        byId: { sourceId: 'proj-o', deleted: false, otherUser: true },
        byName: { sourceId: 'proj-2', deleted: false },
      }),
    ];

    // Act
    const result = resolveProjectLinks(refs, LINK_LEDGER);

    // Assess
    expect(result.skipped).toEqual([]);
    expect(result.updates).toEqual([
      expect.objectContaining({ projectSourceId: 'proj-2', projectTargetId: targetMemoryId('proj-2') }),
    ]);
  });

  it('counts found and not found in a dry run', () => {
    // Prepare
    const refs = [
      taskRef(),
      taskRef({ byId: null }),
      taskRef({ byId: { sourceId: 'proj-1', deleted: true } }),
    ];

    // Act
    const outcome = dryRunProjectLinks(refs);

    // Assess
    expect(outcome).toEqual({
      wouldMigrate: 1,
      skippedByReason: { project_not_found: 1, project_deleted: 1 },
    });
  });
});
