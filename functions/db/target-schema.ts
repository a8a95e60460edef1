import type { ClientBase, Pool } from 'pg';
import { MODULE_IDS } from '../core/types.js';
import { PreflightError } from '../errors.js';

export interface TargetSchemaCheck {
  moduleEmbeddingDimensions: number;
  cmiEmbeddingDimensions: number;
}

const REQUIRED_TABLES = [
  'users',
  ...MODULE_IDS.map((m) => `${m}_memories`),
  'memory_index',
  'memory_relationships',
  'memory_modules',
];

/** Checks the target is a Federated Memory database this migration can write, before anything is written. */
export async function checkTargetSchema(db: Pool | ClientBase): Promise<TargetSchemaCheck> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [REQUIRED_TABLES],
  );
  const present = new Set(tables.map((t) => t.table_name));
  const missing = REQUIRED_TABLES.filter((t) => !present.has(t));
  if (missing.length > 0) {
    throw new PreflightError(
      `The target database lacks Federated Memory table(s) ${missing.join(', ')}. Point --target-db / DATABASE_URL at a Federated Memory database whose schema is installed (run its Prisma migrations first).`,
      { context: { missingTables: missing } },
    );
  }
  const { rows: dims } = await db.query<{ table_name: string; typmod: number }>(
    `SELECT c.relname AS table_name, a.atttypmod AS typmod
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
      WHERE a.attname = 'embedding' AND c.relname = ANY($1::text[]) AND NOT a.attisdropped`,
    [REQUIRED_TABLES],
  );
  const moduleDims = new Set(dims.filter((d) => d.table_name.endsWith('_memories')).map((d) => d.typmod));
  const cmi = dims.find((d) => d.table_name === 'memory_index')?.typmod ?? -1;
  if (moduleDims.size !== 1 || cmi <= 0) {
    throw new PreflightError(
      `The target's embedding columns are not as Federated Memory makes them (module tables: ${[...moduleDims].join(', ')}, memory_index: ${cmi}); expected vector(1536) and vector(512).`,
    );
  }
  return { moduleEmbeddingDimensions: [...moduleDims][0] as number, cmiEmbeddingDimensions: cmi };
}

export async function checkPgvector(db: Pool | ClientBase, role: string): Promise<string> {
  const { rows } = await db.query<{ extversion: string }>(
    `SELECT extversion FROM pg_extension WHERE extname = 'vector'`,
  );
  if (!rows[0]) {
    throw new PreflightError(
      `The ${role} database has no pgvector extension. Install pgvector on the server and run CREATE EXTENSION vector; in that database.`,
    );
  }
  return rows[0].extversion;
}
