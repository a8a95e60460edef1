import { describe, expect, it } from 'vitest';
import {
  deriveCmiEntry,
  deriveCmiKeywords,
  deriveCmiSummary,
  deriveCmiTitle,
} from '../../functions/core/cmi.js';
import { cmiEntryId } from '../../functions/core/ids.js';
import type { ModuleMemoryRow } from '../../functions/core/types.js';

function moduleRow(overrides: Partial<ModuleMemoryRow> = {}): ModuleMemoryRow {
  return {
    id: '9b1deb4d-3b7d-5bad-9bdd-2b0d7b3dcb6d',
    module: 'technical',
    userId: 'user-1',
    content: 'Postgres vacuum tuning notes',
    embedding: null,
    metadata: {},
    accessCount: 7,
    lastAccessed: new Date('2024-03-01T10:00:00.123Z'),
    createdAt: new Date('2024-01-01T00:00:00.001Z'),
    updatedAt: new Date('2024-02-01T00:00:00.999Z'),
    ...overrides,
  };
}

describe('Function: deriveCmiTitle', () => {
  it('keeps a first line of exactly 50 characters as is', () => {
    // Prepare
    const line = 'a'.repeat(50);

    // Act & Assess
    expect(deriveCmiTitle(line)).toBe(line);
  });

  it('cuts a 51-character first line to 50 plus ...', () => {
    // Act & Assess
    expect(deriveCmiTitle(`${'a'.repeat(50)}b`)).toBe(`${'a'.repeat(50)}...`);
  });

  it('uses only the first line of multi-line content', () => {
    // Act & Assess
    expect(deriveCmiTitle('Release checklist\nstep one\nstep two')).toBe('Release checklist');
    expect(deriveCmiTitle('\nsecond line')).toBe('');
  });

  it('counts UTF-16 units like Federated Memory, half an emoji stored as U+FFFD as the system stores it', () => {
    // Prepare: 49 letters then an emoji (2 UTF-16 units) straddling the cut
    const content = `${'a'.repeat(49)}😀 and more`;

    // Act
    const title = deriveCmiTitle(content);

    // Assess: what PostgreSQL receives from the system's `substring(0, 50) + '...'`
    expect(title).toBe(`${'a'.repeat(49)}\uFFFD...`);
    expect(Buffer.from(title, 'utf8')).toEqual(Buffer.from(`${content.substring(0, 50)}...`, 'utf8'));
    expect(deriveCmiTitle('Über café naïve résumé')).toBe('Über café naïve résumé');
  });
});

describe('Function: deriveCmiSummary', () => {
  it('keeps exactly 100 characters and cuts 101 to 100 plus ...', () => {
    // Act & Assess
    expect(deriveCmiSummary('x'.repeat(100))).toBe('x'.repeat(100));
    expect(deriveCmiSummary('x'.repeat(101))).toBe(`${'x'.repeat(100)}...`);
  });

  it('spans lines, unlike the title', () => {
    // Act & Assess
    expect(deriveCmiSummary('line one\nline two')).toBe('line one\nline two');
  });
});

