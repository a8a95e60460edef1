/**
 * A Central Memory Index row derived exactly as Federated Memory derives it (DESIGN §2), so rows
 * written by the migration are indistinguishable from rows the system writes itself.
 */
import { reduceEmbeddingForCmi } from './embedding.js';
import { cmiEntryId } from './ids.js';
import { forEachWordRun } from './rules.js';
import { ENGLISH_STOP_WORDS } from './stop-words.js';
import type { CmiRow, ModuleMemoryRow } from './types.js';

const TITLE_LENGTH = 50;
const SUMMARY_LENGTH = 100;
const KEYWORD_MIN_LENGTH = 4;
const KEYWORD_LIMIT = 10;
const DEFAULT_IMPORTANCE = 0.5;

/**
 * Cuts like JavaScript's `substring` (UTF-16 units, as Federated Memory does), except that it never
 * splits a surrogate pair: half an emoji would reach PostgreSQL as U+FFFD.
 */
function cutWithEllipsis(text: string, length: number): string {
  if (text.length <= length) return text;
  let end = length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.substring(0, end)}...`;
}

export function deriveCmiTitle(content: string): string {
  const lineEnd = content.indexOf('\n');
  return cutWithEllipsis(lineEnd === -1 ? content : content.slice(0, lineEnd), TITLE_LENGTH);
}

export function deriveCmiSummary(content: string): string {
  return cutWithEllipsis(content, SUMMARY_LENGTH);
}

/**
 * Federated Memory's `content.toLowerCase().split(/\W+/)`, walked as the runs of `\w` it yields
 * (the same words in the same order) so that scanning stops at the tenth keyword. The whole text is
 * lower-cased first, as Federated Memory does: some letters ("İ", the Kelvin sign) lower-case to
 * ASCII word characters.
 */
export function deriveCmiKeywords(content: string): string[] {
  const keywords = new Set<string>();
  const lower = content.toLowerCase();
  forEachWordRun(lower, (start, end) => {
    if (end - start < KEYWORD_MIN_LENGTH) return true;
    const word = lower.slice(start, end);
    if (!ENGLISH_STOP_WORDS.has(word)) keywords.add(word);
    return keywords.size < KEYWORD_LIMIT;
  });
  return [...keywords];
}

function categoriesOf(metadata: Record<string, unknown>): string[] {
  const categories = metadata['categories'];
  return Array.isArray(categories) && categories.every((c) => typeof c === 'string') ? [...categories] : [];
}

function importanceOf(metadata: Record<string, unknown>): number {
  const score = metadata['importanceScore'];
  return typeof score === 'number' && Number.isFinite(score) ? score : DEFAULT_IMPORTANCE;
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

/** `allocate` gives the 512-d vector's array (a batch's slab); a new array by default. */
export function deriveCmiEntry(row: ModuleMemoryRow, allocate?: (length: number) => Float32Array): CmiRow {
  return {
    id: cmiEntryId(row.id),
    userId: row.userId,
    moduleId: row.module,
    remoteMemoryId: row.id,
    embedding: row.embedding === null ? null : reduceEmbeddingForCmi(row.embedding, allocate),
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
