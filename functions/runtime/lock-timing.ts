import { LOCK_HEARTBEAT_SECONDS, LOCK_STALE_SECONDS } from '../db/run-lock.js';
import { InvalidInputError } from '../errors.js';

export interface LockTiming {
  /** A holder silent this long is taken for dead (`--break-lock` may then take its lock over). */
  staleSeconds: number;
  /** How often a live holder refreshes its heartbeat: well inside the stale time. */
  heartbeatSeconds: number;
}

/**
 * MIGRATION_LOCK_STALE_SECONDS: how long a run's heartbeat may be silent before the lock's holder
 * counts as dead (default 5 minutes). A small deployment without long pauses between steps, or a
 * crash test, takes a dead run's lock over sooner; the heartbeat keeps to a quarter of it.
 */
export function lockTimingFromEnv(env: NodeJS.ProcessEnv = process.env): LockTiming {
  const raw = env.MIGRATION_LOCK_STALE_SECONDS?.trim();
  if (!raw) return { staleSeconds: LOCK_STALE_SECONDS, heartbeatSeconds: LOCK_HEARTBEAT_SECONDS };
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 2) {
    throw new InvalidInputError(`MIGRATION_LOCK_STALE_SECONDS must be an integer ≥ 2, got "${raw}"`, {
      context: { variable: 'MIGRATION_LOCK_STALE_SECONDS' },
    });
  }
  return { staleSeconds: value, heartbeatSeconds: Math.min(LOCK_HEARTBEAT_SECONDS, value / 4) };
}
