/**
 * The SQL of the verify step. Key streams come out of binary COPY sorted in "C" collation
 * (code-point order), which is the order the core's merge-join expects; checksums come a page of
 * keys at a time. The per-row comparisons travel as md5 hashes and timestamps, never as whole rows.
 */

import type { ModuleRegistry } from '../core/modules.js';
import { relationKey } from '../core/relationships.js';
import type { ModuleId } from '../core/types.js';
import type {
  CmiModuleCount,
  LedgerMemoryKey,
  MemoryFingerprint,
  ModuleCount,
  RelationshipLedgerKey,
  SourceMemoryKey,
  TargetFingerprint,
} from '../core/verification.js';
import { SAMPLE_LIMIT } from '../core/verification.js';
import { drawThreshold, type SampleRule } from '../core/verify-sample.js';
import { quoteIdentifier } from './copy-stream.js';
import { type KeyPrefixes, keyHashSql, underPrefixesSql } from './key-set-digest.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { escapeLiteral } from './pg/escape.js';
import { decodeField } from './pg-binary.js';
import type { DatabaseSession } from './port.js';
import { type KeyRange, rangePredicate } from './source-reader.js';
import type { SourceSchema } from './source-schema.js';

const LEDGER = `${LEDGER_SCHEMA}.memory_ledger`;
const RELATIONSHIP_LEDGER = `${LEDGER_SCHEMA}.relationship_ledger`;

const text = (field: Buffer | null | undefined) => (field ? field.toString('utf8') : null);
const bool = (field: Buffer | null | undefined) => field?.[0] === 1;
/**
 * A timestamp (with or without zone) as epoch milliseconds, truncated as the binary decoder does:
 * a number, so no driver reads a zoneless timestamp in its own time zone.
 */
const epochMs = (column: string) => `trunc(extract(epoch FROM ${column}) * 1000)::float8`;

/** ORDER BY for source ids in code-point order; a uuid's own order already is, and can use the index. */
function sourceIdOrder(schema: SourceSchema): string {
  return schema.memoryIdType === 'uuid' ? 'id' : 'id::text COLLATE "C"';
}

/**
 * Runs whole-table reconciliation queries with nested loops off, for this read-only transaction
 * only (no privilege needed). Right after a migration nothing has analyzed the ledger yet, so the
 * planner expects a handful of rows and probes an index once per ledger row, which grows slow
 * with the table. Hash joins read each table once.
 */
