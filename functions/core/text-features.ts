/**
 * What the text model sees of a memory: stemmed words, word pairs, character 4-grams of each word,
 * runs of symbols (code has its own punctuation), tags and a few metadata values. Training and
 * classification share these functions, so a model only ever meets the features it was fitted on.
 *
 * Feature names carry their kind as a prefix: `w:` stem, `b:` stem pair, `c:` 4-gram, `s:` symbols,
 * `t:` tag, `m:` metadata value.
 */

import stemEn from 'natural/lib/natural/stemmers/porter_stemmer.js';
import stemDe from 'natural/lib/natural/stemmers/porter_stemmer_de.js';
import stemEs from 'natural/lib/natural/stemmers/porter_stemmer_es.js';
import stemFr from 'natural/lib/natural/stemmers/porter_stemmer_fr.js';

export const FEATURE_KINDS = ['w', 'b', 'c', 's', 't', 'm'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

export type Language = 'en' | 'es' | 'de' | 'fr';
const LANGUAGES: readonly Language[] = ['en', 'es', 'de', 'fr'];

/** Only the opening of a long memory is read: it says what the memory is, and keeps the cost bounded. */
const TEXT_SCAN_LIMIT = 4000;
// Identifiers, hashes and URLs make long tokens whose later characters say nothing about the module.
const GRAM_SOURCE_LIMIT = 16;
const GRAM = 4;
const SYMBOL_RUN_LIMIT = 3;
const LANGUAGE_SAMPLE_WORDS = 60;

const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;
const SPACE = /^\s$/u;
const DIGITS = /^\p{N}+$/u;

// Frequent function words that the other three languages rarely use; enough to pick a stemmer.
// biome-ignore format: word lists read better packed
const LANGUAGE_MARKERS: Record<Language, ReadonlySet<string>> = {
  en: new Set(['the', 'and', 'is', 'to', 'of', 'for', 'with', 'my', 'i', 'in', 'on', 'it', 'that', 'this', 'be', 'at', 'user', 'was', 'are', 'from', 'have', 'should', 'not']),
  es: new Set(['el', 'los', 'las', 'que', 'del', 'y', 'para', 'con', 'por', 'una', 'es', 'mi', 'muy', 'pero', 'como', 'está', 'hay', 'yo', 'tengo', 'mañana', 'hoy', 'lo', 'se', 'al', 'su', 'más']),
  de: new Set(['der', 'die', 'das', 'und', 'ist', 'nicht', 'mit', 'für', 'ein', 'eine', 'ich', 'zu', 'den', 'dem', 'auf', 'auch', 'sich', 'von', 'im', 'wir', 'sie', 'bei', 'noch', 'heute', 'morgen', 'mein', 'meine']),
  fr: new Set(['le', 'les', 'des', 'du', 'et', 'est', 'une', 'pour', 'avec', 'dans', 'pas', 'qui', 'sur', 'je', 'mon', 'ma', 'mes', 'il', 'elle', 'nous', 'vous', 'ce', 'cette', 'au', 'aux', 'demain', "aujourd"]),
};

/** Word → bit set of the languages it marks: one lookup per word. */
const MARKER_BITS: ReadonlyMap<string, number> = (() => {
  const bits = new Map<string, number>();
  LANGUAGES.forEach((language, index) => {
    for (const word of LANGUAGE_MARKERS[language]) bits.set(word, (bits.get(word) ?? 0) | (1 << index));
  });
  return bits;
})();

const STEMMERS: Record<Language, (word: string) => string> = {
  en: (w) => stemEn.stem(w),
  es: (w) => stemEs.stem(w),
  de: (w) => stemDe.stem(w),
  fr: (w) => stemFr.stem(w),
};

/** A memory as the text model reads it. */
export interface MemoryText {
  content: string | null;
  tags: readonly unknown[] | null;
  sourceMetadata: unknown;
}

/** The content's tokens, lower-cased: runs of letters and digits, and runs of anything else. */
export interface Tokens {
  words: string[];
  symbols: string[];
}

const WORD = 1;
const BLANK = 2;
const OTHER = 3;
// Character classes of the Basic Multilingual Plane, filled on first sight: a regex per character
// once, then an array read. Astral characters (emoji and the like) count as symbols.
const CHAR_CLASS = new Uint8Array(0x10000);

function charClass(code: number): number {
  let kind = CHAR_CLASS[code] as number;
  if (kind === 0) {
    const char = String.fromCharCode(code);
    kind =
      code >= 0xd800 && code <= 0xdfff
        ? OTHER
        : LETTER_OR_DIGIT.test(char)
          ? WORD
          : SPACE.test(char)
            ? BLANK
            : OTHER;
    CHAR_CLASS[code] = kind;
  }
  return kind;
}

/**
 * Splits the lower-cased opening of the content into runs of letters and digits (words) and runs of
 * other non-blank characters (symbols, cut to their first three). A scan of char codes: no match
 * objects, one substring per token.
 */
export function tokenize(content: string | null): Tokens {
  const words: string[] = [];
  const symbols: string[] = [];
  if (!content) return { words, symbols };
  const text = (content.length > TEXT_SCAN_LIMIT ? content.slice(0, TEXT_SCAN_LIMIT) : content).toLowerCase();
  let start = 0;
  let current = BLANK;
  for (let i = 0; i <= text.length; i++) {
    const kind = i < text.length ? charClass(text.charCodeAt(i)) : BLANK;
    if (kind === current) continue;
    if (current === WORD) words.push(text.slice(start, i));
    else if (current === OTHER) symbols.push(text.slice(start, Math.min(i, start + SYMBOL_RUN_LIMIT)));
    current = kind;
    start = i;
  }
  return { words, symbols };
}

/** The language whose markers are most frequent among the first words; English unless another leads. */
export function detectLanguage(words: readonly string[]): Language {
  const counts = [0, 0, 0, 0];
  const end = Math.min(words.length, LANGUAGE_SAMPLE_WORDS);
  for (let i = 0; i < end; i++) {
    const bits = MARKER_BITS.get(words[i] as string);
    if (bits === undefined) continue;
    for (let l = 0; l < 4; l++) if (bits & (1 << l)) (counts[l] as number)++;
  }
  let best = 0;
  for (let l = 1; l < 4; l++) if ((counts[l] as number) > (counts[best] as number) + 1) best = l;
  return LANGUAGES[best] as Language;
}

/** The stem a word contributes (`0` for a number: its value says nothing about a module). */
function stemOf(word: string, language: Language): string {
  if (DIGITS.test(word)) return '0';
  if (word.length <= 2) return word;
  return STEMMERS[language](word);
}

/** The word's own features: its stem and the 4-grams of its opening, padded with `_` at both ends. */
export function wordFeatureNames(word: string, language: Language): { stem: string; names: string[] } {
  const stem = stemOf(word, language);
  const names = [`w:${stem}`];
  if (stem !== '0' && word.length >= 3) {
    const source = `_${word.length > GRAM_SOURCE_LIMIT ? word.slice(0, GRAM_SOURCE_LIMIT) : `${word}_`}`;
    for (let i = 0; i + GRAM <= source.length; i++) names.push(`c:${source.slice(i, i + GRAM)}`);
  }
  return { stem, names };
}

function normaliseTag(tag: string): string {
  return tag.trim().toLowerCase().replace(/^#/, '');
}

function metadataObject(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * Metadata values that hint at a module without deciding it: the `type` memory tools write
 * (preference, fact, task…), a free `category`, mem0-style `categories` and the writing app.
 */
export function metadataFeatureNames(sourceMetadata: unknown): string[] {
  const metadata = metadataObject(sourceMetadata);
  if (!metadata) return [];
  const names: string[] = [];
  for (const key of ['type', 'category', 'app'] as const) {
    const value = metadata[key];
    if (typeof value === 'string' && value.trim() !== '') names.push(`m:${key}=${normaliseTag(value)}`);
  }
  const categories = metadata['categories'];
  if (Array.isArray(categories)) {
    for (const category of categories) {
      if (typeof category === 'string' && category.trim() !== '')
        names.push(`m:categories=${normaliseTag(category)}`);
    }
  }
  return names;
}

export function tagFeatureNames(tags: readonly unknown[] | null): string[] {
  if (!tags) return [];
  const names: string[] = [];
  for (const tag of tags)
    if (typeof tag === 'string' && tag.trim() !== '') names.push(`t:${normaliseTag(tag)}`);
  return names;
}

/**
 * Every feature of a memory: each distinct word's own features (a stem or 4-gram that two different
 * words share counts twice), and each distinct word pair, symbol run, tag and metadata value once.
 * Counting per distinct word lets the classifier add one cached sum per word. The slow path, for
 * training and tests.
 */
export function memoryFeatureNames(memory: MemoryText): string[] {
  const { words, symbols } = tokenize(memory.content);
  const language = detectLanguage(words);
  const out: string[] = [];
  const seenWords = new Set<string>();
  const seen = new Set<string>();
  const once = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push(name);
  };
  let previous: string | null = null;
  for (const word of words) {
    const { stem, names } = wordFeatureNames(word, language);
    if (!seenWords.has(word)) {
      seenWords.add(word);
      out.push(...names);
    }
    if (previous !== null) once(`b:${previous} ${stem}`);
    previous = stem;
  }
  for (const symbol of symbols) once(`s:${symbol}`);
  for (const name of tagFeatureNames(memory.tags)) once(name);
  for (const name of metadataFeatureNames(memory.sourceMetadata)) once(name);
  return out;
}

export function featureKind(name: string): FeatureKind {
  return name[0] as FeatureKind;
}
