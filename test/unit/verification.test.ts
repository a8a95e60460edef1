import { describe, expect, it } from 'vitest';
import {
  AccountingTally,
  assembleVerificationResult,
  type CmiModuleCount,
  cmiCheck,
  compareCodePointOrder,
  compareFingerprints,
  describeFailures,
  type FingerprintSummary,
  FingerprintTally,
  type LedgerMemoryKey,
  type MemoryFingerprint,
  type MergedPair,
  mergeSorted,
  moduleCountsCheck,
  RelationshipTally,
  rejectsHaveReasonsCheck,
  relationshipsNotRunCheck,
  type SourceMemoryKey,
  searchSmokeCheck,
  type TargetFingerprint,
  type VerificationCounts,
} from '../../functions/core/verification.js';
import { MigrationError } from '../../functions/errors.js';

async function* streamOf<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const sourceFingerprint = (overrides: Partial<MemoryFingerprint> = {}): MemoryFingerprint => ({
  sourceId: 'm1',
  contentMd5: 'c0ffee',
  embeddingMd5: 'e0e0e0',
  embeddingDims: 1536,
  createdMs: Date.UTC(2024, 0, 1, 10, 0, 0, 123),
  updatedMs: Date.UTC(2024, 0, 2, 10, 0, 0, 456),
  accessedMs: Date.UTC(2024, 0, 3, 10, 0, 0, 789),
  ...overrides,
});

const targetFingerprint = (overrides: Partial<TargetFingerprint> = {}): TargetFingerprint => ({
  ...sourceFingerprint(),
  module: 'work',
  targetId: 't1',
  present: true,
  ...overrides,
});

const emptyCounts: VerificationCounts = {
  sourceMemories: 0,
  sourceDeleted: 0,
  migrated: 0,
  rejected: 0,
  unaccounted: 0,
  stale: 0,
  byModule: {},
  compared: 0,
  contentMismatches: 0,
  embeddingMismatches: 0,
  timestampMismatches: 0,
  cmiRows: 0,
  relationships: null,
  searchSamples: 0,
};

describe('Function: compareCodePointOrder', () => {
  it('orders ASCII ids as PostgreSQL does under COLLATE "C"', () => {
    // Prepare
    const ids = ['b', 'a-2', 'A', 'a10', 'a-1', '0'];

    // Act
    const sorted = [...ids].sort(compareCodePointOrder);

    // Assess
    expect(sorted).toEqual(['0', 'A', 'a-1', 'a-2', 'a10', 'b']);
  });

  it('puts astral characters after U+E000..U+FFFF, as UTF-8 bytes do', () => {
    // Prepare
    const astral = '\u{1F600}';
    const privateUse = '\uFFFD';

    // Act
    const order = compareCodePointOrder(astral, privateUse);

    // Assess
    expect(order).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(astral), Buffer.from(privateUse))).toBeGreaterThan(0);
  });

  it('treats a prefix as smaller and equal strings as equal', () => {
    expect(compareCodePointOrder('abc', 'abcd')).toBeLessThan(0);
    expect(compareCodePointOrder('abc', 'abc')).toBe(0);
  });
});

describe('Function: mergeSorted', () => {
  it('pairs equal keys and yields each side’s leftovers once, in key order', async () => {
    // Prepare
    const left = streamOf([{ id: 'a' }, { id: 'c' }, { id: 'd' }]);
    const right = streamOf([{ k: 'b' }, { k: 'c' }, { k: 'e' }]);

    // Act
    const pairs = await collect(
      mergeSorted(
        left,
        right,
        (l) => l.id,
        (r) => r.k,
      ),
    );

    // Assess
    expect(pairs.map((p) => [p.key, p.left !== undefined, p.right !== undefined])).toEqual([
      ['a', true, false],
      ['b', false, true],
      ['c', true, true],
      ['d', true, false],
      ['e', false, true],
    ]);
  });

  it('refuses a side that is not strictly ascending, naming it', async () => {
    // Prepare
    const left = streamOf(['a', 'c', 'b']);
    const right = streamOf<string>([]);

    // Act
    const merging = collect(
      mergeSorted(
        left,
        right,
        (l) => l,
        (r) => r,
      ),
    );

    // Assess
    await expect(merging).rejects.toThrow(MigrationError);
    await expect(
      collect(
        mergeSorted(
          streamOf(['a']),
          streamOf(['x', 'x']),
          (l) => l,
          (r) => r,
        ),
      ),
    ).rejects.toThrow(/right stream/);
  });

  it('closes both producers when the consumer stops early', async () => {
    // Prepare
    let closed = 0;
    async function* producer(items: string[]): AsyncGenerator<string> {
      try {
        for (const item of items) yield item;
      } finally {
        closed++;
      }
    }

    // Act
    for await (const pair of mergeSorted(
      producer(['a', 'b']),
      producer(['a', 'b']),
      (l) => l,
      (r) => r,
    )) {
      if (pair.key === 'a') break;
    }

    // Assess
    expect(closed).toBe(2);
  });
});

