/**
 * The SQL of the search-equivalence check. Every search is exact: pgvector's `<=>` (cosine
 * distance) in ORDER BY over one user's rows, which no ANN index answers unless one exists and the
 * planner picks it; the check never creates one. A user's rows come through the `userId` / `user_id`
 * indexes, so the cost grows with the sampled users' memories, not with the tables. Query vectors
 * travel as text and are cast once in a MATERIALIZED CTE: inlined, the cast ran once per compared
 * row.
 */

import type { ModuleRegistry } from '../core/modules.js';
import { quoteIdentifier } from './copy-stream.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { escapeLiteral } from './pg/escape.js';
import type { DatabaseSession } from './port.js';
import type { SourceSchema } from './source-schema.js';

const LEDGER = `${LEDGER_SCHEMA}.memory_ledger`;
const USER_MAP = `${LEDGER_SCHEMA}.user_map`;

const vectorLiteral = (v: ArrayLike<number>) => `[${Array.from(v).join(',')}]`;

/** pgvector's text form back to numbers. */
function parseVector(text: string): Float32Array {
  return Float32Array.from(text.slice(1, -1).split(','), Number);
}

export interface SampledUser {
  userId: string;
  liveMemories: number;
}

/**
 * Up to `limit` users with at least two live memories that have an embedding (one to ask, one to
 * find), in md5 order of their id: spread over the users, the same on every run.
 */
export async function sampleUsers(client: DatabaseSession, limit: number): Promise<SampledUser[]> {
  const { rows } = await client.query<{ user_id: string; live: number }>(
    `SELECT user_id::text AS user_id, count(*)::int AS live FROM memories
      WHERE is_deleted IS NOT TRUE AND embedding IS NOT NULL
      GROUP BY user_id HAVING count(*) >= 2
      ORDER BY md5(user_id::text), user_id::text LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ userId: r.user_id, liveMemories: r.live }));
}

/** The user's query memories: `count` live ones with an embedding, in md5 order of their id. */
export async function queryMemories(
  client: DatabaseSession,
  schema: SourceSchema,
  userId: string,
  count: number,
): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id::text AS id FROM memories
      WHERE user_id = $1::${schema.userIdType} AND is_deleted IS NOT TRUE AND embedding IS NOT NULL
      ORDER BY md5(id::text), id::text LIMIT $2`,
    [userId, count],
  );
  return rows.map((r) => r.id);
}

/** A query: by a memory (its own vector, the memory itself excluded) or by a given vector. */
export type SearchQuery = { key: string; memoryId: string } | { key: string; vector: Float32Array };

/**
 * The source's exact top-k for each query among the user's live memories, best first: the answers
 * the assistant gave before the migration.
 */
export async function sourceTopK(
  client: DatabaseSession,
  schema: SourceSchema,
  userId: string,
  queries: readonly SearchQuery[],
  k: number,
): Promise<Map<string, string[]>> {
  if (queries.length === 0) return new Map();
  const keys = queries.map((q) => q.key);
  const memoryIds = queries.map((q) => ('memoryId' in q ? q.memoryId : null));
  const vectors = queries.map((q) => ('vector' in q ? vectorLiteral(q.vector) : null));
  const { rows } = await client.query<{ key: string; id: string; d: number }>(
    `WITH q AS MATERIALIZED (
       SELECT a.key, a.memory_id, COALESCE(a.vec::vector, m.embedding) AS v
         FROM unnest($2::text[], $3::text[], $4::text[]) AS a(key, memory_id, vec)
         LEFT JOIN memories m ON m.id = a.memory_id::${schema.memoryIdType})
     SELECT q.key, n.id, n.d FROM q CROSS JOIN LATERAL (
       SELECT m.id::text AS id, m.embedding <=> q.v AS d FROM memories m
        WHERE m.user_id = $1::${schema.userIdType} AND m.is_deleted IS NOT TRUE AND m.embedding IS NOT NULL
          AND (q.memory_id IS NULL OR m.id::text <> q.memory_id)
        ORDER BY m.embedding <=> q.v, m.id::text LIMIT $5) n`,
    [userId, keys, memoryIds, vectors, k],
  );
  return groupByKey(rows);
}

