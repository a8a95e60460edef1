import type { DeletesSummary } from '../core/deletes.js';
import type { ModuleRegistry } from '../core/modules.js';
import { mergeSorted } from '../core/verification.js';
import { classifyDatabaseFailure } from '../errors.js';
import {
  type KeyPrefixes,
  type KeySetDigest,
  keyPrefixLength,
  keySetDigest,
  keySetDigestsByPrefix,
  sameKeySet,
} from './key-set-digest.js';
import { removeLedgerRows } from './ledger-changes.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { removeMigratedMemories } from './memory-removal.js';
import { readModuleRegistry } from './module-registry.js';
import { type Database, type DatabaseSession, withSessions } from './port.js';
import {
  memoryLedgerOutcomes,
  outcomesDigest,
  relationLedgerOutcomes,
  sourceMemoryDigest,
  sourceRelationDigest,
} from './set-digests.js';
import type { SourceSchema } from './source-schema.js';
import { ledgerMemoryKeys, sourceMemoryKeys } from './verification-queries.js';
import { beginRederivableWrite } from './write-transaction.js';

export interface DeleteOptions {
  /** The run that removes: its removals are noted under its id (ledger-changes.ts). */
  runId: string;
  dryRun: boolean;
  keepDeleted: boolean;
  /** Keys per look-up: one round trip each way, one target transaction. */
  chunkSize?: number;
}

const CHUNK = 5000;
const RELATION_PREFIX = 'relation:';
const PROJECT_PREFIX = 'project:';
const SAMPLES = 10;

interface LedgerKey {
  key: string;
  status: string;
  module: string | null;
  target_id: string | null;
}

/**
 * Removes from the target what this migration wrote for source rows that no longer exist (hard
 * deletes) or are soft-deleted: memories (their module, CMI and relationship rows), relations, and
 * users it created that nothing references any more. A dry run counts the same without writing.
 *
 * Each walk is skipped when one aggregate on each side shows the ledger's keys are exactly the
 * source's (see key-set-digest.ts): the common case of a rerun, which then pays two scans instead of
 * an index probe per key. Otherwise the ledger is walked in its key order, a chunk at a time, and
 * each chunk's keys are looked up in the source by primary key.
 */
