import type { ModuleId } from '../core/types.js';
import { quoteIdentifier } from './copy-stream.js';
import { readModuleRegistry } from './module-registry.js';
import type { Queryable } from './port.js';

export interface SourceStatistics {
  users: number;
  activeUsers: number;
  memories: number;
  liveMemories: number;
  deletedMemories: number;
  withoutEmbedding: number;
  relations: number;
  topTypes: { value: string; count: number }[];
  topCategories: { value: string; count: number }[];
}

/** What the guide's `migrate:test` shows about the data before a migration. */
export async function sourceStatistics(db: Queryable, hasRelations: boolean): Promise<SourceStatistics> {
  const { rows } = await db.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM users) AS users,
            (SELECT count(*) FROM users WHERE is_active) AS active_users,
            count(*) AS memories,
            count(*) FILTER (WHERE is_deleted IS NOT TRUE) AS live,
            count(*) FILTER (WHERE is_deleted IS NOT TRUE AND embedding IS NULL) AS without_embedding,
            ${hasRelations ? '(SELECT count(*) FROM memory_relations)' : '0'} AS relations
       FROM memories`,
  );
  const top = async (key: string) => {
    const { rows: values } = await db.query<{ value: string; count: string }>(
      `SELECT coalesce(source_metadata->>'${key}', '(none)') AS value, count(*) AS count FROM memories
        WHERE is_deleted IS NOT TRUE AND (source_metadata IS NULL OR jsonb_typeof(source_metadata) = 'object')
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
    );
    return values.map((v) => ({ value: v.value, count: Number(v.count) }));
  };
  const r = rows[0] ?? {};
  return {
    users: Number(r.users),
    activeUsers: Number(r.active_users),
    memories: Number(r.memories),
    liveMemories: Number(r.live),
    deletedMemories: Number(r.memories) - Number(r.live),
    withoutEmbedding: Number(r.without_embedding),
    relations: Number(r.relations),
    topTypes: await top('type'),
    topCategories: await top('category'),
  };
}

export interface ModuleStatistics {
  module: ModuleId;
  rows: number;
  migrated: number;
  withEmbedding: number;
  cmiRows: number;
}

/** Per module: rows, rows this migration wrote, rows with an embedding, and CMI entries (the guide's check-module-stats). */
export async function moduleStatistics(db: Queryable): Promise<ModuleStatistics[]> {
  const { rows: cmi } = await db.query<{ module: string; n: string }>(
    `SELECT "moduleId" AS module, count(*) AS n FROM memory_index GROUP BY 1`,
  );
  const cmiByModule = new Map(cmi.map((c) => [c.module, Number(c.n)]));
  const out: ModuleStatistics[] = [];
  const { registry } = await readModuleRegistry(db);
  for (const { id: module, table } of registry.modules) {
    const { rows } = await db.query<{ rows: string; migrated: string; with_embedding: string }>(
      `SELECT count(*) AS rows, count(*) FILTER (WHERE metadata->>'migrated_from' = 'bigmemory') AS migrated,
              count(embedding) AS with_embedding FROM ${quoteIdentifier(table)}`,
    );
    const r = rows[0]!;
    out.push({
      module,
      rows: Number(r.rows),
      migrated: Number(r.migrated),
      withEmbedding: Number(r.with_embedding),
      cmiRows: cmiByModule.get(module) ?? 0,
    });
  }
  return out;
}

export function formatModuleStatistics(stats: ModuleStatistics[]): string {
  const header = ['module', 'rows', 'migrated', 'with embedding', 'CMI entries'];
  const body = stats.map((s) => [s.module, s.rows, s.migrated, s.withEmbedding, s.cmiRows].map(String));
  const total = ['total', ...[1, 2, 3, 4].map((i) => String(body.reduce((n, row) => n + Number(row[i]), 0)))];
  const rows = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}
