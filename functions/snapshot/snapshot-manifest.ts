import { InvalidInputError } from '../errors.js';

/** Which database a snapshot holds; the label names its files as the guide's rollback section does. */
export type SnapshotDatabase = 'source' | 'target';

export const SNAPSHOT_LABELS: Record<SnapshotDatabase, string> = {
  source: 'bigmemory',
  target: 'federated',
};

export const SNAPSHOT_FORMAT = 'bigmemory-migration-snapshot/1';

export interface SnapshotColumn {
  name: string;
  /** `format_type()` of the column, compared on restore: a different schema is refused. */
  type: string;
}

export interface SnapshotTable {
  schema: string;
  name: string;
  columns: SnapshotColumn[];
  rows: number;
  /** Bytes of the table's COPY text before compression. */
  bytes: number;
}

export interface SnapshotSequence {
  /** Schema-qualified, as `pg_get_serial_sequence` names it. */
  name: string;
  lastValue: string;
  isCalled: boolean;
}

interface SnapshotObject {
  /** Relative to the snapshot directory, e.g. `federated_20250301-101500.sql.gz`. */
  key: string;
  bytes: number;
  sha256: string;
  uncompressedBytes: number;
}

/**
 * `manifest.json` of one database's snapshot. A manifest is written only after its object is
 * complete, so a manifest that exists describes a whole snapshot.
 */
export interface SnapshotManifest {
  format: typeof SNAPSHOT_FORMAT;
  database: SnapshotDatabase;
  label: string;
  databaseName: string;
  serverVersion: string;
  /** The transaction's start: every table shows the database as it was at this instant. */
  snapshotAt: string;
  finishedAt: string;
  runId: string | null;
  /** Tables in replay order: referenced tables before the tables referencing them. */
  tables: SnapshotTable[];
  sequences: SnapshotSequence[];
  /**
   * Target only: whether the migration's ledger schema existed. `absent` makes a replay drop it, so
   * a database restored to before the first run carries no ledger of runs it no longer holds.
   */
  ledger: 'included' | 'absent' | null;
  object: SnapshotObject;
}

/** The top-level `snapshot.json`: what one snapshot directory holds. */
export interface SnapshotIndex {
  format: typeof SNAPSHOT_FORMAT;
  directory: string;
  createdAt: string;
  runId: string | null;
  databases: Partial<
    Record<SnapshotDatabase, { manifest: string; object: string; rows: number; bytes: number }>
  >;
}

export const manifestKey = (database: SnapshotDatabase) => `${SNAPSHOT_LABELS[database]}/manifest.json`;
export const INDEX_KEY = 'snapshot.json';

/** `YYYYMMDD-HHMMSS` in UTC: the guide's `backups/migration-YYYYMMDD-HHMMSS/`. */
function snapshotStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

export const snapshotDirectoryName = (at: Date) => `migration-${snapshotStamp(at)}`;

const RUN_ID_STAMP = /^migration-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/;

/**
 * Where a run's logical snapshot goes, and the instant its objects are named after. A run id of
 * the CLI's default form (`migration-YYYYMMDD-HHMMSS-…`) is the directory itself, so the backup
 * carries the run's own name and time; any other id (`--run-id`, an execution name) gets the
 * run's start in front, which keeps the guide's `backups/migration-*` pattern finding it.
 */
export function runSnapshotDirectory(runId: string, runStartedAt: Date): { name: string; stampedAt: Date } {
  const m = RUN_ID_STAMP.exec(runId);
  if (!m) return { name: `${snapshotDirectoryName(runStartedAt)}-${runId}`, stampedAt: runStartedAt };
  const [, year, month, day, hour, minute, second] = m.map(Number) as number[];
  const stampedAt = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
  return { name: runId, stampedAt };
}

/** `federated_YYYYMMDD-HHMMSS.sql.gz`, matching the guide's `gunzip backups/migration-*\/federated_*.sql.gz`. */
export const snapshotObjectName = (database: SnapshotDatabase, at: Date) =>
  `${SNAPSHOT_LABELS[database]}_${snapshotStamp(at)}.sql.gz`;

export function parseSnapshotManifest(text: string, where: string): SnapshotManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`${where} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const m = parsed as Partial<SnapshotManifest>;
  if (m.format !== SNAPSHOT_FORMAT || !Array.isArray(m.tables) || !m.object?.sha256 || !m.database) {
    throw new InvalidInputError(`${where} is not a snapshot manifest of format ${SNAPSHOT_FORMAT}`, {
      context: { where, format: m.format ?? null },
    });
  }
  return m as SnapshotManifest;
}
