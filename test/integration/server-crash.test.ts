import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createDatabase, createTarget, loadSchema, targetSchemaKind } from '../../dev/harness/databases.js';
import { type CrashablePostgresServer, startCrashablePostgres } from '../../dev/harness/postgres.js';
import { databaseUrl } from '../../dev/harness/templates.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { migrateCli } from '../../dev/support/cli-process.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';

const STALE_SECONDS = 2;
const ARGS = ['--preserve-embeddings', '--batch-size', '50', '--concurrency', '2', '--snapshot', 'none'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The target's server of its own: the harness's shared cluster serves every other test file.
describe.skipIf(Boolean(process.env.TEST_DATABASE_URL))(
  'the target server crashes during the batches',
  () => {
    let server: CrashablePostgresServer;
    let sourceUrl: string;
    let targetUrl: string;
    let cleanUrl: string;

    const cli = async (url: string, runId: string, extra: string[] = []) =>
      migrateCli({
        args: [
          ...ARGS,
          '--reports-dir',
          await mkdtemp(join(tmpdir(), 'bm-server-crash-')),
          '--run-id',
          runId,
          ...extra,
        ],
        env: {
          SOURCE_DATABASE_URL: sourceUrl,
          DATABASE_URL: url,
          MIGRATION_LOCK_STALE_SECONDS: String(STALE_SECONDS),
        },
      });

    beforeAll(async () => {
      server = await startCrashablePostgres();
      targetUrl = databaseUrl(server.adminUrl, 'federated');
      await withClient(server.adminUrl, (c) => c.query('CREATE DATABASE federated'));
      await withClient(targetUrl, (c) => c.query('CREATE EXTENSION vector'));
      await loadSchema(targetUrl, targetSchemaKind());
      [sourceUrl, cleanUrl] = await Promise.all([createDatabase('bigmemory'), createTarget()]);
      await generateBigMemory({ databaseUrl: sourceUrl, memories: 2_000, users: 10, seed: 89 });
    }, 240_000);

    afterAll(async () => {
      await server?.stop();
    });

    it('pg_ctl stop -m immediate mid-batches: the run never claims an unverified success, and a rerun converges to a clean run', async () => {
      // Prepare: a clean run elsewhere, for its checksums
      const clean = await cli(cleanUrl, 'server-crash-clean');
      expect(clean.code, clean.output).toBe(0);

      // Act: crash the target's server once batches have committed, start it again a little later
      const running = cli(targetUrl, 'server-crash-run');
      let settled = false;
      void running.finally(() => {
        settled = true;
      });
      let written = 0;
      while (!settled && written === 0) {
        await sleep(100);
        written = await withClient(targetUrl, (c) =>
          c.query<{ n: string }>(`SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.memory_ledger`),
        )
          .then((r) => Number(r.rows[0]?.n))
          .catch(() => 0);
      }
      expect(settled, 'the run ended before any batch committed').toBe(false);
      await server.crash();
      await sleep(1_500);
      await server.restart();
      const crashed = await running;
      // A user reruns after a crash, without touching the lock: when the crashed run could not let
      // go of it (its server was down as it ended), the message says to pass --break-lock once
      // its heartbeat is stale.
      await sleep((STALE_SECONDS + 1) * 1000);
      const reruns = [await cli(targetUrl, 'server-crash-rerun')];
      if (reruns[0]?.code !== 0 && /--break-lock/.test(reruns[0]?.output ?? '')) {
        reruns.push(await cli(targetUrl, 'server-crash-rerun-2', ['--break-lock']));
      }

      // Assess
      // The crashed run never claims a success it did not verify: it either retried its batches
      // through the outage and verified, or failed by name with a report (its retries ran out, or
      // Verify found what the crash left unaccounted); never an unhandled error or a signal.
      expect(crashed.signal).toBeNull();
      expect(crashed.output).not.toMatch(/Unhandled 'error' event/);
      if (crashed.code !== 0) {
        expect(crashed.output).toMatch(/Run failed after .*(TransientDatabaseError|VerificationError)/);
        expect(crashed.output).toMatch(/failure report: /);
      }
      const last = reruns[reruns.length - 1];
      expect(last?.code, `${crashed.output}\n---\n${last?.output}`).toBe(0);
      const ledger = await withClient(targetUrl, async (c) => ({
        lock: (await c.query(`SELECT 1 FROM ${LEDGER_SCHEMA}.lock`)).rowCount,
        running: (await c.query(`SELECT 1 FROM ${LEDGER_SCHEMA}.runs WHERE status = 'running'`)).rowCount,
      }));
      expect(ledger).toEqual({ lock: 0, running: 0 });
      expect(written).toBeGreaterThan(0);
      // memory_modules is the fixture's (seeded when each database was made), never the migration's.
      const migrated = async (url: string) => {
        const {
          '"memory_modules"': _modules,
          memory_modules: _registry,
          ...rest
        } = await targetChecksums(url);
        return rest;
      };
      expect(await migrated(targetUrl)).toEqual(await migrated(cleanUrl));
    }, 300_000);
  },
);
