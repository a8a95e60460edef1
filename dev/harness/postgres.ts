import { execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withPgSession } from '../../functions/db/pg/pg-session.js';
import { ping } from '../../functions/db/ping.js';
import { PreflightError } from '../../functions/errors.js';
import { findFreePort } from './free-port.js';

const execFileAsync = promisify(execFile);
const INSTALL_PGVECTOR = fileURLToPath(new URL('../../scripts/install-pgvector.sh', import.meta.url));
const SERVER_USER = 'postgres';

const SERVER_SETTINGS = ['listen_addresses=127.0.0.1', 'max_connections=200', 'shared_buffers=256MB'];
// Durability buys the tests nothing in a throwaway cluster and costs most of the write time. The
// benchmark keeps PostgreSQL's defaults: a commit per statement is what the row-at-a-time
// baseline pays on any real server, and these settings would hide it.
const NO_DURABILITY = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

export interface PostgresOptions {
  /** Keep PostgreSQL's default fsync, synchronous_commit and full_page_writes (a private cluster only). */
  durable?: boolean;
}

export interface PostgresServer {
  /** Superuser URL of the server's maintenance database. */
  adminUrl: string;
  /** True for a private cluster started here, false for a server named by TEST_DATABASE_URL. */
  owned: boolean;
  stop(): Promise<void>;
}

/** A private cluster that a test may crash and start again (never the shared one). */
export interface CrashablePostgresServer extends PostgresServer {
  /** `pg_ctl stop -m immediate`: every backend dies at once, as in a server crash. */
  crash(): Promise<void>;
  /** Starts it again on the same data directory and port (crash recovery runs first). */
  restart(): Promise<void>;
}

/**
 * A private cluster of its own, durable (fsync on), for a test that crashes its server: the shared
 * cluster serves every other test file at the same time and must never go down.
 */
export async function startCrashablePostgres(): Promise<CrashablePostgresServer> {
  const server = await startPrivateCluster(SERVER_SETTINGS);
  try {
    await ensureVector(server.adminUrl);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** The server named by TEST_DATABASE_URL, or a private throwaway cluster from the local binaries. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    await ensureVector(external);
    return { adminUrl: external, owned: false, stop: async () => {} };
  }
  const server = await startPrivateCluster(
    options.durable ? SERVER_SETTINGS : [...SERVER_SETTINGS, ...NO_DURABILITY],
  );
  try {
    await ensureVector(server.adminUrl);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** The highest installed major's bin directory (PG_BIN overrides, as in install-pgvector.sh). */
function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  let majors: string[] = [];
  try {
    majors = readdirSync(root).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    // No PostgreSQL at all: reported below.
  }
  const highest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!highest) {
    throw new PreflightError(
      `No PostgreSQL server binaries under ${root}/*/bin. Install them (apt-get install postgresql) ` +
        'or set TEST_DATABASE_URL to a PostgreSQL server with pgvector.',
    );
  }
  return join(root, highest, 'bin');
}

// initdb and postgres refuse to run as root, and sessions and CI run as root.
function asServerUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ['runuser', ['-u', SERVER_USER, '--', command, ...args]]
    : [command, args];
}

async function runAsServerUser(command: string, args: string[]): Promise<void> {
  const [file, fileArgs] = asServerUser(command, args);
  await execFileAsync(file, fileArgs);
}

async function startPrivateCluster(settings: readonly string[]): Promise<CrashablePostgresServer> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'bigmemory-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const pgCtl = join(bin, 'pg_ctl');
  let stopped = false;

  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    const [file, args] = asServerUser(pgCtl, ['stop', '-m', 'immediate', '-D', dataDir]);
    try {
      execFileSync(file, args, { stdio: 'ignore' });
    } catch {
      // Not running (a failed start): nothing to stop.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that exits without its teardown must not leave a cluster behind.
  process.once('exit', stopSync);

  try {
    if (process.getuid?.() === 0) await execFileAsync('chown', ['-R', `${SERVER_USER}:`, dir]);
    await runAsServerUser(join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    const port = await startOnFreePort(pgCtl, dataDir, dir, logFile, settings);
    const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    await waitUntilAccepting(adminUrl);
    return {
      adminUrl,
      owned: true,
      crash: () => runAsServerUser(pgCtl, ['stop', '-m', 'immediate', '-D', dataDir]),
      restart: async () => {
        await runAsServerUser(pgCtl, [
          'start',
          '-w',
          '-t',
          '60',
          '-D',
          dataDir,
          '-l',
          logFile,
          '-o',
          serverOptions(port, dir, settings),
        ]);
        await waitUntilAccepting(adminUrl);
      },
      stop: async () => {
        process.removeListener('exit', stopSync);
        if (stopped) return;
        stopped = true;
        await runAsServerUser(pgCtl, ['stop', '-m', 'immediate', '-D', dataDir]).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    const log = readLogTail(logFile);
    process.removeListener('exit', stopSync);
    stopSync();
    throw new PreflightError(`Could not start a private PostgreSQL cluster: ${(error as Error).message}`, {
      cause: error,
      context: { bin, log },
    });
  }
}

const serverOptions = (port: number, socketDir: string, settings: readonly string[]) =>
  [`-p ${port}`, `-k '${socketDir}'`, ...settings.map((s) => `-c ${s}`)].join(' ');

// The port is only known free when probed, so another process may take it first: try a few.
async function startOnFreePort(
  pgCtl: string,
  dataDir: string,
  socketDir: string,
  logFile: string,
  settings: readonly string[],
) {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await findFreePort();
    const options = serverOptions(port, socketDir, settings);
    try {
      await runAsServerUser(pgCtl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', options]);
      return port;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function waitUntilAccepting(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await withPgSession(url, ping);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function readLogTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

async function vectorAvailable(url: string): Promise<boolean> {
  const result = await withPgSession(url, (session) =>
    session.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"),
  );
  return (result.rowCount ?? 0) > 0;
}

/** pgvector on the server, built by scripts/install-pgvector.sh when it is missing. */
async function ensureVector(url: string): Promise<void> {
  if (await vectorAvailable(url)) return;
  // The extension's files are read at CREATE EXTENSION time, so a running server sees them at once.
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', [INSTALL_PGVECTOR], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code));
  });
  if (await vectorAvailable(url)) return;
  throw new PreflightError(
    'The pgvector extension ("vector") is not available on the test PostgreSQL server and ' +
      `scripts/install-pgvector.sh could not install it (exit code ${exitCode}). Install pgvector for ` +
      'the local PostgreSQL, or set TEST_DATABASE_URL to a server that has it.',
    { context: { exitCode } },
  );
}
