import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import type { Queryable } from '../../functions/db/port.js';
import { withClient } from '../harness/templates.js';

/** One client for the work, always closed (the harness's helper, for the tests' own queries). */
export { withClient };

/** md5 over every row of a table in key order: equal checksums mean byte-identical contents. */
export async function tableChecksum(client: Queryable, table: string, orderBy = 'id'): Promise<string> {
  const { rows } = await client.query<{ md5: string | null; n: string }>(
    `SELECT md5(string_agg(t::text, '|' ORDER BY ${orderBy})) AS md5, count(*) AS n FROM ${table} t`,
  );
  return `${rows[0]?.n}:${rows[0]?.md5 ?? 'empty'}`;
}

const TARGET_PUBLIC_TABLES = [
  '"users"',
  ...MODULE_IDS.map((m) => `"${m}_memories"`),
  'memory_index',
  'memory_relationships',
  'memory_modules',
];

/** Checksums of every public table of a Federated Memory database (the ledger schema excluded). */
export async function targetChecksums(url: string): Promise<Record<string, string>> {
  return withClient(url, async (client) => {
    const out: Record<string, string> = {};
    for (const table of TARGET_PUBLIC_TABLES) {
      out[table] = await tableChecksum(client, table, table === 'memory_modules' ? '"moduleId"' : 'id');
    }
    return out;
  });
}
