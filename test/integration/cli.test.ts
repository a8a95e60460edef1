import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function script(file: string, args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, MIGRATION_BUCKET: _b, ...inherited } = process.env;
  try {
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, file), ...args], {
      cwd: ROOT,
      env: { ...inherited, ...env },
      timeout: 120_000,
    });
    return { code: 0, ...out };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Every npm script that runs one of ours: `tsx scripts/<name>.ts`. */
async function cliScripts(): Promise<Array<[string, string]>> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  return Object.entries(pkg.scripts).flatMap(([name, command]) => {
    const match = /^tsx (scripts\/[\w-]+\.ts)$/.exec(command);
    return match ? [[name, match[1] as string] as [string, string]] : [];
  });
}

/** A few at a time: each is a Node process that compiles its TypeScript. */
async function limited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i] as T);
      }
    }),
  );
  return results;
}

describe('The CLI scripts', () => {
  it('every script answers --help with what it does, its options and an example, and exits 2 on an unknown option', async () => {
    const scripts = await cliScripts();
    expect(scripts.length).toBeGreaterThan(15);

    const outcomes = await limited(scripts, 4, async ([name, file]) => ({
      name,
      help: await script(file, ['--help']),
      unknown: await script(file, ['--no-such-option']),
    }));

    for (const { name, help, unknown } of outcomes) {
      expect(help.code, `${name} --help: ${help.stderr}`).toBe(0);
      expect(help.stdout, name).toMatch(/usage/i);
      expect(help.stdout, name).toMatch(/--help/);
      expect(help.stdout, name).toMatch(/Example: /);
      expect(unknown.code, `${name} --no-such-option: ${unknown.stderr}`).toBe(2);
      expect(unknown.stderr, name).not.toMatch(/\n\s+at /);
    }
  }, 300_000);

  describe('a failing migration', () => {
    let sourceUrl: string;
    let targetUrl: string;

    beforeAll(async () => {
      ({ sourceUrl, targetUrl } = await freshDatabases());
      await generateBigMemory({ databaseUrl: sourceUrl, memories: 300, users: 5, seed: 3 });
    });

    it('says what failed in one line and where the report is, with no JSON on stderr unless --verbose', async () => {
      // Prepare: no user may be created, so every memory is rejected
      const reports = await mkdtemp(join(tmpdir(), 'bm-cli-'));
      const args = [
        '--preserve-embeddings',
        '--no-create-users',
        '--snapshot',
        'none',
        '--reports-dir',
        reports,
      ];
      const env = { SOURCE_DATABASE_URL: sourceUrl, DATABASE_URL: targetUrl };

      // Act
      const quiet = await script('scripts/migrate-bigmemory.ts', [...args, '--run-id', 'quiet'], env);
      const verbose = await script(
        'scripts/migrate-bigmemory.ts',
        [...args, '--run-id', 'loud', '--verbose'],
        env,
      );

      // Assess
      expect(quiet.code).toBe(1);
      const lines = quiet.stderr.split('\n');
      expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
      expect(quiet.stderr).not.toMatch(/No application metrics/);
      expect(quiet.stderr).toMatch(
        /Run failed after [\d.]+ s: RejectThresholdError: .*unmapped_user.*\[step: Verify\]/,
      );
      expect(quiet.stderr).toContain(`failure report: ${join(reports, 'runs/quiet/report.md')}`);
      expect(verbose.code).toBe(1);
      expect(verbose.stderr.split('\n').some((l) => l.startsWith('{'))).toBe(true);
    }, 180_000);
  });

  describe('a database error', () => {
    let sourceUrl: string;
    let targetUrl: string;

    beforeAll(async () => {
      ({ sourceUrl, targetUrl } = await freshDatabases());
    });

    it('names which database failed and the fix, in every command that reaches one', async () => {
      // Prepare: a database name that does not exist on the right server, and a target not yet migrated
      const missing = (url: string) => url.replace(/\/[^/]*$/, '/no_such_database');
      const env = (source: string, target: string) => ({ SOURCE_DATABASE_URL: source, DATABASE_URL: target });
      const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
        [
          'scripts/test-api.ts',
          [],
          env(sourceUrl, missing(targetUrl)),
          /target database \(Federated Memory\)/,
        ],
        [
          'scripts/test-api.ts',
          [],
          env(sourceUrl, targetUrl),
          /holds no migration yet.*Fix: run npm run migrate:bigmemory/,
        ],
        [
          'scripts/check-module-stats.ts',
          [],
          env(sourceUrl, missing(targetUrl)),
          /target database \(Federated Memory\)/,
        ],
        [
          'scripts/cmi-populate.ts',
          [],
          env(sourceUrl, missing(targetUrl)),
          /target database \(Federated Memory\)/,
        ],
        ['scripts/migrate-test.ts', [], env(missing(sourceUrl), targetUrl), /source database \(BigMemory\)/],
        ['scripts/verify-search.ts', [], env(missing(sourceUrl), targetUrl), /source database \(BigMemory\)/],
        [
          'scripts/migrate-restore.ts',
          ['--snapshot', tmpdir(), '--database', 'target', '--db', missing(targetUrl)],
          {},
          /target database \(Federated Memory\).*Fix: check the database name at the end of --db/,
        ],
      ];

      // Act
      const outcomes = await limited(cases, 2, ([file, args, vars]) => script(file, args, vars));

      // Assess: exit 1, the database and the fix named, no bare driver line
      outcomes.forEach((outcome, i) => {
        const [file, , , named] = cases[i]!;
        expect(outcome.code, file).toBe(1);
        expect(outcome.stderr, file).toMatch(named);
        expect(outcome.stderr, file).toMatch(/Fix: /);
        expect(outcome.stderr, file).not.toMatch(/^error: /m);
      });
    }, 180_000);
  });
});
