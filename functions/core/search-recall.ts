/**
 * Search equivalence: does a question still bring back the memories it brought back before the
 * migration? Every query has the source's top-k (exact cosine over the user's live BigMemory
 * memories) as its relevant set, and two target answers: an exact search over all the user's module
 * tables, and Federated Memory's routed search (rank modules by the CMI, search the top ones).
 * This file holds the figures (recall@k, nDCG@k), their tallies and the module ranking; the SQL
 * lives in db/search-queries.ts.
 */

/** Federated Memory's `routeQuery`: CMI entries at least this similar to the query take part. */
export const ROUTE_SIMILARITY_THRESHOLD = 0.7;
/** `routeQuery`'s default `limit`: how many modules a query is routed to. */
const ROUTE_MODULE_LIMIT = 3;

/** The memories most often lost by routing that a report shows. */
const ROUTING_LOSS_LIMIT = 20;

/** A target memory that is not there: the source's hit was never migrated. */
export const NOT_MIGRATED = '(not migrated)';

export interface ModuleSimilarity {
  module: string;
  /** Average similarity of the user's CMI entries in this module above the threshold (null: none). */
  matchedAverage: number | null;
  /** Average similarity of all the user's CMI entries in this module. */
  average: number;
}

/**
 * The modules a query is routed to, best first. `routeQuery` ranks modules by the average
 * similarity of the user's CMI entries that pass its filter (similarity above 0.7, or a keyword
 * found in the query text) and keeps the first three. Where fewer than three modules pass, the
 * system would search fewer (none at all falls back to every module); we fill the remaining places
 * with the other modules ranked by the average similarity of all their entries, so the figure
 * measures where the CMI points rather than a fallback that bypasses it. The keyword branch is not
 * followed: the check's queries are vectors, and a memory's own keywords would always match it.
 */
