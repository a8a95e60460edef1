import type { Queryable } from './port.js';

/** The ids a user map may name: source user ids and tokens, and target user ids. */
export interface UserMapIds {
  sourceUserIds: string[];
  sourceTokens: string[];
  targetUserIds: string[];
}

export async function readUserMapIds(source: Queryable, target: Queryable): Promise<UserMapIds> {
  const [{ rows: sourceUsers }, { rows: targetUsers }] = await Promise.all([
    source.query<{ id: string; token: string }>('SELECT id::text AS id, token FROM users'),
    target.query<{ id: string }>('SELECT id FROM "users"'),
  ]);
  return {
    sourceUserIds: sourceUsers.map((u) => u.id),
    sourceTokens: sourceUsers.map((u) => u.token),
    targetUserIds: targetUsers.map((u) => u.id),
  };
}
