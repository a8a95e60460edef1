import type { ModuleRegistry } from '../core/modules.js';
import type { ProjectIdUpdate } from '../core/project-links.js';
import type {
  LedgerEnd,
  MigratedRelationship,
  RelationshipKind,
  RelationshipRow,
  SkippedRelationship,
} from '../core/relationships.js';
import { classifyDatabaseFailure, InvalidInputError, TransientDatabaseError } from '../errors.js';
import { columnList, copyRowsIn, quoteIdentifier } from './copy-stream.js';
import { MEMORY_LEDGER, probeLedger, RELATIONSHIP_LEDGER } from './ledger-probe.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { PgBinaryType } from './pg-binary.js';
import type { Database, DatabaseSession, Queryable } from './port.js';
import { clearProjectIds, type RemovedLink } from './project-ids.js';
import { beginRederivableWrite } from './write-transaction.js';

export interface RelationshipBatch {
  runId: string;
  kind: RelationshipKind;
  migrated: MigratedRelationship[];
  skipped: SkippedRelationship[];
  /** Project-links only: `project_id` / `project_source_id` for the linked tasks' module rows. */
  projectUpdates?: ProjectIdUpdate[];
  /** What each key resolved to (`relationshipFingerprint`), kept in its ledger row; absent: none kept. */
  fingerprints?: ReadonlyMap<string, string>;
  /**
   * Keys that resolve to nothing any more (a task that names no project now): the rows they own
   * and their ledger rows are removed, as a fresh run would never have written them.
   */
  retired?: readonly string[];
}

export interface RelationshipLoadResult {
  /** What the ledger now says for each key of the batch (a relation may lose to an earlier one). */
  migrated: MigratedRelationship[];
  skipped: SkippedRelationship[];
  /** Relations of other batches that this batch found to be later duplicates of one of its own. */
  displaced: number;
  /** Rows an earlier run wrote for relations that are now skipped or resolve elsewhere. */
  withdrawn: number;
  projectIdsWritten: number;
}

export const RELATIONSHIP_COLUMNS: { name: string; type: PgBinaryType }[] = [
  { name: 'id', type: 'text' },
  { name: 'userId', type: 'text' },
  { name: 'sourceModule', type: 'text' },
  { name: 'sourceMemoryId', type: 'text' },
  { name: 'targetModule', type: 'text' },
  { name: 'targetMemoryId', type: 'text' },
  { name: 'relationshipType', type: 'text' },
  { name: 'strength', type: 'float8' },
  { name: 'metadata', type: 'jsonb' },
  { name: 'createdAt', type: 'timestamp' },
];
const relationshipValues = (r: RelationshipRow) => [
  r.id,
  r.userId,
  r.sourceModule,
  r.sourceMemoryId,
  r.targetModule,
  r.targetMemoryId,
  r.relationshipType,
  r.strength,
  r.metadata,
  r.createdAt,
];

const LEDGER_COLUMNS: { name: string; type: PgBinaryType }[] = [
  { name: 'source_key', type: 'text' },
  { name: 'status', type: 'text' },
  { name: 'reason', type: 'text' },
  { name: 'target_id', type: 'text' },
  { name: 'run_id', type: 'text' },
  { name: 'first_run_id', type: 'text' },
  { name: 'fingerprint', type: 'text' },
];

const STAGING_DDL = `
CREATE TEMP TABLE IF NOT EXISTS bm_stage_relationships (LIKE memory_relationships INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS bm_stage_relationship_ledger (LIKE ${LEDGER_SCHEMA}.relationship_ledger INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
`;

// Who owns a row of memory_relationships: a source relation (its id in the metadata) or, failing
// one, a project–task link. A relation always wins over a link; of two relations the lower id wins.
const RELATION_OWNER = `metadata->>'original_relation_id'`;
const LINK_OWNER = `metadata->>'original_task_id'`;

const MAX_ATTEMPTS = 4;

/**
 * Writes one batch of relationships in one transaction: `memory_relationships` rows by binary COPY
 * into staging and an upsert on the target's unique key, the linked tasks' `project_id`, and a
 * relationship-ledger row for every relation or link of the batch, migrated or skipped.
 *
 * Duplicates across batches (same target key, different source relations) are settled here: the
 * lowest source relation id owns the row whichever batch runs first, and the loser is ledgered as
 * `duplicate`, so a rerun in any order gives the same rows and the same ledger.
 */
export class RelationshipLoader {
  private readonly relationIdType: string;
  private readonly modules: ModuleRegistry;