export async function propagateDeletes(
  source: Database,
  target: Database,
  schema: SourceSchema,
  options: DeleteOptions,
): Promise<DeletesSummary> {
  const summary: DeletesSummary = {
    dryRun: options.dryRun,
    kept: options.keepDeleted,
    memories: 0,
    rejectedForgotten: 0,
    relationships: 0,
    users: 0,
    usersKept: 0,
    projectIdsCleared: 0,
    samples: [],
  };
  if (options.keepDeleted || !(await ledgerExists(target))) return summary;
  const chunk = options.chunkSize ?? CHUNK;
  const matches = (sourceSide: Promise<KeySetDigest>, ledgerSide: Promise<KeySetDigest>) =>
    Promise.all([sourceSide, ledgerSide]).then(([a, b]) => sameKeySet(a, b));
  try {
    const memoriesMatch = await matches(
      sourceMemoryDigest(source).then((d) => d.live),
      memoryLedgerOutcomes(target).then(outcomesDigest),
    );
    if (!memoriesMatch) {
      const gone = await goneMemories(source, target, schema);
      const migrated = gone.filter((r) => r.status === 'migrated');
      summary.memories += migrated.length;
      summary.rejectedForgotten += gone.length - migrated.length;
      for (const r of migrated.slice(0, SAMPLES)) summary.samples.push(r.key);
      for (let i = 0; i < gone.length && !options.dryRun; i += chunk) {
        summary.projectIdsCleared += await removeMemories(target, gone.slice(i, i + chunk), options.runId);
      }
    }
    // Relations by their source row; a task's project link (`project:<task id>`) by its task.
    if (!(await relationshipKeysMatch(source, target, schema, summary)))
      await walkLedger(
        target,
        'relationship_ledger',
        'source_key',
        'status, NULL::text AS module, target_id',
        chunk,
        async (rows) => {
          const gone: LedgerKey[] = [];
          const relationsProbe: SourceProbe | null = schema.hasRelations
            ? { table: 'memory_relations', idType: schema.relationIdType ?? 'text', live: false }
            : null;
          for (const [prefix, probe] of [
            [RELATION_PREFIX, relationsProbe],
            [PROJECT_PREFIX, { table: 'memories', idType: schema.memoryIdType, live: true }],
          ] as const) {
            const keyed = rows.filter((r) => r.key.startsWith(prefix));
            if (keyed.length === 0) continue;
            const keys = keyed.map((r) => r.key.slice(prefix.length));
            const live = probe ? await liveKeys(source, probe, keys) : new Set<string>();
            gone.push(...keyed.filter((r) => !live.has(r.key.slice(prefix.length))));
          }
          summary.relationships += gone.filter((r) => r.status === 'migrated').length;
          if (!options.dryRun && gone.length > 0) await removeRelationships(target, gone);
        },
      );
    const usersMatch = await matches(
      keySetDigest(source, 'id::text', 'FROM users'),
      keySetDigest(target, 'source_user_id', `FROM ${LEDGER_SCHEMA}.user_map`),
    );
    if (!usersMatch)
      await walkLedger(
        target,
        'user_map',
        'source_user_id',
        'decision AS status, created_by_run AS module, target_user_id AS target_id',
        chunk,
        async (rows) => {
          const usersProbe: SourceProbe = { table: 'users', idType: schema.userIdType, live: false };
          const live = await liveKeys(
            source,
            usersProbe,
            rows.map((r) => r.key),
          );
          const gone = rows.filter((r) => !live.has(r.key));
          if (gone.length === 0) return;
          const { removed, kept } = await removeUsers(target, gone, options.dryRun);
          summary.users += removed;
          summary.usersKept += kept;
        },
      );
  } catch (error) {
    throw classifyDatabaseFailure(error, { step: 'deletes' });
  }
  return summary;
}

/**
 * Whether no relationship-ledger key can be gone: the relations it names are exactly the source's,
 * and every project link's task is a memory the ledger holds, none of which is gone (after the
 * memories' walk, or in a dry run that found none to remove).
 */
