/**
 * Reconciliation rules of the verify step (docs/design.md, "Verification"), free of any driver. Each check folds
 * pairs of a source row and its target counterpart into a tally, so memory stays flat however many
 * millions of rows there are: accounting and relationships merge-join two streams sorted by the
 * same key; checksums pair a page of source rows with their looked-up targets, slice by slice, and
 * the slices' tallies add up.
 */
import { MigrationError } from '../errors.js';
import { DEFAULT_VECTOR_SHAPE } from './embedding.js';

export const CHECK_NAMES = [
  'accounting',
  'deleted_in_source',
  'rejects_have_reasons',
  'module_counts',
  'content_checksums',
  'embedding_checksums',
  'timestamps',
  'cmi',
  'relationships',
  'project_ids',
  'search_smoke',
] as const;
type CheckName = (typeof CHECK_NAMES)[number];

export interface VerificationCheck {
  name: CheckName;
  ok: boolean;
  expected?: unknown;
  actual?: unknown;
  detail?: string;
  /** The check could not apply (e.g. the relationship step has not run); it does not fail the run. */
  skipped?: boolean;
  /** A few offending keys, for the report. */
  samples?: string[];
}

export interface RelationshipCounts {
  source: number;
  migrated: number;
  skipped: number;
  missing: number;
  skippedByReason: Record<string, number>;
}

export interface VerificationCounts {
  /** Live (not soft-deleted) source memories. */
  sourceMemories: number;
  sourceDeleted: number;
  migrated: number;
  rejected: number;
  /** Live source memories the ledger does not account for. */
  unaccounted: number;
  /** Live source memories of the ranges a tolerated partial run could not migrate (absent: none). */
  notMigrated?: number;
  /** Ledger rows whose source memory is now soft-deleted or gone. */
  stale: number;
  byModule: Record<string, number>;
  /** Migrated memories compared field by field with their target row. */
  compared: number;
  contentMismatches: number;
  embeddingMismatches: number;
  timestampMismatches: number;
  cmiRows: number;
  relationships: RelationshipCounts | null;
  searchSamples: number;
}

export interface VerificationResult {
  ok: boolean;
  checks: VerificationCheck[];
  counts: VerificationCounts;
}

export const SAMPLE_LIMIT = 5;

