import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveCmiKeywords, deriveCmiSummary, deriveCmiTitle } from '../../functions/core/cmi.js';

// Federated Memory's own code (its BaseModule's extractTitle, generateSummary and extractKeywords),
// transcribed here rather than imported, so any drift of the project's functions shows.
const system = {
  title(content: string): string {
    const firstLine = content.split('\n')[0] as string;
    return firstLine.length > 50 ? `${firstLine.substring(0, 50)}...` : firstLine;
  },
  summary(content: string): string {
    return content.length > 100 ? `${content.substring(0, 100)}...` : content;
  },
  keywords(content: string): string[] {
    const words = content.toLowerCase().split(/\W+/);
    const stopWords = new Set(['the', 'a', 'an', 'and', 'or', 'but', 'in', 'on', 'at', 'to', 'for']);
    return Array.from(new Set(words.filter((word) => word.length > 3 && !stopWords.has(word)))).slice(0, 10);
  },
};

// What PostgreSQL stores of a JavaScript string: its UTF-8 bytes, a lone surrogate as U+FFFD. The
// system's cut can leave one; the stored text is what both must agree on.
const stored = (text: string) => Buffer.from(text, 'utf8');

const RUNS = 10_000;

// Text of the kinds that stress the formulas: every Unicode plane (emoji, accents, lone
// surrogates), CRLF and tabs, separators and `_`, letters whose lower case changes length, and
// first lines far longer than 50.
const awkward = fc.constantFrom(
  '\n',
  '\r\n',
  '\t',
  ' ',
  '_',
  '-',
  'İ',
  'K',
  'ß',
  'é',
  'café',
  '😀',
  '👩‍💻',
  'the',
  'WORK',
);
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: awkward },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9 ]{40,200}$/) },
);
const content = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''));

describe('Property: CMI fields as Federated Memory derives them', () => {
  it(`gives the system's title for ${RUNS} random texts`, () => {
    fc.assert(
      fc.property(content, (text) => {
        expect(stored(deriveCmiTitle(text))).toEqual(stored(system.title(text)));
      }),
      { numRuns: RUNS, seed: 17 },
    );
  });

  it(`gives the system's summary for ${RUNS} random texts`, () => {
    fc.assert(
      fc.property(content, (text) => {
        expect(stored(deriveCmiSummary(text))).toEqual(stored(system.summary(text)));
      }),
      { numRuns: RUNS, seed: 23 },
    );
  });

  it(`gives the system's keywords for ${RUNS} random texts`, () => {
    fc.assert(
      fc.property(content, (text) => {
        expect(deriveCmiKeywords(text)).toEqual(system.keywords(text));
      }),
      { numRuns: RUNS, seed: 29 },
    );
  });

  it('cuts a very long first line at 50 and the content at 100 UTF-16 units', () => {
    // Prepare
    const text = `${'é'.repeat(49)}😀${'x'.repeat(500)}\r\nsecond line`;

    // Act & Assess
    expect(deriveCmiTitle(text)).toBe(`${'é'.repeat(49)}\uFFFD...`);
    expect(deriveCmiSummary(text)).toHaveLength(103);
  });
});
