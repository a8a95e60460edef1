import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';

const script = (name: string) => fileURLToPath(new URL(`../../scripts/${name}.ts`, import.meta.url));

async function cli(name: string, args: string[], env: Record<string, string>) {
  const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, MIGRATION_BUCKET: _b, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', script(name), ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

// A line of the progress bar as a log (not a terminal) gets it: counts, a rate and an ETA.
const PROGRESS_LINE = /^(backing up|restoring) .* \d+\/\d+ rows · [\d.]+\/s · ETA \S+$/m;

describe('migrate:backup and migrate:restore at the command line', () => {
  let sourceUrl: string;
  let targetUrl: string;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 300, users: 4, seed: 2022 });
    await cli(
      'migrate-bigmemory',
      [
        '--preserve-embeddings',
        '--snapshot',
        'none',
        '--reports-dir',
        await mkdtemp(join(tmpdir(), 'bm-backup-run-')),
      ],
      {
        SOURCE_DATABASE_URL: sourceUrl,
        DATABASE_URL: targetUrl,
      },
    );
  }, 240_000);

  it('backs up both databases with progress, and restores one with progress', {
    timeout: 180_000,
  }, async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'bm-backup-'));
    const { targetUrl: restoredUrl } = await freshDatabases();
    const expected = await targetChecksums(targetUrl);

    // Act
    const backup = await cli('migrate-backup', ['--dir', dir], {
      SOURCE_DATABASE_URL: sourceUrl,
      DATABASE_URL: targetUrl,
    });
    const [name] = await readdir(dir);
    const restore = await cli(
      'migrate-restore',
      ['--snapshot', join(dir, name!), '--database', 'target', '--db', restoredUrl],
      {},
    );

    // Assess: whole backups, progress lines with rate and ETA on stderr only, the location printed
    expect(backup.code, backup.stderr).toBe(0);
    expect(await readdir(dir)).toEqual([name]);
    expect(await readdir(join(dir, name!))).toContain('snapshot.json');
    expect(backup.stderr).toMatch(PROGRESS_LINE);
    expect(backup.stdout).not.toMatch(PROGRESS_LINE);
    expect(backup.stdout).toContain(join(dir, name!));
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(PROGRESS_LINE);
    expect(await targetChecksums(restoredUrl)).toEqual(expected);
  });

  it('leaves no directory behind when the target fails half-way, and names the target', {
    timeout: 180_000,
  }, async () => {
    // Prepare: a user of the target who may read every table but the relationships, so the
    // target's snapshot fails after it (and the source's) wrote part of the directory
    const role = `bm_backup_${randomBytes(4).toString('hex')}`;
    await withClient(targetUrl, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA public, bigmemory_migration TO ${role}`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public, bigmemory_migration TO ${role}`);
      await c.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, bigmemory_migration TO ${role}`);
      await c.query(`REVOKE SELECT ON memory_relationships FROM ${role}`);
    });
    const dir = await mkdtemp(join(tmpdir(), 'bm-backup-'));

    // Act
    const backup = await cli('migrate-backup', ['--dir', dir], {
      SOURCE_DATABASE_URL: sourceUrl,
      DATABASE_URL: targetUrl.replace('postgresql://postgres@', `postgresql://${role}@`),
    });

    // Assess
    expect(backup.code).toBe(1);
    expect(backup.stderr).toContain('target database (Federated Memory)');
    expect(backup.stderr).toContain('permission denied');
    expect(backup.stderr).toContain('Fix: give the user in DATABASE_URL');
    expect(await readdir(dir)).toEqual([]);
  });
});