export interface LedgerEntry {
  status: 'migrated' | 'rejected';
  targetId: string | null;
  module: string | null;
}

/** What the migration did with these source memories: where it put them, or that it rejected them. */
export async function ledgerEntries(
  client: DatabaseSession,
  sourceIds: readonly string[],
): Promise<Map<string, LedgerEntry>> {
  const { rows } = await client.query<{
    source_id: string;
    status: 'migrated' | 'rejected';
    target_id: string | null;
    module: string | null;
  }>(`SELECT source_id, status, target_id, module FROM ${LEDGER} WHERE source_id = ANY($1::text[])`, [
    [...new Set(sourceIds)],
  ]);
  return new Map(
    rows.map((r) => [r.source_id, { status: r.status, targetId: r.target_id, module: r.module }]),
  );
}

/** The Federated Memory user a BigMemory user's memories went to, if any. */
export async function targetUserOf(client: DatabaseSession, sourceUserId: string): Promise<string | null> {
  const { rows } = await client.query<{ target_user_id: string | null }>(
    `SELECT target_user_id FROM ${USER_MAP} WHERE source_user_id = $1`,
    [sourceUserId],
  );
  return rows[0]?.target_user_id ?? null;
}

/** The user's rows of the given modules' tables, the module named in a column. */
function userModuleRows(modules: ModuleRegistry, ids: readonly string[], columns: string): string {
  return ids
    .map(
      (id) =>
        `SELECT ${escapeLiteral(id)}::text AS module, ${columns} FROM ${quoteIdentifier(modules.tableOf(id))} WHERE "userId" = $1 AND embedding IS NOT NULL`,
    )
    .join(' UNION ALL ');
}

/**
 * The module each of these target memories sits in (over every module: a row may have moved since
 * the ledger was written), and the stored vector of those in `withEmbedding`.
 */
export async function targetMemories(
  client: DatabaseSession,
  modules: ModuleRegistry,
  userId: string,
  targetIds: readonly string[],
  withEmbedding: readonly string[],
): Promise<Map<string, { module: string; embedding: Float32Array | null }>> {
  const { rows } = await client.query<{ id: string; module: string; embedding: string | null }>(
    `SELECT id, module, CASE WHEN id = ANY($3::text[]) THEN embedding::text END AS embedding
       FROM (${userModuleRows(modules, modules.ids, 'id::text AS id, embedding')}) r
      WHERE r.id = ANY($2::text[])`,
    [userId, [...new Set(targetIds)], [...new Set(withEmbedding)]],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      { module: r.module, embedding: r.embedding === null ? null : parseVector(r.embedding) },
    ]),
  );
}

/** A target query: the vector to search with and the memory to leave out (the query's own). */
export interface TargetQuery {
  key: string;
  vector: Float32Array;
  exclude: string | null;
}

/**
 * Exact top-k for each query among the user's memories in the given modules' tables, best first,
 * with the module each hit sits in.
 */
export async function targetTopK(
  client: DatabaseSession,
  modules: ModuleRegistry,
  moduleIds: readonly string[],
  userId: string,
  queries: readonly TargetQuery[],
  k: number,
): Promise<Map<string, string[]>> {
  if (queries.length === 0 || moduleIds.length === 0) return new Map();
  const { rows } = await client.query<{ key: string; id: string; d: number }>(
    `WITH q AS MATERIALIZED (SELECT a.key, a.exclude, a.vec::vector AS v FROM unnest($2::text[], $3::text[], $4::text[]) AS a(key, exclude, vec))
     SELECT q.key, n.id, n.d FROM q CROSS JOIN LATERAL (
       SELECT r.id, r.embedding <=> q.v AS d FROM (${userModuleRows(modules, moduleIds, 'id::text AS id, embedding')}) r
        WHERE q.exclude IS NULL OR r.id <> q.exclude
        ORDER BY r.embedding <=> q.v, r.id LIMIT $5) n`,
    [
      userId,
      queries.map((q) => q.key),
      queries.map((q) => q.exclude),
      queries.map((q) => vectorLiteral(q.vector)),
      k,
    ],
  );
  return groupByKey(rows);
}

