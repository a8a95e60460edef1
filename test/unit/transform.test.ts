import { describe, expect, it } from 'vitest';
import { targetMemoryId } from '../../functions/core/ids.js';
import type { SoundMemory as SourceMemory } from '../../functions/core/source-values.js';
import { contentHash, type TransformInput, transformMemory } from '../../functions/core/transform.js';
import type { Classification, ModuleId } from '../../functions/core/types.js';

function sourceMemory(overrides: Partial<SourceMemory> = {}): SourceMemory {
  return {
    id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    userId: 'source-user-1',
    content: 'Ship the billing export\nIt must include refunds.',
    contentHash: null,
    embedding: null,
    title: null,
    summary: null,
    tags: ['billing'],
    source: null,
    sourceMetadata: {},
    createdAt: new Date('2023-05-06T07:08:09.123Z'),
    updatedAt: new Date('2023-06-07T08:09:10.456Z'),
    accessedAt: new Date('2023-07-08T09:10:11.789Z'),
    accessCount: 12,
    ...overrides,
  };
}

function classifiedAs(module: ModuleId): Classification {
  return {
    module,
    rule: `category:${module}`,
    evidence: `source_metadata.category="${module}"`,
    confidence: 0.95,
  };
}

function input(overrides: Partial<TransformInput> = {}): TransformInput {
  return { classification: classifiedAs('work'), targetUserId: 'target-user-1', ...overrides };
}

function transformed(memory: SourceMemory, given: TransformInput = input()) {
  const result = transformMemory(memory, given);
  if (!result.ok) throw new Error(`expected a row, got ${result.rejection.reason}`);
  return result;
}

function embedding1536(seed = 1): Float32Array {
  return Float32Array.from({ length: 1536 }, (_, i) => Math.sin(i * seed) / 40);
}

