/**
 * The Users step (docs/design.md, "Users") against PostgreSQL: reads both `users` tables, lets
 * `decideUsers` decide, then creates users and records every decision in the ledger's `user_map`
 * in one transaction. Password hashes travel from source to target only: never logged or returned.
 */
import type { UserMapping } from '../core/batch.js';
import {
  decideUsers,
  indexTargetUsers,
  isUserConflict,
  type SourceUser,
  type TargetUserRef,
  USER_DECISION_KINDS,
  type UserDecision,
  type UserDecisionKind,
  type UserMap,
} from '../core/user-decisions.js';
import { validateUserMap } from '../core/user-map.js';
import { classifyDatabaseFailure, MigrationError, PreflightError } from '../errors.js';
import { columnList } from './copy-stream.js';
import { LEDGER_DDL, LEDGER_SCHEMA } from './ledger-schema.js';
import {
  type Database,
  type DatabaseSession,
  inTransaction,
  type Queryable,
  type QueryResult,
} from './port.js';

/** Which `users` variant this Federated Memory install has (docs/design.md, "Federated Memory (target)": older installs differ). */
export interface TargetUsersShape {
  columns: ReadonlySet<string>;
  emailRequired: boolean;
  hasEmailVerified: boolean;
  hasMetadata: boolean;
}

export interface MigrateUsersOptions {
  source: Queryable;
  target: Database;
  runId: string;
  dryRun: boolean;
  createUsers: boolean;
  userMap?: UserMap;
  mergeOnEmail?: boolean;
  placeholderEmailDomain?: string;
}

/** A decision without the row it creates: safe to log, return and write to reports. */
export type PublicUserDecision = Omit<UserDecision, 'create'>;

export interface UsersSummary {
  dryRun: boolean;
  total: number;
  byDecision: Record<UserDecisionKind, number>;
  /** Users inserted by this run (a dry run: users it would insert). */
  created: number;
  /** Users with a target user, whatever the decision (not only `byDecision.mapped`). */
  mapped: number;
  /** Users left without one: their memories are rejected as `unmapped_user`. */
  unmapped: number;
  /** The first CONFLICT_LIST_LIMIT non-clean decisions; `conflictCount` counts them all. */
  conflicts: Array<{ sourceUserId: string; decision: UserDecisionKind; detail: string }>;
  conflictCount: number;
  /** Every decision, only for dry runs: their batches need the mapping and no ledger exists. */
  decisions?: PublicUserDecision[];
}

const CONFLICT_LIST_LIMIT = 200;

export const REQUIRED_TARGET_COLUMNS = [
  'id',
  'token',
  'email',
  'passwordHash',
  'name',
  'isActive',
  'createdAt',
  'updatedAt',
];
/** Written when the target has them (newer installs). */
export const OPTIONAL_TARGET_USER_COLUMNS = ['emailVerified', 'metadata'];

const SOURCE_PAGE_SIZE = 5_000;

export async function introspectTargetUsers(client: Queryable): Promise<TargetUsersShape> {
  const { rows } = await client.query<{ column_name: string; is_nullable: string }>(
    `SELECT column_name, is_nullable FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'users'`,
  );
  const columns = new Set(rows.map((r) => r.column_name));
  const missing = REQUIRED_TARGET_COLUMNS.filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new PreflightError(
      rows.length === 0
        ? 'The target database has no "users" table: is DATABASE_URL pointing at the Federated Memory database?'
        : `The target "users" table lacks column(s) ${missing.join(', ')}; this does not look like Federated Memory.`,
      { context: { missingColumns: missing } },
    );
  }
  return {
    columns,
    emailRequired: rows.find((r) => r.column_name === 'email')?.is_nullable === 'NO',
    hasEmailVerified: columns.has('emailVerified'),
    hasMetadata: columns.has('metadata'),
  };
}

/** Decides every source user and, unless `dryRun`, applies the decisions in one transaction. */
export async function migrateUsers(options: MigrateUsersOptions): Promise<UsersSummary> {
  const sourceUsers = await readSourceUsers(options.source);
  if (options.dryRun) {
    const { decisions } = await decideAgainstTarget(options.target, sourceUsers, options);
    return summarise(decisions, true, countCreates(decisions));
  }
  return withTransaction(options.target, async (client) => {
    // Inside the transaction so the decisions and the inserts see the same target users.
    const { decisions, shape } = await decideAgainstTarget(client, sourceUsers, options);
    await client.query(LEDGER_DDL);
    const created = await insertTargetUsers(client, shape, decisions);
    await recordUserMap(client, decisions, created, options.runId);
    return summarise(decisions, false, created.size);
  });
}

/**
 * The mapping a dry run's batches use: the same decisions `migrateUsers` would take, computed
 * read-only (no ledger exists and none may be created). Source users absent from the result are
 * not in BigMemory's `users` table.
 */
