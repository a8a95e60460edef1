import {
  type LedgerEntry,
  type LoadResult,
  type PreparedBatch,
  type PreparedMemory,
  type RefusedMemory,
  refusedLedgerEntry,
} from '../core/batch.js';
import type { ModuleRegistry } from '../core/modules.js';
import type { ModuleId, ModuleMemoryRow } from '../core/types.js';
import { classifyDatabaseFailure } from '../errors.js';
import { CMI_COLUMNS, cmiValues } from './cmi-columns.js';
import { columnList, copyRowsIn, excludedSet, quoteIdentifier } from './copy-stream.js';
import { removeLedgerRows } from './ledger-changes.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import { removeMigratedMemories } from './memory-removal.js';
import type { PgBinaryType } from './pg-binary.js';
import type { Database, DatabaseSession } from './port.js';
import { describeRefusal, isRowRefusal } from './row-refusal.js';
import { beginRederivableWrite } from './write-transaction.js';

/** The module table columns the migration writes, in COPY order. */
export const MODULE_COLUMNS: { name: string; type: PgBinaryType }[] = [
  { name: 'id', type: 'text' },
  { name: 'userId', type: 'text' },
  { name: 'content', type: 'text' },
  { name: 'embedding', type: 'vector' },
  { name: 'metadata', type: 'jsonb' },
  { name: 'accessCount', type: 'int4' },
  { name: 'lastAccessed', type: 'timestamp' },
  { name: 'createdAt', type: 'timestamp' },
  { name: 'updatedAt', type: 'timestamp' },
];
const moduleValues = (r: ModuleMemoryRow) => [
  r.id,
  r.userId,
  r.content,
  r.embedding,
  r.metadata,
  r.accessCount,
  r.lastAccessed,
  r.createdAt,
  r.updatedAt,
];

const LEDGER_COLUMNS: { name: string; type: PgBinaryType }[] = [
  { name: 'source_id', type: 'text' },
  { name: 'status', type: 'text' },
  { name: 'module', type: 'text' },
  { name: 'target_id', type: 'text' },
  { name: 'target_user_id', type: 'text' },
  { name: 'content_hash', type: 'text' },
  { name: 'source_updated_at', type: 'timestamptz' },
  { name: 'rule', type: 'text' },
  { name: 'reason', type: 'text' },
  { name: 'detail', type: 'text' },
  { name: 'run_id', type: 'text' },
  { name: 'first_run_id', type: 'text' },
  { name: 'fingerprint', type: 'text' },
];
const ledgerValues = (runId: string) => (l: LedgerEntry) => [
  l.sourceId,
  l.status,
  l.module,
  l.targetId,
  l.targetUserId,
  l.contentHash,
  l.sourceUpdatedAt,
  l.rule,
  l.reason,
  l.detail,
  runId,
  runId,
  l.fingerprint ?? null,
];

// Temporary staging for the rerun path: rows land by binary COPY, then one upsert per table.
// ON COMMIT DELETE ROWS lets a pooled connection keep the tables between batches.
const STAGING_DDL = `
CREATE TEMP TABLE IF NOT EXISTS bm_stage_memories (
  "module" text, "id" text, "userId" text, "content" text, "embedding" vector, "metadata" jsonb,
  "accessCount" int4, "lastAccessed" timestamp(3), "createdAt" timestamp(3), "updatedAt" timestamp(3)
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS bm_stage_cmi (LIKE memory_index INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS bm_stage_ledger (LIKE ${LEDGER_SCHEMA}.memory_ledger INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
`;

interface ExistingEntry {
  status: string;
  module: string | null;
  target_id: string | null;
}

/** How a load attempt writes: every row through upserts, and/or row refusals isolated. */
interface LoadMode {
  upsertAll: boolean;
  isolate: boolean;
}

