import { z } from 'zod';
import { ModuleCentroidAccumulator, type ModuleCentroids } from '../core/centroids.js';
import { ModuleRegistry } from '../core/modules.js';
import { type CompiledRules, loadRules } from '../core/rules.js';
import { runLayout } from '../core/run-options.js';
import type { MigrationRuntime } from '../runtime/migration-runtime.js';
import { getJson } from '../store/run-store.js';
import type { RunContext } from './run-context.js';

// Per container: a Lambda container (or the local runner) serves many batches of one run, and the
// rules and centroids do not change within a run.
const rulesByRun = new Map<string, CompiledRules>();
const centroidsByRun = new Map<string, ModuleCentroids | null>();

export async function loadRunRules(runtime: MigrationRuntime, run: RunContext): Promise<CompiledRules> {
  let rules = rulesByRun.get(run.runId);
  if (!rules) {
    rules = loadRules(
      run.hasRules ? await getJson(runtime.store, runLayout(run.runId).rules, z.unknown()) : undefined,
      {
        registry: moduleRegistryOf(run),
      },
    );
    rulesByRun.set(run.runId, rules);
  }
  return rules;
}

export async function loadRunCentroids(
  runtime: MigrationRuntime,
  run: RunContext,
): Promise<ModuleCentroids | undefined> {
  if (!run.centroidClassification) return undefined;
  if (!centroidsByRun.has(run.runId)) {
    const json = await getJson(runtime.store, runLayout(run.runId).centroids, z.unknown()).catch(() => null);
    centroidsByRun.set(run.runId, json ? ModuleCentroidAccumulator.fromJSON(json).finish() : null);
  }
  return centroidsByRun.get(run.runId) ?? undefined;
}

/** The target's modules as Preflight found them. */
export function moduleRegistryOf(run: RunContext): ModuleRegistry {
  return new ModuleRegistry(run.target.modules);
}
