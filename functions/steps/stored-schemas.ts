import { z } from 'zod';
import type { BatchSummary, UserMapping } from '../core/batch.js';
import type { DeletesSummary } from '../core/deletes.js';
import type { MigrationReport } from '../core/report/model.js';
import type { SearchRecallResult } from '../core/search-recall.js';
import type { FingerprintSummary, VerificationResult } from '../core/verification.js';
import type { KeyRange } from '../db/source-reader.js';
import type { EmbeddingBatchManifest } from './embedding-batches.js';
import type { RelationshipItem } from './plan.js';
import type { RunContext } from './run-context.js';
import type { SnapshotResult } from './snapshot.js';
import {
  keyRangeSchema,
  relationshipItemSchema,
  runContextSchema,
  snapshotResultSchema,
} from './step-schemas.js';

/**
 * Schemas of the objects steps write to the run store and read back (`getJson`). A small object
 * is checked whole; a large one (a batch summary, the report) by the fields its readers branch
 * on, and typed by its writer's type for the rest, which `written` states once here.
 */

const count = z.number().int().nonnegative();

/** `shape` checks the object; `T`, the type its writer put in the store, describes it. */
export function written<T>(shape: z.ZodType = z.looseObject({})): z.ZodType<T> {
  return shape.transform((value) => value as T);
}

export const keyRangesSchema = z.array(keyRangeSchema) satisfies z.ZodType<KeyRange[]>;

export const relationshipItemsSchema = z.array(relationshipItemSchema) satisfies z.ZodType<
  RelationshipItem[]
>;

const mismatches = z.object({ count, samples: z.array(z.string()) });

export const fingerprintSummarySchema = z.object({
  compared: count,
  content: mismatches,
  embedding: mismatches,
  timestamps: mismatches,
}) satisfies z.ZodType<FingerprintSummary>;

export const userMappingsSchema = z.record(
  z.string(),
  z.object({ targetUserId: z.string().nullable(), decision: z.string() }),
) satisfies z.ZodType<Record<string, UserMapping>>;

export const storedSnapshotSchema = written<SnapshotResult>(snapshotResultSchema);

export const embeddingBatchManifestSchema = written<EmbeddingBatchManifest>(
  z.object({
    batches: z.array(
      z.looseObject({
        batchId: z.string().nullable(),
        firstRange: count,
        lastRange: count,
        inputs: count,
        tokens: count,
        status: z.string(),
      }),
    ),
  }),
);

const tallies = z.record(z.string(), count);

export const batchSummarySchema = written<BatchSummary>(
  z.looseObject({
    index: count,
    read: count,
    migrated: count,
    rejected: count,
    byModule: tallies,
    byRule: tallies,
    rejectsByReason: tallies,
    repairsByRule: tallies,
    samples: z.array(z.looseObject({})),
  }),
);

export const verificationResultSchema = written<VerificationResult>(
  z.looseObject({ ok: z.boolean(), checks: z.array(z.looseObject({ name: z.string() })) }),
);

export const searchRecallResultSchema = written<SearchRecallResult>(
  z.looseObject({ k: count, users: count, queries: count }),
);

export const deletesSummarySchema = written<DeletesSummary>(
  z.looseObject({ dryRun: z.boolean(), memories: count }),
);

export const migrationReportSchema = written<MigrationReport>(
  z.looseObject({
    totals: z.looseObject({ batches: count, read: count, migrated: count, rejected: count }),
  }),
);

/** A run's context as Preflight stored it, read back by the failure report. */
export const storedRunContextSchema = written<RunContext>(runContextSchema);