/**
 * Per query and module, the similarity (1 - cosine distance, as `routeQuery` computes it) of the
 * user's CMI entries to the query reduced to the CMI's size: the average of those above
 * `threshold` and of all. The query memory's own entry (`exclude`, its target id) stays out: a real
 * question is not itself a memory, and its own entry at similarity 1 would always route to its own
 * module. One statement for all of a user's queries.
 */
export async function cmiModuleSimilarities(
  client: DatabaseSession,
  userId: string,
  queries: readonly TargetQuery[],
  threshold: number,
): Promise<Map<string, Array<{ module: string; matchedAverage: number | null; average: number }>>> {
  const byKey = new Map<string, Array<{ module: string; matchedAverage: number | null; average: number }>>();
  if (queries.length === 0) return byKey;
  const { rows } = await client.query<{
    key: string;
    module: string;
    matched: number | null;
    average: number;
  }>(
    `WITH q AS MATERIALIZED (SELECT a.key, a.exclude, a.vec::vector AS v FROM unnest($2::text[], $3::text[], $4::text[]) AS a(key, exclude, vec)),
          c AS MATERIALIZED (SELECT "moduleId", "remoteMemoryId", embedding FROM memory_index
                              WHERE "userId" = $1 AND embedding IS NOT NULL)
     SELECT q.key, c."moduleId" AS module,
            avg(1 - (c.embedding <=> q.v)) FILTER (WHERE 1 - (c.embedding <=> q.v) > $5) AS matched,
            avg(1 - (c.embedding <=> q.v)) AS average
       FROM q JOIN c ON q.exclude IS NULL OR c."remoteMemoryId" <> q.exclude
      GROUP BY q.key, c."moduleId"`,
    [
      userId,
      queries.map((q) => q.key),
      queries.map((q) => q.exclude),
      queries.map((q) => vectorLiteral(q.vector)),
      threshold,
    ],
  );
  for (const r of rows) {
    const list = byKey.get(r.key) ?? [];
    list.push({
      module: r.module,
      matchedAverage: r.matched === null ? null : Number(r.matched),
      average: Number(r.average),
    });
    byKey.set(r.key, list);
  }
  return byKey;
}

/** The start of these source memories' content, for the report's losses. */
export async function sourceSnippets(
  client: DatabaseSession,
  schema: SourceSchema,
  sourceIds: readonly string[],
  length: number,
): Promise<Map<string, string>> {
  if (sourceIds.length === 0) return new Map();
  const { rows } = await client.query<{ id: string; snippet: string }>(
    `SELECT id::text AS id, left(content, $2::int) AS snippet FROM memories WHERE id = ANY($1::${schema.memoryIdType}[])`,
    [sourceIds, length],
  );
  return new Map(rows.map((r) => [r.id, r.snippet]));
}

/** Hits per query, nearest first (a join's row order is not promised, so they are sorted here). */
function groupByKey(rows: readonly { key: string; id: string; d: number }[]): Map<string, string[]> {
  const byKey = new Map<string, Array<{ id: string; d: number }>>();
  for (const row of rows) {
    const list = byKey.get(row.key);
    const hit = { id: row.id, d: Number(row.d) };
    if (list) list.push(hit);
    else byKey.set(row.key, [hit]);
  }
  return new Map(
    [...byKey].map(([key, hits]) => [
      key,
      hits.sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((h) => h.id),
    ]),
  );
}
