/**
 * What Preflight learns of the target before anything is written: which modules it has (its
 * registry), the sizes of its vectors, and whether every column the migration writes exists and
 * every NOT NULL column it does not write has a default. Real installs differ (older ones have no
 * users.metadata, newer ones more modules) and their owners add columns and constraints of their
 * own; whatever would make a batch fail mid-run is refused here, naming the table, column and fix.
 */

import { cmiReductionGroup, type VectorShape } from '../core/embedding.js';
import type { TargetModule } from '../core/modules.js';
import { PreflightError } from '../errors.js';
import { MODULE_COLUMNS } from './batch-loader.js';
import { CMI_COLUMNS } from './cmi-columns.js';
import { readModuleRegistry } from './module-registry.js';
import type { Queryable } from './port.js';
import { RELATIONSHIP_COLUMNS } from './relationship-loader.js';
import { OPTIONAL_TARGET_USER_COLUMNS, REQUIRED_TARGET_COLUMNS } from './user-migration.js';

/** The target as the later steps need it: small, plain data (it travels in the run context). */
export interface TargetLayout {
  modules: TargetModule[];
  vectors: VectorShape;
  /** Modules registered and active but without a table: reported, never written. */
  modulesWithoutTable: string[];
}

const CORE_TABLES = ['users', 'memory_index', 'memory_relationships', 'memory_modules'];

interface ColumnFact {
  table: string;
  column: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Identity and generated columns fill themselves. */
  selfFilling: boolean;
  type: string;
  typmod: number;
}

async function readColumns(db: Queryable, tables: string[]): Promise<ColumnFact[]> {
  const { rows } = await db.query<ColumnFact>(
    `SELECT c.relname AS table, a.attname AS column, a.attnotnull AS "notNull", a.atthasdef AS "hasDefault",
            (a.attidentity <> '' OR a.attgenerated <> '') AS "selfFilling",
            t.typname AS type, a.atttypmod AS typmod
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE c.relname = ANY($1::text[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [tables],
  );
  return rows;
}

function unfillable(table: string, column: string): PreflightError {
  return new PreflightError(
    `The target column "${table}"."${column}" is NOT NULL without a default, and the migration has no value for it. Give it a default (ALTER TABLE "${table}" ALTER COLUMN "${column}" SET DEFAULT …) or allow NULL (… DROP NOT NULL), then run again.`,
    { context: { table, column } },
  );
}

/** Every written column exists; every NOT NULL column not written fills itself or has a default. */
function checkColumns(
  facts: ColumnFact[],
  table: string,
  written: readonly string[],
  optional: readonly string[] = [],
) {
  const columns = facts.filter((f) => f.table === table);
  const names = new Set(columns.map((c) => c.column));
  const missing = written.filter((c) => !names.has(c));
  if (missing.length > 0) {
    throw new PreflightError(
      `The target table "${table}" lacks column(s) ${missing.map((c) => `"${c}"`).join(', ')} that Federated Memory has: point --target-db / DATABASE_URL at a Federated Memory database with its Prisma migrations applied.`,
      { context: { table, missingColumns: missing } },
    );
  }
  const filled = new Set([...written, ...optional]);
  const lacking = columns.find((c) => c.notNull && !c.hasDefault && !c.selfFilling && !filled.has(c.column));
  if (lacking) throw unfillable(table, lacking.column);
}

function embeddingDimensionsOf(facts: ColumnFact[], table: string): number {
  const column = facts.find((f) => f.table === table && f.column === 'embedding');
  if (column?.type !== 'vector' || column.typmod <= 0) {
    throw new PreflightError(
      `The target's "${table}"."embedding" is ${column ? `of type ${column.type}${column.typmod > 0 ? `(${column.typmod})` : ' without a size'}` : 'missing'}; Federated Memory declares it vector(<dimensions>).`,
      { context: { table } },
    );
  }
  return column.typmod;
}

function vectorShape(facts: ColumnFact[], modules: readonly TargetModule[]): VectorShape {
  const sizes = new Map(modules.map((m) => [m.table, embeddingDimensionsOf(facts, m.table)]));
  const distinct = [...new Set(sizes.values())];
  if (distinct.length !== 1) {
    throw new PreflightError(
      `The target's module tables hold vectors of different sizes (${[...sizes].map(([t, d]) => `${t}: ${d}`).join(', ')}); one migration writes one embedding size. Make the module tables' "embedding" columns the same vector(<dimensions>).`,
      { context: { sizes: Object.fromEntries(sizes) } },
    );
  }
  const shape = {
    embeddingDimensions: distinct[0] as number,
    cmiDimensions: embeddingDimensionsOf(facts, 'memory_index'),
  };
  if (cmiReductionGroup(shape) === null) {
    throw new PreflightError(
      `The target's CMI holds vector(${shape.cmiDimensions}) and its modules vector(${shape.embeddingDimensions}): Federated Memory derives a CMI vector by averaging equal groups of module values, which needs the module size to be a whole multiple of the CMI size (e.g. vector(1536) with vector(512), vector(768) with vector(256)).`,
      { context: { ...shape } },
    );
  }
  return shape;
}

/** Checks the target is a Federated Memory database this migration can write, before anything is written. */
export async function inspectTarget(db: Queryable): Promise<TargetLayout> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [CORE_TABLES],
  );
  const present = new Set(tables.map((t) => t.table_name));
  const missing = CORE_TABLES.filter((t) => !present.has(t));
  if (missing.length > 0) {
    const { rows } = await db.query<{ schema: string }>('SELECT current_schema() AS schema');
    throw new PreflightError(
      `The target database lacks Federated Memory table(s) ${missing.join(', ')} in schema "${rows[0]?.schema}". Point --target-db / DATABASE_URL at a Federated Memory database whose schema is installed (run its Prisma migrations first).`,
      { context: { missingTables: missing } },
    );
  }
  const { registry, withoutTable } = await readModuleRegistry(db);
  const modules = [...registry.modules];
  const facts = await readColumns(db, [...CORE_TABLES, ...modules.map((m) => m.table)]);
  const names = (columns: readonly { name: string }[]) => columns.map((c) => c.name);
  for (const module of modules) checkColumns(facts, module.table, names(MODULE_COLUMNS));
  checkColumns(facts, 'memory_index', names(CMI_COLUMNS));
  checkColumns(facts, 'memory_relationships', names(RELATIONSHIP_COLUMNS));
  checkColumns(facts, 'users', REQUIRED_TARGET_COLUMNS, OPTIONAL_TARGET_USER_COLUMNS);
  return {
    modules,
    vectors: vectorShape(facts, modules),
    modulesWithoutTable: withoutTable.map((m) => m.id),
  };
}

export async function checkPgvector(db: Queryable, role: string): Promise<string> {
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
