/**
 * A Central Memory Index row derived exactly as Federated Memory derives it (its BaseModule's
 * extractTitle / generateSummary / extractKeywords and its embedding service's reduceDimensions),
 * so rows written by the migration are indistinguishable from rows the system writes itself.
 */
import { DEFAULT_VECTOR_SHAPE, reduceEmbeddingForCmi } from './embedding.js';
import { cmiEntryId } from './ids.js';
import { forEachWordRun } from './rules.js';
import type { CmiRow, ModuleMemoryRow } from './types.js';

const TITLE_LENGTH = 50;
const SUMMARY_LENGTH = 100;
const KEYWORD_MIN_LENGTH = 4;
const KEYWORD_LIMIT = 10;
const DEFAULT_IMPORTANCE = 0.5;
/**
 * The system's stop words. Each is at most 3 characters long and keywords must be longer, so
 * the list removes nothing; it is kept so the rule reads as the system's does.
 */
const SYSTEM_STOP_WORDS: ReadonlySet<string> = new Set([
  'the',
  'a',
  'an',
  'and',
  'or',
  'but',
  'in',
  'on',
  'at',
  'to',
  'for',
]);

/**
 * `text.substring(0, length) + '...'` past `length` UTF-16 units, as the system cuts. A cut through
 * a surrogate pair leaves half an emoji, which reaches PostgreSQL as U+FFFD from the system and
 * from us alike (`toWellFormed` makes that explicit, so the value equals what is stored).
 */
function cutWithEllipsis(text: string, length: number): string {
  return (text.length > length ? `${text.substring(0, length)}...` : text).toWellFormed();
}

/** The first line (up to the first `\n`), cut at 50. */
export function deriveCmiTitle(content: string): string {
  return cutWithEllipsis(content.split('\n')[0] as string, TITLE_LENGTH);
}

export function deriveCmiSummary(content: string): string {
  return cutWithEllipsis(content, SUMMARY_LENGTH);
}

/**
 * `content.toLowerCase().split(/\W+/)`, words longer than 3, de-duplicated in first-seen order, the
 * first 10 — walked as the runs of `\w` the split yields (the same words in the same order) so that
 * scanning stops at the tenth keyword. The whole text is lower-cased first, as the system does: some
 * letters ("İ", the Kelvin sign) lower-case to ASCII word characters.
 */
export function deriveCmiKeywords(content: string): string[] {
  const keywords = new Set<string>();
  const lower = content.toLowerCase();
  forEachWordRun(lower, (start, end) => {
    if (end - start < KEYWORD_MIN_LENGTH) return true;
    const word = lower.slice(start, end);
    if (!SYSTEM_STOP_WORDS.has(word)) keywords.add(word);
    return keywords.size < KEYWORD_LIMIT;
  });
  return [...keywords];
}

function categoriesOf(metadata: Record<string, unknown>): string[] {
  const categories = metadata['categories'];
  return Array.isArray(categories) && categories.every((c) => typeof c === 'string') ? [...categories] : [];
}

/** `metadata.importanceScore || 0.5`, as the system writes it: 0 and NaN become 0.5 too. */
function importanceOf(metadata: Record<string, unknown>): number {
  const score = metadata['importanceScore'];
  return typeof score === 'number' && Number.isFinite(score) && score !== 0 ? score : DEFAULT_IMPORTANCE;
}

/** What a CMI rebuild (the guide's `cmi:populate`) did. */
export interface RebuildCmiResult {
  scanned: number;
  created: number;
  updated: number;
  removedOrphans: number;
  /** Module rows whose user is not in `users`: memory_index.userId is a foreign key to it. */
  skippedMissingUser: number;
  /**
   * Rows left out at write time: the CMI id is taken by another module's entry for the same memory
   * id, or the user was deleted between the page's read and its write.
   */
  skippedIdConflict: number;
  durationMs: number;
}

/**
 * The CMI row of a module row; its vector is the module vector reduced to `cmiDimensions`.
 * `allocate` gives that vector's array (a batch's slab); a new array by default.
 */
export function deriveCmiEntry(
  row: ModuleMemoryRow,
  cmiDimensions: number = DEFAULT_VECTOR_SHAPE.cmiDimensions,
  allocate?: (length: number) => Float32Array,
): CmiRow {
  return {
    id: cmiEntryId(row.id),
    userId: row.userId,
    moduleId: row.module,
    remoteMemoryId: row.id,
    embedding: row.embedding === null ? null : reduceEmbeddingForCmi(row.embedding, cmiDimensions, allocate),
    title: deriveCmiTitle(row.content),
    summary: deriveCmiSummary(row.content),
    keywords: deriveCmiKeywords(row.content),
    categories: categoriesOf(row.metadata),
    importanceScore: importanceOf(row.metadata),
    accessCount: row.accessCount,
    lastAccessed: row.lastAccessed,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