async function withHashJoins<T>(client: DatabaseSession, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN READ ONLY; SET LOCAL enable_nestloop = off');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Accounting

export async function* sourceMemoryKeys(
  client: DatabaseSession,
  schema: SourceSchema,
  within?: KeyPrefixes,
): AsyncGenerator<SourceMemoryKey> {
  const where = within ? ` WHERE ${underPrefixesSql('id::text', within)}` : '';
  const query = `SELECT id::text, is_deleted IS TRUE FROM memories${where} ORDER BY ${sourceIdOrder(schema)}`;
  for await (const t of client.streamTuples(query)) yield { id: text(t[0]) as string, deleted: bool(t[1]) };
}

/** A memory-ledger row as the key merges see it, with where a migrated memory went. */
export interface LedgerMemoryRow extends LedgerMemoryKey {
  module: string | null;
  targetId: string | null;
}

export async function* ledgerMemoryKeys(
  client: DatabaseSession,
  within?: KeyPrefixes,
): AsyncGenerator<LedgerMemoryRow> {
  const where = within ? ` WHERE ${underPrefixesSql('source_id', within)}` : '';
  const query = `SELECT source_id, status, reason, module, target_id FROM ${LEDGER}${where} ORDER BY source_id COLLATE "C"`;
  for await (const t of client.streamTuples(query)) {
    yield {
      sourceId: text(t[0]) as string,
      status: text(t[1]) as string,
      reason: text(t[2]),
      module: text(t[3]),
      targetId: text(t[4]),
    };
  }
}

export async function rejectedWithoutReason(
  client: DatabaseSession,
): Promise<{ count: number; samples: string[] }> {
  const where = `status = 'rejected' AND (reason IS NULL OR btrim(reason) = '')`;
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${LEDGER} WHERE ${where}`,
  );
  const count = rows[0]?.n ?? 0;
  if (count === 0) return { count, samples: [] };
  const { rows: samples } = await client.query<{ source_id: string }>(
    `SELECT source_id FROM ${LEDGER} WHERE ${where} ORDER BY source_id LIMIT ${SAMPLE_LIMIT}`,
  );
  return { count, samples: samples.map((r) => r.source_id) };
}

// ---------------------------------------------------------------------------------------------
// Per-row fingerprints

/** The checksum columns both sides select, under the same names. */
interface FingerprintRow {
  content_md5: string | null;
  embedding_md5: string | null;
  dims: number | null;
  created_ms: number | null;
  updated_ms: number | null;
  accessed_ms: number | null;
}

const fingerprintOf = (sourceId: string, r: FingerprintRow): MemoryFingerprint => ({
  sourceId,
  contentMd5: r.content_md5,
  embeddingMd5: r.embedding_md5,
  embeddingDims: r.dims,
  createdMs: r.created_ms,
  updatedMs: r.updated_ms,
  accessedMs: r.accessed_ms,
});

/**
 * The live source memories of one page of keys, in the key's own order. Fingerprints are paired by
 * lookup (`targetFingerprintsOf`), not merged, so no collation has to agree across the two
 * databases. Pages, not one stream: a stream read alongside the lookups starved their replies of
 * the event loop, so the two no longer overlapped.
 */
export async function sourceFingerprintPage(
  client: DatabaseSession,
  schema: SourceSchema,
  page: KeyRange,
  /**
   * Only these memories of the page (a sampled Verify's choice), and with `draw` also those the
   * sample draws (core/verify-sample.ts, decided here by the server); all of them when absent.
   */
  ids?: readonly string[],
  draw?: SampleRule,
): Promise<MemoryFingerprint[]> {
  const hasEmbedding = schema.memoryColumns.includes('embedding');
  const time = (column: string) => (schema.memoryColumns.includes(column) ? epochMs(column) : 'NULL::float8');
  const listed = ids ? `id = ANY($1::${schema.memoryIdType}[])` : null;
  const only = draw ? `(${listed ?? 'false'} OR ${inSampleSql(draw, 'id::text')})` : listed;
  const { rows } = await client.query<FingerprintRow & { id: string }>(
    `SELECT id::text AS id, md5(content) AS content_md5,
        ${hasEmbedding ? 'md5(vector_send(embedding)) AS embedding_md5, vector_dims(embedding) AS dims' : 'NULL::text AS embedding_md5, NULL::int4 AS dims'},
        ${time('created_at')} AS created_ms, ${time('updated_at')} AS updated_ms, ${time('accessed_at')} AS accessed_ms
      FROM memories
      WHERE is_deleted IS NOT TRUE AND ${rangePredicate(page, schema.memoryIdType)}
        ${only ? `AND ${only}` : ''}
      ORDER BY id`,
    ids ? [ids] : [],
  );
  return rows.map((r) => fingerprintOf(r.id, r));
}

/**
 * Whether a memory (its id as text) is in a sampled Verify's sample (core/verify-sample.ts): the low
 * 32 bits of `hashtextextended` over the run id and the key. The server draws as it scans, at about
 * a quarter of an md5 draw's cost, and every slice of a run on the same server draws alike.
 */
export function inSampleSql(rule: SampleRule, key: string): string {
  const below = drawThreshold(rule);
  if (below <= 0) return 'false';
  if (below > 0xffffffff) return 'true';
  return `(hashtextextended(${escapeLiteral(rule.runId)} || chr(31) || ${key}, 0) & 4294967295) < ${below}`;
}

/**
 * The module rows the ledger says these source memories were migrated to (absent when the row is
 * missing), by source id; source ids the ledger does not hold as migrated are left out. One
 * primary-key probe per id into the ledger and one into the module table it names, whatever the
 * statistics say (see `readLedgerEnds`): the module branch whose name does not match is skipped
 * by its one-time filter.
 */
export async function targetFingerprintsOf(
  client: DatabaseSession,
  modules: ModuleRegistry,
  sourceIds: readonly string[],
): Promise<Map<string, TargetFingerprint>> {
  const perModule = modules.modules.map(
    ({
      id,
      table,
    }) => `SELECT m.id, md5(m.content) AS content_md5, md5(vector_send(m.embedding)) AS embedding_md5,
        vector_dims(m.embedding) AS dims, ${epochMs('m."createdAt"')} AS created_ms,
        ${epochMs('m."updatedAt"')} AS updated_ms, ${epochMs('m."lastAccessed"')} AS accessed_ms
      FROM ${quoteIdentifier(table)} m WHERE l.module = ${escapeLiteral(id)} AND m.id = l.target_id`,
  );
  const { rows } = await client.query<
    FingerprintRow & { source_id: string; module: string; target_id: string; present: boolean }
  >(
    `SELECT l.source_id, l.module, l.target_id, r.id IS NOT NULL AS present, r.content_md5, r.embedding_md5,
            r.dims, r.created_ms, r.updated_ms, r.accessed_ms
       FROM unnest($1::text[]) AS k(source_id)
       CROSS JOIN LATERAL (
         SELECT * FROM ${LEDGER} l WHERE l.source_id = k.source_id AND l.status = 'migrated' LIMIT 1
       ) l
       LEFT JOIN LATERAL (${perModule.join(' UNION ALL ')}) r ON true`,
    [sourceIds],
  );
  return new Map(
    rows.map((r) => [
      r.source_id,
      { ...fingerprintOf(r.source_id, r), module: r.module, targetId: r.target_id, present: r.present },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Module and CMI counts (target only)

/** Every module table's rows as one relation, each row tagged with its module's name. */
const allModuleRows = (modules: ModuleRegistry, columns: string) =>
  modules.modules
    .map(
      ({ id, table }) =>
        `SELECT ${escapeLiteral(id)}::text AS module, ${columns} FROM ${quoteIdentifier(table)}`,
    )
    .join(' UNION ALL ');

/**
 * The ledger's migrated memories against their module rows and their CMI rows, per module:
 * `module_counts` and the CMI check read the same pairs, so one join of the ledger, the module
 * tables and the CMI answers both, with a second for CMI rows filed under another module.
 */
export async function moduleAndCmiCounts(
  client: DatabaseSession,
  modules: ModuleRegistry,
): Promise<{ modules: ModuleCount[]; cmi: CmiModuleCount[] }> {
  return withHashJoins(client, async () => {
    const { rows } = await client.query<JoinedCount & { module: string }>(
      `SELECT l.module, count(*)::int AS ledger, count(m.id)::int AS present,
              count(c.id) FILTER (WHERE m.id IS NOT NULL)::int AS cmi_rows,
              count(*) FILTER (WHERE m.id IS NOT NULL AND c.id IS NULL)::int AS missing,
              count(*) FILTER (WHERE m.id IS NOT NULL AND c.id IS NOT NULL AND c."userId" IS DISTINCT FROM m."userId")::int AS wrong_user
         FROM ${LEDGER} l
         LEFT JOIN (${allModuleRows(modules, 'id, "userId"')}) m ON m.module = l.module AND m.id = l.target_id
         LEFT JOIN memory_index c ON c."moduleId" = l.module AND c."remoteMemoryId" = l.target_id
        WHERE l.status = 'migrated' AND l.module = ANY($1::text[]) GROUP BY l.module`,
      [modules.ids],
    );
    const byModule = new Map(rows.map((r) => [r.module, r]));
    return {
      modules: await moduleRowCounts(client, modules, byModule),
      cmi: await cmiRowCounts(client, modules, byModule),
    };
  });
}

/** One module's row of the join: its migrated memories, their module rows and their CMI rows. */
interface JoinedCount {
  ledger: number;
  present: number;
  cmi_rows: number;
  missing: number;
  wrong_user: number;
}
type JoinedCounts = ReadonlyMap<string, JoinedCount>;

/** Per module, the ledger's migrated memories and how many have their module row. */
async function moduleRowCounts(
  client: DatabaseSession,
  modules: ModuleRegistry,
  byModule: JoinedCounts,
): Promise<ModuleCount[]> {
  const ids = modules.ids;
  const counts: ModuleCount[] = [];
  for (const module of ids) {
    const ledgerMigrated = byModule.get(module)?.ledger ?? 0;
    const present = byModule.get(module)?.present ?? 0;
    // Samples only when rows are missing: the query reads both tables again.
    const { rows: missing } =
      present < ledgerMigrated
        ? await client.query<{ source_id: string }>(
            `SELECT l.source_id FROM ${LEDGER} l LEFT JOIN ${quoteIdentifier(modules.tableOf(module))} m ON m.id = l.target_id
              WHERE l.status = 'migrated' AND l.module = $1 AND m.id IS NULL ORDER BY l.source_id LIMIT ${SAMPLE_LIMIT}`,
            [module],
          )
        : { rows: [] };
    counts.push({ module, ledgerMigrated, present, missingSamples: missing.map((r) => r.source_id) });
  }
  // A module name the ledger holds that is not a module table is as bad as a missing row.
  const { rows: unknown } = await client.query<{ module: string | null; n: number }>(
    `SELECT module, count(*)::int AS n FROM ${LEDGER}
      WHERE status = 'migrated' AND (module IS NULL OR module <> ALL($1::text[])) GROUP BY module`,
    [ids],
  );
  for (const row of unknown) {
    counts.push({ module: row.module ?? '(none)', ledgerMigrated: row.n, present: 0, missingSamples: [] });
  }
  return counts;
}

/** Per module, the module rows that are ledger targets against the CMI rows that point at them. */
async function cmiRowCounts(
  client: DatabaseSession,
  modules: ModuleRegistry,
  byModule: JoinedCounts,
): Promise<CmiModuleCount[]> {
  // A module row's id is unique across modules (UUIDv5 of the source id), so a CMI row with that
  // remote id under another module is a stray, counted for every module in one pass.
  const { rows: strays } = await client.query<{ module: string; n: number }>(
    `SELECT l.module, count(*)::int AS n FROM ${LEDGER} l
       JOIN memory_index c ON c."remoteMemoryId" = l.target_id AND c."moduleId" <> l.module
      WHERE l.status = 'migrated' GROUP BY l.module`,
  );
  const wrongModule = new Map(strays.map((r) => [r.module, r.n]));
  const counts: CmiModuleCount[] = [];
  for (const module of modules.ids) {
    const o = byModule.get(module);
    const wrong = wrongModule.get(module) ?? 0;
    const problems = (o?.missing ?? 0) + (o?.wrong_user ?? 0) + wrong;
    counts.push({
      module,
      moduleRows: o?.present ?? 0,
      cmiRows: o?.cmi_rows ?? 0,
      missing: o?.missing ?? 0,
      wrongUser: o?.wrong_user ?? 0,
      wrongModule: wrong,
      samples: problems > 0 ? await cmiSamples(client, module, modules.tableOf(module)) : [],
    });
  }
  return counts;
}

async function cmiSamples(client: DatabaseSession, module: ModuleId, table: string): Promise<string[]> {
  const { rows } = await client.query<{ sample: string }>(
    `(SELECT l.source_id || ' has no CMI row' AS sample
        FROM ${LEDGER} l JOIN ${quoteIdentifier(table)} m ON m.id = l.target_id
       WHERE l.status = 'migrated' AND l.module = $1
         AND NOT EXISTS (SELECT 1 FROM memory_index c WHERE c."moduleId" = l.module AND c."remoteMemoryId" = l.target_id)
       ORDER BY l.source_id LIMIT ${SAMPLE_LIMIT})
     UNION ALL
     (SELECT l.source_id || ' also has a CMI row in ' || c."moduleId"
        FROM ${LEDGER} l JOIN memory_index c ON c."moduleId" <> l.module AND c."remoteMemoryId" = l.target_id
       WHERE l.status = 'migrated' AND l.module = $1 ORDER BY l.source_id LIMIT ${SAMPLE_LIMIT})
     UNION ALL
     (SELECT l.source_id || ' has a CMI row of user ' || c."userId" || ', module row of ' || m."userId"
        FROM ${LEDGER} l JOIN ${quoteIdentifier(table)} m ON m.id = l.target_id
        JOIN memory_index c ON c."moduleId" = l.module AND c."remoteMemoryId" = l.target_id
       WHERE l.status = 'migrated' AND l.module = $1 AND c."userId" IS DISTINCT FROM m."userId"
       ORDER BY l.source_id LIMIT ${SAMPLE_LIMIT})`,
    [module],
  );
  return rows.map((r) => r.sample).slice(0, SAMPLE_LIMIT);
}

// ---------------------------------------------------------------------------------------------
// Relationships

export async function countSourceRelations(client: DatabaseSession): Promise<number> {
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM memory_relations');
  return Number(rows[0]?.n ?? 0);
}

export async function relationshipLedgerIsEmpty(client: DatabaseSession): Promise<boolean> {
  const { rows } = await client.query(`SELECT 1 FROM ${RELATIONSHIP_LEDGER} LIMIT 1`);
  return rows.length === 0;
}

/** Source relations as their relationship-ledger keys (`relation:<id>`; a constant prefix keeps the order). */
export async function* sourceRelationKeys(
  client: DatabaseSession,
  schema: SourceSchema,
): AsyncGenerator<string> {
  const order = schema.relationIdType === 'uuid' ? 'id' : 'id::text COLLATE "C"';
  for await (const t of client.streamTuples(`SELECT id::text FROM memory_relations ORDER BY ${order}`)) {
    yield relationKey(text(t[0]) as string);
  }
}

/** Ledger rows of source relations; project–task links (`project:<task id>`) have no source row. */
export async function* relationshipLedgerKeys(
  client: DatabaseSession,
): AsyncGenerator<RelationshipLedgerKey> {
  const prefix = relationKey('');
  const query = `SELECT source_key, status, reason FROM ${RELATIONSHIP_LEDGER}
    WHERE left(source_key, ${prefix.length}) = '${prefix}' ORDER BY source_key COLLATE "C"`;
  for await (const t of client.streamTuples(query)) {
    yield { sourceKey: text(t[0]) as string, status: text(t[1]) as string, reason: text(t[2]) };
  }
}

export async function migratedRelationshipsMissing(
  client: DatabaseSession,
): Promise<{ count: number; samples: string[] }> {
  const from = `FROM ${RELATIONSHIP_LEDGER} r WHERE r.status = 'migrated'
      AND NOT EXISTS (SELECT 1 FROM memory_relationships m WHERE m.id = r.target_id)`;
  return withHashJoins(client, async () => {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n ${from}`);
    const count = rows[0]?.n ?? 0;
    if (count === 0) return { count, samples: [] };
    const { rows: samples } = await client.query<{ source_key: string }>(
      `SELECT r.source_key ${from} ORDER BY r.source_key LIMIT ${SAMPLE_LIMIT}`,
    );
    return { count, samples: samples.map((r) => r.source_key) };
  });
}

