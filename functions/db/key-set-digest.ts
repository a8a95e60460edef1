import { escapeLiteral } from './pg/escape.js';
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

/**
 * Keys whose first `length` characters are one of `values`. Both databases cut their keys alike
 * this way, and each prefix is a range of the keys' code-point order (a uuid's own order).
 */
export interface KeyPrefixes {
  length: number;
  values: readonly string[];
}

/** The prefix length that splits keys of a source id type into ranges: 256 for a uuid's hex digits. */
export const keyPrefixLength = (idType: string): number => (idType === 'uuid' ? 2 : 1);

const keyPrefixSql = (keyExpr: string, length: number) => `left(${keyExpr}, ${Math.floor(length)})`;

/** SQL: whether the text key `keyExpr` falls under one of the prefixes (none: false). */
export function underPrefixesSql(keyExpr: string, prefixes: KeyPrefixes): string {
  if (prefixes.values.length === 0) return 'false';
  return `${keyPrefixSql(keyExpr, prefixes.length)} IN (${prefixes.values.map(escapeLiteral).join(', ')})`;
}

/** The digests of the text keys `keyExpr` over `from`, one for each prefix of `length` characters. */
export async function keySetDigestsByPrefix(
  db: Queryable,
  keyExpr: string,
  length: number,
  from: string,
): Promise<Map<string, KeySetDigest>> {
  const { rows } = await db.query<{ prefix: string; count: string; hash_sum: string }>(
    `SELECT ${keyPrefixSql(keyExpr, length)} AS prefix, count(*)::text AS count,
            sum(${keyHashSql(keyExpr)})::text AS hash_sum
       ${from} GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.prefix, { count: r.count, hashSum: r.hash_sum }]));
}
