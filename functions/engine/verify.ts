import { reduceEmbeddingForCmi, type VectorShape } from '../core/embedding.js';
import { ModuleRegistry } from '../core/modules.js';
import { allSettledOrThrow } from '../core/settled.js';
import {
  AccountingTally,
  assembleVerificationResult,
  type CmiModuleCount,
  cmiCheck,
  deletedInSourceCheck,
  type FingerprintSummary,
  FingerprintTally,
  type MemoryFingerprint,
  mergeSorted,
  moduleCountsCheck,
  projectIdsCheck,
  type RelationshipCounts,
  RelationshipTally,
  rejectsHaveReasonsCheck,
  relationshipsNotRunCheck,
  type SearchProbe,
  searchSmokeCheck,
  type TargetFingerprint,
  type VerificationCheck,
  type VerificationResult,
} from '../core/verification.js';
import type { SampleRule } from '../core/verify-sample.js';
import { sameKeySet } from '../db/key-set-digest.js';
import { type Database, type DatabaseSession, withSessions } from '../db/port.js';
import { danglingProjectIds } from '../db/project-ids.js';
import { planKeyRanges } from '../db/range-planner.js';
import {
  memoryLedgerOutcomes,
  outcomesDigest,
  relationLedgerOutcomes,
  sourceMemoryDigest,
  sourceRelationDigest,
} from '../db/set-digests.js';
import type { KeyRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { inspectTarget, type TargetLayout } from '../db/target-schema.js';
import {
  type CmiHit,
  countSourceRelations,
  ledgerMemoryKeys,
  migratedRelationshipsMissing,
  moduleAndCmiCounts,
  type NearestHit,
  nearestInCmi,
  nearestInModules,
  rejectedWithoutReason,
  relationshipLedgerIsEmpty,
  relationshipLedgerKeys,
  type SearchSample,
  searchSamples,
  sourceFingerprintPage,
  sourceMemoryKeys,
  sourceRelationKeys,
  targetFingerprintsOf,
} from '../db/verification-queries.js';
import { idsWrittenByRun, liveDrawsOfPage, selectedIdsOf, writtenByRun } from '../db/verify-selection.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface VerifyDeps {
  source: Database;
  target: Database;
  schema: SourceSchema;
  /** The target's modules and vector sizes (the run's, from Preflight); read from the target when absent. */
  layout?: TargetLayout;
}

export interface VerifyOptions {
  preserveEmbeddings: boolean;
  /** Memories probed by the search smoke test. */
  sampleSize?: number;
  /**
   * The checksum comparison, already made slice by slice (`verifyFingerprints`); made here over the
   * whole key space when absent.
   */
  fingerprints?: FingerprintSummary;
  /**
   * A tolerated partial run: the live source memories of the ranges that failed. Accounting counts
   * them as not migrated instead of unaccounted for.
   */
  notMigrated?: ReadonlySet<string>;
  /** The run keeps what the source deleted: target rows without a live source are counted, not failed. */
  keepDeleted?: boolean;
  /** A sampled Verify: the checksums of what the run wrote and of this sample; all of them when absent. */
  select?: SampleRule;
}

const DEFAULT_SEARCH_SAMPLE_SIZE = 20;

interface Clients {
  source: DatabaseSession;
  target: DatabaseSession;
  schema: SourceSchema;
  modules: ModuleRegistry;
  vectors: VectorShape;
}

/** The deps with the target's layout settled once, so parallel checks do not each read the catalog. */
async function withLayout(deps: VerifyDeps): Promise<Required<VerifyDeps>> {
  return { ...deps, layout: deps.layout ?? (await inspectTarget(deps.target)) };
}

/** Runs one named check; a database failure becomes the named error, with the check in its context. */
async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw classifyDatabaseFailure(error, { step: 'verify', check: name });
  }
}

/**
 * Runs `work` on a source and a target connection of its own. Every caller takes the source first,
 * so callers sharing small pools wait for each other but never deadlock.
 */