describe('Class: AccountingTally', () => {
  const pair = (
    key: string,
    source: SourceMemoryKey | undefined,
    ledger: Omit<LedgerMemoryKey, 'sourceId'> | undefined,
  ): MergedPair<SourceMemoryKey, LedgerMemoryKey> => ({
    key,
    left: source,
    right: ledger ? { sourceId: key, ...ledger } : undefined,
  });

  it('passes when every live memory is migrated or rejected with a reason, and reports stale rows', () => {
    // Prepare
    const tally = new AccountingTally();

    // Act
    tally.record(pair('m1', { id: 'm1', deleted: false }, { status: 'migrated', reason: null }));
    tally.record(pair('m2', { id: 'm2', deleted: false }, { status: 'rejected', reason: 'empty_content' }));
    tally.record(pair('m3', { id: 'm3', deleted: true }, undefined));
    tally.record(pair('m4', { id: 'm4', deleted: true }, { status: 'migrated', reason: null }));
    tally.record(pair('m5', undefined, { status: 'migrated', reason: null }));
    const check = tally.toCheck();

    // Assess
    expect(check).toMatchObject({ name: 'accounting', ok: true, expected: 2, actual: 2 });
    expect(tally).toMatchObject({ sourceMemories: 2, sourceDeleted: 2, staleDeleted: 1, staleGone: 1 });
    expect(check.detail).toMatch(/2 ledger row\(s\) are stale \(1 .*soft-deleted.*, 1 gone\), e\.g\. m4, m5/);
  });

  it('fails on a live memory missing from the ledger and on a reject without a reason', () => {
    // Prepare
    const tally = new AccountingTally();

    // Act
    tally.record(pair('m1', { id: 'm1', deleted: false }, undefined));
    tally.record(pair('m2', { id: 'm2', deleted: false }, { status: 'rejected', reason: '  ' }));
    tally.record(pair('m3', { id: 'm3', deleted: false }, { status: 'migrated', reason: null }));
    const check = tally.toCheck();

    // Assess
    expect(check.ok).toBe(false);
    expect(check.samples).toEqual(['m1', 'm2']);
    expect(check.detail).toBe(
      '2 of 3 live source memories are neither migrated nor rejected with a reason (1 rejected without one), e.g. m1, m2',
    );
  });
});

describe('Method: AccountingTally.absorbMatched', () => {
  it('counts a matched ledger by outcome as the merge would', () => {
    // Prepare
    const merged = new AccountingTally();
    merged.record({
      key: 'm1',
      left: { id: 'm1', deleted: false },
      right: { sourceId: 'm1', status: 'migrated', reason: null },
    });
    merged.record({
      key: 'm2',
      left: { id: 'm2', deleted: false },
      right: { sourceId: 'm2', status: 'migrated', reason: null },
    });
    merged.record({
      key: 'm3',
      left: { id: 'm3', deleted: false },
      right: { sourceId: 'm3', status: 'rejected', reason: 'empty_content' },
    });
    merged.record({ key: 'm4', left: { id: 'm4', deleted: true }, right: undefined });
    const matched = new AccountingTally();

    // Act
    const absorbed = matched.absorbMatched(1, [
      { status: 'migrated', reason: null, count: 2 },
      { status: 'rejected', reason: 'empty_content', count: 1 },
    ]);

    // Assess
    expect(absorbed).toBe(true);
    expect(matched.toCheck()).toEqual(merged.toCheck());
    expect(matched).toMatchObject({ sourceMemories: 3, sourceDeleted: 1, migrated: 2, rejected: 1 });
  });

  it('refuses, counting nothing, when a reject has no reason to name', () => {
    // Prepare
    const tally = new AccountingTally();

    // Act
    const absorbed = tally.absorbMatched(0, [
      { status: 'migrated', reason: null, count: 2 },
      { status: 'rejected', reason: ' ', count: 1 },
    ]);

    // Assess
    expect(absorbed).toBe(false);
    expect(tally).toMatchObject({ sourceMemories: 0, migrated: 0, rejected: 0 });
  });
});

