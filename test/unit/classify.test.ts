import { describe, expect, it } from 'vitest';
import { hash32 } from '../../dev/generator/seeded-random.js';
import { ModuleCentroidAccumulator, type ModuleCentroids } from '../../functions/core/centroids.js';
import { classifyMemory, isConfident } from '../../functions/core/classify.js';
import { contentWords, loadRules } from '../../functions/core/rules.js';
import type { SourceMemory } from '../../functions/core/types.js';
import keywordRulesDocument from '../fixtures/keyword-rules.json' with { type: 'json' };

/** The rule machinery on its own: the keyword rules as a user's document, no text model. */
function keywordRules(overlay: Record<string, unknown> = {}) {
  return loadRules({ ...keywordRulesDocument, ...overlay }, { textModel: null });
}

const rules = keywordRules();

function sourceMemory(overrides: Partial<SourceMemory> = {}): SourceMemory {
  return {
    id: 'mem-1',
    userId: 'user-1',
    content: 'Something happened today.',
    contentHash: null,
    embedding: null,
    title: null,
    summary: null,
    tags: [],
    source: null,
    sourceMetadata: {},
    createdAt: new Date('2024-01-01T00:00:00.000Z'),
    updatedAt: new Date('2024-01-01T00:00:00.000Z'),
    accessedAt: null,
    accessCount: 0,
    ...overrides,
  };
}

/** Centroid tests work in 4 dimensions, where the cosines are easy to check by hand. */
function vector(...values: number[]): Float32Array {
  return Float32Array.from(values);
}

function axisCentroids(): ModuleCentroids {
  const accumulator = new ModuleCentroidAccumulator();
  accumulator.add('technical', vector(1, 0, 0, 0));
  accumulator.add('creative', vector(0, 1, 0, 0));
  accumulator.add('learning', vector(0, 0, 1, 0));
  return accumulator.finish();
}