async function withClients<T>(
  deps: Required<VerifyDeps>,
  work: (clients: Clients) => Promise<T>,
): Promise<T> {
  return withSessions(deps.source, deps.target, (source, target) => {
    const modules = new ModuleRegistry(deps.layout.modules);
    return work({ source, target, schema: deps.schema, modules, vectors: deps.layout.vectors });
  });
}

/**
 * Reconciles the target with the source (docs/design.md, "Verification") and reports every
 * check; it never throws for a failed check (the caller decides what a failure means), only for a
 * database it cannot read. The checks are independent reads, so four groups of them run side by
 * side on connections of their own; the report lists them in a fixed order whatever finishes
 * first.
 */
export async function verifyMigration(
  given: VerifyDeps,
  options: VerifyOptions,
): Promise<VerificationResult> {
  const deps = await withLayout(given);
  const sampleSize = options.sampleSize ?? DEFAULT_SEARCH_SAMPLE_SIZE;
  // module_counts and the CMI check read one join (db/verification-queries.ts), made on the
  // connection of whichever of their two groups asks first.
  let joined: ReturnType<typeof moduleAndCmiCounts> | undefined;
  const countsOf = (c: Clients) => {
    joined ??= moduleAndCmiCounts(c.target, c.modules);
    return joined;
  };
  // Groups of about equal cost once the checksums come from the VerifySlices results; the search
  // probes, one after another on one connection, are a group of their own.
  const [[accounting, fingerprintSummary, cmi], [rejects, modules, projectIds], relationships, probes] =
    await allSettledOrThrow<
      [
        [AccountingTally, FingerprintSummary, ReturnType<typeof cmiOutcome>],
        [VerificationCheck, VerificationCheck, VerificationCheck],
        Awaited<ReturnType<typeof checkRelationships>>,
        SearchProbe[],
      ]
    >([
      withClients(deps, async (c) => [
        await step('accounting', () => checkAccounting(c, options.notMigrated)),
        options.fingerprints ??
          (await step('checksums', () =>
            checkFingerprints(c, {
              preserveEmbeddings: options.preserveEmbeddings,
              range: null,
              select: options.select,
            }),
          )),
        await step('cmi', async () => cmiOutcome((await countsOf(c)).cmi)),
      ]),
      withClients(deps, async (c) => [
        await step('rejects_have_reasons', () => checkRejectReasons(c)),
        await step('module_counts', async () => moduleCountsCheck((await countsOf(c)).modules)),
        await step('project_ids', async () => projectIdsCheck(await danglingProjectIds(c.target, c.modules))),
      ]),
      withClients(deps, (c) => step('relationships', () => checkRelationships(c))),
      withClients(deps, (c) => step('search_smoke', () => probeSearch(c, sampleSize))),
    ]);
  const fingerprints = new FingerprintTally({
    preserveEmbeddings: options.preserveEmbeddings,
    embeddingDimensions: deps.layout.vectors.embeddingDimensions,
  });
  fingerprints.absorb(fingerprintSummary);
  const checks: VerificationCheck[] = [
    accounting.toCheck(),
    deletedInSourceCheck(accounting, options.keepDeleted ?? false),
    rejects,
    modules,
    ...fingerprints.toChecks(),
    cmi.check,
    relationships.check,
    projectIds,
    searchSmokeCheck(probes, sampleSize),
  ];
  return assembleVerificationResult(checks, {
    sourceMemories: accounting.sourceMemories,
    sourceDeleted: accounting.sourceDeleted,
    migrated: accounting.migrated,
    rejected: accounting.rejected,
    unaccounted: accounting.unaccounted,
    ...(accounting.notMigrated > 0 ? { notMigrated: accounting.notMigrated } : {}),
    stale: accounting.stale,
    byModule: cmi.byModule,
    compared: fingerprints.compared,
    contentMismatches: fingerprints.content.count,
    embeddingMismatches: fingerprints.embedding.count,
    timestampMismatches: fingerprints.timestamps.count,
    cmiRows: cmi.cmiRows,
    relationships: relationships.counts,
    searchSamples: probes.length,
  });
}

