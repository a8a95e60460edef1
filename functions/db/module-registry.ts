/**
 * The target's module registry (`memory_modules`) as the migration uses it: active modules whose
 * table exists. The table is the one the module's configuration names (`tableName`), as
 * Federated Memory's modules store into it, else `<moduleId>_memories`.
 */

import { defaultModuleTable, ModuleRegistry, type TargetModule } from '../core/modules.js';
import { PreflightError } from '../errors.js';
import type { Queryable } from './port.js';

export interface RegisteredModules {
  registry: ModuleRegistry;
  /** Registered and active, but with no table in the target's schema: nothing can be written there. */
  withoutTable: TargetModule[];
}

export async function readModuleRegistry(db: Queryable): Promise<RegisteredModules> {
  const { rows } = await db.query<{ id: string; table_name: string | null }>(
    `SELECT "moduleId" AS id, configuration->>'tableName' AS table_name FROM memory_modules WHERE "isActive"`,
  );
  const modules = rows.map((r) => ({ id: r.id, table: r.table_name ?? defaultModuleTable(r.id) }));
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [modules.map((m) => m.table)],
  );
  const present = new Set(tables.map((t) => t.table_name));
  const registry = new ModuleRegistry(modules.filter((m) => present.has(m.table)));
  if (registry.modules.length === 0) {
    throw new PreflightError(
      "The target's memory_modules registry lists no active module whose table exists. Start Federated Memory once against this database (it registers its modules), or insert the modules' rows, then run again.",
      { context: { registered: modules.map((m) => m.id) } },
    );
  }
  return { registry, withoutTable: modules.filter((m) => !present.has(m.table)) };
}
