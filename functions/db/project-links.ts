import type { TaskProjectReference } from '../core/project-links.js';
import { escapeLiteral } from './pg/escape.js';
import { decodeTuple, type PgBinaryType } from './pg-binary.js';
import type { DatabaseSession, Queryable } from './port.js';
import { type KeyRange, rangePredicate } from './source-reader.js';
import type { SourceSchema } from './source-schema.js';

const READ_TYPES: PgBinaryType[] = [
  'text',
  'timestamptz',
  'text',
  'text',
  'text',
  'bool',
  'text',
  'bool',
  'bool',
];

// `projectId` is free text in the metadata: a value that is not a valid key of the id's type must
// read as "no such project", not fail the whole range with a cast error.
function projectIdLookup(idType: string, ref: string): string {
  if (idType === 'uuid') {
    return `CASE WHEN ${ref} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN ${ref}::uuid END`;
  }
  if (idType === 'int2' || idType === 'int4' || idType === 'int8') {
    const max = idType === 'int8' ? 18 : idType === 'int4' ? 9 : 4;
    return `CASE WHEN ${ref} ~ '^-?[0-9]{1,${max}}$' THEN ${ref}::${idType} END`;
  }
  return `${ref}::${idType}`;
}

/**
 * The live tasks of one range of users (a key range of `memories.user_id`, see planUserRanges)
 * that name a project, each with its candidate projects: the memory its `projectId` names, and the
 * user's earliest project (live first) whose `projectName` or `title` equals its `projectName`,
 * case-insensitive. One query per range, reading the range's users' memories through the user_id
 * index: over the whole run each memory is read once, whatever the number of ranges.
 */
export async function readTaskProjectReferences(
  client: DatabaseSession,
  schema: SourceSchema,
  range: KeyRange,
  /** Only these tasks of the range (those a change reached); all of them when absent. */
  only?: readonly string[],
): Promise<TaskProjectReference[]> {
  const columns = new Set(schema.memoryColumns);
  if (!columns.has('source_metadata')) return [];
  const meta = (alias: string) => `${alias}.source_metadata${schema.metadataIsJson ? '::jsonb' : ''}`;
  const created = (alias: string) =>
    columns.has('created_at') ? `${alias}.created_at` : `NULL::timestamptz`;
  const title = columns.has('title') ? 'lower(p.title)' : 'NULL::text';
  const query = `
    WITH tasks AS MATERIALIZED (
      SELECT t.id, t.user_id, ${created('t')} AS created_at,
             NULLIF(btrim(${meta('t')}->>'projectId'), '') AS id_ref,
             NULLIF(btrim(${meta('t')}->>'projectName'), '') AS name_ref
        FROM memories t
       WHERE ${rangePredicate(range, schema.userIdType, 't.user_id')}
         AND t.is_deleted IS NOT TRUE
         AND jsonb_typeof(${meta('t')}) = 'object'
         AND lower(${meta('t')}->>'type') = 'task'
         AND ${only ? `t.id = ANY(ARRAY[${only.map(escapeLiteral).join(', ')}]::${schema.memoryIdType}[])` : 'true'}
    ),
    named AS (
      SELECT * FROM tasks WHERE id_ref IS NOT NULL OR name_ref IS NOT NULL
    ),
    projects AS MATERIALIZED (
      SELECT p.id, p.user_id, ${created('p')} AS created_at, p.is_deleted IS TRUE AS deleted,
             lower(${meta('p')}->>'projectName') AS project_name, ${title} AS title
        FROM memories p
       WHERE p.user_id IN (SELECT user_id FROM named WHERE name_ref IS NOT NULL)
         AND jsonb_typeof(${meta('p')}) = 'object'
         AND lower(${meta('p')}->>'type') = 'project'
    ),
    by_name AS (
      SELECT DISTINCT ON (n.id) n.id AS task_id, p.id::text AS project_id, p.deleted
        FROM named n
        JOIN projects p ON p.user_id = n.user_id
                       AND (p.project_name = lower(n.name_ref) OR p.title = lower(n.name_ref))
       ORDER BY n.id, p.deleted, p.created_at, p.id
    )
    SELECT n.id::text, n.created_at, n.id_ref, n.name_ref,
           bi.id::text, bi.is_deleted IS TRUE, bn.project_id, bn.deleted, bi.user_id IS DISTINCT FROM n.user_id
      FROM named n
      LEFT JOIN memories bi ON bi.id = ${projectIdLookup(schema.memoryIdType, 'n.id_ref')}
      LEFT JOIN by_name bn ON bn.task_id = n.id
     ORDER BY n.id`;
  const refs: TaskProjectReference[] = [];
  await client.copyQueryOut(query, (fields) => {
    const v = decodeTuple(READ_TYPES, fields);
    const byId = v[4] as string | null;
    const byName = v[6] as string | null;
    refs.push({
      taskSourceId: v[0] as string,
      taskCreatedAt: (v[1] as Date | null) ?? new Date(0),
      projectIdRef: v[2] as string | null,
      projectNameRef: v[3] as string | null,
      byId:
        byId === null
          ? null
          : { sourceId: byId, deleted: v[5] as boolean, ...(v[8] === true ? { otherUser: true } : {}) },
      byName: byName === null ? null : { sourceId: byName, deleted: v[7] as boolean },
    });
  });
  return refs;
}