/**
 * Every live source memory against the ledger: from one aggregate on each side when the ledger
 * holds exactly the live memories, by merging both key streams when some row must be named.
 */
async function checkAccounting(c: Clients, notMigrated?: ReadonlySet<string>): Promise<AccountingTally> {
  const [source, outcomes] = await Promise.all([
    sourceMemoryDigest(c.source),
    memoryLedgerOutcomes(c.target),
  ]);
  const matched = new AccountingTally(notMigrated);
  if (sameKeySet(source.live, outcomesDigest(outcomes)) && matched.absorbMatched(source.deleted, outcomes)) {
    return matched;
  }
  const tally = new AccountingTally(notMigrated);
  const pairs = mergeSorted(
    sourceMemoryKeys(c.source, c.schema),
    ledgerMemoryKeys(c.target),
    (s) => s.id,
    (l) => l.sourceId,
  );
  for await (const pair of pairs) tally.record(pair);
  return tally;
}

async function checkRejectReasons(c: Clients): Promise<VerificationCheck> {
  const { count, samples } = await rejectedWithoutReason(c.target);
  return rejectsHaveReasonsCheck(count, samples);
}

// Source ids per target lookup: enough to amortise a round trip, small enough for the Data API's
// 1 MiB response (a fingerprint row is about 200 bytes).
const FINGERPRINT_CHUNK = 2000;

/** How a sampled Verify picks its memories (checkFingerprints). */
interface SelectionLimits {
  inline: number;
  held: number;
  oneRead: number;
}

const SELECTION_LIMITS: SelectionLimits = {
  // Written ids passed whole to every page's query, up to this many.
  inline: 5000,
  // Written ids held in memory rather than asked of the ledger page by page, up to this many: a
  // resumed run's rest. Every slice reads up to this many of the run's ids before it knows, so the
  // limit stays small beside a slice.
  held: 50_000,
  // Memories a sampled Verify with inline ids selects in one read of their ids (about 40 bytes
  // each, well within the Data API's 1 MiB response); more go page by page.
  oneRead: 10_000,
};

/**
 * Content, embedding and timestamp checksums of the live source memories in `range` (all of them
 * for null) against the module rows the ledger names. Source rows come in pages in key order; each
 * page's target rows are looked up by source id while the next page is read. Only memories present on
 * both sides are compared (accounting reports the others), so slices of the key space tally to what
 * one pass over the whole of it would.
 */
export async function verifyFingerprints(
  deps: VerifyDeps,
  options: FingerprintOptions,
): Promise<FingerprintSummary> {
  return withClients(await withLayout(deps), (c) => step('checksums', () => checkFingerprints(c, options)));
}

interface FingerprintOptions {
  preserveEmbeddings: boolean;
  range: KeyRange | null;
  select?: SampleRule;
  /**
   * How many of the run's written ids go inline into each page's query, how many are held, and how
   * many selected memories are read in one go instead of page by page.
   */
  selectionLimits?: SelectionLimits;
}

/**
 * A sampled Verify's memories of a page: those the run wrote (`written` when known, otherwise
 * asked of the ledger for the page), and those the sample draws.
 */
async function selectedOf(
  c: Clients,
  page: KeyRange,
  select: SampleRule,
  written: ReadonlySet<string> | null,
): Promise<string[]> {
  const live = await liveDrawsOfPage(c.source, c.schema, page, select);
  const ids = live.map((m) => m.id);
  if (live.every((m) => m.drawn)) return ids;
  const wrote = written ?? (await writtenByRun(c.target, select.runId, ids));
  return live.filter((m) => m.drawn || wrote.has(m.id)).map((m) => m.id);
}

