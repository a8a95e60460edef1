import type { Queryable } from '../../functions/db/port.js';
import { InvalidInputError } from '../../functions/errors.js';
import { STREAM, seededUuid } from './seeded-random.js';
import { planUser, type SourceUser } from './user-plan.js';

export interface TargetCollisions {
  /** Source users pre-created in the target with the same token (a match, under another target id). */
  sameToken: number;
  /** Source users pre-created in the target with the same email but another token (a conflict). */
  sameEmail: number;
}

export interface TargetCollisionUsers {
  sameToken: SourceUser[];
  sameEmail: SourceUser[];
}

/**
 * The source users that collide: the first users with an email (low indices own the most memories,
 * so collisions touch real data), same-token ones first. Users without email are skipped because the
 * legacy target schema requires one and a same-email conflict needs one.
 */
export function chooseCollisionUsers(
  seed: number,
  users: number,
  collisions: TargetCollisions,
): TargetCollisionUsers {
  const wanted = collisions.sameToken + collisions.sameEmail;
  const chosen: SourceUser[] = [];
  for (let index = 0; index < users && chosen.length < wanted; index++) {
    const user = planUser(seed, index);
    if (user.email !== null) chosen.push(user);
  }
  if (chosen.length < wanted) {
    throw new InvalidInputError(
      `only ${chosen.length} users have an email; cannot make ${wanted} target collisions`,
      {
        context: { users, ...collisions },
      },
    );
  }
  return { sameToken: chosen.slice(0, collisions.sameToken), sameEmail: chosen.slice(collisions.sameToken) };
}

// Prisma's timestamp(3) without time zone holds UTC: pass UTC wall-clock text, never a Date whose
// local-time rendering would shift it.
function utcText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function localPart(email: string): string {
  return email.split('@', 1)[0] ?? email;
}

/**
 * Inserts the colliding users into a Federated Memory `users` table. Only the columns both the legacy
 * and the current variant have; ON CONFLICT DO NOTHING makes a re-run harmless.
 */
export async function createTargetCollisions(
  target: Queryable,
  seed: number,
  chosen: TargetCollisionUsers,
): Promise<void> {
  const rows: unknown[][] = [];
  for (const user of chosen.sameToken) {
    rows.push([
      seededUuid(seed, STREAM.targetUserId, user.index),
      user.token,
      user.email,
      user.passwordHash,
      localPart(user.email as string),
      true,
      utcText(user.createdAt),
      utcText(user.updatedAt),
    ]);
  }
  for (const user of chosen.sameEmail) {
    rows.push([
      seededUuid(seed, STREAM.targetUserId, user.index),
      seededUuid(seed, STREAM.targetUserToken, user.index),
      user.email,
      null,
      `${localPart(user.email as string)} (federated)`,
      true,
      utcText(user.createdAt),
      utcText(user.createdAt),
    ]);
  }
  // Bind parameters are capped at 65,535 per statement.
  for (let start = 0; start < rows.length; start += 1000) {
    const batch = rows.slice(start, start + 1000);
    const placeholders = batch.map(
      (_, r) => `(${Array.from({ length: 8 }, (_, c) => `$${r * 8 + c + 1}`).join(', ')})`,
    );
    await target.query(
      `INSERT INTO "users" ("id", "token", "email", "passwordHash", "name", "isActive", "createdAt", "updatedAt")
       VALUES ${placeholders.join(', ')} ON CONFLICT DO NOTHING`,
      batch.flat(),
    );
  }
}
