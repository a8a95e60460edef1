/**
 * Values a database accepts but a migration cannot copy as they are, made into documented repairs
 * (or, when nothing sensible is left, a rejection) before a memory is classified or transformed:
 *
 * - `created_at` NULL, ±infinity or outside JavaScript's date range (beyond the year 275760):
 *   `updated_at`, else `accessed_at`, when that is a real instant (`created_at_repaired`).
 * - `updated_at` likewise: the (repaired) `created_at` (`updated_at_repaired`).
 * - no real instant among the three: rejected (`invalid_timestamps`).
 * - `accessed_at` ±infinity or out of range: NULL, as if never accessed (`accessed_at_dropped`).
 * - `access_count` NULL or negative: 0; above the target's int4 range: 2,147,483,647
 *   (`access_count_repaired`).
 *
 * A dry run prepares its batches through the same function, so it finds the same repairs.
 */
import type { Rejection, Repair, SourceMemory } from './types.js';

const INT4_MAX = 2_147_483_647;

/** A memory whose timestamps are real instants and whose count fits the target. */
export type SoundMemory = SourceMemory & { createdAt: Date; updatedAt: Date; accessCount: number };

const isInstant = (d: Date | null): d is Date => d !== null && Number.isFinite(d.getTime());
const describe = (d: Date | null) => (d === null ? 'NULL' : 'infinite or beyond the year 275760');

export function soundSourceValues(
  memory: SourceMemory,
): { ok: true; memory: SoundMemory; repairs: Repair[] } | { ok: false; rejection: Rejection } {
  const repairs: Repair[] = [];
  const repair = (rule: Repair['rule'], detail: string) =>
    repairs.push({ sourceId: memory.id, rule, detail });
  const accessedAt = isInstant(memory.accessedAt) ? memory.accessedAt : null;
  if (memory.accessedAt !== null && accessedAt === null) {
    repair(
      'accessed_at_dropped',
      'accessed_at was infinite or beyond the year 275760; migrated as never accessed',
    );
  }
  let createdAt = isInstant(memory.createdAt) ? memory.createdAt : null;
  let updatedAt = isInstant(memory.updatedAt) ? memory.updatedAt : null;
  if (!createdAt) {
    const from = updatedAt ? 'updated_at' : accessedAt ? 'accessed_at' : null;
    createdAt = updatedAt ?? accessedAt;
    if (createdAt)
      repair('created_at_repaired', `created_at was ${describe(memory.createdAt)}; ${from} used`);
  }
  if (!createdAt) {
    return {
      ok: false,
      rejection: {
        sourceId: memory.id,
        reason: 'invalid_timestamps',
        detail: `created_at ${describe(memory.createdAt)}, updated_at ${describe(memory.updatedAt)}, no accessed_at: no instant to keep`,
      },
    };
  }
  if (!updatedAt) {
    updatedAt = createdAt;
    repair('updated_at_repaired', `updated_at was ${describe(memory.updatedAt)}; created_at used`);
  }
  let accessCount = memory.accessCount ?? 0;
  if (
    memory.accessCount === null ||
    accessCount < 0 ||
    accessCount > INT4_MAX ||
    !Number.isInteger(accessCount)
  ) {
    const was = memory.accessCount === null ? 'NULL' : String(memory.accessCount);
    accessCount = Number.isFinite(accessCount) ? Math.min(INT4_MAX, Math.max(0, Math.trunc(accessCount))) : 0;
    repair('access_count_repaired', `access_count was ${was}; migrated as ${accessCount}`);
  }
  return { ok: true, memory: { ...memory, createdAt, updatedAt, accessedAt, accessCount }, repairs };
}