// ---------------------------------------------------------------------------------------------
// Search smoke test

export interface SearchSample {
  sourceId: string;
  module: ModuleId;
  targetId: string;
  userId: string;
  embedding: Float32Array;
}

/**
 * The search smoke test's sample: the first `size` migrated memories with an embedding, in the
 * order of a hash of their source id (spread over users and modules, the same on every run; the
 * key-set digests' `hashtextextended`, several times cheaper than an md5 over a ledger of millions
 * of rows, every run). Candidates come
 * from the ledger alone, a few times `size` of them: ordering every module row joined to the ledger
 * costs several times more than ordering the ledger. Only when too few candidates have an
 * embedding does the whole join run.
 */
export async function searchSamples(
  client: DatabaseSession,
  modules: ModuleRegistry,
  size: number,
): Promise<SearchSample[]> {
  const limit = Math.max(0, Math.floor(size));
  const selectList = `SELECT l.source_id, l.module, m.id, m."userId", m.embedding`;
  const order = `ORDER BY ${keyHashSql('l.source_id')}, l.source_id LIMIT ${limit}`;
  const fromCandidates = `WITH l AS (SELECT source_id, module, target_id FROM ${LEDGER}
      WHERE status = 'migrated' ORDER BY ${keyHashSql('source_id')}, source_id LIMIT ${limit * CANDIDATES_PER_SAMPLE})
    ${selectList} FROM l CROSS JOIN LATERAL (SELECT * FROM (${allModuleRows(modules, 'id, "userId", embedding')}) r
      WHERE r.module = l.module AND r.id = l.target_id AND r.embedding IS NOT NULL) m
    ${order}`;
  const fromEverything = `${selectList} FROM ${LEDGER} l
      JOIN (${allModuleRows(modules, 'id, "userId", embedding')}) m ON m.module = l.module AND m.id = l.target_id
     WHERE l.status = 'migrated' AND m.embedding IS NOT NULL ${order}`;
  const samples = await readSamples(client, fromCandidates);
  return samples.length < limit ? readSamples(client, fromEverything) : samples;
}