describe('Function: rejectsHaveReasonsCheck', () => {
  it('fails with the count and samples of reasonless rejects', () => {
    // Act
    const check = rejectsHaveReasonsCheck(2, ['m7', 'm9']);

    // Assess
    expect(check).toMatchObject({
      name: 'rejects_have_reasons',
      ok: false,
      actual: 2,
      samples: ['m7', 'm9'],
    });
    expect(check.detail).toContain('m7, m9');
  });
});

describe('Function: compareFingerprints', () => {
  it('finds nothing wrong with a faithful copy', () => {
    expect(
      compareFingerprints(sourceFingerprint(), targetFingerprint(), { preserveEmbeddings: true }),
    ).toEqual({
      content: null,
      embedding: null,
      timestamps: null,
    });
  });

  it('names the content and embedding that differ', () => {
    // Act
    const result = compareFingerprints(
      sourceFingerprint(),
      targetFingerprint({ contentMd5: 'bad', embeddingMd5: 'worse' }),
      { preserveEmbeddings: true },
    );

    // Assess
    expect(result.content).toBe('content md5 c0ffee in the source, bad in the target');
    expect(result.embedding).toBe('embedding bytes differ (md5 e0e0e0 vs worse)');
    expect(result.timestamps).toBeNull();
  });

  it('checks only the dimension of a regenerated embedding', () => {
    // Act
    const fine = compareFingerprints(sourceFingerprint(), targetFingerprint({ embeddingMd5: 'new' }), {
      preserveEmbeddings: false,
    });
    const short = compareFingerprints(sourceFingerprint(), targetFingerprint({ embeddingDims: 512 }), {
      preserveEmbeddings: false,
    });

    // Assess
    expect(fine.embedding).toBeNull();
    expect(short.embedding).toMatch(/512 dimensions, expected 1536/);
  });

  it('compares timestamps to the millisecond, applying the reader’s defaults', () => {
    // Prepare
    const created = Date.UTC(2024, 0, 1, 0, 0, 0, 1);
    const source = sourceFingerprint({ createdMs: created, updatedMs: null, accessedMs: null });

    // Act
    const defaulted = compareFingerprints(
      source,
      targetFingerprint({ createdMs: created, updatedMs: created, accessedMs: created }),
      { preserveEmbeddings: true },
    );
    const offByOne = compareFingerprints(
      source,
      targetFingerprint({ createdMs: created + 1, updatedMs: created, accessedMs: created }),
      { preserveEmbeddings: true },
    );

    // Assess
    expect(defaulted.timestamps).toBeNull();
    expect(offByOne.timestamps).toBe('createdAt 2024-01-01T00:00:00.001Z ≠ 2024-01-01T00:00:00.002Z');
  });

  it('reports a missing target row as a mismatch of every kind', () => {
    // Act
    const result = compareFingerprints(sourceFingerprint(), targetFingerprint({ present: false }), {
      preserveEmbeddings: true,
    });

    // Assess
    expect(result.content).toBe('target row t1 is missing from work_memories');
    expect(result.embedding).toBe(result.content);
  });
});