/**
 * Writes one batch to the target in one transaction: module rows, CMI rows and ledger rows commit
 * together or not at all. Memories the ledger has never seen go in by plain binary COPY (the
 * first run's path, about as fast as the target can take rows); memories an earlier run migrated go
 * through staging and upsert, and a memory whose module changed leaves no stale copy behind.
 */
export class BatchLoader {
  constructor(
    private readonly target: Database,
    private readonly modules: ModuleRegistry,
  ) {}

  async load(batch: PreparedBatch): Promise<LoadResult> {
    const client = await this.target.connect();
    const mode: LoadMode = { upsertAll: false, isolate: false };
    try {
      for (;;) {
        try {
          return await this.loadInTransaction(client, batch, mode);
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          // A unique violation on the COPY path means rows exist that the ledger does not know
          // (e.g. a ledger restored from an older snapshot): redo the batch through upserts.
          if ((error as { code?: string }).code === '23505' && !mode.upsertAll) mode.upsertAll = true;
          // A constraint or trigger of the target refused some row: redo the batch finding which.
          else if (isRowRefusal(error) && !mode.isolate) mode.isolate = true;
          else throw error;
        }
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw classifyDatabaseFailure(error, { runId: batch.runId, memories: batch.migrated.length });
    } finally {
      client.release();
    }
  }

  private moduleTable(module: ModuleId): string {
    return quoteIdentifier(this.modules.tableOf(module));
  }

  private async loadInTransaction(
    client: DatabaseSession,
    batch: PreparedBatch,
    mode: LoadMode,
  ): Promise<LoadResult> {
    await beginRederivableWrite(client);
    const entries = [...batch.migrated.map((m) => m.ledger), ...batch.rejected];
    const deleted = batch.deletedSourceIds ?? [];
    const existing = await this.readLedger(client, [...entries.map((e) => e.sourceId), ...deleted]);
    const { moved, withdrawn } = await this.removeStaleCopies(client, entries, existing, deleted);
    await removeLedgerRows(client, deleted, batch.runId);

    let refused: Awaited<ReturnType<typeof this.writeIsolating>> = [];
    if (mode.isolate) refused = await this.writeIsolating(client, batch.migrated, existing, mode.upsertAll);
    else await this.writeMemories(client, batch.migrated, existing, mode.upsertAll);
    const refusedIds = new Set(refused.map((r) => r.sourceId));
    const byId = new Map(batch.migrated.map((m) => [m.ledger.sourceId, m]));
    const written = batch.migrated.filter((m) => !refusedIds.has(m.ledger.sourceId));
    await this.withdrawRefused(client, refused, existing);

    const ledger = [
      ...written.map((m) => m.ledger),
      ...refused.map((r) => refusedLedgerEntry(byId.get(r.sourceId) as PreparedMemory, r.detail)),
      ...batch.rejected,
    ];
    await this.writeLedger(client, ledger, existing, mode.upsertAll, batch.runId);
    await client.query('COMMIT');
    const fresh = mode.upsertAll ? 0 : written.filter((m) => !existing.has(m.ledger.sourceId)).length;
    const known = written.length - fresh;
    const path = known === 0 ? 'copy' : fresh === 0 ? 'upsert' : 'mixed';
    return { inserted: fresh, upserted: known, moved, withdrawn, path, refused };
  }

  /** Module and CMI rows: new ones by plain COPY, those an earlier run wrote through upserts. */
  private async writeMemories(
    client: DatabaseSession,
    memories: readonly PreparedMemory[],
    existing: ReadonlyMap<string, ExistingEntry>,
    upsertAll: boolean,
  ): Promise<void> {
    const fresh = upsertAll ? [] : memories.filter((m) => !existing.has(m.ledger.sourceId));
    const known = upsertAll ? memories : memories.filter((m) => existing.has(m.ledger.sourceId));
    for (const [module, rows] of groupByModule(fresh)) {
      await copyRowsIn(
        client,
        this.moduleTable(module),
        MODULE_COLUMNS,
        rows.map((m) => moduleValues(m.row)),
      );
    }
    if (fresh.length > 0) {
      await copyRowsIn(
        client,
        'memory_index',
        CMI_COLUMNS,
        fresh.map((m) => cmiValues(m.cmi)),
      );
    }
    if (known.length > 0) await this.upsertKnown(client, known);
  }

  /**
   * Writes the memories the target accepts and returns those it refuses, halving the failing set
   * under savepoints until each refusal is one memory: a few bad rows cost a few dozen small
   * writes, not one statement per row. A memory's module row and CMI row stay together.
   */
  private async writeIsolating(
    client: DatabaseSession,
    memories: readonly PreparedMemory[],
    existing: ReadonlyMap<string, ExistingEntry>,
    upsertAll: boolean,
  ): Promise<RefusedMemory[]> {
    if (memories.length === 0) return [];
    await client.query('SAVEPOINT bm_rows');
    try {
      await this.writeMemories(client, memories, existing, upsertAll);
      await client.query('RELEASE SAVEPOINT bm_rows');
      return [];
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT bm_rows');
      await client.query('RELEASE SAVEPOINT bm_rows');
      if (!isRowRefusal(error)) throw error;
      const only = memories.length === 1 ? memories[0] : undefined;
      if (only) return [{ sourceId: only.ledger.sourceId, detail: describeRefusal(error) }];
      const half = memories.length >> 1;
      return [
        ...(await this.writeIsolating(client, memories.slice(0, half), existing, upsertAll)),
        ...(await this.writeIsolating(client, memories.slice(half), existing, upsertAll)),
      ];
    }
  }

  /** A refused memory an earlier run migrated leaves no copy behind: the ledger will say rejected. */
  private async withdrawRefused(
    client: DatabaseSession,
    refused: readonly RefusedMemory[],
    existing: ReadonlyMap<string, ExistingEntry>,
  ): Promise<void> {
    const byModule = new Map<string, string[]>();
    for (const { sourceId } of refused) {
      const before = existing.get(sourceId);
      if (before?.status !== 'migrated' || !before.module || !before.target_id) continue;
      byModule.set(before.module, [...(byModule.get(before.module) ?? []), before.target_id]);
    }
    for (const [module, ids] of byModule) await this.deleteTargetRows(client, module, ids);
  }

  private async writeLedger(
    client: DatabaseSession,
    entries: readonly LedgerEntry[],
    existing: ReadonlyMap<string, ExistingEntry>,
    upsertAll: boolean,
    runId: string,
  ): Promise<void> {
    const newEntries = upsertAll ? [] : entries.filter((e) => !existing.has(e.sourceId));
    const knownEntries = upsertAll ? entries : entries.filter((e) => existing.has(e.sourceId));
    const toLedgerRow = ledgerValues(runId);
    if (newEntries.length > 0) {
      await copyRowsIn(client, `${LEDGER_SCHEMA}.memory_ledger`, LEDGER_COLUMNS, newEntries.map(toLedgerRow));
    }
    if (knownEntries.length > 0) {
      await client.query(STAGING_DDL);
      await copyRowsIn(client, 'bm_stage_ledger', LEDGER_COLUMNS, knownEntries.map(toLedgerRow));
      await client.query(
        `INSERT INTO ${LEDGER_SCHEMA}.memory_ledger (${columnList(LEDGER_COLUMNS)})
         SELECT ${columnList(LEDGER_COLUMNS)} FROM bm_stage_ledger
         ON CONFLICT (source_id) DO UPDATE SET ${excludedSet(LEDGER_COLUMNS, ['source_id', 'first_run_id'])}, updated_at = now()`,
      );
    }
  }

  private async readLedger(
    client: DatabaseSession,
    sourceIds: string[],
  ): Promise<Map<string, ExistingEntry>> {
    const { rows } = await client.query<ExistingEntry & { source_id: string }>(
      `SELECT source_id, status, module, target_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE source_id = ANY($1::text[])`,
      [sourceIds],
    );
    return new Map(rows.map((r) => [r.source_id, r]));
  }

  /** Deletes target rows of memories that moved module or are now rejected (relationships follow later). */
  private async removeStaleCopies(
    client: DatabaseSession,
    entries: LedgerEntry[],
    existing: Map<string, ExistingEntry>,
    deletedSourceIds: string[],
  ): Promise<{ moved: number; withdrawn: number }> {
    const staleByModule = new Map<string, string[]>();
    let moved = 0;
    let withdrawn = 0;
    const stale = (module: string, targetId: string) => {
      const ids = staleByModule.get(module) ?? [];
      ids.push(targetId);
      staleByModule.set(module, ids);
    };
    for (const sourceId of deletedSourceIds) {
      const before = existing.get(sourceId);
      if (before?.status !== 'migrated' || !before.module || !before.target_id) continue;
      withdrawn++;
      stale(before.module, before.target_id);
    }
    const movedByModule = new Map<string, string[]>();
    for (const entry of entries) {
      const before = existing.get(entry.sourceId);
      if (before?.status !== 'migrated' || !before.module || !before.target_id) continue;
      if (entry.status === 'migrated' && entry.module === before.module) continue;
      if (entry.status === 'migrated') {
        moved++;
        movedByModule.set(before.module, [...(movedByModule.get(before.module) ?? []), before.target_id]);
      } else {
        withdrawn++;
        stale(before.module, before.target_id);
      }
    }
    for (const [module, ids] of staleByModule) await this.deleteTargetRows(client, module, ids);
    for (const [module, ids] of movedByModule) {
      await removeMigratedMemories(client, this.modules, module, ids, { moving: true });
    }
    return { moved, withdrawn };
  }

  /** A module's rows of these memories, their CMI rows and the relationships that touch them. */
  private async deleteTargetRows(client: DatabaseSession, module: string, ids: string[]): Promise<void> {
    await removeMigratedMemories(client, this.modules, module, ids);
  }

  private async upsertKnown(client: DatabaseSession, known: readonly PreparedMemory[]): Promise<void> {
    await client.query(STAGING_DDL);
    await copyRowsIn(
      client,
      'bm_stage_memories',
      [{ name: 'module', type: 'text' }, ...MODULE_COLUMNS],
      known.map((m) => [m.row.module, ...moduleValues(m.row)]),
    );
    for (const module of new Set(known.map((m) => m.row.module))) {
      await client.query(
        `INSERT INTO ${this.moduleTable(module)} (${columnList(MODULE_COLUMNS)})
         SELECT ${columnList(MODULE_COLUMNS)} FROM bm_stage_memories WHERE "module" = $1
         ON CONFLICT ("id") DO UPDATE SET ${excludedSet(MODULE_COLUMNS, ['id'])}`,
        [module],
      );
    }
    await copyRowsIn(
      client,
      'bm_stage_cmi',
      CMI_COLUMNS,
      known.map((m) => cmiValues(m.cmi)),
    );
    await client.query(
      `INSERT INTO memory_index (${columnList(CMI_COLUMNS)})
       SELECT ${columnList(CMI_COLUMNS)} FROM bm_stage_cmi
       ON CONFLICT ("moduleId", "remoteMemoryId") DO UPDATE SET ${excludedSet(CMI_COLUMNS, ['id', 'moduleId', 'remoteMemoryId'])}`,
    );
  }
}

function groupByModule(memories: readonly PreparedMemory[]): Map<ModuleId, PreparedMemory[]> {
  const groups = new Map<ModuleId, PreparedMemory[]>();
  for (const m of memories) {
    const group = groups.get(m.row.module) ?? [];
    group.push(m);
    groups.set(m.row.module, group);
  }
  return groups;
}
