import { deriveCmiEntry, type RebuildCmiResult } from '../core/cmi.js';
import type { ModuleId } from '../core/types.js';
import { everyRowIndexed, readModulePage, removeCmiOrphans, writeCmiPage } from '../db/cmi-index.js';
import type { Database } from '../db/port.js';
import { inspectTarget, type TargetLayout } from '../db/target-schema.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface RebuildCmiProgress {
  module: ModuleId;
  scanned: number;
  created: number;
  updated: number;
}

export interface RebuildCmiOptions {
  /** Re-derive every module row's CMI row, not only the missing ones. */
  all?: boolean;
  /** Module rows per page (one transaction each). */
  batchSize?: number;
  onProgress?: (progress: RebuildCmiProgress) => void;
}

const DEFAULT_REBUILD_BATCH_SIZE = 1000;

/**
 * The guide's `cmi:populate`: gives every module row of a Federated Memory database the CMI row
 * Federated Memory itself would derive (all rows with `all`, else only those lacking one) and
 * removes CMI rows whose module row is gone. Works on any Federated Memory database, migrated or not.
 */
export async function rebuildCmi(
  deps: { target: Database; layout?: TargetLayout },
  options: RebuildCmiOptions = {},
): Promise<RebuildCmiResult> {
  const { modules, vectors } = deps.layout ?? (await inspectTarget(deps.target));
  const started = performance.now();
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_REBUILD_BATCH_SIZE));
  const all = options.all ?? false;
  const result: RebuildCmiResult = {
    scanned: 0,
    created: 0,
    updated: 0,
    removedOrphans: 0,
    skippedMissingUser: 0,
    skippedIdConflict: 0,
    durationMs: 0,
  };
  const client = await deps.target.connect();
  let failure: Error | undefined;
  try {
    for (const module of modules) {
      // Orphans first: with them gone, two counts tell whether any module row lacks its CMI row,
      // and a module that lacks none is not scanned.
      result.removedOrphans += await removeCmiOrphans(client, module);
      if (!all && (await everyRowIndexed(client, module))) continue;
      const progress: RebuildCmiProgress = { module: module.id, scanned: 0, created: 0, updated: 0 };
      let after: string | null = null;
      for (;;) {
        const page = await readModulePage(client, module, vectors, after, batchSize, all);
        if (page.length === 0) break;
        after = page[page.length - 1]?.row.id ?? null;
        const entries = page
          .filter((p) => p.userExists)
          .map((p) => deriveCmiEntry(p.row, vectors.cmiDimensions));
        const written = entries.length > 0 ? await writeCmiPage(client, entries) : { created: 0, updated: 0 };
        progress.scanned += page.length;
        progress.created += written.created;
        progress.updated += written.updated;
        result.skippedMissingUser += page.length - entries.length;
        result.skippedIdConflict += entries.length - written.created - written.updated;
        options.onProgress?.({ ...progress });
        if (page.length < batchSize) break;
      }
      result.scanned += progress.scanned;
      result.created += progress.created;
      result.updated += progress.updated;
    }
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw classifyDatabaseFailure(error, { step: 'rebuild-cmi' });
  } finally {
    client.release(failure);
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}