describe('Function: classifyMemory', () => {
  it('routes project metadata to work with full confidence', () => {
    // Act
    const result = classifyMemory(sourceMemory({ sourceMetadata: { type: 'project' } }), rules);

    // Assess
    expect(result).toEqual({
      module: 'work',
      rule: 'type:project',
      evidence: 'source_metadata.type="project"',
      confidence: 1,
    });
  });

  it('routes task metadata to work even when category and tags say otherwise', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({ sourceMetadata: { type: ' Task ', category: 'Personal' }, tags: ['family'] }),
      rules,
    );

    // Assess
    expect(result).toMatchObject({
      module: 'work',
      rule: 'type:task',
      evidence: 'source_metadata.type=" Task "',
    });
  });

  it('falls through an unknown type to the category', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({ sourceMetadata: { type: 'thing', category: 'Work' } }),
      rules,
    );

    // Assess
    expect(result).toEqual({
      module: 'work',
      rule: 'category:work',
      evidence: 'source_metadata.category="Work"',
      confidence: 0.95,
    });
  });

  it.each([
    ['Work', 'work'],
    ['JOB', 'work'],
    ['  projects  ', 'work'],
    ['Family', 'personal'],
    ['health', 'personal'],
    ['Programming', 'technical'],
    ['dev', 'technical'],
    ['Research', 'learning'],
    ['Education', 'learning'],
    ['EMAIL', 'communication'],
    ['messages', 'communication'],
    ['Music', 'creative'],
    ['Writing', 'creative'],
  ])('maps the category %j to %s, case-insensitively and by alias', (category, module) => {
    // Act
    const result = classifyMemory(sourceMemory({ sourceMetadata: { category } }), rules);

    // Assess
    expect(result.module).toBe(module);
    expect(result.rule).toBe(`category:${category.trim().toLowerCase()}`);
  });

  it('classifies by a tag when metadata says nothing', () => {
    // Act
    const result = classifyMemory(sourceMemory({ tags: ['misc', 'Code'] }), rules);

    // Assess
    expect(result).toEqual({
      module: 'technical',
      rule: 'tag:code',
      evidence: 'tags=["Code"]',
      confidence: 0.85,
    });
  });

  it('takes the majority when tags point to several modules', () => {
    // Act
    const result = classifyMemory(sourceMemory({ tags: ['family', 'python', 'sql'] }), rules);

    // Assess
    expect(result).toMatchObject({
      module: 'technical',
      rule: 'tag:python',
      evidence: 'tags=["python","sql"]',
    });
  });

  it('counts a repeated tag once', () => {
    // Act
    const result = classifyMemory(sourceMemory({ tags: ['family', 'Family', 'python'] }), rules);

    // Assess: one vote each is a tie, so the tags are not decisive
    expect(result.rule).not.toMatch(/^tag:/);
  });

  it('treats a tag tie as unclear and moves on to content', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({ tags: ['family', 'python'], content: 'Sprint planning: the client deadline moved.' }),
      rules,
    );

    // Assess
    expect(result.module).toBe('work');
    expect(result.rule).toBe('content:work');
  });

  it('recognises code by its patterns and names them as evidence', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({ content: 'const add = (a, b) => a + b;\nfunction inc(x) { return add(x, 1); }' }),
      rules,
    );

    // Assess
    expect(result.module).toBe('technical');
    expect(result.rule).toBe('content:technical');
    expect(result.evidence).toBe(
      'content matched /\\bfunction\\b\\s*\\w*\\s*\\(/, /=>/, /\\b(?:const|let|var)\\s+\\w+\\s*=/',
    );
    expect(result.confidence).toBe(0.8);
  });

  it.each([
    ['learning', 'Today I learned about closures in this course; the lesson and tutorial were great.'],
    ['communication', 'Subject: Offsite\nDear team,\nplease reply by Friday.\nBest regards, Ann'],
    ['creative', 'A poem about the sea, and a story with a melody in the chorus.'],
    ['personal', "My mom's birthday dinner with family this weekend."],
    ['work', 'Sprint review with the client; deadline for the milestone is Q3.'],
    ['technical', 'TypeError: x is not a function\n    at main (/app/index.js:10:5)\nrun npm install again'],
  ])('places %s content by its keywords and patterns', (module, content) => {
    // Act
    const result = classifyMemory(sourceMemory({ content }), rules);

    // Assess
    expect(result.module).toBe(module);
    expect(result.rule).toBe(`content:${module}`);
    expect(result.confidence).toBeGreaterThanOrEqual(0.5);
    expect(result.confidence).toBeLessThanOrEqual(0.8);
  });

  it('lowers content confidence as the runner-up gets closer', () => {
    // Act: technical 3 signals (api, database, deploy) against work 1 (deadline)
    const close = classifyMemory(sourceMemory({ content: 'deadline: deploy the api and database' }), rules);

    // Assess
    expect(close.module).toBe('technical');
    expect(close.confidence).toBeCloseTo(0.5 + 0.3 * (2 / 3), 3);
  });

  it('treats tied content scores as unclear', () => {
    // Act: two work signals (deadline, client) against two creative ones (poem, story)
    const result = classifyMemory(
      sourceMemory({ content: 'deadline for the client: a poem and a story' }),
      rules,
    );

    // Assess
    expect(result).toEqual({
      module: 'personal',
      rule: 'fallback:personal',
      evidence: 'no rule matched',
      confidence: 0.2,
    });
  });

  it('decides content by one word scan exactly as by one keyword regex each, for any text', () => {
    // Arrange: the default keywords in any case, among separators, digits, "_", letters, and letters
    // the case-insensitive regexes treat specially ("İ", "ſ", the Kelvin sign "K", "ß");
    const keywords = rules.content.modules.flatMap((m) =>
      m.matchers.flatMap((x) => (x.word ? [x.word] : [])),
    );
    // the edges of the ASCII word ranges and their neighbours ("/", ":", "@", "[", "`", "{")
    const alphabet = [' ', '\n', '-', '_', '0', '9', 'a', 'z', 'A', 'Z', '/', ':', '@', '[', '`', '{'];
    alphabet.push('é', 'İ', 'ſ', '\u212a', 'ß', '😀');
    let draw = 0;
    const next = () => hash32(11, 0, draw++);
    const piece = () => {
      if (next() % 3 > 0) return alphabet[next() % alphabet.length] as string;
      const word = keywords[next() % keywords.length] as string;
      return next() % 2 === 0 ? word.toUpperCase() : word;
    };
    const texts = Array.from({ length: 500 }, () => Array.from({ length: next() % 40 }, piece).join(''));
    const regexOnly = {
      ...rules,
      content: {
        ...rules.content,
        modules: rules.content.modules.map((m) => ({
          module: m.module,
          matchers: m.matchers.map(({ label, regex }) => ({ label, regex })),
        })),
      },
    };
    expect(keywords.length).toBeGreaterThan(50);

    // Act & Assess
    for (const text of texts) {
      const words = contentWords(text);
      for (const m of rules.content.modules.flatMap((x) => x.matchers)) {
        if (m.word)
          expect(words.has(m.word), `${m.label} in ${JSON.stringify(text)}`).toBe(m.regex.test(text));
      }
      expect(classifyMemory(sourceMemory({ content: text }), rules)).toEqual(
        classifyMemory(sourceMemory({ content: text }), regexOnly),
      );
    }
  });

  it('needs the minimum score before content decides', () => {
    // Act: a single technical keyword
    const result = classifyMemory(sourceMemory({ content: 'The json was fine.' }), rules);

    // Assess
    expect(result.rule).toBe('fallback:personal');
  });

  it.each([
    ['a string', 'project'],
    ['an array', ['type', 'project']],
    ['null', null],
    ['a number', 42],
  ])('does not crash on source_metadata that is %s', (_kind, sourceMetadata) => {
    // Act
    const result = classifyMemory(sourceMemory({ sourceMetadata, tags: null, content: null }), rules);

    // Assess
    expect(result.rule).toBe('fallback:personal');
  });

  it('ignores a non-string type or category', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({ sourceMetadata: { type: ['project'], category: 7 } }),
      rules,
    );

    // Assess
    expect(result.rule).toBe('fallback:personal');
  });

  it('places an unclear memory by its nearest centroid with a margin-based confidence', () => {
    // Prepare
    const memory = sourceMemory({ embedding: vector(0.9, 0.1, 0, 0) });

    // Act
    const result = classifyMemory(memory, rules, axisCentroids());

    // Assess
    const similarity = 0.9 / Math.hypot(0.9, 0.1);
    const margin = similarity - 0.1 / Math.hypot(0.9, 0.1);
    expect(result.module).toBe('technical');
    expect(result.rule).toBe('centroid:technical');
    expect(result.evidence).toBe(
      `embedding nearest technical centroid (cosine ${similarity.toFixed(3)}, margin ${margin.toFixed(3)})`,
    );
    expect(result.confidence).toBe(0.5);
  });

  it('gives a small margin a low centroid confidence, still above the fallback', () => {
    // Prepare: similarities 0.727 to technical, 0.686 to creative
    const memory = sourceMemory({ embedding: vector(0.53, 0.5, 0, 0) });

    // Act
    const result = classifyMemory(memory, rules, axisCentroids());

    // Assess
    expect(result.rule).toBe('centroid:technical');
    expect(result.confidence).toBeGreaterThan(0.2);
    expect(result.confidence).toBeLessThan(0.3);
  });

  it.each([
    ['the margin is too small', vector(0.51, 0.5, 0, 0)],
    ['the similarity is too low', vector(0.2, 0, 0, 1)],
    ['the dimension differs', vector(1, 0, 0)],
    ['the embedding is not finite', vector(Number.NaN, 0, 0, 0)],
  ])('falls back when %s', (_why, embedding) => {
    // Act
    const result = classifyMemory(sourceMemory({ embedding }), rules, axisCentroids());

    // Assess
    expect(result.rule).toBe('fallback:personal');
  });

  it('does not use centroids when they are disabled or only one module has one', () => {
    // Prepare
    const memory = sourceMemory({ embedding: vector(1, 0, 0, 0) });
    const single = new ModuleCentroidAccumulator();
    single.add('technical', vector(1, 0, 0, 0));

    // Act
    const disabled = classifyMemory(memory, keywordRules({ centroid: { enabled: false } }), axisCentroids());
    const lonely = classifyMemory(memory, rules, single.finish());

    // Assess
    expect(disabled.rule).toBe('fallback:personal');
    expect(lonely.rule).toBe('fallback:personal');
  });

  it('prefers any rule over the centroid', () => {
    // Act
    const result = classifyMemory(
      sourceMemory({ tags: ['poem'], embedding: vector(1, 0, 0, 0) }),
      rules,
      axisCentroids(),
    );

    // Assess
    expect(result.rule).toBe('tag:poem');
  });

  it('uses the fallback a user configures', () => {
    // Act
    const result = classifyMemory(sourceMemory(), keywordRules({ fallback: 'learning' }));

    // Assess
    expect(result).toMatchObject({ module: 'learning', rule: 'fallback:learning' });
  });
});

describe('Function: isConfident', () => {
  it.each([
    [{ module: 'work', rule: 'type:project', evidence: '', confidence: 1 }, true],
    [{ module: 'work', rule: 'category:job', evidence: '', confidence: 0.95 }, true],
    [{ module: 'work', rule: 'tag:work', evidence: '', confidence: 0.85 }, true],
    [{ module: 'work', rule: 'content:work', evidence: '', confidence: 0.6 }, true],
    [{ module: 'work', rule: 'content:work', evidence: '', confidence: 0.575 }, false],
    [{ module: 'work', rule: 'centroid:work', evidence: '', confidence: 0.5 }, false],
    [{ module: 'personal', rule: 'fallback:personal', evidence: '', confidence: 0.2 }, false],
  ] as const)('judges %j as %s', (classification, expected) => {
    // Act & Assess
    expect(isConfident(classification)).toBe(expected);
  });

  it('takes a stricter threshold', () => {
    // Act & Assess
    expect(isConfident({ module: 'work', rule: 'content:work', evidence: '', confidence: 0.6 }, 0.7)).toBe(
      false,
    );
  });
});
