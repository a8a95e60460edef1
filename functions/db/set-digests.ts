/**
 * The key sets Plan and Verify compare between source and ledger, as aggregates (see
 * key-set-digest.ts): live memories against the memory ledger, relations against the relationship
 * ledger's `relation:` rows. Plan walks for deletes only when they differ; Verify takes its counts
 * from them when they agree, and merges the key streams of verification-queries.ts to name rows
 * only when they do not.
 */
import { relationKey } from '../core/relationships.js';
import { type KeySetDigest, keyHashSql, keySetDigest } from './key-set-digest.js';
import { LEDGER_SCHEMA } from './ledger-schema.js';
import type { Queryable } from './port.js';

export interface SourceMemoryDigest {
  live: KeySetDigest;
  deleted: number;
}

export async function sourceMemoryDigest(db: Queryable): Promise<SourceMemoryDigest> {
  const { rows } = await db.query<{ live: string; hash_sum: string; deleted: string }>(
    `SELECT count(*) FILTER (WHERE is_deleted IS NOT TRUE)::text AS live,
            coalesce(sum(${keyHashSql('id::text')}) FILTER (WHERE is_deleted IS NOT TRUE), 0)::text AS hash_sum,
            count(*) FILTER (WHERE is_deleted IS TRUE)::text AS deleted
       FROM memories`,
  );
  const row = rows[0];
  return {
    live: { count: row?.live ?? '0', hashSum: row?.hash_sum ?? '0' },
    deleted: Number(row?.deleted ?? 0),
  };
}

export const sourceRelationDigest = (db: Queryable) => keySetDigest(db, 'id::text', 'FROM memory_relations');

/** The ledger's keys by outcome: status and reason, each with its count and hash sum. */
export interface OutcomeDigest {
  status: string;
  reason: string | null;
  count: number;
  hashSum: string;
}

async function outcomeDigests(db: Queryable, keyExpr: string, from: string): Promise<OutcomeDigest[]> {
  const { rows } = await db.query<{ status: string; reason: string | null; count: string; hash_sum: string }>(
    `SELECT status, reason, count(*)::text AS count, sum(${keyHashSql(keyExpr)})::text AS hash_sum
       ${from} GROUP BY status, reason`,
  );
  return rows.map((r) => ({
    status: r.status,
    reason: r.reason,
    count: Number(r.count),
    hashSum: r.hash_sum,
  }));
}

export const memoryLedgerOutcomes = (db: Queryable) =>
  outcomeDigests(db, 'source_id', `FROM ${LEDGER_SCHEMA}.memory_ledger`);

/** The relationship ledger's rows of source relations (`relation:<id>`), keyed by the relation's id. */
export function relationLedgerOutcomes(db: Queryable): Promise<OutcomeDigest[]> {
  const prefix = relationKey('');
  return outcomeDigests(
    db,
    `substr(source_key, ${prefix.length + 1})`,
    `FROM ${LEDGER_SCHEMA}.relationship_ledger WHERE left(source_key, ${prefix.length}) = '${prefix}'`,
  );
}

/** The digest of every outcome's keys together. */
export function outcomesDigest(outcomes: readonly OutcomeDigest[]): KeySetDigest {
  let count = 0;
  let hashSum = 0n;
  for (const o of outcomes) {
    count += o.count;
    hashSum += BigInt(o.hashSum);
  }
  return { count: String(count), hashSum: String(hashSum) };
}