async function relationshipKeysMatch(
  source: Database,
  target: Database,
  schema: SourceSchema,
  summary: DeletesSummary,
): Promise<boolean> {
  if (summary.memories + summary.rejectedForgotten > 0) return false;
  const ledger = `${LEDGER_SCHEMA}.relationship_ledger`;
  const [relationsMatch, orphanLinks] = await Promise.all([
    Promise.all([
      schema.hasRelations ? sourceRelationDigest(source) : null,
      relationLedgerOutcomes(target).then(outcomesDigest),
    ]).then(([a, b]) => (a ? sameKeySet(a, b) : b.count === '0')),
    target.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${ledger} r
        WHERE r.source_key LIKE '${PROJECT_PREFIX}%'
          AND NOT EXISTS (SELECT 1 FROM ${LEDGER_SCHEMA}.memory_ledger m
                           WHERE m.source_id = substr(r.source_key, ${PROJECT_PREFIX.length + 1}))`,
    ),
  ]);
  return relationsMatch && orphanLinks.rows[0]?.n === '0';
}

async function ledgerExists(target: Database): Promise<boolean> {
  const { rows } = await target.query<{ t: string | null }>(
    `SELECT to_regclass('${LEDGER_SCHEMA}.memory_ledger')::text AS t`,
  );
  return Boolean(rows[0]?.t);
}

/**
 * The memory-ledger rows whose source memory is gone (hard-deleted) or soft-deleted: the source's
 * keys and the ledger's, each read once in one order and merged, under the key prefixes where the
 * two differ (prefixesToWalk). Probing the source for every ledger key instead costs an index
 * look-up per key, and a failed run's rerun, whose ledger holds only part of the source, always
 * gets that far. The rows are collected before anything is removed, so no connection is held for a
 * write while both reads stream.
 */
async function goneMemories(source: Database, target: Database, schema: SourceSchema): Promise<LedgerKey[]> {
  const within = await prefixesToWalk(source, target, schema);
  if (within.values.length === 0) return [];
  return withSessions(source, target, async (sourceSession, targetSession) => {
    const gone: LedgerKey[] = [];
    const pairs = mergeSorted(
      sourceMemoryKeys(sourceSession, schema, within),
      ledgerMemoryKeys(targetSession, within),
      (s) => s.id,
      (l) => l.sourceId,
    );
    for await (const { left, right } of pairs) {
      if (!right || (left && !left.deleted)) continue;
      gone.push({
        key: right.sourceId,
        status: right.status,
        module: right.module,
        target_id: right.targetId,
      });
    }
    return gone;
  });
}

/**
 * The key prefixes (ranges of the key order) under which the ledger holds keys that are not
 * exactly the source's live ones; under any other prefix no ledger key can be gone, as the ledger
 * holds none there or the same set. A batch writes its whole range of the key order or nothing,
 * so after a failed run the two differ only under the prefixes its last ranges cut, and the
 * rerun's walk reads those instead of every key on both sides. Asked only once the whole sets
 * differ: grouped by prefix, the aggregates cost more than the whole ones that settle a rerun of an
 * unchanged source.
 */
async function prefixesToWalk(
  source: Database,
  target: Database,
  schema: SourceSchema,
): Promise<KeyPrefixes> {
  const length = keyPrefixLength(schema.memoryIdType);
  const [live, ledger] = await Promise.all([
    keySetDigestsByPrefix(source, 'id::text', length, 'FROM memories WHERE is_deleted IS NOT TRUE'),
    keySetDigestsByPrefix(target, 'source_id', length, `FROM ${LEDGER_SCHEMA}.memory_ledger`),
  ]);
  const differ = (prefix: string, keys: KeySetDigest) => {
    const sourceKeys = live.get(prefix);
    return !sourceKeys || !sameKeySet(sourceKeys, keys);
  };
  return { length, values: [...ledger].filter(([prefix, keys]) => differ(prefix, keys)).map(([p]) => p) };
}

/** Keyset pages of a ledger table in its primary key's order (an index scan, no OFFSET). */
async function walkLedger(
  target: Database,
  table: string,
  keyColumn: string,
  columns: string,
  chunk: number,
  visit: (rows: LedgerKey[]) => Promise<void>,
): Promise<void> {
  let after: string | null = null;
  for (;;) {
    // Two statements, not `$1 IS NULL OR key > $1`: with that OR the planner cannot use the
    // primary key's order, and every page sorted the whole ledger.
    const select = `SELECT ${keyColumn} AS key, ${columns} FROM ${LEDGER_SCHEMA}.${table}`;
    const page: { rows: LedgerKey[] } =
      after === null
        ? await target.query<LedgerKey>(`${select} ORDER BY ${keyColumn} LIMIT $1`, [chunk])
        : await target.query<LedgerKey>(`${select} WHERE ${keyColumn} > $1 ORDER BY ${keyColumn} LIMIT $2`, [
            after,
            chunk,
          ]);
    const rows = page.rows;
    if (rows.length === 0) return;
    await visit(rows);
    if (rows.length < chunk) return;
    after = rows[rows.length - 1]!.key;
  }
}

/**
 * The keys of `keys` the source still has, probed one by one through the primary key: `id =
 * ANY(array)` of a few thousand keys made the planner scan the whole table instead
 * (docs/performance.md). Keys that are not values of the source's
 * key type (a ledger written against another source) cannot be there: compared as text instead.
 */
async function liveKeys(source: Database, probe: SourceProbe, keys: string[]): Promise<Set<string>> {
  const sql = (keyType: string, cast: string) =>
    `SELECT k.id::text AS key FROM unnest($1::${keyType}[]) k(id)
       JOIN ${probe.table} s ON s.id${cast} = k.id ${probe.live ? 'WHERE s.is_deleted IS NOT TRUE' : ''}`;
  try {
    const { rows } = await source.query<{ key: string }>(sql(probe.idType, ''), [keys]);
    return new Set(rows.map((r) => r.key));
  } catch (error) {
    if ((error as { code?: string }).code !== '22P02') throw error;
    const { rows } = await source.query<{ key: string }>(sql('text', '::text'), [keys]);
    return new Set(rows.map((r) => r.key));
  }
}

interface SourceProbe {
  table: 'memories' | 'memory_relations' | 'users';
  idType: string;
  /** Soft-deleted rows count as gone. */
  live: boolean;
}

async function inTransaction(
  target: Database,
  work: (client: DatabaseSession) => Promise<void>,
): Promise<void> {
  const client = await target.connect();
  try {
    await beginRederivableWrite(client);
    await work(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Returns how many remaining tasks lost a `project_id` naming one of the removed memories. */
async function removeMemories(target: Database, gone: LedgerKey[], runId: string): Promise<number> {
  let cleared = 0;
  const byModule = new Map<string, string[]>();
  for (const r of gone) {
    if (r.status !== 'migrated' || !r.module || !r.target_id) continue;
    byModule.set(r.module, [...(byModule.get(r.module) ?? []), r.target_id]);
  }
  const registry = byModule.size > 0 ? (await readModuleRegistry(target)).registry : null;
  await inTransaction(target, async (client) => {
    for (const [module, ids] of byModule) {
      cleared += await removeMigratedMemories(client, registry as ModuleRegistry, module, ids);
    }
    await removeLedgerRows(
      client,
      gone.map((r) => r.key),
      runId,
    );
  });
  return cleared;
}

async function removeRelationships(target: Database, gone: LedgerKey[]): Promise<void> {
  await inTransaction(target, async (client) => {
    const ids = gone.flatMap((r) => (r.status === 'migrated' && r.target_id ? [r.target_id] : []));
    if (ids.length > 0)
      await client.query('DELETE FROM memory_relationships WHERE id = ANY($1::text[])', [ids]);
    await client.query(
      `DELETE FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE source_key = ANY($1::text[])`,
      [gone.map((r) => r.key)],
    );
  });
}

/**
 * A gone source user's target user is removed only when this migration created it and no module
 * row, CMI row or relationship references it; otherwise it stays (counted as kept). Its mapping
 * goes either way: the source user it maps no longer exists.
 */
async function removeUsers(
  target: Database,
  gone: LedgerKey[],
  dryRun: boolean,
): Promise<{ removed: number; kept: number }> {
  const created = gone
    .filter((r) => r.module !== null && r.target_id !== null)
    .map((r) => r.target_id as string);
  const mapped = gone.filter((r) => r.target_id !== null).length;
  let removable: string[] = [];
  if (created.length > 0) {
    const { rows: modules } = await target.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name LIKE '%\\_memories' AND table_name <> 'memory_index'`,
    );
    const references = [
      ...modules.map((m) => `SELECT 1 FROM "${m.table_name}" x WHERE x."userId" = u.id`),
      'SELECT 1 FROM memory_index x WHERE x."userId" = u.id',
      'SELECT 1 FROM memory_relationships x WHERE x."userId" = u.id',
    ]
      .map((q) => `EXISTS (${q})`)
      .join(' OR ');
    const { rows } = await target.query<{ id: string }>(
      `SELECT u.id FROM "users" u WHERE u.id = ANY($1::text[]) AND NOT (${references})`,
      [created],
    );
    removable = rows.map((r) => r.id);
  }
  if (!dryRun) {
    await inTransaction(target, async (client) => {
      if (removable.length > 0)
        await client.query('DELETE FROM "users" WHERE id = ANY($1::text[])', [removable]);
      await client.query(`DELETE FROM ${LEDGER_SCHEMA}.user_map WHERE source_user_id = ANY($1::text[])`, [
        gone.map((r) => r.key),
      ]);
    });
  }
  return { removed: removable.length, kept: mapped - removable.length };
}

export type { DeletesSummary };