describe('Function: deriveCmiKeywords', () => {
  it('lower-cases, splits on non-word characters, keeps words over 3 characters (no stop word is that long)', () => {
    // Act
    const keywords = deriveCmiKeywords(
      'The Deploy of THIS service failed: should have checked the logs, with care!',
    );

    // Assess
    expect(keywords).toEqual([
      'deploy',
      'this',
      'service',
      'failed',
      'should',
      'have',
      'checked',
      'logs',
      'with',
      'care',
    ]);
  });

  it('de-duplicates in first-occurrence order and stops at 10', () => {
    // Act
    const keywords = deriveCmiKeywords(
      'alpha bravo alpha charlie delta echo foxtrot golf hotel india juliet kilo lima mike',
    );

    // Assess
    expect(keywords).toEqual([
      'alpha',
      'bravo',
      'charlie',
      'delta',
      'echo',
      'foxtrot',
      'golf',
      'hotel',
      'india',
      'juliet',
    ]);
  });

  it('treats non-ASCII letters as separators, as the JavaScript \\W does', () => {
    // Act & Assess: "café" splits into "caf" + "_au_lait"; "résumé" into "r" + "sum"
    expect(deriveCmiKeywords('naïve résumé café_au_lait 2024')).toEqual(['_au_lait', '2024']);
  });

  it('returns no keywords for content of short words only, and removes no longer stop word', () => {
    // Act & Assess
    expect(deriveCmiKeywords('it is an ox of the sea')).toEqual([]);
    expect(deriveCmiKeywords('it is what they would have done')).toEqual([
      'what',
      'they',
      'would',
      'have',
      'done',
    ]);
  });

  it("gives Federated Memory's split-based keywords for any text, including case-changing letters", () => {
    // Arrange: the system's own formula, and texts mixing separators, digits, "_" and letters whose
    // lower case has another length ("İ" → "i̇", which puts an ASCII "i" into a word)
    const reference = (content: string) =>
      [
        ...new Set(
          content
            .toLowerCase()
            .split(/\W+/)
            .filter((w) => w.length >= 4),
        ),
      ].slice(0, 10);
    const alphabet = ['a', 'B', 'z', '_', '1', ' ', '\n', '-', 'é', 'İ', 'ß', '😀', 'Ω', 'their', 'WORK'];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const texts = Array.from({ length: 500 }, () =>
      Array.from({ length: next() % 120 }, () => alphabet[next() % alphabet.length]).join(''),
    );

    // Act & Assess
    for (const text of texts) expect(deriveCmiKeywords(text), text).toEqual(reference(text));
  });
});

describe('Function: deriveCmiEntry', () => {
  it('derives every CMI field from the module row', () => {
    // Prepare
    const embedding = Float32Array.from({ length: 1536 }, (_, i) => i % 3);
    const row = moduleRow({
      content: 'Postgres vacuum tuning\nautovacuum_naptime matters for busy tables',
      embedding,
      metadata: { categories: ['db', 'ops'], importanceScore: 0.9 },
    });

    // Act
    const entry = deriveCmiEntry(row);

    // Assess
    expect(entry).toEqual({
      id: cmiEntryId(row.id),
      userId: 'user-1',
      moduleId: 'technical',
      remoteMemoryId: row.id,
      embedding: expect.any(Float32Array),
      title: 'Postgres vacuum tuning',
      summary: 'Postgres vacuum tuning\nautovacuum_naptime matters for busy tables',
      keywords: ['postgres', 'vacuum', 'tuning', 'autovacuum_naptime', 'matters', 'busy', 'tables'],
      categories: ['db', 'ops'],
      importanceScore: 0.9,
      accessCount: 7,
      lastAccessed: row.lastAccessed,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
    expect(entry.embedding).toHaveLength(512);
    // Every group's mean is 1, scaled to unit length as the system's reduction does.
    expect(entry.embedding?.every((v) => v === Math.fround(1 / Math.sqrt(512)))).toBe(true);
  });

  it('keeps a NULL embedding NULL', () => {
    // Act
    const entry = deriveCmiEntry(moduleRow({ embedding: null }));

    // Assess
    expect(entry.embedding).toBeNull();
  });

  it.each([
    [{}, [], 0.5],
    [{ categories: 'work' }, [], 0.5],
    [{ categories: ['a', 1] }, [], 0.5],
    [{ categories: [] }, [], 0.5],
    [{ importanceScore: '0.9' }, [], 0.5],
    [{ importanceScore: Number.NaN }, [], 0.5],
    // The system writes `importanceScore || 0.5`: 0 becomes 0.5 too.
    [{ importanceScore: 0 }, [], 0.5],
    [{ importanceScore: 0.25 }, [], 0.25],
  ])('falls back to [] and 0.5 for metadata %j', (metadata, categories, importance) => {
    // Act
    const entry = deriveCmiEntry(moduleRow({ metadata }));

    // Assess
    expect(entry.categories).toEqual(categories);
    expect(entry.importanceScore).toBe(importance);
  });
});