export function rankModules(similarities: readonly ModuleSimilarity[], limit = ROUTE_MODULE_LIMIT): string[] {
  const matched = similarities
    .filter((s) => s.matchedAverage !== null)
    .sort(
      (a, b) => (b.matchedAverage as number) - (a.matchedAverage as number) || compare(a.module, b.module),
    );
  const rest = similarities
    .filter((s) => s.matchedAverage === null)
    .sort((a, b) => b.average - a.average || compare(a.module, b.module));
  return [...matched, ...rest].slice(0, limit).map((s) => s.module);
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Share of `relevant` found in `retrieved` (1 when nothing is relevant: nothing could be lost). */
export function recallAt(relevant: readonly string[], retrieved: readonly string[]): number {
  if (relevant.length === 0) return 1;
  const got = new Set(retrieved);
  return relevant.filter((id) => got.has(id)).length / relevant.length;
}

/**
 * nDCG@k with binary relevance: a retrieved memory counts 1/log2(rank+1) when it is among the
 * source's top-k; the ideal list puts all of those first. Unlike recall, it drops when the right
 * memories come back lower in the list.
 */
export function ndcgAt(relevant: readonly string[], retrieved: readonly string[], k: number): number {
  if (relevant.length === 0) return 1;
  const wanted = new Set(relevant);
  let dcg = 0;
  retrieved.slice(0, k).forEach((id, i) => {
    if (wanted.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant.length); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}

/** Users grouped by how many live memories they have (search cost and quality vary with it). */
export function userBucket(memories: number): string {
  if (memories <= 10) return '≤10';
  if (memories <= 100) return '11-100';
  if (memories <= 1_000) return '101-1,000';
  if (memories <= 10_000) return '1,001-10,000';
  return '>10,000';
}

const BUCKET_ORDER = ['≤10', '11-100', '101-1,000', '1,001-10,000', '>10,000'];

/** One query's three answers, all as target memory ids (`NOT_MIGRATED:<source id>` for a lost one). */
export interface QueryOutcome {
  bucket: string;
  /** The source's top-k, best first. */
  expected: string[];
  exact: string[];
  routed: string[];
}

interface RecallFigures {
  recall: number;
  ndcg: number;
}

interface ModuleRecall {
  module: string;
  /** Source top-k hits that live in this module of the target. */
  expected: number;
  exactFound: number;
  routedFound: number;
  exactRecall: number;
  routedRecall: number;
}

interface BucketRecall {
  bucket: string;
  users: number;
  queries: number;
  exact: RecallFigures;
  routed: RecallFigures;
}

interface RoutingLoss {
  sourceId: string;
  targetId: string | null;
  module: string;
  /** Queries whose exact target search found it but the routed one did not. */
  lostIn: number;
  snippet?: string;
}

export interface SearchRecallResult {
  k: number;
  /** `neighbours`: memories' own embeddings as queries; `texts`: query texts from a file. */
  queryKind: 'neighbours' | 'texts';
  users: number;
  queries: number;
  exact: RecallFigures;
  routed: RecallFigures & { modulesPerQuery: number };
  byModule: ModuleRecall[];
  byBucket: BucketRecall[];
  routingLosses: RoutingLoss[];
  /** Source hits left out of the figures because the migration rejected those memories on purpose. */
  rejectedHits: number;
  /** The gate: the exact search's recall@k must reach it. Absent: no gate. */
  minRecall?: number;
  passed: boolean;
  seconds: number;
}

interface Sums {
  queries: number;
  exactRecall: number;
  exactNdcg: number;
  routedRecall: number;
  routedNdcg: number;
}

const emptySums = (): Sums => ({ queries: 0, exactRecall: 0, exactNdcg: 0, routedRecall: 0, routedNdcg: 0 });
const mean = (sum: number, count: number) => (count === 0 ? 1 : sum / count);

/** Adds up query outcomes into the figures a report shows. */
export class SearchRecallTally {
  readonly #k: number;
  readonly #total = emptySums();
  readonly #buckets = new Map<string, Sums & { users: Set<string> }>();
  readonly #modules = new Map<string, { expected: number; exactFound: number; routedFound: number }>();
  readonly #losses = new Map<
    string,
    { sourceId: string; targetId: string | null; module: string; lostIn: number }
  >();
  readonly #users = new Set<string>();
  #rejectedHits = 0;

  constructor(k: number) {
    this.#k = k;
  }

  /**
   * `moduleOf` names the target module a target id lives in; `sourceOf` the source id behind a
   * target id (both for the report's per-module figures and losses).
   */
  add(
    userId: string,
    outcome: QueryOutcome,
    moduleOf: (targetId: string) => string,
    sourceOf: (targetId: string) => string,
  ): void {
    const k = this.#k;
    const exactRecall = recallAt(outcome.expected, outcome.exact);
    const routedRecall = recallAt(outcome.expected, outcome.routed);
    const exactNdcg = ndcgAt(outcome.expected, outcome.exact, k);
    const routedNdcg = ndcgAt(outcome.expected, outcome.routed, k);
    let bucket = this.#buckets.get(outcome.bucket);
    if (!bucket) {
      bucket = { ...emptySums(), users: new Set() };
      this.#buckets.set(outcome.bucket, bucket);
    }
    bucket.users.add(userId);
    this.#users.add(userId);
    for (const sums of [this.#total, bucket]) {
      sums.queries++;
      sums.exactRecall += exactRecall;
      sums.exactNdcg += exactNdcg;
      sums.routedRecall += routedRecall;
      sums.routedNdcg += routedNdcg;
    }
    const exact = new Set(outcome.exact);
    const routed = new Set(outcome.routed);
    for (const id of outcome.expected) {
      const module = moduleOf(id);
      const m = this.#modules.get(module) ?? { expected: 0, exactFound: 0, routedFound: 0 };
      m.expected++;
      if (exact.has(id)) m.exactFound++;
      if (routed.has(id)) m.routedFound++;
      this.#modules.set(module, m);
      // A routing loss: the memory is in the target and its search finds it, the route does not.
      if (exact.has(id) && !routed.has(id)) {
        const loss = this.#losses.get(id) ?? { sourceId: sourceOf(id), targetId: id, module, lostIn: 0 };
        loss.lostIn++;
        this.#losses.set(id, loss);
      }
    }
  }

  /** Source hits left out because the migration rejected them (with a reason of their own). */
  addRejectedHits(count: number): void {
    this.#rejectedHits += count;
  }

  result(options: { queryKind: SearchRecallResult['queryKind']; minRecall?: number; seconds: number }) {
    const t = this.#total;
    const exact = { recall: mean(t.exactRecall, t.queries), ndcg: mean(t.exactNdcg, t.queries) };
    const byModule: ModuleRecall[] = [...this.#modules.entries()]
      .map(([module, m]) => ({
        module,
        ...m,
        exactRecall: mean(m.exactFound, m.expected),
        routedRecall: mean(m.routedFound, m.expected),
      }))
      .sort((a, b) => compare(a.module, b.module));
    const byBucket: BucketRecall[] = [...this.#buckets.entries()]
      .sort(([a], [b]) => BUCKET_ORDER.indexOf(a) - BUCKET_ORDER.indexOf(b))
      .map(([bucket, s]) => ({
        bucket,
        users: s.users.size,
        queries: s.queries,
        exact: { recall: mean(s.exactRecall, s.queries), ndcg: mean(s.exactNdcg, s.queries) },
        routed: { recall: mean(s.routedRecall, s.queries), ndcg: mean(s.routedNdcg, s.queries) },
      }));
    const routingLosses = [...this.#losses.values()]
      .sort((a, b) => b.lostIn - a.lostIn || compare(a.sourceId, b.sourceId))
      .slice(0, ROUTING_LOSS_LIMIT);
    const result: SearchRecallResult = {
      k: this.#k,
      queryKind: options.queryKind,
      users: this.#users.size,
      queries: t.queries,
      exact,
      routed: {
        recall: mean(t.routedRecall, t.queries),
        ndcg: mean(t.routedNdcg, t.queries),
        modulesPerQuery: ROUTE_MODULE_LIMIT,
      },
      byModule,
      byBucket,
      routingLosses,
      rejectedHits: this.#rejectedHits,
      passed: options.minRecall === undefined || exact.recall >= options.minRecall,
      seconds: options.seconds,
    };
    if (options.minRecall !== undefined) result.minRecall = options.minRecall;
    return result;
  }
}

/** The CLI's and the report's one-line summary. */
export function recallLine(result: Pick<SearchRecallResult, 'k' | 'exact' | 'routed' | 'queries'>): string {
  const f = (n: number) => n.toFixed(3);
  return `recall@${result.k} exact ${f(result.exact.recall)}, routed ${f(result.routed.recall)} (${result.queries} queries)`;
}
