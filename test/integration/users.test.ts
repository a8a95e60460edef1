import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropDatabase, freshDatabases, TARGET_VARIANTS } from '../../dev/harness/databases.js';
import { targetUserId } from '../../functions/core/ids.js';
import { parseUserMap } from '../../functions/core/user-map.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import type { Database, Queryable } from '../../functions/db/port.js';
import {
  decideUsersForDryRun,
  introspectTargetUsers,
  loadUserMapping,
  migrateUsers,
} from '../../functions/db/user-migration.js';
import { InvalidInputError } from '../../functions/errors.js';

// Sessions in a zone far from UTC: timestamps must not shift with the session's TimeZone.
const FAR_ZONE = '-c TimeZone=Pacific/Auckland';

const ID = {
  match: '10000000-0000-4000-8000-000000000001',
  create: '10000000-0000-4000-8000-000000000002',
  inactive: '10000000-0000-4000-8000-000000000003',
  sameEmail: '10000000-0000-4000-8000-000000000004',
  noEmail: '10000000-0000-4000-8000-000000000005',
  mapped: '10000000-0000-4000-8000-000000000006',
  twinOlder: '10000000-0000-4000-8000-000000000007',
  twinNewer: '10000000-0000-4000-8000-000000000008',
};

const SOURCE_USERS = `
INSERT INTO users (id, token, email, password, is_active, created_at, updated_at) VALUES
  ('${ID.match}', 'tok-shared-1', 'match@example.com', '$2b$10$match', true, '2022-01-01T00:00:00Z', '2022-01-02T00:00:00Z'),
  ('${ID.create}', 'tok-create', 'New.Person@Example.com', '$2b$10$createhash', true,
     '2023-03-04T05:06:07.123456Z', '2024-02-03T01:02:03.987Z'),
  ('${ID.inactive}', 'tok-inactive', 'sleepy@example.com', '$2b$10$sleepy', false, '2023-05-05T05:05:05.555Z', '2023-06-06T06:06:06.666Z'),
  ('${ID.sameEmail}', 'tok-other', 'SHARED@example.com ', '$2b$10$shared', true, '2023-01-01T00:00:00Z', '2023-01-01T00:00:00Z'),
  ('${ID.noEmail}', 'tok-noemail', NULL, NULL, true, '2023-02-02T00:00:00Z', '2023-02-02T00:00:00Z'),
  ('${ID.mapped}', 'tok-mapped', 'mapped@example.com', '$2b$10$mapped', true, '2023-02-03T00:00:00Z', '2023-02-03T00:00:00Z'),
  ('${ID.twinOlder}', 'tok-twin-1', 'twin@example.com', '$2b$10$twin1', true, '2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z'),
  ('${ID.twinNewer}', 'tok-twin-2', 'Twin@Example.com', '$2b$10$twin2', true, '2022-06-01T00:00:00Z', '2022-06-01T00:00:00Z');
`;

const TARGET_USERS = `
INSERT INTO "users" ("id", "token", "email", "passwordHash", "name", "isActive", "createdAt", "updatedAt") VALUES
  ('fed-match', 'tok-shared-1', 'someone@example.com', 'fedhash1', 'someone', true, '2020-01-01', '2020-01-01'),
  ('fed-shared', 'tok-fed-shared', 'shared@example.com', 'fedhash2', 'shared', true, '2020-01-01', '2020-01-01'),
  ('fed-chosen', 'tok-fed-chosen', 'chosen@example.com', 'fedhash3', 'chosen', true, '2020-01-01', '2020-01-01');
`;

const USERS_CHECKSUM = `SELECT count(*)::int AS count, md5(string_agg(u::text, '|' ORDER BY u."id")) AS checksum FROM "users" u`;

async function connect(url: string): Promise<Database> {
  return openPgDatabase({ connectionString: url, options: FAR_ZONE, max: 1 });
}

async function usersChecksum(client: Queryable): Promise<{ count: number; checksum: string }> {
  const { rows } = await client.query<{ count: number; checksum: string }>(USERS_CHECKSUM);
  return rows[0]!;
}

