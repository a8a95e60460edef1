import { type DatasetShape, planMemory } from './memory-plan.js';

/** Which memories each user owns, in index order: relations pick their ends within one user. */
export interface UserMemories {
  /** The owner's user index of each memory; -1 for a memory whose user exists nowhere. */
  owner: Int32Array;
  byUser: Map<number, Int32Array>;
}

const cache = new WeakMap<DatasetShape, UserMemories>();

/** Built once per dataset (one pass of the memory plans), then shared by every relation. */
export function userMemories(shape: DatasetShape): UserMemories {
  const known = cache.get(shape);
  if (known) return known;
  const owner = new Int32Array(shape.memories);
  const counts = new Map<number, number>();
  for (let index = 0; index < shape.memories; index++) {
    const user = planMemory(shape, index).userIndex ?? -1;
    owner[index] = user;
    if (user >= 0) counts.set(user, (counts.get(user) ?? 0) + 1);
  }
  const byUser = new Map<number, Int32Array>();
  const filled = new Map<number, number>();
  for (const [user, count] of counts) {
    byUser.set(user, new Int32Array(count));
    filled.set(user, 0);
  }
  for (let index = 0; index < shape.memories; index++) {
    const user = owner[index] as number;
    if (user < 0) continue;
    const at = filled.get(user) as number;
    (byUser.get(user) as Int32Array)[at] = index;
    filled.set(user, at + 1);
  }
  const built = { owner, byUser };
  cache.set(shape, built);
  return built;
}

/**
 * The first memory of `user` at or after `start` (wrapping around) that `accept` takes, or null.
 * A binary search finds where to start in the user's list.
 */
export function nextOfUser(
  memories: UserMemories,
  user: number,
  start: number,
  accept: (index: number) => boolean,
): number | null {
  const list = memories.byUser.get(user);
  if (!list || list.length === 0) return null;
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((list[middle] as number) < start) low = middle + 1;
    else high = middle;
  }
  for (let step = 0; step < list.length; step++) {
    const index = list[(low + step) % list.length] as number;
    if (accept(index)) return index;
  }
  return null;
}