const CANDIDATES_PER_SAMPLE = 4;

async function readSamples(client: DatabaseSession, query: string): Promise<SearchSample[]> {
  const samples: SearchSample[] = [];
  for await (const t of client.streamTuples(query)) {
    samples.push({
      sourceId: text(t[0]) as string,
      module: text(t[1]) as ModuleId,
      targetId: text(t[2]) as string,
      userId: text(t[3]) as string,
      embedding: decodeField('vector', t[4] ?? null) as Float32Array,
    });
  }
  return samples;
}

const vectorLiteral = (v: Float32Array) => `[${Array.from(v).join(',')}]`;

export interface NearestHit {
  id: string;
  distance: number;
  /** The probed row's own distance, to accept an exact tie with another row. */
  selfDistance: number;
}

/**
 * Nearest neighbour of each sample's own embedding among its user's memories in its module table
 * (cosine distance), as FM searches a user's memories; keyed by source id, absent where the
 * sample's row is gone. Among every user's, each probe would read and compare every vector of the
 * module, growing with the table; the module tables' `userId` index keeps a probe to one user's
 * rows. One statement per module: the probes cost the scans, not a round trip each.
 */
export async function nearestInModules(
  client: DatabaseSession,
  modules: ModuleRegistry,
  samples: readonly SearchSample[],
): Promise<Map<string, NearestHit>> {
  const hits = new Map<string, NearestHit>();
  for (const module of new Set(samples.map((s) => s.module))) {
    const table = quoteIdentifier(modules.tableOf(module));
    const probed = samples.filter((s) => s.module === module);
    const { rows } = await client.query<{ key: string; id: string; distance: number; self_distance: number }>(
      `WITH q AS MATERIALIZED (
         SELECT a.key, a.user_id, t.embedding FROM unnest($1::text[], $2::text[], $3::text[]) AS a(key, id, user_id)
           JOIN ${table} t ON t.id = a.id)
       SELECT q.key, n.id, n.distance, q.embedding <=> q.embedding AS self_distance
         FROM q CROSS JOIN LATERAL (
           SELECT t.id, t.embedding <=> q.embedding AS distance FROM ${table} t
            WHERE t."userId" = q.user_id AND t.embedding IS NOT NULL
            ORDER BY t.embedding <=> q.embedding LIMIT 1) n`,
      [probed.map((s) => s.sourceId), probed.map((s) => s.targetId), probed.map((s) => s.userId)],
    );
    for (const r of rows) hits.set(r.key, { id: r.id, distance: r.distance, selfDistance: r.self_distance });
  }
  return hits;
}

