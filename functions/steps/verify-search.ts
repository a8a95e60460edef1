import { runLayout } from '../core/run-options.js';
import { recallLine, type SearchRecallResult } from '../core/search-recall.js';
import { DEFAULT_SEARCH_SAMPLE, searchEquivalence } from '../engine/search-equivalence.js';
import { SearchRecallError } from '../errors.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';

export interface VerifySearchEvent {
  run: RunContext;
}

export type VerifySearchOutput =
  | { skipped: true; reason: string }
  | { skipped: false; summary: string; passed: boolean };

/**
 * The search-equivalence check: does the target answer the users' questions as the source did?
 * One step over a bounded sample (`searchUsers` × `searchQueriesPerUser` queries), so its time does
 * not grow with the number of memories. Its result is stored before the gate fails the run, so the
 * failure report shows which memories were lost.
 */
export async function verifySearch(
  runtime: MigrationRuntime,
  event: VerifySearchEvent,
): Promise<VerifySearchOutput> {
  const { run } = event;
  if (run.dryRun) return { skipped: true, reason: 'dry run' };
  const sample = run.search ?? {
    users: DEFAULT_SEARCH_SAMPLE.users,
    queriesPerUser: DEFAULT_SEARCH_SAMPLE.queriesPerUser,
  };
  if (!run.sourceSchema.memoryColumns.includes('embedding')) {
    return { skipped: true, reason: 'BigMemory has no embedding column' };
  }
  if (sample.users === 0 || sample.queriesPerUser === 0) {
    return { skipped: true, reason: 'searchUsers or searchQueriesPerUser is 0' };
  }
  const result = await searchEquivalence(
    {
      source: await runtime.sourcePool(),
      target: await runtime.targetPool(),
      schema: run.sourceSchema,
      layout: run.target,
    },
    {
      users: sample.users,
      queriesPerUser: sample.queriesPerUser,
      ...(sample.minRecall !== undefined ? { minRecall: sample.minRecall } : {}),
    },
  );
  await putJson(runtime.store, runLayout(run.runId).search, result);
  if (!result.passed) throw recallError(result);
  return { skipped: false, summary: recallLine(result), passed: true };
}

export function recallError(result: SearchRecallResult): SearchRecallError {
  return new SearchRecallError(
    `Search recall below the gate: ${recallLine(result)}, exact search must reach ${result.minRecall} (minRecall / --min-recall). The report lists the memories lost.`,
    {
      context: {
        k: result.k,
        exactRecall: result.exact.recall,
        routedRecall: result.routed.recall,
        minRecall: result.minRecall,
      },
    },
  );
}