describe('Class: FingerprintTally', () => {
  it('compares only memories on both sides and builds the three checks', () => {
    // Prepare
    const tally = new FingerprintTally({ preserveEmbeddings: true });

    // Act
    tally.record({ key: 'm1', left: sourceFingerprint(), right: targetFingerprint() });
    tally.record({
      key: 'm2',
      left: sourceFingerprint({ sourceId: 'm2' }),
      right: targetFingerprint({ sourceId: 'm2', contentMd5: 'x' }),
    });
    tally.record({ key: 'm3', left: sourceFingerprint({ sourceId: 'm3' }), right: undefined });
    tally.record({ key: 'm4', left: undefined, right: targetFingerprint({ sourceId: 'm4' }) });
    const [content, embedding, timestamps] = tally.toChecks();

    // Assess
    expect(tally.compared).toBe(2);
    expect(content).toMatchObject({ name: 'content_checksums', ok: false, actual: 1 });
    expect(content?.samples).toEqual(['m2: content md5 c0ffee in the source, x in the target']);
    expect(embedding).toMatchObject({ name: 'embedding_checksums', ok: true });
    expect(timestamps).toMatchObject({ name: 'timestamps', ok: true });
  });

  it('adds up slices to what one pass over all of them tallies, samples in key order', () => {
    // Prepare: eight memories, every other one with a changed content, the fifth with a late update
    const pairs = Array.from({ length: 8 }, (_, i) => {
      const key = `m${i}`;
      const right = targetFingerprint({
        sourceId: key,
        ...(i % 2 === 1 ? { contentMd5: `changed-${i}` } : {}),
        ...(i === 4 ? { updatedMs: 0 } : {}),
      });
      return { key, left: sourceFingerprint({ sourceId: key }), right };
    });
    const whole = new FingerprintTally({ preserveEmbeddings: true });
    for (const pair of pairs) whole.record(pair);
    const slices = [pairs.slice(0, 3), pairs.slice(3, 7), pairs.slice(7)].map((slice) => {
      const tally = new FingerprintTally({ preserveEmbeddings: true });
      for (const pair of slice) tally.record(pair);
      return JSON.parse(JSON.stringify(tally.summary())) as FingerprintSummary;
    });

    // Act
    const merged = new FingerprintTally({ preserveEmbeddings: true });
    for (const slice of slices) merged.absorb(slice);

    // Assess
    expect(merged.summary()).toEqual(whole.summary());
    expect(merged.compared).toBe(8);
    expect(merged.content.count).toBe(4);
    expect(merged.content.samples.map((s) => s.split(':')[0])).toEqual(['m1', 'm3', 'm5', 'm7']);
    expect(merged.timestamps.count).toBe(1);
    expect(merged.toChecks()).toEqual(whole.toChecks());
  });

  it('keeps at most the sample limit when slices together hold more', () => {
    // Prepare
    const slice = (from: number): FingerprintSummary => ({
      compared: 4,
      content: { count: 4, samples: [0, 1, 2, 3].map((i) => `m${from + i}: differs`) },
      embedding: { count: 0, samples: [] },
      timestamps: { count: 0, samples: [] },
    });
    const tally = new FingerprintTally({ preserveEmbeddings: true });

    // Act
    tally.absorb(slice(0));
    tally.absorb(slice(4));

    // Assess
    expect(tally.content.count).toBe(8);
    expect(tally.content.samples).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'].map((k) => `${k}: differs`));
  });
});

describe('Function: moduleCountsCheck', () => {
  it('passes when every ledger-migrated memory has its module row', () => {
    // Act
    const check = moduleCountsCheck([
      { module: 'work', ledgerMigrated: 3, present: 3, missingSamples: [] },
      { module: 'personal', ledgerMigrated: 0, present: 0, missingSamples: [] },
    ]);

    // Assess
    expect(check).toMatchObject({
      ok: true,
      expected: { work: 3, personal: 0 },
      actual: { work: 3, personal: 0 },
    });
  });

  it('names the module that is short and which memories are missing', () => {
    // Act
    const check = moduleCountsCheck([
      { module: 'work', ledgerMigrated: 3, present: 2, missingSamples: ['m5'] },
    ]);

    // Assess
    expect(check.ok).toBe(false);
    expect(check.detail).toBe('work: ledger says 3 migrated, table holds 2 of them, e.g. work:m5');
  });
});

describe('Function: cmiCheck', () => {
  const count = (overrides: Partial<CmiModuleCount>): CmiModuleCount => ({
    module: 'work',
    moduleRows: 4,
    cmiRows: 4,
    missing: 0,
    wrongUser: 0,
    wrongModule: 0,
    samples: [],
    ...overrides,
  });

  it('passes with one CMI row per module row', () => {
    expect(cmiCheck([count({})]).ok).toBe(true);
  });

  it('fails on a missing row, a wrong user or a stray row in another module', () => {
    // Act
    const missing = cmiCheck([count({ cmiRows: 3, missing: 1, samples: ['m1 has no CMI row'] })]);
    const wrongUser = cmiCheck([count({ wrongUser: 1 })]);
    const wrongModule = cmiCheck([count({ wrongModule: 1 })]);

    // Assess
    expect(missing.ok).toBe(false);
    expect(missing.detail).toBe(
      'work: 4 module rows, 3 CMI rows (1 missing, 0 wrong user, 0 in a wrong module), e.g. work:m1 has no CMI row',
    );
    expect(wrongUser.ok).toBe(false);
    expect(wrongModule.ok).toBe(false);
  });
});

