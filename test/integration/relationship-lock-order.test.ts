import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTarget, dropDatabase } from '../../dev/harness/databases.js';
import { relationshipId } from '../../functions/core/ids.js';
import { DEFAULT_MODULE_IDS, ModuleRegistry } from '../../functions/core/modules.js';
import type { MigratedRelationship } from '../../functions/core/relationships.js';
import { LEDGER_DDL, LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { openPgDatabase, type PgDatabase } from '../../functions/db/pg/pg-database.js';
import { RelationshipLoader } from '../../functions/db/relationship-loader.js';

// Relation batches whose relations compete for the same target rows, run side by side as the
// relationships Map runs them. A batch that locked the rows that existed before inserting the rest
// took some locks out of the key order when another batch committed in between, and two batches
// then waited for each other until PostgreSQL broke the deadlock (a second each).
const ROUNDS = 40;
const BATCHES = 8;
const KEYS = 80;
const RELATIONS_PER_BATCH = 40;

function relation(relationId: number, key: number): MigratedRelationship {
  const source = `m${String(key).padStart(3, '0')}`;
  return {
    key: `relation:${relationId}`,
    row: {
      id: relationshipId('work', source, 'work', 'target', 'related_to'),
      userId: 'u1',
      sourceModule: 'work',
      sourceMemoryId: source,
      targetModule: 'work',
      targetMemoryId: 'target',
      relationshipType: 'related_to',
      strength: 0.5,
      metadata: { original_relation_id: String(relationId) },
      createdAt: new Date(0),
    },
  };
}

describe('RelationshipLoader: batches that share target rows, side by side', () => {
  let url: string;
  let target: PgDatabase;

  beforeAll(async () => {
    url = await createTarget();
    target = openPgDatabase({ connectionString: url, max: BATCHES });
    await target.query(LEDGER_DDL);
    await target.query(
      `INSERT INTO users (id, email, token, "updatedAt") VALUES ('u1', 'u1@example.com', 'token-u1', now())`,
    );
  });

  afterAll(async () => {
    await target.end();
    await dropDatabase(url);
  });

  it('meet no deadlock, and the lowest relation of each key owns its row', async () => {
    const modules = new ModuleRegistry(DEFAULT_MODULE_IDS.map((id) => ({ id, table: `${id}_memories` })));
    const loader = new RelationshipLoader(target, { relationIdType: 'bigint', modules });
    const deadlocks = async () =>
      Number(
        (
          await target.query<{ n: string }>(
            'SELECT deadlocks::text AS n FROM pg_stat_database WHERE datname = current_database()',
          )
        ).rows[0]?.n,
      );
    const before = await deadlocks();
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    let nextId = 1;
    for (let round = 0; round < ROUNDS; round++) {
      // Every other round starts empty; the rounds between find the earlier round's rows there.
      if (round % 2 === 0)
        await target.query(`TRUNCATE memory_relationships, ${LEDGER_SCHEMA}.relationship_ledger`);
      const batches = Array.from({ length: BATCHES }, () => {
        const keys = new Set<number>();
        while (keys.size < RELATIONS_PER_BATCH) keys.add(random(KEYS));
        return [...keys].map((key) => relation(nextId++, key));
      });
      await Promise.all(
        batches.map((migrated) =>
          loader.load({ runId: `run-${round}`, kind: 'relations', migrated, skipped: [] }),
        ),
      );
      // Relation ids grow from round to round, so the earlier round's relations keep their rows.
      const lowest = new Map<string, number>();
      for (const r of batches.flat()) {
        const id = Number(r.row.metadata.original_relation_id);
        lowest.set(r.row.id, Math.min(id, lowest.get(r.row.id) ?? id));
      }
      const { rows } = await target.query<{ id: string; owner: string; ledger_owner: string | null }>(
        `SELECT m.id, m.metadata->>'original_relation_id' AS owner,
                (SELECT string_agg(l.source_key, ',') FROM ${LEDGER_SCHEMA}.relationship_ledger l
                  WHERE l.target_id = m.id AND l.status = 'migrated') AS ledger_owner
           FROM memory_relationships m`,
      );
      for (const row of rows) {
        expect(row.ledger_owner).toBe(`relation:${row.owner}`);
        if (round % 2 === 0) expect(Number(row.owner)).toBe(lowest.get(row.id));
        else expect(Number(row.owner)).toBeLessThanOrEqual(lowest.get(row.id) ?? Number.POSITIVE_INFINITY);
      }
      const { rows: ledger } = await target.query<{ status: string; n: string }>(
        `SELECT status, count(*)::text AS n FROM ${LEDGER_SCHEMA}.relationship_ledger
          WHERE run_id = $1 GROUP BY status`,
        [`run-${round}`],
      );
      const written = Object.fromEntries(ledger.map((l) => [l.status, Number(l.n)]));
      expect((written.migrated ?? 0) + (written.skipped ?? 0)).toBe(BATCHES * RELATIONS_PER_BATCH);
    }
    expect(await deadlocks()).toBe(before);
  });
});
