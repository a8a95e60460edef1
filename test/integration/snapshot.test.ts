import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import { createBucket, makeS3Client } from '../../dev/harness/s3.js';
import { services } from '../../dev/harness/services.js';
import { tableChecksum, targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { openPgDatabase } from '../../functions/db/pg/pg-database.js';
import type { Database } from '../../functions/db/port.js';
import { PreflightError, SnapshotIntegrityError } from '../../functions/errors.js';
import { restoreSnapshot } from '../../functions/snapshot/restore-snapshot.js';
import { manifestKey, parseSnapshotManifest } from '../../functions/snapshot/snapshot-manifest.js';
import { FolderSnapshotStore, S3SnapshotStore } from '../../functions/snapshot/snapshot-store.js';
import { takeSnapshot } from '../../functions/snapshot/take-snapshot.js';

const SOURCE_TABLES: [string, string][] = [
  ['users', 'id'],
  ['memories', 'id'],
  ['memory_relations', 'id'],
  ['memory_categories', 'id'],
];
const LEDGER_TABLES: [string, string][] = [
  [`${LEDGER_SCHEMA}.runs`, 'run_id'],
  [`${LEDGER_SCHEMA}.memory_ledger`, 'source_id'],
  [`${LEDGER_SCHEMA}.user_map`, 'source_user_id'],
  [`${LEDGER_SCHEMA}.relationship_ledger`, 'source_key'],
];

async function checksumsOf(url: string, tables: [string, string][]): Promise<Record<string, string>> {
  return withClient(url, async (client) => {
    const out: Record<string, string> = {};
    for (const [table, key] of tables) out[table] = await tableChecksum(client, table, key);
    return out;
  });
}

const everything = async (urls: { sourceUrl: string; targetUrl: string }) => ({
  source: await checksumsOf(urls.sourceUrl, SOURCE_TABLES),
  target: await targetChecksums(urls.targetUrl),
  ledger: await checksumsOf(urls.targetUrl, LEDGER_TABLES),
});

/** Deletes, updates and inserts in both databases: a restore has to undo all three. */
async function changeData(urls: { sourceUrl: string; targetUrl: string }): Promise<void> {
  await withClient(urls.sourceUrl, async (c) => {
    await c.query('DELETE FROM memories WHERE id IN (SELECT id FROM memories ORDER BY id LIMIT 20)');
    await c.query("UPDATE users SET email = 'changed@example.com'");
    await c.query("INSERT INTO memory_categories (name) VALUES ('added-after-the-snapshot')");
  });
  await withClient(urls.targetUrl, async (c) => {
    await c.query('DELETE FROM memory_relationships');
    await c.query("UPDATE work_memories SET content = 'changed'");
    await c.query(`DELETE FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'rejected'`);
    await c.query('DELETE FROM memory_index WHERE id IN (SELECT id FROM memory_index ORDER BY id LIMIT 5)');
  });
}

function psqlReplay(file: string, url: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'gunzip -c "$0" | psql -X -q -v ON_ERROR_STOP=1 "$1"', file, url], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('Function: takeSnapshot and restoreSnapshot', () => {
  let urls: { sourceUrl: string; targetUrl: string };
  let pools: { source: Database; target: Database };
  let s3Store: S3SnapshotStore;
  let original: Awaited<ReturnType<typeof everything>>;

  beforeAll(async () => {
    urls = await freshDatabases();
    await generateBigMemory({ databaseUrl: urls.sourceUrl, memories: 400, users: 12, seed: 5 });
    await withClient(urls.sourceUrl, (c) =>
      c.query(
        "INSERT INTO memory_categories (name, description) VALUES ('work', 'tab\there'), ('new\nline', NULL)",
      ),
    );
    const { runtime } = await runSteps({ ...urls, input: { preserveEmbeddings: true, batchSize: 150 } });
    await runtime.close();
    pools = {
      source: openPgDatabase({ connectionString: urls.sourceUrl, max: 2 }),
      target: openPgDatabase({ connectionString: urls.targetUrl, max: 2 }),
    };
    const s3 = makeS3Client(services().s3Endpoint);
    s3Store = new S3SnapshotStore(s3, await createBucket(s3), 'backups/migration-20250301-101500/');
    original = await everything(urls);
  });

  afterAll(async () => {
    await Promise.all([pools?.source.end(), pools?.target.end()]);
  });

  it('streams both databases to S3 with a manifest of tables, columns, row counts and checksums', async () => {
    // Act
    const summary = await takeSnapshot({
      pools,
      store: s3Store,
      startedAt: new Date('2025-03-01T10:15:00Z'),
    });

    // Assess
    const target = summary.manifests.target!;
    expect(target.object.key).toBe('federated_20250301-101500.sql.gz');
    expect(summary.manifests.source?.object.key).toBe('bigmemory_20250301-101500.sql.gz');
    expect(target.tables.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'users',
        'work_memories',
        'memory_index',
        'memory_relationships',
        'memory_modules',
        'memory_ledger',
      ]),
    );
    expect(target.tables.map((t) => t.name)).not.toContain('lock');
    expect(target.tables[0]?.name).toBe('users');
    expect(target.ledger).toBe('included');
    const body = Buffer.from(
      await (await s3Store.read(target.object.key))
        .toArray()
        .then((chunks) => Buffer.concat(chunks as Buffer[])),
    );
    expect(createHash('sha256').update(body).digest('hex')).toBe(target.object.sha256);
    expect(body.length).toBe(target.object.bytes);
    const counts = await withClient(urls.targetUrl, (c) =>
      c.query<{ n: string }>('SELECT count(*) AS n FROM memory_index'),
    );
    expect(target.tables.find((t) => t.name === 'memory_index')?.rows).toBe(Number(counts.rows[0]?.n));
    const manifest = parseSnapshotManifest(await s3Store.getText(manifestKey('source')), 'source manifest');
    expect(manifest.sequences.map((s) => s.name)).toEqual(['public.memory_categories_id_seq']);
    expect(manifest.serverVersion).toMatch(/^\d+/);
    expect(gunzipSync(body).toString().trimEnd().endsWith('COMMIT;')).toBe(true);
  });

  it('refuses to restore into tables that hold rows unless forced', async () => {
    // Act
    const attempt = restoreSnapshot({ store: s3Store, database: 'target', pool: pools.target });

    // Assess
    await expect(attempt).rejects.toThrow(PreflightError);
    await expect(attempt).rejects.toThrow(/hold rows .*--force/);
  });

  it('restores every table of both databases to its checksum after the data changed', async () => {
    // Prepare
    await changeData(urls);
    expect(await everything(urls)).not.toEqual(original);

    // Act
    const target = await restoreSnapshot({
      store: s3Store,
      database: 'target',
      pool: pools.target,
      force: true,
    });
    const source = await restoreSnapshot({
      store: s3Store,
      database: 'source',
      pool: pools.source,
      force: true,
    });

    // Assess
    expect(await everything(urls)).toEqual(original);
    expect(target.replaced).toContain('"public"."users"');
    expect(source.tables.find((t) => t.table === '"public"."memories"')?.rows).toBe(400);
    const next = await withClient(urls.sourceUrl, (c) =>
      c.query<{ id: number }>("INSERT INTO memory_categories (name) VALUES ('after-restore') RETURNING id"),
    );
    expect(next.rows[0]?.id).toBe(3);
  });

  it('replays the same object with nothing but gunzip and psql', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'bm-psql-'));
    const file = join(dir, 'federated_20250301-101500.sql.gz');
    const object = await s3Store.read('federated_20250301-101500.sql.gz');
    await writeFile(file, object);
    await changeData(urls);

    // Act
    const { code, stderr } = await psqlReplay(file, urls.targetUrl);

    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(await targetChecksums(urls.targetUrl)).toEqual(original.target);
    expect(await checksumsOf(urls.targetUrl, LEDGER_TABLES)).toEqual(original.ledger);
  });

  it('refuses a corrupted or truncated object by its checksum, naming it, and changes nothing', async () => {
    // Prepare: a local copy of the directory, one object with a flipped byte, one cut short
    const root = await mkdtemp(join(tmpdir(), 'bm-snap-'));
    const store = new FolderSnapshotStore(root);
    await takeSnapshot({ pools, store, startedAt: new Date('2025-03-01T11:00:00Z') });
    const corrupt = join(root, 'federated_20250301-110000.sql.gz');
    const bytes = await readFile(corrupt);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(corrupt, bytes);
    const truncatedRoot = await mkdtemp(join(tmpdir(), 'bm-snap-'));
    await cp(root, truncatedRoot, { recursive: true });
    await takeSnapshot({
      pools,
      store: new FolderSnapshotStore(truncatedRoot),
      startedAt: new Date('2025-03-01T11:00:00Z'),
    });
    await truncate(join(truncatedRoot, 'federated_20250301-110000.sql.gz'), 1000);
    const before = await targetChecksums(urls.targetUrl);

    // Act
    const flipped = await restoreSnapshot({
      store,
      database: 'target',
      pool: pools.target,
      force: true,
    }).catch((error: unknown) => error);
    const cut = await restoreSnapshot({
      store: new FolderSnapshotStore(truncatedRoot),
      database: 'target',
      pool: pools.target,
      force: true,
    }).catch((error: unknown) => error);

    // Assess
    expect(flipped).toBeInstanceOf(SnapshotIntegrityError);
    expect((flipped as Error).message).toMatch(
      /bm-snap-\w+\/federated_20250301-110000\.sql\.gz does not match its manifest's sha256/,
    );
    expect(cut).toBeInstanceOf(SnapshotIntegrityError);
    expect((cut as Error).message).toMatch(/federated_20250301-110000\.sql\.gz is 1000 bytes .* truncated/);
    expect(await targetChecksums(urls.targetUrl)).toEqual(before);
  });

  it('refuses a database whose columns differ from the snapshot', async () => {
    // Prepare
    const other = await createTarget();
    await withClient(other, (c) => c.query('ALTER TABLE work_memories ADD COLUMN "pinned" boolean'));
    const pool = openPgDatabase({ connectionString: other, max: 1 });

    // Act
    const attempt = restoreSnapshot({ store: s3Store, database: 'target', pool });

    // Assess
    await expect(attempt).rejects.toThrow(
      /does not match the snapshot's.*"work_memories" has column "pinned"/,
    );
    await pool.end();
  });

  it('restores into an empty database of the same schema without force, ledger included', async () => {
    // Prepare
    const empty = await createTarget();
    const pool = openPgDatabase({ connectionString: empty, max: 1 });

    // Act
    const report = await restoreSnapshot({ store: s3Store, database: 'target', pool });

    // Assess
    expect(report.replaced).toEqual(['"public"."memory_modules"']);
    expect(await targetChecksums(empty)).toEqual(original.target);
    expect(await checksumsOf(empty, LEDGER_TABLES)).toEqual(original.ledger);
    await pool.end();
  });
});

describe('Method: S3SnapshotStore.discard', () => {
  it("removes every object of its directory and nothing of a neighbour's", async () => {
    // Prepare: two directories side by side in one bucket
    const s3 = makeS3Client(services().s3Endpoint);
    const bucket = await createBucket(s3);
    const failed = new S3SnapshotStore(s3, bucket, 'backups/migration-20250301-101500/');
    const neighbour = new S3SnapshotStore(s3, bucket, 'backups/migration-20250301-101500-2/');
    await failed.putText('bigmemory/manifest.json', '{}');
    await failed.putText('federated_20250301-101500.sql.gz', 'partial');
    await neighbour.putText('snapshot.json', '{}');

    // Act
    await failed.discard();

    // Assess
    expect(await failed.exists('bigmemory/manifest.json')).toBe(false);
    expect(await failed.exists('federated_20250301-101500.sql.gz')).toBe(false);
    expect(await neighbour.exists('snapshot.json')).toBe(true);
  });
});
