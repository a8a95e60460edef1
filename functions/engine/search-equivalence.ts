import { reduceEmbeddingForCmi } from '../core/embedding.js';
import { ModuleRegistry } from '../core/modules.js';
import {
  NOT_MIGRATED,
  type QueryOutcome,
  ROUTE_SIMILARITY_THRESHOLD,
  rankModules,
  type SearchRecallResult,
  SearchRecallTally,
  userBucket,
} from '../core/search-recall.js';
import type { Database, DatabaseSession } from '../db/port.js';
import {
  cmiModuleSimilarities,
  ledgerEntries,
  queryMemories,
  type SampledUser,
  type SearchQuery,
  sampleUsers,
  sourceSnippets,
  sourceTopK,
  type TargetQuery,
  targetMemories,
  targetTopK,
  targetUserOf,
} from '../db/search-queries.js';
import type { SourceSchema } from '../db/source-schema.js';
import type { TargetLayout } from '../db/target-schema.js';
import { classifyDatabaseFailure, InvalidInputError } from '../errors.js';

export interface SearchEquivalenceDeps {
  source: Database;
  target: Database;
  schema: SourceSchema;
  layout: TargetLayout;
}

/** A real question of a BigMemory user, embedded once and asked of both databases. */
export interface TextQuery {
  userId: string;
  vector: Float32Array;
}

export interface SearchEquivalenceOptions {
  /** How many results a search returns (the `k` of recall@k). */
  k?: number;
  /** Queries per sampled user (neighbour queries). */
  queriesPerUser?: number;
  /** Users sampled (neighbour queries); text queries bring their own users. */
  users?: number;
  /** The gate on the exact search's recall@k; absent, the check reports and never fails. */
  minRecall?: number;
  /** Instead of memories' own embeddings: real query texts, already embedded. */
  texts?: readonly TextQuery[];
}

/**
 * The default sample. Its cost is about `users × queriesPerUser` searches over one user's rows on
 * each side (plus a CMI ranking and a narrower search for the routed answer), so it stays bounded
 * however many memories the source holds: a larger user costs more, more users do not.
 */
export const DEFAULT_SEARCH_SAMPLE = { k: 10, queriesPerUser: 3, users: 100 } as const;

const SNIPPET_LENGTH = 160;
const notMigrated = (sourceId: string) => `${NOT_MIGRATED}:${sourceId}`;

/**
 * Asks the source and the target the same questions and compares the answers: the source's exact
 * top-k against the target's exact search over all the user's module tables, and against Federated
 * Memory's routed search. By default a query is one of the user's memories, asking for its
 * neighbours (itself left out on both sides, each side searching with its own stored vector of it,
 * as each system embeds a question with its own model).
 */
export async function searchEquivalence(
  deps: SearchEquivalenceDeps,
  options: SearchEquivalenceOptions = {},
): Promise<SearchRecallResult> {
  const started = performance.now();
  const k = options.k ?? DEFAULT_SEARCH_SAMPLE.k;
  const tally = new SearchRecallTally(k);
  const modules = new ModuleRegistry(deps.layout.modules);
  try {
    const work = await withClients(deps, modules, k, async (c) =>
      options.texts ? textWork(c, options.texts) : neighbourWork(c, options),
    );
    // Users are independent: a few lanes, each with a connection to either side, keep the
    // databases busy instead of waiting on one round trip at a time. A pool smaller than the lanes
    // only makes lanes wait for a connection (each takes the source's before the target's).
    let next = 0;
    const lanes = Array.from({ length: Math.min(SEARCH_LANES, work.length) }, () =>
      withClients(deps, modules, k, async (c) => {
        while (next < work.length) await checkUser(c, work[next++] as UserWork, tally);
      }),
    );
    await Promise.all(lanes);
    const result = tally.result({
      queryKind: options.texts ? 'texts' : 'neighbours',
      ...(options.minRecall !== undefined ? { minRecall: options.minRecall } : {}),
      seconds: 0,
    });
    const snippets = await withClients(deps, modules, k, (c) =>
      sourceSnippets(
        c.source,
        deps.schema,
        result.routingLosses.map((l) => l.sourceId),
        SNIPPET_LENGTH,
      ),
    );
    for (const loss of result.routingLosses) {
      const snippet = snippets.get(loss.sourceId);
      if (snippet !== undefined) loss.snippet = snippet;
    }
    result.seconds = (performance.now() - started) / 1000;
    return result;
  } catch (error) {
    throw classifyDatabaseFailure(error, { step: 'search equivalence' });
  }
}

