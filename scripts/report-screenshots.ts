/**
 * npm run report:screenshots -- [--out DIR] [--memories N]
 * Renders the reports of three real local runs — a dry run, a migration and a failed migration —
 * with headless Chromium at 1,280 and 1,920 px, so a person can look at what users will see.
 * Needs `chromium` on PATH (Debian: apt-get install -y chromium) or CHROMIUM=<path>.
 */
import './require-node.cjs';
import './cli/local-console.js';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { generateBigMemory } from '../dev/generator/bigmemory-generator.js';
import { createDatabase, createTarget } from '../dev/harness/databases.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { runLayout } from '../functions/core/run-options.js';
import { FileRunStore } from '../functions/store/run-store.js';
import { parseFlags, positiveInteger, runCli } from './cli/database-flags.js';
import { runLocalMigration } from './cli/local-migration.js';

const USAGE = `usage: npm run report:screenshots -- [options]

Runs a dry run, a migration and a migration that fails its reject threshold against generated local
databases, then screenshots each report.html with headless Chromium at 1280 and 1920 px wide.

  --out <dir>        where the reports and screenshots go (default: reports/screenshots)
  --memories <n>     memories in the generated BigMemory (default: 3000)
  --height <px>      height of each screenshot (default: 4000)
  --help             this text

Example: npm run report:screenshots -- --memories 5000`;

const WIDTHS = [1280, 1920];
const execFileAsync = promisify(execFile);

// Headless, and nothing that reaches for the network or a profile.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--hide-scrollbars',
];

async function screenshot(html: string, png: string, width: number, height: number): Promise<void> {
  const chromium = process.env.CHROMIUM ?? 'chromium';
  await execFileAsync(
    chromium,
    [...CHROMIUM_FLAGS, `--screenshot=${png}`, `--window-size=${width},${height}`, pathToFileURL(html).href],
    { timeout: 60_000 },
  );
}

async function main(): Promise<number> {
  const values = parseFlags({
    out: { type: 'string' },
    memories: { type: 'string' },
    height: { type: 'string' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const out = resolve(values.out ?? 'reports/screenshots');
  const memories = positiveInteger(values.memories, '--memories', 3_000);
  const height = positiveInteger(values.height, '--height', 4_000);
  await mkdir(out, { recursive: true });
  const store = new FileRunStore(out);
  const services = await startTestServices();
  try {
    const sourceUrl = await createDatabase('bigmemory');
    const targetUrl = await createTarget();
    const emptyTargetUrl = await createTarget();
    await generateBigMemory({
      databaseUrl: sourceUrl,
      memories,
      users: Math.max(10, Math.round(memories / 100)),
      seed: 2026,
      targetDatabaseUrl: targetUrl,
      targetCollisions: { sameToken: 3, sameEmail: 2 },
    });
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    const runs = [
      {
        name: 'dry',
        targetUrl,
        input: {
          dryRun: true,
          preserveEmbeddings: true,
          batchSize: 250,
          mergeOnEmail: true,
          placeholderEmailDomain: 'example.org',
        },
      },
      {
        name: 'real',
        targetUrl,
        input: {
          preserveEmbeddings: true,
          batchSize: 250,
          mergeOnEmail: true,
          placeholderEmailDomain: 'example.org',
        },
      },
      // No target user exists and none may be created: every memory is rejected.
      { name: 'failed', targetUrl: emptyTargetUrl, input: { preserveEmbeddings: true, createUsers: false } },
    ];
    for (const run of runs) {
      const runId = `screenshots-${run.name}-${stamp}`;
      const result = await runLocalMigration({
        sourceUrl,
        targetUrl: run.targetUrl,
        input: run.input,
        storeChoice: { store, bucket: 'local-run-store' },
        concurrency: 4,
        executionName: runId,
        progress: false,
      });
      const html = join(out, runLayout(runId).report.html);
      console.log(`${run.name}: ${result.status}${result.error ? ` (${result.error})` : ''} — ${html}`);
      for (const width of WIDTHS) {
        const png = join(out, `${run.name}-${width}.png`);
        await screenshot(html, png, width, height);
        console.log(`  ${png}`);
      }
    }
    return 0;
  } finally {
    await services.stop();
  }
}

runCli(main);