/**
 * The tasks of a range of users (a key range of `memories.user_id`) that memories written or
 * removed since the item's record (`changed`) reach in ways the record cannot show: live tasks
 * among them, tasks whose name a project among them now carries (it may be the one the name
 * finds), and the recorded tasks whose unresolved `projectId` names one of them (compared by the
 * key's own type, as the link query compares them).
 */
export async function affectedTasks(
  client: Queryable,
  schema: SourceSchema,
  range: KeyRange,
  changed: readonly string[],
  unresolved: readonly { task: string; id: string }[],
): Promise<string[]> {
  if (changed.length === 0 || !schema.memoryColumns.includes('source_metadata')) return [];
  const meta = (alias: string) => `${alias}.source_metadata${schema.metadataIsJson ? '::jsonb' : ''}`;
  const inRange = (alias: string) => rangePredicate(range, schema.userIdType, `${alias}.user_id`);
  const isA = (alias: string, type: string) =>
    `jsonb_typeof(${meta(alias)}) = 'object' AND lower(${meta(alias)}->>'type') = '${type}'`;
  const changedIds = `$1::text[]::${schema.memoryIdType}[]`;
  const title = schema.memoryColumns.includes('title') ? 'lower(p.title)' : 'NULL::text';
  const { rows } = await client.query<{ task: string }>(
    `WITH projects AS MATERIALIZED (
       SELECT p.user_id, lower(${meta('p')}->>'projectName') AS project_name, ${title} AS title
         FROM memories p WHERE p.id = ANY(${changedIds}) AND ${inRange('p')} AND ${isA('p', 'project')}
     ), named AS (
       SELECT t.id, t.user_id, lower(NULLIF(btrim(${meta('t')}->>'projectName'), '')) AS name_ref
         FROM memories t
        WHERE ${inRange('t')} AND t.is_deleted IS NOT TRUE AND ${isA('t', 'task')}
          AND (t.id = ANY(${changedIds}) OR t.user_id IN (SELECT user_id FROM projects))
     )
     SELECT n.id::text AS task FROM named n
      WHERE n.id = ANY(${changedIds})
         OR EXISTS (SELECT 1 FROM projects p WHERE p.user_id = n.user_id
                       AND (p.project_name = n.name_ref OR p.title = n.name_ref))
     UNION
     SELECT u.task FROM unnest($2::text[], $3::text[]) AS u(task, ref)
      WHERE ${projectIdLookup(schema.memoryIdType, 'u.ref')} = ANY(${changedIds})`,
    [changed, unresolved.map((u) => u.task), unresolved.map((u) => u.id)],
  );
  return rows.map((r) => r.task);
}

/** The memories of a range of users (a key range of `memories.user_id`), live or soft-deleted, or those `among` them. */
export async function memoriesOfUsers(
  client: Queryable,
  schema: SourceSchema,
  range: KeyRange,
  among?: readonly string[],
): Promise<string[]> {
  if (among?.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `SELECT id::text AS id FROM memories WHERE ${rangePredicate(range, schema.userIdType, 'user_id')}
        ${among ? `AND id = ANY($1::text[]::${schema.memoryIdType}[])` : ''}`,
    among ? [among] : [],
  );
  return rows.map((r) => r.id);
}