describe('Class: RelationshipTally', () => {
  it('accounts source relations by ledger status and ignores ledger-only links', () => {
    // Prepare
    const tally = new RelationshipTally();

    // Act
    tally.record({ key: 'r1', left: 'r1', right: { sourceKey: 'r1', status: 'migrated', reason: null } });
    tally.record({
      key: 'r2',
      left: 'r2',
      right: { sourceKey: 'r2', status: 'skipped', reason: 'dangling_end' },
    });
    tally.record({
      key: 'task:1',
      left: undefined,
      right: { sourceKey: 'task:1', status: 'migrated', reason: null },
    });
    const check = tally.toCheck(0, []);

    // Assess
    expect(check).toMatchObject({ name: 'relationships', ok: true, expected: 2, actual: 2 });
    expect(tally.toCounts(0)).toEqual({
      source: 2,
      migrated: 1,
      skipped: 1,
      missing: 0,
      skippedByReason: { dangling_end: 1 },
    });
  });

  it('counts a matched relationship ledger by outcome, and refuses a skip without a reason', () => {
    // Prepare
    const matched = new RelationshipTally();
    const refusing = new RelationshipTally();

    // Act
    const absorbed = matched.absorbMatched([
      { status: 'migrated', reason: null, count: 3 },
      { status: 'skipped', reason: 'dangling_end', count: 2 },
    ]);
    const refused = refusing.absorbMatched([{ status: 'skipped', reason: null, count: 1 }]);

    // Assess
    expect(absorbed).toBe(true);
    expect(matched.toCounts(0)).toEqual({
      source: 5,
      migrated: 3,
      skipped: 2,
      missing: 0,
      skippedByReason: { dangling_end: 2 },
    });
    expect(refused).toBe(false);
    expect(refusing.toCounts(0)).toMatchObject({ source: 0 });
  });

  it('fails on an unaccounted relation and on a migrated one absent from the target', () => {
    // Prepare
    const tally = new RelationshipTally();
    tally.record({ key: 'r1', left: 'r1', right: undefined });
    tally.record({ key: 'r2', left: 'r2', right: { sourceKey: 'r2', status: 'skipped', reason: null } });

    // Act
    const check = tally.toCheck(1, ['r9']);

    // Assess
    expect(check.ok).toBe(false);
    expect(check.samples).toEqual(['r1', 'r2', 'r9']);
    expect(check.detail).toContain('2 source relation(s) neither migrated nor skipped with a reason');
    expect(check.detail).toContain('1 migrated relation(s) are not in memory_relationships');
  });

  it('reports a relationship step that has not run as skipped, not failed', () => {
    expect(relationshipsNotRunCheck(12)).toMatchObject({
      ok: true,
      skipped: true,
      detail: expect.stringMatching(/^not run/),
    });
  });
});

describe('Function: searchSmokeCheck', () => {
  it('fails with the probes that missed, and their details', () => {
    // Act
    const check = searchSmokeCheck(
      [
        { sourceId: 'm1', module: 'work', foundSelf: true, foundModule: true },
        {
          sourceId: 'm2',
          module: 'learning',
          foundSelf: true,
          foundModule: false,
          detail: 'CMI top hit is work/x',
        },
      ],
      20,
    );

    // Assess
    expect(check).toMatchObject({ ok: false, expected: 2, actual: 1 });
    expect(check.samples).toEqual(['m2 (learning): CMI top hit is work/x']);
  });
});

describe('Function: assembleVerificationResult', () => {
  it('orders checks canonically and fails when any check fails', () => {
    // Act
    const result = assembleVerificationResult(
      [
        { name: 'cmi', ok: false, detail: 'work: 1 missing' },
        { name: 'accounting', ok: true },
      ],
      emptyCounts,
    );

    // Assess
    expect(result.ok).toBe(false);
    expect(result.checks.map((c) => c.name)).toEqual(['accounting', 'cmi']);
    expect(describeFailures(result)).toBe('verification failed: cmi (work: 1 missing)');
  });
});