/** Users checked at once. */
const SEARCH_LANES = 4;

async function withClients<T>(
  deps: SearchEquivalenceDeps,
  modules: ModuleRegistry,
  k: number,
  work: (c: Clients) => Promise<T>,
): Promise<T> {
  const source = await deps.source.connect();
  let target: DatabaseSession | undefined;
  try {
    target = await deps.target.connect();
    return await work({ source, target, schema: deps.schema, layout: deps.layout, modules, k });
  } finally {
    source.release();
    target?.release();
  }
}

interface Clients {
  source: DatabaseSession;
  target: DatabaseSession;
  schema: SourceSchema;
  layout: TargetLayout;
  modules: ModuleRegistry;
  k: number;
}

interface UserWork {
  user: SampledUser;
  queries: SearchQuery[];
}

async function neighbourWork(c: Clients, options: SearchEquivalenceOptions): Promise<UserWork[]> {
  const users = await sampleUsers(c.source, options.users ?? DEFAULT_SEARCH_SAMPLE.users);
  const perUser = options.queriesPerUser ?? DEFAULT_SEARCH_SAMPLE.queriesPerUser;
  const work: UserWork[] = [];
  for (const user of users) {
    const ids = await queryMemories(c.source, c.schema, user.userId, perUser);
    work.push({ user, queries: ids.map((id) => ({ key: id, memoryId: id })) });
  }
  return work;
}

async function textWork(c: Clients, texts: readonly TextQuery[]): Promise<UserWork[]> {
  const byUser = new Map<string, SearchQuery[]>();
  texts.forEach((text, index) => {
    if (c.schema.embeddingDimensions !== null && text.vector.length !== c.schema.embeddingDimensions) {
      throw new InvalidInputError(
        `A query text's embedding has ${text.vector.length} dimensions but BigMemory's are ${c.schema.embeddingDimensions}: embed the queries with the model BigMemory used (--embedding-model, --embedding-dimensions).`,
        { context: { dimensions: text.vector.length, source: c.schema.embeddingDimensions } },
      );
    }
    const list = byUser.get(text.userId) ?? [];
    list.push({ key: `text-${index}`, vector: text.vector });
    byUser.set(text.userId, list);
  });
  const counts = await liveCounts(c, [...byUser.keys()]);
  return [...byUser].map(([userId, queries]) => ({
    user: { userId, liveMemories: counts.get(userId) ?? 0 },
    queries,
  }));
}

async function liveCounts(c: Clients, userIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await c.source.query<{ user_id: string; live: number }>(
    `SELECT user_id::text AS user_id, count(*)::int AS live FROM memories
      WHERE user_id = ANY($1::${c.schema.userIdType}[]) AND is_deleted IS NOT TRUE AND embedding IS NOT NULL
      GROUP BY user_id`,
    [userIds],
  );
  return new Map(rows.map((r) => [r.user_id, r.live]));
}