export async function decideUsersForDryRun(
  options: Omit<MigrateUsersOptions, 'runId' | 'dryRun'>,
): Promise<Map<string, UserMapping>> {
  const summary = await migrateUsers({ ...options, runId: 'dry-run', dryRun: true });
  return userMappingFromDecisions(summary.decisions ?? []);
}

export function userMappingFromDecisions(decisions: readonly PublicUserDecision[]): Map<string, UserMapping> {
  return new Map(
    decisions.map((d) => [d.sourceUserId, { targetUserId: d.targetUserId, decision: d.decision }]),
  );
}

/** The recorded mapping of these source users; ids the Users step never saw are absent. */
export async function loadUserMapping(
  target: Queryable,
  sourceUserIds: readonly string[],
): Promise<Map<string, UserMapping>> {
  const ids = [...new Set(sourceUserIds)];
  if (ids.length === 0) return new Map();
  try {
    const { rows } = await target.query<{
      source_user_id: string;
      target_user_id: string | null;
      decision: string;
    }>(
      `SELECT source_user_id, target_user_id, decision FROM ${LEDGER_SCHEMA}.user_map
        WHERE source_user_id = ANY($1::text[])`,
      [ids],
    );
    return new Map(
      rows.map((r) => [r.source_user_id, { targetUserId: r.target_user_id, decision: r.decision }]),
    );
  } catch (error) {
    if ((error as { code?: string }).code === '42P01' || (error as { code?: string }).code === '3F000') {
      throw new PreflightError(
        `The target has no ${LEDGER_SCHEMA}.user_map: the Users step must run (not as a dry run) before memories are loaded.`,
        { cause: error },
      );
    }
    throw classifyDatabaseFailure(error, { step: 'loadUserMapping' });
  }
}

async function decideAgainstTarget(
  target: Queryable,
  sourceUsers: SourceUser[],
  options: MigrateUsersOptions,
): Promise<{ decisions: UserDecision[]; shape: TargetUsersShape }> {
  const shape = await introspectTargetUsers(target);
  const { rows } = await target.query<TargetUserRef>('SELECT "id", "token", "email" FROM "users"');
  const index = indexTargetUsers(rows);
  if (options.userMap && options.userMap.size > 0) {
    validateUserMap(options.userMap, {
      sourceUserIds: sourceUsers.map((u) => u.id),
      sourceTokens: sourceUsers.map((u) => u.token),
      targetUserIds: index.byId.keys(),
    });
  }
  const decisions = decideUsers({
    sourceUsers,
    target: index,
    userMap: options.userMap,
    options: {
      createUsers: options.createUsers,
      emailRequired: shape.emailRequired,
      mergeOnEmail: options.mergeOnEmail ?? false,
      placeholderEmailDomain: options.placeholderEmailDomain,
    },
  });
  return { decisions, shape };
}

interface SourceUserRow {
  id: string;
  token: string;
  email: string | null;
  password: string | null;
  is_active: boolean;
  created_ms: string;
  updated_ms: string;
}

// Keyset pages by id. Epoch milliseconds, floored, read the same from `timestamp` (the UTC it
// holds) and `timestamptz`, and match the millisecond precision of the target's timestamp(3).
async function readSourceUsers(source: Queryable): Promise<SourceUser[]> {
  const idType = await sourceUserIdType(source);
  const users: SourceUser[] = [];
  let after: string | null = null;
  for (;;) {
    const { rows }: QueryResult<SourceUserRow> = await source.query<SourceUserRow>(
      `SELECT id::text AS id, token, email, password, COALESCE(is_active, true) AS is_active,
              floor(extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms,
              floor(extract(epoch FROM COALESCE(updated_at, created_at)) * 1000)::bigint::text AS updated_ms
         FROM users
        WHERE $1::text IS NULL OR id > $1::text::${idType}
        ORDER BY id
        LIMIT ${SOURCE_PAGE_SIZE}`,
      [after],
    );
    for (const row of rows) {
      users.push({
        id: row.id,
        token: row.token,
        email: row.email,
        passwordHash: row.password,
        isActive: row.is_active,
        createdAt: new Date(Number(row.created_ms)),
        updatedAt: new Date(Number(row.updated_ms)),
      });
    }
    if (rows.length < SOURCE_PAGE_SIZE) return users;
    after = rows[rows.length - 1]!.id;
  }
}

async function sourceUserIdType(source: Queryable): Promise<string> {
  const { rows } = await source.query<{ udt_name: string }>(
    `SELECT udt_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'id'`,
  );
  const idType = rows[0]?.udt_name;
  if (!idType || !/^[a-z0-9_]+$/.test(idType)) {
    throw new PreflightError(
      'The source database has no "users" table with an "id" column: is SOURCE_DATABASE_URL pointing at BigMemory?',
      { context: { udtName: idType ?? null } },
    );
  }
  return idType;
}