  constructor(
    private readonly target: Database,
    options: { relationIdType: string | null; modules: ModuleRegistry },
  ) {
    this.modules = options.modules;
    const idType = options.relationIdType ?? 'text';
    if (!/^[a-z_][a-z0-9_]*$/.test(idType)) {
      throw new InvalidInputError(`unexpected relation id type ${JSON.stringify(idType)}`, {
        context: { idType },
      });
    }
    this.relationIdType = idType;
  }

  async load(batch: RelationshipBatch): Promise<RelationshipLoadResult> {
    for (const update of batch.projectUpdates ?? []) {
      if (!this.modules.has(update.module)) {
        throw new InvalidInputError(`unknown module ${JSON.stringify(update.module)} in the memory ledger`, {
          context: { taskTargetId: update.taskTargetId },
        });
      }
    }
    const client = await this.target.connect();
    try {
      let ledgerByCopy = true;
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.loadInTransaction(client, batch, ledgerByCopy);
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          const code = (error as { code?: string }).code;
          // Only the ledger COPY can meet a unique violation (the row upsert settles its conflicts):
          // the same item ran twice at once. Its rerun upserts the ledger.
          if (code === '23505') ledgerByCopy = false;
          const retryable = code === '40P01' || code === '40001' || code === '23505';
          if (!retryable) throw error;
          if (attempt >= MAX_ATTEMPTS) {
            throw new TransientDatabaseError('relationship batch kept meeting concurrent writers', {
              cause: error,
              context: { runId: batch.runId, kind: batch.kind, attempts: attempt },
            });
          }
        }
      }
    } catch (error) {
      throw classifyDatabaseFailure(error, {
        runId: batch.runId,
        kind: batch.kind,
        relations: batch.migrated.length,
      });
    } finally {
      client.release();
    }
  }

  private async loadInTransaction(
    client: DatabaseSession,
    batch: RelationshipBatch,
    ledgerByCopy: boolean,
  ): Promise<RelationshipLoadResult> {
    const keys = [...batch.migrated.map((m) => m.key), ...batch.skipped.map((s) => s.key)];
    const retired = batch.retired ?? [];
    if (keys.length === 0 && retired.length === 0)
      return { migrated: [], skipped: [], displaced: 0, withdrawn: 0, projectIdsWritten: 0 };

    await beginRederivableWrite(client, STAGING_DDL);
    const { withdrawn, ledgered } = await this.withdrawStale(client, batch);

    await copyRowsIn(
      client,
      'bm_stage_relationships',
      RELATIONSHIP_COLUMNS,
      batch.migrated.map((m) => relationshipValues(m.row)),
    );
    const won = await this.upsertInKeyOrder(client, batch);

    const migrated: MigratedRelationship[] = [];
    const skipped: SkippedRelationship[] = [...batch.skipped];
    const displacedKeys: string[] = [];
    for (const m of batch.migrated) {
      const inserted = won.get(m.row.id)?.inserted;
      const previous = won.get(m.row.id)?.ownerBefore ?? undefined;
      if (inserted === undefined) {
        // Links count as migrated when a source relation already carries the same belongs_to.
        if (batch.kind === 'project-links') migrated.push(m);
        else
          skipped.push({
            key: m.key,
            reason: 'duplicate',
            detail: `same target key as ${previous ? `relation ${previous}` : 'a row this migration did not write'}`,
          });
        continue;
      }
      const mine = m.row.metadata.original_relation_id;
      if (previous && previous !== mine && batch.kind === 'relations')
        displacedKeys.push(`relation:${previous}`);
      migrated.push(m);
    }

    if (displacedKeys.length > 0) {
      await client.query(
        `UPDATE ${LEDGER_SCHEMA}.relationship_ledger
            SET status = 'skipped', reason = 'duplicate', target_id = NULL, run_id = $2, fingerprint = NULL,
                updated_at = now()
          WHERE source_key = ANY($1::text[]) AND status = 'migrated'`,
        [displacedKeys, batch.runId],
      );
    }
    const projectIdsWritten = await this.writeProjectIds(client, batch.projectUpdates ?? []);
    await this.writeLedger(client, batch, migrated, skipped, ledgerByCopy && !ledgered);
    if (retired.length > 0) {
      await client.query(
        `DELETE FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE source_key = ANY($1::text[])`,
        [retired],
      );
    }
    await client.query('COMMIT');
    return { migrated, skipped, displaced: displacedKeys.length, withdrawn, projectIdsWritten };
  }

  /**
   * Writes the staged rows, returning for each row id whether it was inserted (true), taken over
   * (false) or left to its owner (absent `inserted`), and the owner it had before.
   *
   * Every row is locked in one statement, in the target key's order: a new row by inserting it,
   * one that exists by an `ON CONFLICT` update whose `WHERE false` locks the row and changes
   * nothing. Two batches that share keys thus lock them in the same order. A separate
   * `SELECT … FOR UPDATE` of the existing rows before inserting the rest would not: a row another
   * batch commits in between is then locked out of that order, and two batches can each wait for
   * the other. Under the lock, the owners are read and the rows this batch may take over updated.
   */
  private async upsertInKeyOrder(
    client: DatabaseSession,
    batch: RelationshipBatch,
  ): Promise<Map<string, { inserted?: boolean; ownerBefore: string | null }>> {
    const { rows: inserted } = await client.query<{ id: string }>(
      `INSERT INTO memory_relationships (${columnList(RELATIONSHIP_COLUMNS)})
       SELECT ${columnList(RELATIONSHIP_COLUMNS)} FROM bm_stage_relationships
        ORDER BY "sourceModule", "sourceMemoryId", "targetModule", "targetMemoryId", "relationshipType"
       ON CONFLICT ("sourceModule", "sourceMemoryId", "targetModule", "targetMemoryId", "relationshipType")
       DO UPDATE SET "strength" = EXCLUDED."strength" WHERE false
       RETURNING id`,
    );
    const outcome = new Map<string, { inserted?: boolean; ownerBefore: string | null }>(
      inserted.map((r) => [r.id, { inserted: true, ownerBefore: null }]),
    );
    const held = batch.migrated.map((m) => m.row.id).filter((id) => !outcome.has(id));
    if (held.length === 0) return outcome;
    const { rows: existing } = await client.query<{ id: string; owner: string | null; taken: boolean }>(
      `SELECT m.id, m.${RELATION_OWNER} AS owner, (${this.takeoverCondition(batch.kind)}) AS taken
         FROM bm_stage_relationships s JOIN memory_relationships m ON m.id = s.id
        WHERE m.id = ANY($1::text[])`,
      [held],
    );
    for (const row of existing) outcome.set(row.id, { ownerBefore: row.owner });
    const taken = existing.filter((row) => row.taken).map((row) => row.id);
    if (taken.length > 0) {
      await client.query(
        `UPDATE memory_relationships m
            SET "strength" = s."strength", "metadata" = s."metadata", "userId" = s."userId",
                "createdAt" = s."createdAt"
           FROM bm_stage_relationships s
          WHERE m.id = s.id AND m.id = ANY($1::text[])`,
        [taken],
      );
      for (const row of existing)
        if (row.taken) outcome.set(row.id, { inserted: false, ownerBefore: row.owner });
    }
    return outcome;
  }

  /** Whether this batch's staged row `s` may take over the row `m` that holds its key. */
  private takeoverCondition(kind: RelationshipKind): string {
    if (kind === 'project-links') return `NOT (m.metadata ? 'original_relation_id')`;
    const t = this.relationIdType;
    return `m.${RELATION_OWNER} IS NULL OR (m.${RELATION_OWNER})::${t} >= (s.${RELATION_OWNER})::${t}`;
  }

  /**
   * Deletes the rows an earlier run wrote for keys of this batch that are now skipped, retired or
   * resolve to another row (an end changed module), but only rows the key still owns. `ledgered`:
   * whether the ledger knows any key of the batch.
   */
  private async withdrawStale(
    client: DatabaseSession,
    batch: RelationshipBatch,
  ): Promise<{ withdrawn: number; ledgered: boolean }> {
    const now = new Map<string, string | null>([
      ...batch.migrated.map((m) => [m.key, m.row.id] as const),
      ...batch.skipped.map((s) => [s.key, null] as const),
      ...(batch.retired ?? []).map((key) => [key, null] as const),
    ]);
    const previous = await probeLedger<{ source_key: string; status: string; target_id: string | null }>(
      client,
      RELATIONSHIP_LEDGER,
      'l.source_key, l.status, l.target_id',
      [...now.keys()],
    );
    const ledgered = previous.length > 0;
    const stale = previous.filter(
      (p): p is typeof p & { target_id: string } =>
        p.status === 'migrated' && p.target_id !== null && now.get(p.source_key) !== p.target_id,
    );
    if (stale.length === 0) return { withdrawn: 0, ledgered };
    const owners = stale.map((p) => p.source_key.slice(p.source_key.indexOf(':') + 1));
    const ownership =
      batch.kind === 'relations'
        ? `m.${RELATION_OWNER} = w.owner`
        : `m.${LINK_OWNER} = w.owner AND NOT (m.metadata ? 'original_relation_id')`;
    const { rows: removed } = await client.query<RemovedLink>(
      `DELETE FROM memory_relationships m USING unnest($1::text[], $2::text[]) AS w(id, owner)
        WHERE m.id = w.id AND ${ownership}
        RETURNING m."sourceModule", m."sourceMemoryId", m."targetMemoryId"`,
      [stale.map((p) => p.target_id), owners],
    );
    // A withdrawn link takes its task's project_id along; one that now resolves elsewhere writes
    // the new one later in this transaction.
    if (batch.kind === 'project-links') {
      await clearProjectIds(
        client,
        (id) => (this.modules.has(id) ? this.modules.tableOf(id) : undefined),
        removed,
      );
    }
    return { withdrawn: removed.length, ledgered };
  }

  private async writeProjectIds(client: DatabaseSession, updates: ProjectIdUpdate[]): Promise<number> {
    let written = 0;
    for (const module of new Set(updates.map((u) => u.module))) {
      const group = updates.filter((u) => u.module === module);
      const { rowCount } = await client.query(
        `UPDATE ${quoteIdentifier(this.modules.tableOf(module))} m
            SET metadata = jsonb_set(jsonb_set(m.metadata, '{project_id}', to_jsonb(u.project_id)),
                                     '{project_source_id}', to_jsonb(u.project_source_id))
           FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, project_id, project_source_id)
          WHERE m.id = u.id`,
        [
          group.map((u) => u.taskTargetId),
          group.map((u) => u.projectTargetId),
          group.map((u) => u.projectSourceId),
        ],
      );
      written += rowCount ?? 0;
    }
    return written;
  }

  private async writeLedger(
    client: DatabaseSession,
    batch: RelationshipBatch,
    migrated: MigratedRelationship[],
    skipped: SkippedRelationship[],
    byCopy: boolean,
  ): Promise<void> {
    const { runId } = batch;
    const fingerprint = (key: string) => batch.fingerprints?.get(key) ?? null;
    const rows = [
      ...migrated.map((m) => [m.key, 'migrated', null, m.row.id, runId, runId, fingerprint(m.key)]),
      ...skipped.map((s) => [s.key, 'skipped', s.reason, null, runId, runId, fingerprint(s.key)]),
    ];
    // Keys the ledger has never seen (a first run) go in by plain COPY; the rest are upserted.
    if (byCopy) {
      await copyRowsIn(client, `${LEDGER_SCHEMA}.relationship_ledger`, LEDGER_COLUMNS, rows);
      return;
    }
    await copyRowsIn(client, 'bm_stage_relationship_ledger', LEDGER_COLUMNS, rows);
    await client.query(
      `INSERT INTO ${LEDGER_SCHEMA}.relationship_ledger (${columnList(LEDGER_COLUMNS)})
       SELECT ${columnList(LEDGER_COLUMNS)} FROM bm_stage_relationship_ledger
       ON CONFLICT (source_key) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason,
         target_id = EXCLUDED.target_id, run_id = EXCLUDED.run_id, fingerprint = EXCLUDED.fingerprint,
         updated_at = now()`,
    );
  }
}

/**
 * The memory ledger's entries for the given source memory ids (both ends of a batch's relations).
 * One primary-key probe per id, in key order, whatever the statistics say: the ledger has just
 * been filled and not yet analyzed, and `source_id = ANY($1)` with a batch's ids then made
 * PostgreSQL scan the whole ledger for most relation batches, a cost that grows with the ledger.
 * Where the planner does pick the index for `= ANY`, the probes are barely slower, a fair price
 * for never scanning (docs/performance.md). `LIMIT 1` keeps the subquery from being flattened into a join the planner could
 * hash.
 */
export async function readLedgerEnds(db: Queryable, sourceIds: string[]): Promise<Map<string, LedgerEnd>> {
  const rows = await probeLedger<{
    source_id: string;
    status: 'migrated' | 'rejected';
    module: string | null;
    target_id: string | null;
    target_user_id: string | null;
  }>(
    db,
    MEMORY_LEDGER,
    'l.source_id, l.status, l.module, l.target_id, l.target_user_id',
    [...new Set(sourceIds)].sort(),
  );
  return new Map(
    rows.map((r) => [
      r.source_id,
      { status: r.status, module: r.module, targetId: r.target_id, targetUserId: r.target_user_id },
    ]),
  );
}