async function checkUser(c: Clients, work: UserWork, tally: SearchRecallTally): Promise<void> {
  const { user, queries } = work;
  if (queries.length === 0) return;
  const expectedBySource = await sourceTopK(c.source, c.schema, user.userId, queries, c.k);
  const sourceIds = new Set<string>();
  for (const q of queries) if ('memoryId' in q) sourceIds.add(q.memoryId);
  for (const ids of expectedBySource.values()) for (const id of ids) sourceIds.add(id);
  const entries = await ledgerEntries(c.target, [...sourceIds]);
  const ledger = new Map<string, { targetId: string }>();
  for (const [sourceId, entry] of entries) {
    if (entry.status === 'migrated' && entry.targetId !== null)
      ledger.set(sourceId, { targetId: entry.targetId });
  }
  const targetUser = await targetUserOf(c.target, user.userId);
  const sourceByTarget = new Map([...ledger].map(([sourceId, entry]) => [entry.targetId, sourceId]));

  // Where each memory sits in the target now (not where the ledger says: rows can move), and the
  // target's own vectors of the query memories.
  const queryTargetIds: string[] = [];
  for (const q of queries) {
    const targetId = 'memoryId' in q ? ledger.get(q.memoryId)?.targetId : undefined;
    if (targetId !== undefined) queryTargetIds.push(targetId);
  }
  const stored =
    targetUser === null
      ? new Map<string, { module: string; embedding: Float32Array | null }>()
      : await targetMemories(
          c.target,
          c.modules,
          targetUser,
          [...ledger.values()].map((e) => e.targetId),
          queryTargetIds,
        );
  const moduleOf = (targetId: string) => stored.get(targetId)?.module ?? NOT_MIGRATED;
  const sourceOf = (targetId: string) =>
    targetId.startsWith(`${NOT_MIGRATED}:`)
      ? targetId.slice(NOT_MIGRATED.length + 1)
      : (sourceByTarget.get(targetId) ?? targetId);

  const targetQueries: TargetQuery[] = [];
  for (const q of queries) {
    if ('vector' in q) {
      targetQueries.push({ key: q.key, vector: q.vector, exclude: null });
      continue;
    }
    const targetId = ledger.get(q.memoryId)?.targetId;
    const vector = targetId === undefined ? undefined : stored.get(targetId)?.embedding;
    // A query memory that did not reach the target cannot ask there: its answers count as empty.
    if (targetId !== undefined && vector) targetQueries.push({ key: q.key, vector, exclude: targetId });
  }
  const exact =
    targetUser === null
      ? new Map<string, string[]>()
      : await targetTopK(c.target, c.modules, c.modules.ids, targetUser, targetQueries, c.k);
  const routed =
    targetUser === null ? new Map<string, string[]>() : await routedTopK(c, targetUser, targetQueries);
  const bucket = userBucket(user.liveMemories);
  let rejected = 0;
  for (const q of queries) {
    // A source hit the migration rejected on purpose is reported with its reason among the rejects;
    // it is left out here so the figure measures search, not classification. A hit with no ledger
    // row at all counts as lost.
    const hits = expectedBySource.get(q.key) ?? [];
    const kept = hits.filter((id) => entries.get(id)?.status !== 'rejected');
    rejected += hits.length - kept.length;
    const outcome: QueryOutcome = {
      bucket,
      expected: kept.map((id) => ledger.get(id)?.targetId ?? notMigrated(id)),
      exact: exact.get(q.key) ?? [],
      routed: routed.get(q.key) ?? [],
    };
    tally.add(user.userId, outcome, moduleOf, sourceOf);
  }
  tally.addRejectedHits(rejected);
}

/**
 * Federated Memory's route for each query: the query reduced to the CMI's size, modules ranked by
 * the CMI, then the chosen module tables searched with the full vector. Queries routed to the same
 * modules share one search statement.
 */
async function routedTopK(
  c: Clients,
  targetUser: string,
  queries: readonly TargetQuery[],
): Promise<Map<string, string[]>> {
  const reduced = queries.map((q) => ({
    ...q,
    vector: reduceEmbeddingForCmi(q.vector, c.layout.vectors.cmiDimensions),
  }));
  const similarities = await cmiModuleSimilarities(c.target, targetUser, reduced, ROUTE_SIMILARITY_THRESHOLD);
  const byRoute = new Map<string, { modules: string[]; queries: TargetQuery[] }>();
  for (const q of queries) {
    const modules = rankModules((similarities.get(q.key) ?? []).filter((s) => c.modules.has(s.module)));
    const route = modules.join('\n');
    const group = byRoute.get(route) ?? { modules, queries: [] };
    group.queries.push(q);
    byRoute.set(route, group);
  }
  const routed = new Map<string, string[]>();
  for (const { modules, queries: group } of byRoute.values()) {
    const hits = await targetTopK(c.target, c.modules, modules, targetUser, group, c.k);
    for (const q of group) routed.set(q.key, hits.get(q.key) ?? []);
  }
  return routed;
}
