import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Database, DatabaseSession } from '../db/port.js';
import { classifyDatabaseFailure, MigrationError } from '../errors.js';
import { countLines, ObjectMeter } from './object-meter.js';
import {
  manifestKey,
  SNAPSHOT_FORMAT,
  SNAPSHOT_LABELS,
  type SnapshotDatabase,
  type SnapshotManifest,
  type SnapshotSequence,
  type SnapshotTable,
} from './snapshot-manifest.js';
import { copyInLine, copyOutStatement, END_OF_DATA, scriptEpilogue, scriptPrologue } from './snapshot-sql.js';
import type { SnapshotStore } from './snapshot-store.js';
import { type PlannedTable, planSnapshotTables } from './snapshot-tables.js';

export const DEFAULT_GZIP_LEVEL = 1;

export interface DatabaseSnapshotOptions {
  pool: Database;
  database: SnapshotDatabase;
  store: SnapshotStore;
  /** The object's name inside the snapshot directory. */
  objectKey: string;
  runId?: string | null;
  /**
   * zlib level, default 1: embeddings as float text barely compress further (level 6 is ~10%
   * smaller and ~4x slower, measured by bench:snapshot), and the Snapshot step runs in a Lambda.
   */
  gzipLevel?: number;
  /** Called as rows stream out, with how many just did (for progress). */
  onRows?: (rows: number) => void;
}

/**
 * Streams one database into one gzipped SQL object: `COPY … TO STDOUT` per table → gzip → sha256 →
 * the store (S3 multipart or a file), inside one REPEATABLE READ, READ ONLY transaction so every
 * table shows the same instant. Memory stays flat: at most a few COPY chunks and the upload's parts.
 * The manifest is written last, once the object is complete.
 */
export async function snapshotDatabase(options: DatabaseSnapshotOptions): Promise<SnapshotManifest> {
  const { database, store, objectKey } = options;
  const client = await options.pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The text is read back under these settings (see SESSION_SETTINGS): ISO dates, UTC, exact floats.
    await client.query(
      "SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL intervalstyle = postgres; SET LOCAL timezone = 'UTC'; SET LOCAL extra_float_digits = 3; SET LOCAL client_encoding = 'UTF8'",
    );
    const { rows: facts } = await client.query<{ at: Date; version: string; name: string }>(
      `SELECT transaction_timestamp() AS at, current_setting('server_version') AS version, current_database() AS name`,
    );
    const { at, version, name } = facts[0]!;
    const plan = await planSnapshotTables(client, database);
    const head = {
      label: SNAPSHOT_LABELS[database],
      databaseName: name,
      serverVersion: version,
      snapshotAt: at.toISOString(),
      ledger: plan.ledger,
    };

    const tables: SnapshotTable[] = [];
    const sequences: SnapshotSequence[] = [];
    const meter = new ObjectMeter();
    let uncompressedBytes = 0;
    async function* script(): AsyncGenerator<Buffer> {
      const emit = (text: string) => {
        const bytes = Buffer.from(text, 'utf8');
        uncompressedBytes += bytes.length;
        return bytes;
      };
      yield emit(scriptPrologue({ ...head, tables: plan.tables }));
      for (const table of plan.tables) {
        yield emit(`${copyInLine(table)}\n`);
        const counted = await streamTable(client, table, (chunk, lines) => {
          uncompressedBytes += chunk.length;
          options.onRows?.(lines);
        });
        for await (const chunk of counted.chunks) yield chunk;
        tables.push({ ...describe(table), rows: counted.rows(), bytes: counted.bytes() });
        yield emit(`${END_OF_DATA}\n`);
      }
      for (const seq of plan.sequences) {
        const { rows } = await client.query<{ last_value: string; is_called: boolean }>(
          `SELECT last_value::text, is_called FROM ${seq}`,
        );
        sequences.push({ name: seq, lastValue: rows[0]!.last_value, isCalled: rows[0]!.is_called });
      }
      yield emit(scriptEpilogue(sequences));
    }

    const upload = store.upload(objectKey, 'application/gzip');
    try {
      await Promise.all([
        pipeline(
          Readable.from(script()),
          createGzip({ level: options.gzipLevel ?? DEFAULT_GZIP_LEVEL }),
          meter,
          upload.stream,
        ),
        upload.done,
      ]);
    } catch (error) {
      broken = true;
      await upload.abort();
      throw error;
    }
    await client.query('COMMIT');

    const manifest: SnapshotManifest = {
      format: SNAPSHOT_FORMAT,
      database,
      ...head,
      finishedAt: new Date().toISOString(),
      runId: options.runId ?? null,
      tables,
      sequences,
      object: { key: objectKey, bytes: meter.bytes, sha256: meter.sha256, uncompressedBytes },
    };
    await store.putText(manifestKey(database), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (error instanceof MigrationError) throw error;
    throw classifyDatabaseFailure(error, { step: 'snapshot', database, object: store.locate(objectKey) });
  } finally {
    // A COPY cut off half-way leaves the connection mid-protocol: drop it rather than reuse it.
    client.release(broken ? true : undefined);
  }
}

function describe(table: PlannedTable): Omit<SnapshotTable, 'rows' | 'bytes'> {
  return { schema: table.schema, name: table.name, columns: table.columns };
}

function streamTable(
  client: DatabaseSession,
  table: PlannedTable,
  onChunk: (chunk: Buffer, lines: number) => void,
): { chunks: AsyncIterable<Buffer>; rows(): number; bytes(): number } {
  let rows = 0;
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const chunk of client.copyTextOut(copyOutStatement(table))) {
      const lines = countLines(chunk);
      rows += lines;
      bytes += chunk.length;
      onChunk(chunk, lines);
      yield chunk;
    }
  }
  return { chunks: chunks(), rows: () => rows, bytes: () => bytes };
}