async function checkFingerprints(c: Clients, options: FingerprintOptions): Promise<FingerprintSummary> {
  const tally = new FingerprintTally({
    preserveEmbeddings: options.preserveEmbeddings,
    embeddingDimensions: c.vectors.embeddingDimensions,
  });
  const compare = (chunk: MemoryFingerprint[], targets: Map<string, TargetFingerprint>) => {
    for (const source of chunk) {
      tally.record({ key: source.sourceId, left: source, right: targets.get(source.sourceId) });
    }
  };
  const select = options.select;
  // A rerun writes few memories: they and the sample are then selected in one read, or, where that
  // selects too many, each page's query takes them and draws the sample itself. More written
  // memories, up to a limit, are kept here to pick each page's; beyond it each page asks the ledger.
  const limits = options.selectionLimits ?? SELECTION_LIMITS;
  const written = select ? await idsWrittenByRun(c.target, select.runId, limits.held) : null;
  const inline = written && written.length <= limits.inline ? written : null;
  const held = written && !inline ? new Set(written) : null;
  const read =
    (await selectedInOneRead(c, options.range, { inline, select, limit: limits.oneRead })) ??
    (await pageReader(c, options.range, { select, inline, held }));
  // Each page's lookup runs beside the read of the next page, one query on each connection.
  let chunk = await read(0);
  for (let index = 1; chunk !== null; index++) {
    const [targets, next] = await Promise.all([
      targetFingerprintsOf(
        c.target,
        c.modules,
        chunk.map((f) => f.sourceId),
      ),
      read(index),
    ]);
    compare(chunk, targets);
    chunk = next;
  }
  return tally.summary();
}

/**
 * The range in pages bounded by keys found first (a bound below alone, `id > last … LIMIT n`, let
 * the planner sort the rest of the table for every page), each page's selection picked as `inline`
 * and `held` say (checkFingerprints).
 */
async function pageReader(
  c: Clients,
  range: KeyRange | null,
  selection: {
    select: SampleRule | undefined;
    inline: readonly string[] | null;
    held: ReadonlySet<string> | null;
  },
): Promise<FingerprintReader> {
  const { select, inline, held } = selection;
  const pages = await planKeyRanges(c.source, {
    batchSize: FINGERPRINT_CHUNK,
    ...(range ? { within: { range, idType: c.schema.memoryIdType } } : {}),
  });
  return async (index) => {
    const page = pages[index];
    if (!page) return null;
    if (!select) return sourceFingerprintPage(c.source, c.schema, page);
    if (inline) return sourceFingerprintPage(c.source, c.schema, page, inline, select);
    const ids = await selectedOf(c, page, select, held);
    return ids.length > 0 ? sourceFingerprintPage(c.source, c.schema, page, ids) : [];
  };
}

/** Reads the source fingerprints of the selection, one chunk per index, until null. */
type FingerprintReader = (index: number) => Promise<MemoryFingerprint[] | null>;

const MIN_OVERLAPPED_CHUNK = 100;

const WHOLE_KEY_SPACE: KeyRange = { index: 0, fromKey: null, toKey: null };

/**
 * A sampled Verify of a run that wrote few memories selects few: their ids come in one read, and
 * their fingerprints in chunks by id, instead of a plan of pages over every key of the range and a
 * query per page. Null where the selection is larger than one read should return.
 */
async function selectedInOneRead(
  c: Clients,
  range: KeyRange | null,
  selection: { inline: readonly string[] | null; select: SampleRule | undefined; limit: number },
): Promise<FingerprintReader | null> {
  const { inline, select, limit } = selection;
  if (!inline || !select) return null;
  const within = range ?? WHOLE_KEY_SPACE;
  const ids = await selectedIdsOf(c.source, c.schema, within, { written: inline, draw: select }, limit);
  if (ids === null) return null;
  // Several chunks even for a small selection, so that each chunk's target lookup overlaps the read
  // of the next one.
  const size = Math.min(FINGERPRINT_CHUNK, Math.max(MIN_OVERLAPPED_CHUNK, Math.ceil(ids.length / 4)));
  return async (index) => {
    const chunk = ids.slice(index * size, (index + 1) * size);
    return chunk.length > 0 ? sourceFingerprintPage(c.source, c.schema, within, chunk) : null;
  };
}

function cmiOutcome(counts: readonly CmiModuleCount[]): {
  check: VerificationCheck;
  byModule: Record<string, number>;
  cmiRows: number;
} {
  return {
    check: cmiCheck(counts),
    byModule: Object.fromEntries(counts.map((m) => [m.module, m.moduleRows])),
    cmiRows: counts.reduce((n, m) => n + m.cmiRows, 0),
  };
}