export interface CmiHit {
  moduleId: string;
  remoteMemoryId: string;
  distance: number;
  selfDistance: number | null;
}

/**
 * The CMI's top hit for each sample's reduced query vector among its user's entries, as FM's
 * router searches; keyed by source id, absent where the user has no entry. One statement for
 * every sample.
 */
export async function nearestInCmi(
  client: DatabaseSession,
  samples: readonly SearchSample[],
  reduced: (sample: SearchSample) => Float32Array,
): Promise<Map<string, CmiHit>> {
  if (samples.length === 0) return new Map();
  const { rows } = await client.query<{
    key: string;
    moduleId: string;
    remoteMemoryId: string;
    distance: number;
    self_distance: number | null;
  }>(
    `WITH q AS MATERIALIZED (
       SELECT a.key, a.user_id, a.module, a.target_id, a.vec::vector AS v
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS a(key, user_id, module, target_id, vec))
     SELECT q.key, n."moduleId", n."remoteMemoryId", n.distance,
            (SELECT s.embedding <=> q.v FROM memory_index s
              WHERE s."moduleId" = q.module AND s."remoteMemoryId" = q.target_id) AS self_distance
       FROM q CROSS JOIN LATERAL (
         SELECT c."moduleId", c."remoteMemoryId", c.embedding <=> q.v AS distance FROM memory_index c
          WHERE c."userId" = q.user_id AND c.embedding IS NOT NULL
          ORDER BY c.embedding <=> q.v LIMIT 1) n`,
    [
      samples.map((s) => s.sourceId),
      samples.map((s) => s.userId),
      samples.map((s) => s.module),
      samples.map((s) => s.targetId),
      samples.map((s) => vectorLiteral(reduced(s))),
    ],
  );
  return new Map(
    rows.map((r) => [
      r.key,
      {
        moduleId: r.moduleId,
        remoteMemoryId: r.remoteMemoryId,
        distance: r.distance,
        selfDistance: r.self_distance,
      },
    ]),
  );
}
