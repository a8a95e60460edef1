/**
 * How many connections a deployed run opens to each database at once (functions/steps/preflight.ts
 * holds them against the servers' free connections). Every function closes its connections when
 * its invocation ends, so what counts is the widest moment:
 * - the Maps: each item in flight holds one connection to each database for its work, and the
 *   run's heartbeat, which beats on the target while the item runs, may take a second one there;
 * - Plan and Verify, alone in their states, run four reads side by side on each database;
 * - and one more, for the session of a person or tool looking on.
 */
export const STEP_SESSIONS = 4;

export type DatabaseRole = 'source' | 'target';

/** The connections one Map item may hold to the database at once. */
export const connectionsPerMapItem = (role: DatabaseRole) => (role === 'target' ? 2 : 1);

export function connectionsNeeded(role: DatabaseRole, mapConcurrency: number): number {
  return Math.max(mapConcurrency * connectionsPerMapItem(role), STEP_SESSIONS) + 1;
}

/** The widest Map that fits `free` connections to the database, or 0 when even one item does not. */
export function widestFittingMap(role: DatabaseRole, free: number): number {
  if (connectionsNeeded(role, 1) > free) return 0;
  return Math.floor((free - 1) / connectionsPerMapItem(role));
}
