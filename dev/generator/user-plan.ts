import { encodeTuple, type PgBinaryType } from '../../functions/db/pg-binary.js';
import { BASE_TIME_MS } from './memory-row.js';
import { RowRandom, STREAM, seededUuid } from './seeded-random.js';
import { EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES } from './vocabulary.js';

export const USER_COLUMNS = [
  ['id', 'uuid'],
  ['token', 'text'],
  ['email', 'text'],
  ['password', 'text'],
  ['is_active', 'bool'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
] as const satisfies readonly (readonly [string, PgBinaryType])[];
const USER_TYPES: readonly PgBinaryType[] = USER_COLUMNS.map(([, type]) => type);

export interface SourceUser {
  index: number;
  id: string;
  token: string;
  email: string | null;
  passwordHash: string | null;
  isActive: boolean;
  createdAt: number;
  updatedAt: number;
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Variants sit at fixed residues (not random draws) so even a few dozen users include each:
 * no email ≈ 6% (none when `withoutEmail` is false), inactive ≈ 8%, no password (e.g. OAuth
 * sign-ups) ≈ 3%.
 */
export function planUser(seed: number, index: number, withoutEmail = true): SourceUser {
  const random = new RowRandom(seed, STREAM.user, index);
  const first = random.pick(FIRST_NAMES);
  const last = random.pick(LAST_NAMES);
  const email =
    withoutEmail && index % 17 === 5
      ? null
      : `${first}.${last}${index}@${random.pick(EMAIL_DOMAINS)}`.toLowerCase();
  let hash = '$2b$10$';
  for (let i = 0; i < 53; i++) hash += BCRYPT_ALPHABET[random.int(BCRYPT_ALPHABET.length)];
  // Users exist before the memories they own (memories start at BASE_TIME_MS).
  const createdAt = BASE_TIME_MS - (1 + random.int(400)) * 86_400_000 - random.int(86_400_000);
  return {
    index,
    id: seededUuid(seed, STREAM.userId, index),
    token: seededUuid(seed, STREAM.userToken, index),
    email,
    passwordHash: index % 29 === 11 ? null : hash,
    isActive: index % 13 !== 7,
    createdAt,
    updatedAt: random.chance(0.5) ? createdAt : createdAt + random.int(300 * 86_400_000),
  };
}

export function encodeUser(user: SourceUser): Buffer {
  return encodeTuple(USER_TYPES, [
    user.id,
    user.token,
    user.email,
    user.passwordHash,
    user.isActive,
    user.createdAt,
    user.updatedAt,
  ]);
}
