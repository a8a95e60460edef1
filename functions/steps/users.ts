import { z } from 'zod';
import type { UserMapping } from '../core/batch.js';
import { runLayout } from '../core/run-options.js';
import { parseUserMap } from '../core/user-map.js';
import {
  loadUserMapping,
  migrateUsers,
  type UsersSummary,
  userMappingFromDecisions,
} from '../db/user-migration.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { getJson, putJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';
import { userMappingsSchema } from './stored-schemas.js';

export interface UsersEvent {
  run: RunContext;
}

export type UsersResult = Omit<UsersSummary, 'decisions' | 'conflicts'> & { summaryKey: string };

/**
 * Matches, creates or maps every BigMemory user before any memory moves (memories need their
 * target user). A dry run decides the same way but writes the mapping to the run store instead.
 */
export async function users(runtime: MigrationRuntime, event: UsersEvent): Promise<UsersResult> {
  const { run } = event;
  const layout = runLayout(run.runId);
  const userMap = run.hasUserMap
    ? parseUserMap(await getJson(runtime.store, layout.userMap, z.unknown()))
    : undefined;
  const summary = await migrateUsers({
    source: await runtime.sourcePool(),
    target: await runtime.targetPool(),
    runId: run.runId,
    dryRun: run.dryRun,
    createUsers: run.createUsers,
    userMap,
    mergeOnEmail: run.mergeOnEmail,
    placeholderEmailDomain: run.placeholderEmailDomain,
  });
  const { decisions, conflicts, ...counts } = summary;
  if (run.dryRun) {
    await putJson(
      runtime.store,
      layout.userMapping,
      Object.fromEntries(userMappingFromDecisions(decisions ?? [])),
    );
  }
  await putJson(runtime.store, layout.usersSummary, { ...counts, conflicts });
  // The state's output stays small: the conflicts list lives in the store.
  return { ...counts, summaryKey: layout.usersSummary };
}

const dryRunMappings = new Map<string, Map<string, UserMapping>>();

/** The user resolver a batch uses: the ledger for real runs, the stored dry-run decisions otherwise. */
export async function userResolver(
  runtime: MigrationRuntime,
  run: RunContext,
): Promise<(ids: string[]) => Promise<ReadonlyMap<string, UserMapping>>> {
  if (!run.dryRun) {
    const target = await runtime.targetPool();
    return (ids) => loadUserMapping(target, ids);
  }
  let mapping = dryRunMappings.get(run.runId);
  if (!mapping) {
    const stored = await getJson(runtime.store, runLayout(run.runId).userMapping, userMappingsSchema);
    mapping = new Map(Object.entries(stored));
    dryRunMappings.set(run.runId, mapping);
  }
  const m = mapping;
  return async () => m;
}
