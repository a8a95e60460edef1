/**
 * What every relationship item does, whichever its kind (engine/migrate-relationships.ts): read
 * the source, name a database failure after the item, and write what it resolved differently from
 * the relationship ledger in one transaction.
 */
import { relationshipFingerprint, relationshipUnchanged } from '../core/fingerprint.js';
import type { ModuleRegistry } from '../core/modules.js';
import type { ProjectLinkInputs } from '../core/project-links.js';
import {
  increment,
  type MigratedRelationship,
  type RelationshipBatchSummary,
  type RelationshipKind,
  type SkippedRelationship,
} from '../core/relationships.js';
import { readModuleRegistry } from '../db/module-registry.js';
import type { Database, DatabaseSession } from '../db/port.js';
import { type RelationshipBatch, RelationshipLoader, readLedgerEnds } from '../db/relationship-loader.js';
import { readRelationshipLedgerStates } from '../db/source-fingerprints.js';
import type { KeyRange } from '../db/source-reader.js';
import type { SourceSchema } from '../db/source-schema.js';
import { classifyDatabaseFailure } from '../errors.js';

export interface MigrateRelationshipsDeps {
  source: Database;
  target: Database;
  schema: SourceSchema;
  /** The target's modules (the run's, from Preflight); read from its registry when absent. */
  modules?: ModuleRegistry;
}

export interface MigrateRelationshipsInput {
  runId: string;
  /** `relations`: a key range of `memory_relations`; `project-links`: a range of `memories.user_id`. */
  kind: RelationshipKind;
  range: KeyRange;
  dryRun: boolean;
  /** Redo the item whatever an earlier run recorded (`--force-reprocess`). */
  forceReprocess?: boolean;
}

/** An item's outcome, and for a project-link item what it rests on (core/project-links.ts). */
export interface ResolvedItem {
  summary: RelationshipBatchSummary;
  linkInputs?: ProjectLinkInputs | null;
}

export async function readFromSource<T>(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  read: (client: DatabaseSession) => Promise<T>,
): Promise<T> {
  const client = await deps.source.connect();
  try {
    return await read(client);
  } catch (error) {
    throw classifyDatabaseFailure(error, { database: 'source', kind: input.kind, batch: input.range.index });
  } finally {
    client.release();
  }
}

/** A target read or write of the item: a database failure becomes the named error, naming the item. */
export function onTarget<T>(input: MigrateRelationshipsInput, work: Promise<T>): Promise<T> {
  return work.catch((error: unknown) => {
    throw classifyDatabaseFailure(error, { database: 'target', kind: input.kind, batch: input.range.index });
  });
}

export async function modulesOf(deps: MigrateRelationshipsDeps): Promise<ModuleRegistry> {
  return deps.modules ?? (await readModuleRegistry(deps.target)).registry;
}

async function loaderFor(deps: MigrateRelationshipsDeps): Promise<RelationshipLoader> {
  const modules = await modulesOf(deps);
  return new RelationshipLoader(deps.target, { relationIdType: deps.schema.relationIdType, modules });
}

function summarize(
  input: MigrateRelationshipsInput,
  read: number,
  migrated: MigratedRelationship[],
  skipped: SkippedRelationship[],
): RelationshipBatchSummary {
  const skippedByReason: Record<string, number> = {};
  const byType: Record<string, number> = {};
  for (const s of skipped) increment(skippedByReason, s.reason);
  for (const m of migrated) increment(byType, m.row.relationshipType);
  return {
    index: input.range.index,
    kind: input.kind,
    read,
    migrated: migrated.length,
    skippedByReason,
    byType,
  };
}

/**
 * Writes what an item resolved differently from the ledger, and removes the links it retired, in
 * one transaction, and sums it with what was left alone. Project links (`projectUpdates` given)
 * also count the `project_id`s written; relations, the earlier rows they displaced.
 */
export async function writeChanged(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  read: number,
  work: UnchangedSplit,
  projectUpdates?: RelationshipBatch['projectUpdates'],
  retired: readonly string[] = [],
): Promise<RelationshipBatchSummary> {
  if (work.migrated.length === 0 && work.skipped.length === 0 && retired.length === 0) {
    const summary = summarize(input, read, work.unchanged.migrated, work.unchanged.skipped);
    return projectUpdates ? { ...summary, projectIdsWritten: 0 } : summary;
  }
  const loader = await loaderFor(deps);
  const result = await loader.load({
    runId: input.runId,
    kind: input.kind,
    migrated: work.migrated,
    skipped: work.skipped,
    fingerprints: work.fingerprints,
    ...(projectUpdates ? { projectUpdates } : {}),
    ...(retired.length > 0 ? { retired } : {}),
  });
  const summary = {
    ...summarize(
      input,
      read,
      [...result.migrated, ...work.unchanged.migrated],
      [...result.skipped, ...work.unchanged.skipped],
    ),
    withdrawn: result.withdrawn,
  };
  return projectUpdates
    ? { ...summary, projectIdsWritten: result.projectIdsWritten }
    : { ...summary, displaced: result.displaced };
}

/**
 * Splits a batch's resolved relations into those to write and those whose ledger row already
 * records the same resolution (docs/design.md, "Skipping what is done"), which are left alone.
 */
export interface UnchangedSplit {
  migrated: MigratedRelationship[];
  skipped: SkippedRelationship[];
  fingerprints: Map<string, string>;
  unchanged: { migrated: MigratedRelationship[]; skipped: SkippedRelationship[] };
}

export async function unchangedRelationships(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  resolved: { migrated: MigratedRelationship[]; skipped: SkippedRelationship[] },
  /** What else a key's outcome depends on (a project link: when its task was last written). */
  alsoOf: (key: string) => string | undefined = () => undefined,
): Promise<UnchangedSplit> {
  const fingerprints = new Map<string, string>();
  for (const m of resolved.migrated) fingerprints.set(m.key, relationshipFingerprint(m, alsoOf(m.key)));
  for (const s of resolved.skipped) fingerprints.set(s.key, relationshipFingerprint(s, alsoOf(s.key)));
  const ledger = await onTarget(input, readRelationshipLedgerStates(deps.target, [...fingerprints.keys()]));
  const same = (key: string) => relationshipUnchanged(ledger.get(key), fingerprints.get(key) as string);
  return {
    migrated: resolved.migrated.filter((m) => !same(m.key)),
    skipped: resolved.skipped.filter((s) => !same(s.key)),
    fingerprints,
    unchanged: {
      migrated: resolved.migrated.filter((m) => same(m.key)),
      skipped: resolved.skipped.filter((s) => same(s.key)),
    },
  };
}

export function readTargetLedger(
  deps: MigrateRelationshipsDeps,
  input: MigrateRelationshipsInput,
  ids: string[],
) {
  return onTarget(input, readLedgerEnds(deps.target, ids));
}