async function checkRelationships(
  c: Clients,
): Promise<{ check: VerificationCheck; counts: RelationshipCounts | null }> {
  if (!c.schema.hasRelations) return { check: relationshipsNotRunCheck(null), counts: null };
  if (await relationshipLedgerIsEmpty(c.target)) {
    const sourceRelations = await countSourceRelations(c.source);
    if (sourceRelations > 0) return { check: relationshipsNotRunCheck(sourceRelations), counts: null };
  }
  const missing = await migratedRelationshipsMissing(c.target);
  const [sourceKeys, outcomes] = await Promise.all([
    sourceRelationDigest(c.source),
    relationLedgerOutcomes(c.target),
  ]);
  const matched = new RelationshipTally();
  if (sameKeySet(sourceKeys, outcomesDigest(outcomes)) && matched.absorbMatched(outcomes)) {
    return {
      check: matched.toCheck(missing.count, missing.samples),
      counts: matched.toCounts(missing.count),
    };
  }
  const tally = new RelationshipTally();
  const pairs = mergeSorted(
    sourceRelationKeys(c.source, c.schema),
    relationshipLedgerKeys(c.target),
    (id) => id,
    (l) => l.sourceKey,
  );
  for await (const pair of pairs) tally.record(pair);
  return { check: tally.toCheck(missing.count, missing.samples), counts: tally.toCounts(missing.count) };
}

/**
 * The search smoke test alone, against the target only (the guide's `npm run test:api`): a sample
 * of migrated memories must find themselves among their user's memories in their module table, and
 * their module through the CMI.
 */
export async function searchSmokeTest(target: Database, sampleSize = 20): Promise<VerificationCheck> {
  const layout = await inspectTarget(target);
  const client = await target.connect();
  try {
    const c = { target: client, modules: new ModuleRegistry(layout.modules), vectors: layout.vectors };
    return searchSmokeCheck(await probeSearch(c, sampleSize), sampleSize);
  } finally {
    client.release();
  }
}

type SearchClients = Pick<Clients, 'target' | 'modules' | 'vectors'>;

async function probeSearch(c: SearchClients, sampleSize: number): Promise<SearchProbe[]> {
  const samples = await searchSamples(c.target, c.modules, sampleSize);
  const own = await nearestInModules(c.target, c.modules, samples);
  const routed = await nearestInCmi(c.target, samples, (sample) =>
    reduceEmbeddingForCmi(sample.embedding, c.vectors.cmiDimensions),
  );
  return samples.map((sample) =>
    probeOutcome(c, sample, own.get(sample.sourceId), routed.get(sample.sourceId)),
  );
}

function probeOutcome(
  c: SearchClients,
  sample: SearchSample,
  own: NearestHit | undefined,
  hit: CmiHit | undefined,
): SearchProbe {
  const problems: string[] = [];
  const table = c.modules.tableOf(sample.module);
  // An exact tie (a duplicate embedding) is as good as finding the memory itself.
  const foundSelf = own !== undefined && (own.id === sample.targetId || own.distance === own.selfDistance);
  if (!foundSelf) {
    problems.push(
      own === undefined
        ? `no neighbour in ${table}`
        : `nearest in ${table} is ${own.id} at ${own.distance}, itself at ${own.selfDistance}`,
    );
  }
  const foundModule =
    hit !== undefined &&
    (hit.moduleId === sample.module || (hit.selfDistance !== null && hit.distance === hit.selfDistance));
  if (!foundModule) {
    problems.push(
      hit === undefined
        ? `no CMI entry of user ${sample.userId}`
        : `CMI top hit is ${hit.moduleId}/${hit.remoteMemoryId} at ${hit.distance}, own entry at ${hit.selfDistance ?? 'none'}`,
    );
  }
  return {
    sourceId: sample.sourceId,
    module: sample.module,
    foundSelf,
    foundModule,
    ...(problems.length > 0 ? { detail: problems.join('; ') } : {}),
  };
}
