/**
 * npm run bench:snapshot -- [--memories 100000] [--users N] [--seed 7] [--gzip-level 1]
 *
 * Generates a BigMemory database on the test harness's PostgreSQL, then measures, in the same run:
 *   1. raw `psql COPY memories TO STDOUT | gzip` (two processes: the floor for text COPY + gzip),
 *   2. raw in-process `COPY memories TO STDOUT` → zlib gzip → discard (the same work without our layer),
 *   3. the snapshot of the whole source database to a folder, and to S3 (s3rver, multipart upload),
 * each with this process's peak RSS, sampled every 25 ms, to show memory stays flat.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createBucket, makeS3Client } from '../dev/harness/s3.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import { withPgSession } from '../functions/db/pg/pg-session.js';
import { FolderSnapshotStore, S3SnapshotStore } from '../functions/snapshot/snapshot-store.js';
import { takeSnapshot } from '../functions/snapshot/take-snapshot.js';
import { parseFlags, positiveInteger, runCli, UsageError } from './cli/database-flags.js';
import { sampleBigMemory } from './cli/sample-source.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

interface Measured {
  seconds: number;
  peakRss: number;
  startRss: number;
  bytes: number;
}

async function measured(work: () => Promise<number>): Promise<Measured> {
  global.gc?.();
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 25);
  const started = performance.now();
  try {
    const bytes = await work();
    return { seconds: (performance.now() - started) / 1000, peakRss, startRss, bytes };
  } finally {
    clearInterval(timer);
  }
}

function discard(onBytes: (n: number) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback();
    },
  });
}

function psqlCopyGzip(url: string, level: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sh',
      ['-c', `psql -X -q "$0" -c 'COPY memories TO STDOUT' | gzip -${level} | wc -c`, url],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`psql | gzip exited ${code}`)),
    );
  });
}

async function inProcessCopyGzip(url: string, level: number): Promise<number> {
  let bytes = 0;
  await withPgSession(url, (session) =>
    pipeline(
      session.copyTextOut('COPY memories TO STDOUT'),
      createGzip({ level }),
      discard((n) => {
        bytes += n;
      }),
    ),
  );
  return bytes;
}

const USAGE = `usage: npm run bench:snapshot -- [options]

Generates a BigMemory in the local test services, then times a logical snapshot of it next to a raw
psql COPY of the memories table through gzip, and prints seconds, memories/s, bytes and peak memory.

  --memories <n>     memories to generate (default: 100000)
  --users <n>        users (default: memories / 100)
  --seed <n>         generator seed (default: 7)
  --gzip-level <n>   1-9 (default: 1)
  --help             this text

Example: npm run bench:snapshot -- --memories 20000`;

async function main(): Promise<number> {
  const values = parseFlags({
    memories: { type: 'string', default: '100000' },
    users: { type: 'string' },
    seed: { type: 'string', default: '7' },
    'gzip-level': { type: 'string', default: '1' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const memories = positiveInteger(values.memories, '--memories', 100_000);
  const level = positiveInteger(values['gzip-level'], '--gzip-level', 1);
  if (level > 9) throw new UsageError(`--gzip-level takes 1-9, got ${level}`);
  if (values.users !== undefined) positiveInteger(values.users, '--users', 1);
  const services = await startTestServices();
  const folder = await mkdtemp(join(tmpdir(), 'bench-snapshot-'));
  try {
    const { sourceUrl, users, generated } = await sampleBigMemory({
      memories,
      users: values.users ? Number(values.users) : undefined,
      seed: Number(values.seed),
    });
    console.log(
      `generated ${fmt(memories)} memories, ${fmt(generated.relations)} relations, ${fmt(users)} users in ${(generated.elapsedMs / 1000).toFixed(1)} s`,
    );
    const rate = (m: Measured) => `${fmt(memories / m.seconds)} memories/s`;
    const line = (label: string, m: Measured) =>
      console.log(
        `${label.padEnd(46)} ${m.seconds.toFixed(1).padStart(6)} s  ${rate(m).padStart(18)}  ${mb(m.bytes).padStart(9)} gz  peak RSS ${mb(m.peakRss)} (start ${mb(m.startRss)})`,
      );

    line(`raw psql COPY memories | gzip -${level}`, await measured(() => psqlCopyGzip(sourceUrl, level)));
    line(
      `raw in-process COPY memories → zlib ${level}`,
      await measured(() => inProcessCopyGzip(sourceUrl, level)),
    );

    const pool = openPgDatabase({ connectionString: sourceUrl, max: 1 });
    try {
      const toFolder = await measured(async () => {
        const summary = await takeSnapshot({
          pools: { source: pool },
          store: new FolderSnapshotStore(folder),
          startedAt: new Date(),
          gzipLevel: level,
        });
        return summary.manifests.source?.object.bytes ?? 0;
      });
      line('snapshot of the source database → folder', toFolder);
      const s3 = makeS3Client(services.s3Endpoint);
      const bucket = await createBucket(s3);
      const toS3 = await measured(async () => {
        const summary = await takeSnapshot({
          pools: { source: pool },
          store: new S3SnapshotStore(s3, bucket, 'backups/bench/'),
          startedAt: new Date(),
          gzipLevel: level,
        });
        return summary.manifests.source?.object.bytes ?? 0;
      });
      line('snapshot of the source database → S3 multipart', toS3);
    } finally {
      await pool.end();
    }
    console.log(
      '(the snapshots also hold users and memory_relations; rates are per memory. RSS is this process only: psql and gzip run in their own.)',
    );
    return 0;
  } finally {
    await rm(folder, { recursive: true, force: true });
    await services.stop();
  }
}

runCli(main);
