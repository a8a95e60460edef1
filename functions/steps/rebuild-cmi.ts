import { runLayout } from '../core/run-options.js';
import { rebuildCmi as rebuildCentralIndex } from '../engine/rebuild-cmi.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';

export interface RebuildCmiEvent {
  run: RunContext;
  /** Recompute every CMI row, not only missing ones (the guide's `cmi:populate`). */
  all?: boolean;
}

/**
 * The batches already wrote a CMI row with every memory; this pass repairs what they cannot see:
 * module rows without an index entry and index entries whose memory is gone.
 */
export async function rebuildCmi(runtime: MigrationRuntime, event: RebuildCmiEvent) {
  const { run } = event;
  if (run.dryRun) return { skipped: true as const, reason: 'dry run' };
  const result = await rebuildCentralIndex(
    { target: await runtime.targetPool(), layout: run.target },
    { all: event.all ?? false },
  );
  await putJson(runtime.store, runLayout(run.runId).cmi, result);
  return { skipped: false as const, ...result };
}