async function ledgerExists(client: Queryable): Promise<boolean> {
  const { rows } = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'bigmemory_migration'`);
  return rows.length > 0;
}

for (const variant of TARGET_VARIANTS) {
  describe(`Function: migrateUsers (${variant} target)`, () => {
    let sourceUrl: string;
    let targetUrl: string;
    let source: Database;
    let target: Database;
    const userMap = parseUserMap({ users: { [ID.mapped]: 'fed-chosen' } });

    beforeEach(async () => {
      ({ sourceUrl, targetUrl } = await freshDatabases({ target: variant }));
      [source, target] = await Promise.all([connect(sourceUrl), connect(targetUrl)]);
      await source.query(SOURCE_USERS);
      await target.query(TARGET_USERS);
    });

    afterEach(async () => {
      await Promise.all([source.end(), target.end()]);
      await Promise.all([dropDatabase(sourceUrl), dropDatabase(targetUrl)]);
    });

    it('matches, creates, maps and records a decision for every user', async () => {
      // Act
      const summary = await migrateUsers({
        source,
        target,
        runId: 'run-1',
        dryRun: false,
        createUsers: true,
        userMap,
      });

      // Assess
      const { rows: ledger } = await target.query<{
        source_user_id: string;
        target_user_id: string | null;
        decision: string;
        created_by_run: string | null;
      }>('SELECT source_user_id, target_user_id, decision, created_by_run FROM bigmemory_migration.user_map');
      const byId = new Map(ledger.map((r) => [r.source_user_id, r]));
      expect(ledger).toHaveLength(8);
      expect(byId.get(ID.match)).toMatchObject({
        decision: 'matched_token',
        target_user_id: 'fed-match',
        created_by_run: null,
      });
      expect(byId.get(ID.create)).toMatchObject({
        decision: 'created',
        target_user_id: targetUserId(ID.create),
        created_by_run: 'run-1',
      });
      expect(byId.get(ID.inactive)).toMatchObject({
        decision: 'created',
        target_user_id: targetUserId(ID.inactive),
      });
      expect(byId.get(ID.sameEmail)).toMatchObject({
        decision: 'conflict_email_skipped',
        target_user_id: null,
      });
      expect(byId.get(ID.mapped)).toMatchObject({
        decision: 'mapped',
        target_user_id: 'fed-chosen',
        created_by_run: null,
      });
      expect(byId.get(ID.twinOlder)).toMatchObject({
        decision: 'created',
        target_user_id: targetUserId(ID.twinOlder),
      });
      expect(byId.get(ID.twinNewer)).toMatchObject({
        decision: 'conflict_email_skipped',
        target_user_id: null,
      });
      if (variant === 'older') {
        expect(byId.get(ID.noEmail)).toMatchObject({
          decision: 'missing_email_skipped',
          target_user_id: null,
        });
      } else {
        expect(byId.get(ID.noEmail)).toMatchObject({
          decision: 'created',
          target_user_id: targetUserId(ID.noEmail),
        });
      }
      const createdCount = variant === 'older' ? 3 : 4;
      expect(summary).toMatchObject({
        dryRun: false,
        total: 8,
        created: createdCount,
        mapped: createdCount + 2,
      });
      expect(summary.byDecision.conflict_email_skipped).toBe(2);
      expect(summary.conflicts.map((c) => c.sourceUserId).sort()).toEqual(
        // An inactive user created inactive is what was asked for, not a conflict.
        [ID.sameEmail, ID.twinNewer, ...(variant === 'older' ? [ID.noEmail] : [])].sort(),
      );
      expect(JSON.stringify(summary)).not.toContain('$2b$10$');
    });

    it('preserves hash, flags and millisecond timestamps of created users', async () => {
      // Act
      await migrateUsers({ source, target, runId: 'run-1', dryRun: false, createUsers: true });

      // Assess
      const { rows } = await target.query(
        `SELECT * , "createdAt"::text AS created_text, "updatedAt"::text AS updated_text FROM "users"
          WHERE "id" = ANY($1::text[]) ORDER BY "token"`,
        [[targetUserId(ID.create), targetUserId(ID.inactive)]],
      );
      expect(rows).toHaveLength(2);
      const [created, inactive] = rows;
      expect(created).toMatchObject({
        token: 'tok-create',
        email: 'New.Person@Example.com',
        passwordHash: '$2b$10$createhash',
        name: 'New.Person',
        isActive: true,
        created_text: '2023-03-04 05:06:07.123',
        updated_text: '2024-02-03 01:02:03.987',
      });
      expect(inactive).toMatchObject({
        token: 'tok-inactive',
        isActive: false,
        created_text: '2023-05-05 05:05:05.555',
      });
      if (variant === 'newest') {
        expect(created).toMatchObject({
          emailVerified: false,
          metadata: { migrated_from: 'bigmemory', original_id: ID.create },
        });
      } else {
        expect(Object.keys(created)).not.toContain('metadata');
      }
    });

    it('rejects a user map naming an unknown target user before writing anything', async () => {
      // Prepare
      const before = await usersChecksum(target);
      const badMap = parseUserMap({ [ID.mapped]: 'fed-does-not-exist', [ID.create]: 'fed-chosen' });

      // Act
      const attempt = migrateUsers({
        source,
        target,
        runId: 'run-1',
        dryRun: false,
        createUsers: true,
        userMap: badMap,
      });

      // Assess
      await expect(attempt).rejects.toThrow(InvalidInputError);
      await expect(attempt).rejects.toThrow(/"fed-does-not-exist"/);
      expect(await usersChecksum(target)).toEqual(before);
      expect(await ledgerExists(target)).toBe(false);
    });

    it('changes nothing on a rerun and keeps the run that created each user', async () => {
      // Prepare
      await migrateUsers({ source, target, runId: 'run-1', dryRun: false, createUsers: true, userMap });
      const first = await usersChecksum(target);

      // Act
      const rerun = await migrateUsers({
        source,
        target,
        runId: 'run-2',
        dryRun: false,
        createUsers: true,
        userMap,
      });

      // Assess
      expect(await usersChecksum(target)).toEqual(first);
      expect(rerun.created).toBe(0);
      expect(rerun.byDecision.created).toBe(0);
      const { rows } = await target.query(
        'SELECT created_by_run, run_id, target_user_id FROM bigmemory_migration.user_map WHERE source_user_id = $1',
        [ID.create],
      );
      expect(rows).toEqual([
        { created_by_run: 'run-1', run_id: 'run-2', target_user_id: targetUserId(ID.create) },
      ]);
    });

    it('writes nothing on a dry run yet returns the decisions without password hashes', async () => {
      // Prepare
      const before = await usersChecksum(target);

      // Act
      const summary = await migrateUsers({
        source,
        target,
        runId: 'dry',
        dryRun: true,
        createUsers: true,
        userMap,
      });
      const mapping = await decideUsersForDryRun({ source, target, createUsers: true, userMap });

      // Assess
      expect(await usersChecksum(target)).toEqual(before);
      expect(await ledgerExists(target)).toBe(false);
      expect(summary.decisions).toHaveLength(8);
      expect(summary.created).toBe(variant === 'older' ? 3 : 4);
      expect(JSON.stringify(summary)).not.toContain('$2b$10$');
      expect(mapping.get(ID.create)).toEqual({ targetUserId: targetUserId(ID.create), decision: 'created' });
      expect(mapping.get(ID.sameEmail)).toEqual({ targetUserId: null, decision: 'conflict_email_skipped' });
    });

    it('gives the batch step the recorded mapping through a pool', async () => {
      // Prepare
      const pool = openPgDatabase({ connectionString: targetUrl, options: FAR_ZONE, max: 2 });
      try {
        await migrateUsers({
          source,
          target: pool,
          runId: 'run-1',
          dryRun: false,
          createUsers: false,
          mergeOnEmail: true,
        });

        // Act
        const mapping = await loadUserMapping(pool, [ID.match, ID.sameEmail, ID.create, 'not-a-source-user']);

        // Assess
        expect(mapping).toEqual(
          new Map([
            [ID.match, { targetUserId: 'fed-match', decision: 'matched_token' }],
            [ID.sameEmail, { targetUserId: 'fed-shared', decision: 'conflict_email_merged' }],
            [ID.create, { targetUserId: null, decision: 'not_found_skipped' }],
          ]),
        );
      } finally {
        await pool.end();
      }
    });
  });
}

describe('Function: introspectTargetUsers', () => {
  it('tells the legacy and current users tables apart', async () => {
    // Prepare
    const legacy = await freshDatabases({ target: 'older' });
    const current = await freshDatabases({ target: 'newest' });
    const [legacyClient, currentClient] = await Promise.all([
      connect(legacy.targetUrl),
      connect(current.targetUrl),
    ]);
    try {
      // Act
      const [legacyShape, currentShape] = await Promise.all([
        introspectTargetUsers(legacyClient),
        introspectTargetUsers(currentClient),
      ]);

      // Assess
      expect(legacyShape).toMatchObject({ emailRequired: true, hasEmailVerified: false, hasMetadata: false });
      expect(currentShape).toMatchObject({ emailRequired: false, hasEmailVerified: true, hasMetadata: true });
    } finally {
      await Promise.all([legacyClient.end(), currentClient.end()]);
      await Promise.all(
        [legacy.sourceUrl, legacy.targetUrl, current.sourceUrl, current.targetUrl].map((url) =>
          dropDatabase(url),
        ),
      );
    }
  });
});

describe('Function: migrateUsers (placeholder emails)', () => {
  it('places users without email on a legacy target when a placeholder domain is set', async () => {
    // Prepare
    const { sourceUrl, targetUrl } = await freshDatabases({ target: 'older' });
    const [source, target] = await Promise.all([connect(sourceUrl), connect(targetUrl)]);
    try {
      await source.query(SOURCE_USERS);

      // Act
      const summary = await migrateUsers({
        source,
        target,
        runId: 'run-1',
        dryRun: false,
        createUsers: true,
        placeholderEmailDomain: 'migrated.invalid',
      });

      // Assess
      expect(summary.byDecision.missing_email_placeholder).toBe(1);
      const { rows } = await target.query('SELECT "email", "name" FROM "users" WHERE "id" = $1', [
        targetUserId(ID.noEmail),
      ]);
      expect(rows).toEqual([
        { email: `bigmemory-${ID.noEmail}@migrated.invalid`, name: `bigmemory-${ID.noEmail}` },
      ]);
    } finally {
      await Promise.all([source.end(), target.end()]);
      await Promise.all([dropDatabase(sourceUrl), dropDatabase(targetUrl)]);
    }
  });
});