function addSample(samples: string[], key: string): void {
  if (samples.length < SAMPLE_LIMIT) samples.push(key);
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

// ---------------------------------------------------------------------------------------------
// Merge-join of sorted streams

/**
 * Unicode code-point order, which is the byte order of UTF-8 and so PostgreSQL's `COLLATE "C"`.
 * JavaScript's `<` compares UTF-16 units, which puts astral characters before U+E000–U+FFFF.
 */
export function compareCodePointOrder(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

export interface MergedPair<L, R> {
  key: string;
  left: L | undefined;
  right: R | undefined;
}

function outOfOrder(side: string, previous: string, key: string): MigrationError {
  return new MigrationError(
    `the ${side} stream is not in strictly ascending "C" collation order (${JSON.stringify(previous)} then ${JSON.stringify(key)}): the two sides cannot be merge-compared`,
    { context: { side, previous, key } },
  );
}

/**
 * Full outer merge-join of two streams, each sorted strictly ascending by its key in code-point
 * order. Yields every key once with the element of each side that has it. Throws if either side
 * is out of order: a collation mismatch would otherwise pass for missing rows.
 */
export async function* mergeSorted<L, R>(
  left: AsyncIterable<L>,
  right: AsyncIterable<R>,
  leftKey: (l: L) => string,
  rightKey: (r: R) => string,
): AsyncGenerator<MergedPair<L, R>> {
  const li = left[Symbol.asyncIterator]();
  const ri = right[Symbol.asyncIterator]();
  let lPrev: string | undefined;
  let rPrev: string | undefined;
  const nextLeft = async (): Promise<{ item: L; key: string } | undefined> => {
    const n = await li.next();
    if (n.done) return undefined;
    const key = leftKey(n.value);
    if (lPrev !== undefined && compareCodePointOrder(lPrev, key) >= 0) throw outOfOrder('left', lPrev, key);
    lPrev = key;
    return { item: n.value, key };
  };
  const nextRight = async (): Promise<{ item: R; key: string } | undefined> => {
    const n = await ri.next();
    if (n.done) return undefined;
    const key = rightKey(n.value);
    if (rPrev !== undefined && compareCodePointOrder(rPrev, key) >= 0) throw outOfOrder('right', rPrev, key);
    rPrev = key;
    return { item: n.value, key };
  };
  try {
    let l = await nextLeft();
    let r = await nextRight();
    while (l !== undefined || r !== undefined) {
      const order = l === undefined ? 1 : r === undefined ? -1 : compareCodePointOrder(l.key, r.key);
      if (order === 0 && l && r) {
        yield { key: l.key, left: l.item, right: r.item };
        l = await nextLeft();
        r = await nextRight();
      } else if (order < 0 && l) {
        yield { key: l.key, left: l.item, right: undefined };
        l = await nextLeft();
      } else if (r) {
        yield { key: r.key, left: undefined, right: r.item };
        r = await nextRight();
      }
    }
  } finally {
    // Lets the producers close their queries when the consumer stops early or throws.
    await Promise.allSettled([li.return?.(), ri.return?.()]);
  }
}

// ---------------------------------------------------------------------------------------------
// Accounting: every live source memory is migrated or rejected with a reason

export interface SourceMemoryKey {
  id: string;
  deleted: boolean;
}

export interface LedgerMemoryKey {
  sourceId: string;
  status: string;
  reason: string | null;
}

/** How many ledger rows hold one outcome (status and reason). */
export interface LedgerOutcomeCount {
  status: string;
  reason: string | null;
  count: number;
}

export class AccountingTally {
  sourceMemories = 0;
  sourceDeleted = 0;
  migrated = 0;
  rejected = 0;
  rejectedWithoutReason = 0;
  unaccounted = 0;
  staleDeleted = 0;
  staleGone = 0;
  /** Live memories of ranges a tolerated partial run could not migrate. */
  notMigrated = 0;
  /** Stale rows of migrated memories: target rows whose source memory is gone or soft-deleted. */
  staleMigrated = 0;
  readonly unaccountedSamples: string[] = [];
  readonly staleSamples: string[] = [];
  readonly staleMigratedSamples: string[] = [];

  /** `excused`: ids of a partial run's failed ranges, not migrated by the run's own choice. */
  constructor(private readonly excused: ReadonlySet<string> = new Set()) {}

  record(pair: MergedPair<SourceMemoryKey, LedgerMemoryKey>): void {
    const { left: source, right: ledger, key } = pair;
    if (source?.deleted) this.sourceDeleted++;
    else if (source) this.sourceMemories++;
    if (!ledger) {
      if (source && !source.deleted && this.excused.has(key)) {
        this.notMigrated++;
      } else if (source && !source.deleted) {
        this.unaccounted++;
        addSample(this.unaccountedSamples, key);
      }
      return;
    }
    if (!source || source.deleted) {
      if (source) this.staleDeleted++;
      else this.staleGone++;
      addSample(this.staleSamples, key);
      if (ledger.status === 'migrated') {
        this.staleMigrated++;
        addSample(this.staleMigratedSamples, key);
      }
      return;
    }
    if (ledger.status === 'migrated') this.migrated++;
    else if (ledger.status === 'rejected' && hasReason(ledger.reason)) this.rejected++;
    else {
      if (ledger.status === 'rejected') this.rejectedWithoutReason++;
      this.unaccounted++;
      addSample(this.unaccountedSamples, key);
    }
  }

  /**
   * Counts from aggregates, for a ledger whose keys are exactly the live source memories' (nothing
   * unaccounted or stale can then exist but a reject without a reason). False, with nothing
   * counted, when some row must be named: the caller merges the key streams instead.
   */
  absorbMatched(sourceDeleted: number, outcomes: readonly LedgerOutcomeCount[]): boolean {
    const accounted = (o: LedgerOutcomeCount) =>
      o.status === 'migrated' || (o.status === 'rejected' && hasReason(o.reason));
    if (!outcomes.every(accounted)) return false;
    this.sourceDeleted += sourceDeleted;
    for (const o of outcomes) {
      this.sourceMemories += o.count;
      if (o.status === 'migrated') this.migrated += o.count;
      else this.rejected += o.count;
    }
    return true;
  }

  get stale(): number {
    return this.staleDeleted + this.staleGone;
  }

  toCheck(): VerificationCheck {
    const ok = this.unaccounted === 0;
    const staleNote =
      this.stale > 0
        ? `; ${this.stale} ledger row(s) are stale (${this.staleDeleted} source memories soft-deleted since, ${this.staleGone} gone), e.g. ${this.staleSamples.join(', ')}`
        : '';
    const notMigratedNote =
      this.notMigrated > 0 ? `, ${this.notMigrated} not migrated (their ranges failed; tolerated)` : '';
    const detail = ok
      ? `${this.sourceMemories} live source memories: ${this.migrated} migrated, ${this.rejected} rejected with a reason${notMigratedNote}${staleNote}`
      : `${this.unaccounted} of ${this.sourceMemories} live source memories are neither migrated nor rejected with a reason` +
        `${this.rejectedWithoutReason > 0 ? ` (${this.rejectedWithoutReason} rejected without one)` : ''}, e.g. ${this.unaccountedSamples.join(', ')}${staleNote}`;
    return {
      name: 'accounting',
      ok,
      expected: this.sourceMemories,
      actual: this.migrated + this.rejected,
      detail,
      ...(this.unaccountedSamples.length > 0 ? { samples: [...this.unaccountedSamples] } : {}),
    };
  }
}

/**
 * Target rows without a live source: memories migrated earlier whose source row was deleted or
 * soft-deleted since. Every run removes them, so 0 is expected; with `keepDeleted` they are kept
 * on purpose and only counted.
 */
export function deletedInSourceCheck(tally: AccountingTally, keepDeleted: boolean): VerificationCheck {
  const n = tally.staleMigrated;
  return {
    name: 'deleted_in_source',
    ok: n === 0 || keepDeleted,
    expected: keepDeleted ? null : 0,
    actual: n,
    detail:
      n === 0
        ? 'no target memory without a live source memory'
        : `${n} target memor${n === 1 ? 'y has' : 'ies have'} no live source memory (deleted or soft-deleted in BigMemory since)${keepDeleted ? ', kept as --keep-deleted asks' : '; a rerun removes them'}, e.g. ${tally.staleMigratedSamples.join(', ')}`,
    ...(n > 0 ? { samples: [...tally.staleMigratedSamples] } : {}),
  };
}

function hasReason(reason: string | null): boolean {
  return reason !== null && reason.trim() !== '';
}

export function rejectsHaveReasonsCheck(withoutReason: number, samples: string[]): VerificationCheck {
  return {
    name: 'rejects_have_reasons',
    ok: withoutReason === 0,
    expected: 0,
    actual: withoutReason,
    detail:
      withoutReason === 0
        ? 'every rejected memory has a reason'
        : `${withoutReason} rejected ledger row(s) have no reason, e.g. ${samples.join(', ')}`,
    ...(samples.length > 0 ? { samples: samples.slice(0, SAMPLE_LIMIT) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Per-row fingerprints: content, embedding, timestamps

/** What one memory looks like on either side, reduced to hashes and milliseconds. */
export interface MemoryFingerprint {
  /** The source memory id (the target side carries it through the ledger). */
  sourceId: string;
  contentMd5: string | null;
  /** md5 of pgvector's binary form (`vector_send`), so equal means bit-exact. */
  embeddingMd5: string | null;
  embeddingDims: number | null;
  createdMs: number | null;
  updatedMs: number | null;
  accessedMs: number | null;
}

export interface TargetFingerprint extends MemoryFingerprint {
  module: string;
  targetId: string;
  /** False when the ledger names a module row that does not exist. */
  present: boolean;
}

export interface FingerprintMismatches {
  content: string | null;
  embedding: string | null;
  timestamps: string | null;
}

// JavaScript's Date range; beyond it (and at ±infinity) a source timestamp is repaired.
const MAX_DATE_MS = 8.64e15;
const instantMs = (ms: number | null) =>
  ms !== null && Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? ms : null;

/**
 * The timestamps the transformer writes for a source row, by the repair rules of
 * `soundSourceValues` (a NULL, infinite or out-of-range created_at becomes updated_at, else
 * accessed_at; updated_at likewise becomes created_at; such an accessed_at becomes NULL) and the
 * rule for the NOT NULL lastAccessed (a missing accessed_at takes updated_at), to the millisecond.
 */
function expectedTargetTimes(source: MemoryFingerprint): {
  createdMs: number;
  updatedMs: number;
  accessedMs: number;
} {
  const accessedMs = instantMs(source.accessedMs);
  const createdMs = instantMs(source.createdMs) ?? instantMs(source.updatedMs) ?? accessedMs ?? 0;
  const updatedMs = instantMs(source.updatedMs) ?? createdMs;
  return { createdMs, updatedMs, accessedMs: accessedMs ?? updatedMs };
}

export interface VerifyOptions {
  preserveEmbeddings: boolean;
  /** The target's module vector size: what a regenerated embedding must have (Federated Memory's 1536 by default). */
  embeddingDimensions?: number;
}

const iso = (ms: number | null) => (ms === null ? 'null' : new Date(ms).toISOString());

export function compareFingerprints(
  source: MemoryFingerprint,
  target: TargetFingerprint,
  options: VerifyOptions,
): FingerprintMismatches {
  if (!target.present) {
    const missing = `target row ${target.targetId} is missing from ${target.module}_memories`;
    return { content: missing, embedding: missing, timestamps: missing };
  }
  const content =
    source.contentMd5 === target.contentMd5
      ? null
      : `content md5 ${source.contentMd5 ?? 'null'} in the source, ${target.contentMd5 ?? 'null'} in the target`;

  let embedding: string | null = null;
  if (options.preserveEmbeddings) {
    if (source.embeddingMd5 !== target.embeddingMd5) {
      embedding = `embedding bytes differ (md5 ${source.embeddingMd5 ?? 'null'} vs ${target.embeddingMd5 ?? 'null'})`;
    }
  } else if (
    target.embeddingDims !== (options.embeddingDimensions ?? DEFAULT_VECTOR_SHAPE.embeddingDimensions)
  ) {
    embedding = `regenerated embedding has ${target.embeddingDims ?? 'no'} dimensions, expected ${options.embeddingDimensions ?? DEFAULT_VECTOR_SHAPE.embeddingDimensions}`;
  }

  const expected = expectedTargetTimes(source);
  const differences: string[] = [];
  if (expected.createdMs !== target.createdMs)
    differences.push(`createdAt ${iso(expected.createdMs)} ≠ ${iso(target.createdMs)}`);
  if (expected.updatedMs !== target.updatedMs)
    differences.push(`updatedAt ${iso(expected.updatedMs)} ≠ ${iso(target.updatedMs)}`);
  if (expected.accessedMs !== target.accessedMs) {
    differences.push(`lastAccessed ${iso(expected.accessedMs)} ≠ ${iso(target.accessedMs)}`);
  }
  return { content, embedding, timestamps: differences.length > 0 ? differences.join(', ') : null };
}

interface MismatchTally {
  count: number;
  samples: string[];
}

/** A fingerprint tally as JSON: what one verify slice hands the Verify step. */
export interface FingerprintSummary {
  compared: number;
  content: MismatchTally;
  embedding: MismatchTally;
  timestamps: MismatchTally;
}

const MISMATCH_KINDS = ['content', 'embedding', 'timestamps'] as const;

/** Folds per-row comparisons into the content, embedding and timestamp checks. */
export class FingerprintTally {
  compared = 0;
  readonly content: MismatchTally = { count: 0, samples: [] };
  readonly embedding: MismatchTally = { count: 0, samples: [] };
  readonly timestamps: MismatchTally = { count: 0, samples: [] };

  constructor(private readonly options: VerifyOptions) {}

  summary(): FingerprintSummary {
    const copy = (t: MismatchTally) => ({ count: t.count, samples: [...t.samples] });
    return {
      compared: this.compared,
      content: copy(this.content),
      embedding: copy(this.embedding),
      timestamps: copy(this.timestamps),
    };
  }

  /**
   * Adds another slice's tally. Absorbed in key order, the samples stay the first ones in key
   * order, as a single pass over every slice would have kept.
   */
  absorb(slice: FingerprintSummary): void {
    this.compared += slice.compared;
    for (const kind of MISMATCH_KINDS) {
      this[kind].count += slice[kind].count;
      for (const sample of slice[kind].samples) addSample(this[kind].samples, sample);
    }
  }

  /** Only memories present on both sides are compared; accounting reports the others. */
  record(pair: MergedPair<MemoryFingerprint, TargetFingerprint>): void {
    if (!pair.left || !pair.right) return;
    this.compared++;
    const mismatches = compareFingerprints(pair.left, pair.right, this.options);
    for (const kind of MISMATCH_KINDS) {
      const what = mismatches[kind];
      if (what === null) continue;
      this[kind].count++;
      addSample(this[kind].samples, `${pair.key}: ${what}`);
    }
  }

  toChecks(): VerificationCheck[] {
    const check = (name: CheckName, tally: MismatchTally, what: string): VerificationCheck => ({
      name,
      ok: tally.count === 0,
      expected: 0,
      actual: tally.count,
      detail:
        tally.count === 0
          ? `${this.compared} migrated memories: ${what} match`
          : `${tally.count} of ${this.compared} migrated memories differ: ${tally.samples.join('; ')}`,
      ...(tally.samples.length > 0 ? { samples: [...tally.samples] } : {}),
    });
    return [
      check('content_checksums', this.content, 'content checksums'),
      check(
        'embedding_checksums',
        this.embedding,
        this.options.preserveEmbeddings
          ? 'embeddings bit-exact'
          : `embeddings have ${this.options.embeddingDimensions ?? DEFAULT_VECTOR_SHAPE.embeddingDimensions} dimensions`,
      ),
      check('timestamps', this.timestamps, 'createdAt, updatedAt and lastAccessed to the millisecond'),
    ];
  }
}

// ---------------------------------------------------------------------------------------------
// Target-side counts: modules and the CMI

export interface ModuleCount {
  module: string;
  /** Ledger rows migrated into this module. */
  ledgerMigrated: number;
  /** Of those, how many have their row in `<module>_memories`. */
  present: number;
  missingSamples: string[];
}

export function moduleCountsCheck(counts: readonly ModuleCount[]): VerificationCheck {
  const short = counts.filter((c) => c.present !== c.ledgerMigrated);
  const expected = Object.fromEntries(counts.map((c) => [c.module, c.ledgerMigrated]));
  const actual = Object.fromEntries(counts.map((c) => [c.module, c.present]));
  const samples = short
    .flatMap((c) => c.missingSamples.map((id) => `${c.module}:${id}`))
    .slice(0, SAMPLE_LIMIT);
  return {
    name: 'module_counts',
    ok: short.length === 0,
    expected,
    actual,
    detail:
      short.length === 0
        ? `every migrated memory has its module row (${counts.map((c) => `${c.module} ${c.present}`).join(', ')})`
        : short
            .map(
              (c) =>
                `${c.module}: ledger says ${c.ledgerMigrated} migrated, table holds ${c.present} of them`,
            )
            .join('; ') + `, e.g. ${samples.join(', ')}`,
    ...(samples.length > 0 ? { samples } : {}),
  };
}

export interface CmiModuleCount {
  module: string;
  /** Module rows that are ledger targets of this module. */
  moduleRows: number;
  /** CMI rows of this module pointing at those rows. */
  cmiRows: number;
  /** Module rows without a CMI row in this module. */
  missing: number;
  /** CMI rows whose userId differs from their module row's. */
  wrongUser: number;
  /** CMI rows in another module for a memory the ledger places in this one. */
  wrongModule: number;
  samples: string[];
}

export function cmiCheck(counts: readonly CmiModuleCount[]): VerificationCheck {
  const bad = counts.filter(
    (c) => c.missing > 0 || c.wrongUser > 0 || c.wrongModule > 0 || c.cmiRows !== c.moduleRows,
  );
  const samples = bad.flatMap((c) => c.samples.map((s) => `${c.module}:${s}`)).slice(0, SAMPLE_LIMIT);
  return {
    name: 'cmi',
    ok: bad.length === 0,
    expected: Object.fromEntries(counts.map((c) => [c.module, c.moduleRows])),
    actual: Object.fromEntries(counts.map((c) => [c.module, c.cmiRows])),
    detail:
      bad.length === 0
        ? 'every migrated memory has exactly one CMI row, in its module, for its user'
        : bad
            .map(
              (c) =>
                `${c.module}: ${c.moduleRows} module rows, ${c.cmiRows} CMI rows (${c.missing} missing, ${c.wrongUser} wrong user, ${c.wrongModule} in a wrong module)`,
            )
            .join('; ') + (samples.length > 0 ? `, e.g. ${samples.join(', ')}` : ''),
    ...(samples.length > 0 ? { samples } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Relationships

export interface RelationshipLedgerKey {
  sourceKey: string;
  status: string;
  reason: string | null;
}

export class RelationshipTally {
  source = 0;
  migrated = 0;
  skipped = 0;
  unaccounted = 0;
  readonly skippedByReason: Record<string, number> = {};
  readonly unaccountedSamples: string[] = [];

  /** As AccountingTally.absorbMatched, for relationship-ledger rows that are exactly the source's relations. */
  absorbMatched(outcomes: readonly LedgerOutcomeCount[]): boolean {
    if (!outcomes.every((o) => o.status === 'migrated' || (o.status === 'skipped' && hasReason(o.reason))))
      return false;
    for (const o of outcomes) {
      this.source += o.count;
      if (o.status === 'migrated') this.migrated += o.count;
      else {
        this.skipped += o.count;
        this.skippedByReason[o.reason as string] = (this.skippedByReason[o.reason as string] ?? 0) + o.count;
      }
    }
    return true;
  }

  /** Ledger rows with no source relation (project–task links, relations deleted since) are not counted. */
  record(pair: MergedPair<string, RelationshipLedgerKey>): void {
    if (pair.left === undefined) return;
    this.source++;
    const ledger = pair.right;
    if (ledger?.status === 'migrated') this.migrated++;
    else if (ledger?.status === 'skipped' && hasReason(ledger.reason)) {
      this.skipped++;
      increment(this.skippedByReason, ledger.reason as string);
    } else {
      this.unaccounted++;
      addSample(this.unaccountedSamples, pair.key);
    }
  }

  toCheck(missingInTarget: number, missingSamples: string[]): VerificationCheck {
    const ok = this.unaccounted === 0 && missingInTarget === 0;
    const problems: string[] = [];
    if (this.unaccounted > 0) {
      problems.push(
        `${this.unaccounted} source relation(s) neither migrated nor skipped with a reason, e.g. ${this.unaccountedSamples.join(', ')}`,
      );
    }
    if (missingInTarget > 0) {
      problems.push(
        `${missingInTarget} migrated relation(s) are not in memory_relationships, e.g. ${missingSamples.join(', ')}`,
      );
    }
    const samples = [...this.unaccountedSamples, ...missingSamples].slice(0, SAMPLE_LIMIT);
    return {
      name: 'relationships',
      ok,
      expected: this.source,
      actual: this.migrated + this.skipped,
      detail: ok
        ? `${this.source} source relations: ${this.migrated} migrated, ${this.skipped} skipped (${formatReasons(this.skippedByReason)})`
        : problems.join('; '),
      ...(samples.length > 0 ? { samples } : {}),
    };
  }

  toCounts(missingInTarget: number): RelationshipCounts {
    return {
      source: this.source,
      migrated: this.migrated,
      skipped: this.skipped,
      missing: this.unaccounted + missingInTarget,
      skippedByReason: { ...this.skippedByReason },
    };
  }
}

function formatReasons(byReason: Record<string, number>): string {
  const entries = Object.entries(byReason);
  return entries.length === 0 ? 'none' : entries.map(([reason, n]) => `${reason} ${n}`).join(', ');
}

export function relationshipsNotRunCheck(sourceRelations: number | null): VerificationCheck {
  return {
    name: 'relationships',
    ok: true,
    skipped: true,
    detail:
      sourceRelations === null
        ? 'the source has no memory_relations table'
        : `not run: the relationship ledger is empty while the source holds ${sourceRelations} relation(s)`,
  };
}

// ---------------------------------------------------------------------------------------------
// Project links

export interface ProjectIdCounts {
  /** Module rows carrying the `project_id` a project–task link wrote. */
  linked: number;
  /** Of those, how many name no migrated memory: the memory ledger and its module row disagree. */
  dangling: number;
  samples: string[];
}

/** Every `project_id` a link wrote must name a project memory that is still migrated. */
export function projectIdsCheck(counts: ProjectIdCounts): VerificationCheck {
  return {
    name: 'project_ids',
    ok: counts.dangling === 0,
    expected: counts.linked,
    actual: counts.linked - counts.dangling,
    detail:
      counts.dangling === 0
        ? `every project_id of ${counts.linked} linked task(s) names a migrated project`
        : `${counts.dangling} of ${counts.linked} linked task(s) have a project_id that names no migrated project, e.g. ${counts.samples.join(', ')}`,
    ...(counts.samples.length > 0 ? { samples: counts.samples } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Search smoke test

export interface SearchProbe {
  sourceId: string;
  module: string;
  /** The module table's nearest neighbour of the memory's own embedding is the memory (or ties with it). */
  foundSelf: boolean;
  /** The CMI's top hit for the reduced embedding, within the memory's user, is in the memory's module (or ties). */
  foundModule: boolean;
  detail?: string;
}

export function searchSmokeCheck(probes: readonly SearchProbe[], requested: number): VerificationCheck {
  const failed = probes.filter((p) => !p.foundSelf || !p.foundModule);
  const samples = failed
    .slice(0, SAMPLE_LIMIT)
    .map((p) => `${p.sourceId} (${p.module}): ${p.detail ?? 'not found'}`);
  const passed = probes.length - failed.length;
  return {
    name: 'search_smoke',
    ok: failed.length === 0,
    expected: probes.length,
    actual: passed,
    detail:
      probes.length === 0
        ? `no migrated memory with an embedding to probe (sample of ${requested} requested)`
        : failed.length === 0
          ? `${probes.length} sampled memories find themselves among their user's memories in their module table, and their module through the CMI`
          : `${failed.length} of ${probes.length} sampled memories fail: ${samples.join('; ')}`,
    ...(samples.length > 0 ? { samples } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The result

/** Orders checks as CHECK_NAMES does and passes only when every applicable check passes. */
export function assembleVerificationResult(
  checks: readonly VerificationCheck[],
  counts: VerificationCounts,
): VerificationResult {
  const order = (c: VerificationCheck) => CHECK_NAMES.indexOf(c.name);
  const sorted = [...checks].sort((a, b) => order(a) - order(b));
  return { ok: sorted.every((c) => c.ok), checks: sorted, counts };
}

/** A one-line summary of the failed checks, for logs and the error a failing verify step throws. */
export function describeFailures(result: VerificationResult): string {
  const failed = result.checks.filter((c) => !c.ok);
  if (failed.length === 0) return 'verification passed';
  return `verification failed: ${failed.map((c) => `${c.name} (${c.detail ?? 'failed'})`).join('; ')}`;
}