/** Inserts the users to create; returns the ids actually inserted (a rerun inserts none). */
async function insertTargetUsers(
  client: DatabaseSession,
  shape: TargetUsersShape,
  decisions: readonly UserDecision[],
): Promise<Set<string>> {
  const rows = decisions.flatMap((d) => (d.create ? [{ sourceUserId: d.sourceUserId, user: d.create }] : []));
  if (rows.length === 0) return new Set();
  const columns: Array<{ name: string; type: string; value: (r: (typeof rows)[number]) => unknown }> = [
    { name: 'id', type: 'text', value: (r) => r.user.id },
    { name: 'token', type: 'text', value: (r) => r.user.token },
    { name: 'email', type: 'text', value: (r) => r.user.email },
    { name: 'passwordHash', type: 'text', value: (r) => r.user.passwordHash },
    { name: 'name', type: 'text', value: (r) => r.user.name },
    { name: 'isActive', type: 'boolean', value: (r) => r.user.isActive },
    { name: 'createdAt', type: 'timestamp', value: (r) => utcTimestampText(r.user.createdAt) },
    { name: 'updatedAt', type: 'timestamp', value: (r) => utcTimestampText(r.user.updatedAt) },
  ];
  if (shape.hasEmailVerified) columns.push({ name: 'emailVerified', type: 'boolean', value: () => false });
  if (shape.hasMetadata) {
    columns.push({
      name: 'metadata',
      type: 'jsonb',
      value: (r) => JSON.stringify({ migrated_from: 'bigmemory', original_id: r.sourceUserId }),
    });
  }
  const unnest = columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
  // ON CONFLICT on the id only: a token or email collision means the target changed under us and
  // must fail the transaction rather than leave a ledger row pointing at a user that is not there.
  const result = await client.query<{ id: string }>(
    `INSERT INTO "users" (${columnList(columns)}) SELECT * FROM unnest(${unnest})
     ON CONFLICT ("id") DO NOTHING RETURNING "id"`,
    columns.map((c) => rows.map(c.value)),
  );
  return new Set(result.rows.map((r) => r.id));
}

async function recordUserMap(
  client: DatabaseSession,
  decisions: readonly UserDecision[],
  created: ReadonlySet<string>,
  runId: string,
): Promise<void> {
  if (decisions.length === 0) return;
  const createdBy = (d: UserDecision) => (d.create && created.has(d.create.id) ? runId : null);
  // created_by_run keeps the run that first created the user: rollback of that run removes it.
  await client.query(
    `INSERT INTO ${LEDGER_SCHEMA}.user_map (source_user_id, target_user_id, decision, detail, created_by_run, run_id)
     SELECT s, t, d, x, c, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(s, t, d, x, c)
     ON CONFLICT (source_user_id) DO UPDATE SET
       target_user_id = EXCLUDED.target_user_id,
       decision = EXCLUDED.decision,
       detail = EXCLUDED.detail,
       created_by_run = COALESCE(${LEDGER_SCHEMA}.user_map.created_by_run, EXCLUDED.created_by_run),
       run_id = EXCLUDED.run_id,
       updated_at = now()`,
    [
      decisions.map((d) => d.sourceUserId),
      decisions.map((d) => d.targetUserId),
      decisions.map((d) => d.decision),
      decisions.map((d) => d.detail),
      decisions.map(createdBy),
      runId,
    ],
  );
}

function summarise(decisions: readonly UserDecision[], dryRun: boolean, created: number): UsersSummary {
  const byDecision = Object.fromEntries(USER_DECISION_KINDS.map((k) => [k, 0])) as Record<
    UserDecisionKind,
    number
  >;
  const conflicts: UsersSummary['conflicts'] = [];
  let conflictCount = 0;
  let mapped = 0;
  for (const d of decisions) {
    byDecision[d.decision] += 1;
    if (d.targetUserId !== null) mapped += 1;
    if (isUserConflict(d)) {
      conflictCount += 1;
      if (conflicts.length < CONFLICT_LIST_LIMIT) {
        conflicts.push({ sourceUserId: d.sourceUserId, decision: d.decision, detail: d.detail });
      }
    }
  }
  const summary: UsersSummary = {
    dryRun,
    total: decisions.length,
    byDecision,
    created,
    mapped,
    unmapped: decisions.length - mapped,
    conflicts,
    conflictCount,
  };
  if (dryRun) summary.decisions = decisions.map(({ create: _create, ...rest }) => rest);
  return summary;
}

function countCreates(decisions: readonly UserDecision[]): number {
  return decisions.filter((d) => d.create !== undefined).length;
}

/** `timestamp(3) without time zone` holds UTC (docs/design.md, "Federated Memory (target)"): send the UTC wall-clock text, no zone. */
function utcTimestampText(date: Date): string {
  return date.toISOString().replace('Z', '');
}

function withTransaction<T>(db: Database, work: (client: DatabaseSession) => Promise<T>): Promise<T> {
  return inTransaction(db, work, (error) =>
    error instanceof MigrationError ? error : classifyDatabaseFailure(error, { step: 'users' }),
  );
}