describe('Function: transformMemory', () => {
  it('builds the module row with a deterministic id and preserved counters and timestamps', () => {
    // Prepare
    const memory = sourceMemory({ embedding: embedding1536() });

    // Act
    const { row, repairs } = transformed(memory);

    // Assess
    expect(repairs).toEqual([]);
    expect(row).toMatchObject({
      id: targetMemoryId(memory.id),
      module: 'work',
      userId: 'target-user-1',
      content: memory.content,
      embedding: memory.embedding,
      accessCount: 12,
    });
    expect(row.createdAt.toISOString()).toBe('2023-05-06T07:08:09.123Z');
    expect(row.updatedAt.toISOString()).toBe('2023-06-07T08:09:10.456Z');
    expect(row.lastAccessed?.toISOString()).toBe('2023-07-08T09:10:11.789Z');
  });

  it('gives a NULL accessed_at the updated_at as lastAccessed (NOT NULL in the target), with a repair', () => {
    // Prepare
    const memory = sourceMemory({ accessedAt: null });

    // Act
    const result = transformMemory(memory, input());

    // Assess
    if (!result.ok) throw new Error('expected a migrated row');
    expect(result.row.lastAccessed).toEqual(memory.updatedAt);
    expect(result.repairs.map((r) => r.rule)).toContain('last_accessed_derived');
  });

  it('keeps a present accessed_at as lastAccessed, with no repair', () => {
    // Prepare
    const accessedAt = new Date('2024-05-05T05:05:05.555Z');

    // Act
    const result = transformMemory(sourceMemory({ accessedAt }), input());

    // Assess
    if (!result.ok) throw new Error('expected a migrated row');
    expect(result.row.lastAccessed).toEqual(accessedAt);
    expect(result.repairs.map((r) => r.rule)).not.toContain('last_accessed_derived');
  });

  it('keeps every source_metadata key and adds the migration fields', () => {
    // Prepare
    const memory = sourceMemory({
      title: 'Billing export',
      summary: 'Export with refunds',
      source: 'slack-import',
      contentHash: 'abc123',
      sourceMetadata: { custom: { nested: [1, 2] }, importanceScore: 0.7 },
    });
    const classification = classifiedAs('work');

    // Act
    const { row } = transformed(memory, input({ classification, embeddingModel: 'text-embedding-3-small' }));

    // Assess
    expect(row.metadata).toEqual({
      custom: { nested: [1, 2] },
      importanceScore: 0.7,
      migrated_from: 'bigmemory',
      original_id: memory.id,
      original_created_at: '2023-05-06T07:08:09.123Z',
      original_tags: ['billing'],
      title: 'Billing export',
      summary: 'Export with refunds',
      access_count: 12,
      source: 'slack-import',
      content_hash: 'abc123',
      classification: { rule: classification.rule, evidence: classification.evidence, confidence: 0.95 },
      embedding_model: 'text-embedding-3-small',
    });
  });

  it('derives title and summary from the content when the source has none', () => {
    // Act
    const { row } = transformed(sourceMemory({ content: `${'t'.repeat(60)}\nrest` }));

    // Assess
    expect(row.metadata['title']).toBe(`${'t'.repeat(50)}...`);
    expect(row.metadata['summary']).toBe(`${'t'.repeat(60)}\nrest`);
    expect(row.metadata).not.toHaveProperty('source');
    expect(row.metadata).not.toHaveProperty('content_hash');
    expect(row.metadata).not.toHaveProperty('embedding_model');
  });

  it('keeps a title from source_metadata when the column is empty', () => {
    // Act
    const { row } = transformed(sourceMemory({ title: '  ', sourceMetadata: { title: 'From metadata' } }));

    // Assess
    expect(row.metadata['title']).toBe('From metadata');
  });

  it('maps the work fields from their BigMemory keys, setting only those with a value', () => {
    // Prepare
    const memory = sourceMemory({
      sourceMetadata: {
        type: 'task',
        category: 'Work',
        projectName: 'Billing',
        status: 'in_progress',
        priority: 'high',
        assignee: 'ann',
        dueDate: '2023-08-01',
        owner: 'bob',
        team: ['ann', 'bob'],
        projectId: 'p-1',
      },
    });

    // Act
    const { row } = transformed(memory);

    // Assess
    expect(row.metadata).toMatchObject({
      type: 'task',
      projectId: 'p-1',
      category: 'Work',
      project_name: 'Billing',
      status: 'in_progress',
      priority: 'high',
      assignee: 'ann',
      deadline: '2023-08-01',
      owner: 'bob',
      team_members: ['ann', 'bob'],
    });
  });

  it('leaves out module fields the source does not have', () => {
    // Act
    const { row } = transformed(sourceMemory({ sourceMetadata: { status: null, priority: '' } }));

    // Assess
    for (const key of ['project_name', 'deadline', 'team_members', 'assignee', 'owner']) {
      expect(row.metadata).not.toHaveProperty(key);
    }
  });

  it.each([
    [
      'personal',
      { mood: 'happy', location: 'Lisbon', peopleMentioned: ['Ann'] },
      { mood: 'happy', location: 'Lisbon', people_mentioned: ['Ann'] },
    ],
    [
      'technical',
      { language: 'ts', framework: 'vitest', errorType: 'TypeError', solutionFound: true },
      { language: 'ts', framework: 'vitest', error_type: 'TypeError', solution_found: true },
    ],
    [
      'learning',
      { topic: 'SQL', source: 'book', understandingLevel: 3 },
      { topic: 'SQL', source: 'book', understanding_level: 3 },
    ],
    [
      'communication',
      { channel: 'slack', participants: ['a', 'b'], threadId: 't-9' },
      { channel: 'slack', participants: ['a', 'b'], thread_id: 't-9' },
    ],
    [
      'creative',
      { medium: 'ink', inspiration: 'rain', status: 'draft' },
      { medium: 'ink', inspiration: 'rain', status: 'draft' },
    ],
  ] as const)('maps the %s fields', (module, sourceMetadata, expected) => {
    // Act
    const { row } = transformed(
      sourceMemory({ sourceMetadata }),
      input({ classification: classifiedAs(module) }),
    );

    // Assess
    expect(row.module).toBe(module);
    expect(row.metadata).toMatchObject(expected);
  });

  it('moves a source value that a migration field replaces to shadowed_source_metadata', () => {
    // Prepare
    const memory = sourceMemory({
      source: 'api',
      sourceMetadata: { source: 'web', deadline: 'soon', dueDate: '2023-09-01' },
    });

    // Act
    const { row } = transformed(memory);

    // Assess
    expect(row.metadata['source']).toBe('api');
    expect(row.metadata['deadline']).toBe('2023-09-01');
    expect(row.metadata['shadowed_source_metadata']).toEqual({ source: 'web', deadline: 'soon' });
  });

  it.each([
    ['NULL', null, 'content is NULL'],
    ['empty', '', 'content is empty or whitespace only'],
    ['whitespace-only', ' \n\t ', 'content is empty or whitespace only'],
  ])('rejects %s content as empty_content', (_kind, content, detail) => {
    // Act
    const result = transformMemory(sourceMemory({ content }), input());

    // Assess
    expect(result).toEqual({
      ok: false,
      rejection: { sourceId: sourceMemory().id, reason: 'empty_content', detail },
    });
  });

  it('keeps a valid embedding bit-for-bit', () => {
    // Prepare
    const embedding = embedding1536();
    embedding[3] = -0;
    embedding[4] = 1.401298464324817e-45;
    const bits = new Uint32Array(embedding.buffer.slice(0));

    // Act
    const { row } = transformed(sourceMemory({ embedding }));

    // Assess
    expect(new Uint32Array(row.embedding!.buffer.slice(0))).toEqual(bits);
  });

  it.each([
    ['invalid_embedding_dimension', new Float32Array(768), 'expected 1536 dimensions, got 768'],
    [
      'non_finite_embedding',
      Float32Array.from(embedding1536(), (v, i) => (i === 5 ? Number.NaN : v)),
      'value at index 5 is NaN',
    ],
  ])('rejects a source embedding with %s', (reason, embedding, detail) => {
    // Act
    const result = transformMemory(sourceMemory({ embedding }), input());

    // Assess
    expect(result).toEqual({ ok: false, rejection: { sourceId: sourceMemory().id, reason, detail } });
  });

  it('keeps a NULL embedding NULL and records the repair', () => {
    // Act
    const { row, repairs } = transformed(sourceMemory({ embedding: null }));

    // Assess
    expect(row.embedding).toBeNull();
    expect(repairs).toEqual([
      {
        sourceId: sourceMemory().id,
        rule: 'embedding_missing',
        detail: 'embedding was NULL; migrated as NULL',
      },
    ]);
  });

  it('uses a regenerated embedding in place of the source one', () => {
    // Prepare
    const regenerated = embedding1536(2);

    // Act
    const { row, repairs } = transformed(
      sourceMemory({ embedding: embedding1536(1) }),
      input({ embedding: regenerated }),
    );

    // Assess
    expect(row.embedding).toBe(regenerated);
    expect(repairs).toEqual([]);
  });

  it('drops an invalid source embedding when a regenerated one replaces it, with a repair', () => {
    // Act
    const { row, repairs } = transformed(
      sourceMemory({ embedding: new Float32Array(3) }),
      input({ embedding: embedding1536() }),
    );

    // Assess
    expect(row.embedding).toHaveLength(1536);
    expect(repairs.map((r) => r.rule)).toEqual(['embedding_invalid_dropped']);
  });

  it('rejects a regenerated embedding of the wrong dimension', () => {
    // Act
    const result = transformMemory(sourceMemory(), input({ embedding: new Float32Array(1024) }));

    // Assess
    expect(result).toEqual({
      ok: false,
      rejection: {
        sourceId: sourceMemory().id,
        reason: 'invalid_embedding_dimension',
        detail: 'regenerated embedding: expected 1536 dimensions, got 1024',
      },
    });
  });

  it.each([
    ['an array', ['a', 'b'], 'source_metadata was an array; kept under metadata.original_source_metadata'],
    ['a string', 'legacy', 'source_metadata was a string; kept under metadata.original_source_metadata'],
    ['a number', 7, 'source_metadata was a number; kept under metadata.original_source_metadata'],
  ])('repairs metadata that is %s into an object keeping the original', (_kind, sourceMetadata, detail) => {
    // Act
    const { row, repairs } = transformed(sourceMemory({ sourceMetadata }));

    // Assess
    expect(row.metadata['original_source_metadata']).toEqual(sourceMetadata);
    expect(row.metadata['migrated_from']).toBe('bigmemory');
    expect(repairs).toContainEqual({ sourceId: sourceMemory().id, rule: 'metadata_not_object', detail });
  });

  it('turns NULL metadata into {} without a repair', () => {
    // Act
    const { row, repairs } = transformed(sourceMemory({ sourceMetadata: null }));

    // Assess
    expect(row.metadata).not.toHaveProperty('original_source_metadata');
    expect(repairs.map((r) => r.rule)).not.toContain('metadata_not_object');
  });

  it('turns NULL tags into [] with a repair', () => {
    // Act
    const { row, repairs } = transformed(sourceMemory({ tags: null }));

    // Assess
    expect(row.metadata['original_tags']).toEqual([]);
    expect(repairs).toContainEqual({
      sourceId: sourceMemory().id,
      rule: 'tags_null',
      detail: 'tags was NULL; migrated as []',
    });
  });

  it('does not alter the source memory', () => {
    // Prepare
    const sourceMetadata = { projectName: 'Billing' };
    const memory = sourceMemory({ sourceMetadata });

    // Act
    transformed(memory);

    // Assess
    expect(sourceMetadata).toEqual({ projectName: 'Billing' });
  });
});

describe('Function: contentHash', () => {
  it('is the sha256 hex of the UTF-8 content', () => {
    // Act & Assess
    expect(contentHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(contentHash('café')).not.toBe(contentHash('cafe'));
  });
});
