import type { Queryable } from './port.js';

/**
 * A set of keys reduced to its size and the sum of each key's 64-bit hash (PostgreSQL's
 * `hashtextextended`, the hash behind hash partitioning). Two sets with equal digests are the same
 * set unless two different sets of equal size happen to sum alike, about one chance in 2^64: cheap
 * enough to compare sets held in two databases with one aggregate each, where the exact comparison
 * streams both sides. Every caller falls back to that exact comparison when the digests differ, so
 * two servers that hashed a key differently would cost time, never a wrong answer.
 */
export interface KeySetDigest {
  count: string;
  hashSum: string;
}

/**
 * A key's 64-bit hash, as SQL over a text expression. An md5 cut to 64 bits costs several times
 * more: over a ledger of millions of rows that is seconds of Plan and Verify on every run.
 */
export const keyHashSql = (keyExpr: string) => `hashtextextended(${keyExpr}, 0)`;

/**
 * The digest of the text keys `keyExpr` over `from` (a `FROM … [WHERE …]` clause of trusted SQL).
 * An absent table (a target no real run has written yet) is the empty set.
 */
export async function keySetDigest(db: Queryable, keyExpr: string, from: string): Promise<KeySetDigest> {
  try {
    const { rows } = await db.query<{ count: string; hash_sum: string }>(
      `SELECT count(*)::text AS count,
              coalesce(sum(${keyHashSql(keyExpr)}), 0)::text AS hash_sum
         ${from}`,
    );
    return { count: rows[0]?.count ?? '0', hashSum: rows[0]?.hash_sum ?? '0' };
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return { count: '0', hashSum: '0' };
    throw error;
  }
}

export const sameKeySet = (a: KeySetDigest, b: KeySetDigest): boolean =>
  a.count === b.count && a.hashSum === b.hashSum;
