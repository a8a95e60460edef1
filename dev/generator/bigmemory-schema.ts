import { readFile } from 'node:fs/promises';
import type { Queryable } from '../../functions/db/port.js';

const SCHEMA_FILE = new URL('../fixtures/bigmemory.sql', import.meta.url);

/**
 * Applies the BigMemory fixture schema unless `memories` already exists. Returns whether it did.
 * Never alters existing tables: a drifted real schema is data the migration must meet as it is.
 */
export async function ensureBigMemorySchema(client: Queryable): Promise<boolean> {
  const found = await client.query<{ table: string | null }>(
    `SELECT to_regclass('public.memories')::text AS table`,
  );
  if (found.rows[0]?.table) return false;
  await client.query(await readFile(SCHEMA_FILE, 'utf8'));
  return true;
}
