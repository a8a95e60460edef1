import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandOutput,
  type RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { MigrationError } from '../../errors.js';
import type { KeyedRead } from '../keyed-read.js';
import type { PgBinaryType } from '../pg-binary.js';
import type { Database, DatabaseSession, Tuple } from '../port.js';
import { copyRowsInDataApi, dataApiTuples } from './data-api-copy.js';
import { fromField, toSqlParameter } from './data-api-values.js';
import { keyedTuplesThroughDataApi } from './data-api-wide-rows.js';
import { namedPlaceholders, splitStatements } from './sql-text.js';

/** Which cluster, secret and database the calls address. */
export interface DataApiTarget {
  resourceArn: string;
  secretArn: string;
  database?: string;
}

export interface DataApiResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number | null;
  /** Column metadata of a statement that returned rows. */
  columns: NonNullable<ExecuteStatementCommandOutput['columnMetadata']>;
  records: NonNullable<ExecuteStatementCommandOutput['records']>;
}

/** An error of the service with PostgreSQL's SQLSTATE lifted into `code`, as pg reports it. */
function withSqlState(error: unknown): unknown {
  if (error instanceof Error) {
    const state = /SQLState: ([0-9A-Z]{5})/.exec(error.message)?.[1];
    if (state) Object.assign(error, { code: state });
  }
  return error;
}

async function drain(tuples: AsyncIterable<Tuple>, onTuple: (fields: Tuple) => void): Promise<number> {
  let count = 0;
  for await (const tuple of tuples) {
    onTuple(tuple);
    count++;
  }
  return count;
}

// Preflight refuses logical snapshots and restores over the Data API; reaching here is a bug.
function textCopyUnsupported(): MigrationError {
  return new MigrationError('the RDS Data API has no COPY: logical snapshots need pg connections');
}

const BEGIN = /^(BEGIN|START\s+TRANSACTION)\b\s*(?:TRANSACTION\b|WORK\b)?\s*(.*)$/is;
const COMMIT = /^(COMMIT|END)\b/i;
const ROLLBACK = /^(ROLLBACK|ABORT)\b/i;

/**
 * The Data API adapter's session: the engine's SQL runs unchanged. The service has no sessions; a transaction (BeginTransaction)
 * pins one server connection, so transaction control statements become its transaction calls and
 * every statement inside rides on the transaction id. Outside a transaction each statement commits
 * on its own, as with pg.
 */
export class DataApiSession implements DatabaseSession {
  transactionId: string | undefined;

  constructor(
    readonly client: RDSDataClient,
    readonly target: DataApiTarget,
  ) {}

  /** Runs each statement of `text` in turn; the result is the last one's, as pg's for one statement. */
  async query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<DataApiResult<R>> {
    const statements = splitStatements(text);
    let result: DataApiResult<R> = { rows: [], rowCount: null, columns: [], records: [] };
    for (const statement of statements) {
      result = await this.statement<R>(statement, statements.length === 1 ? values : undefined);
    }
    return result;
  }

  private async statement<R>(sql: string, values?: readonly unknown[]): Promise<DataApiResult<R>> {
    const empty: DataApiResult<R> = { rows: [], rowCount: null, columns: [], records: [] };
    const begin = BEGIN.exec(sql);
    if (begin) {
      if (this.transactionId) return empty; // PostgreSQL only warns
      const out = await this.client.send(new BeginTransactionCommand({ ...this.target }));
      this.transactionId = out.transactionId;
      const modes = begin[2]?.trim();
      // BEGIN's modes (isolation level, READ ONLY) apply through SET TRANSACTION as its first statement.
      if (modes) await this.statement(`SET TRANSACTION ${modes}`);
      return empty;
    }
    if (COMMIT.test(sql) || ROLLBACK.test(sql)) {
      const transactionId = this.transactionId;
      if (!transactionId) return empty;
      this.transactionId = undefined;
      const Command = COMMIT.test(sql) ? CommitTransactionCommand : RollbackTransactionCommand;
      try {
        await this.client.send(
          new Command({
            resourceArn: this.target.resourceArn,
            secretArn: this.target.secretArn,
            transactionId,
          }),
        );
      } catch (error) {
        throw withSqlState(error);
      }
      return empty;
    }
    let out: ExecuteStatementCommandOutput;
    try {
      out = await this.client.send(
        new ExecuteStatementCommand({
          ...this.target,
          sql: namedPlaceholders(sql),
          parameters: values?.map((value, i) => toSqlParameter(i + 1, value)),
          transactionId: this.transactionId,
          includeResultMetadata: true,
        }),
      );
    } catch (error) {
      throw withSqlState(error);
    }
    const columns = out.columnMetadata ?? [];
    const records = out.records ?? [];
    const rows = records.map((record) => {
      const row: Record<string, unknown> = {};
      record.forEach((field, i) => {
        const column = columns[i];
        row[column?.label ?? column?.name ?? `?column?${i}`] = fromField(field, column);
      });
      return row as R;
    });
    return {
      rows,
      rowCount: out.records ? records.length : (out.numberOfRecordsUpdated ?? 0),
      columns,
      records,
    };
  }

  copyRowsIn(
    into: string,
    types: readonly PgBinaryType[],
    rows: Iterable<readonly unknown[]>,
  ): Promise<void> {
    return copyRowsInDataApi(this, into, types, rows);
  }

  async copyQueryOut(query: string, onTuple: (fields: Tuple) => void): Promise<number> {
    return drain(dataApiTuples(this, query), onTuple);
  }

  streamTuples(query: string): AsyncGenerator<Tuple> {
    return dataApiTuples(this, query);
  }

  /** Cursor pages, with wide rows read in pieces (the service caps a row at 64 KB). */
  readKeyed(read: KeyedRead, onTuple: (fields: Tuple) => void): Promise<number> {
    return drain(keyedTuplesThroughDataApi(this, read), onTuple);
  }

  copyIn(): Promise<void> {
    return Promise.reject(textCopyUnsupported());
  }

  copyTextOut(): AsyncIterable<Buffer> {
    throw textCopyUnsupported();
  }

  /**
   * pg returns a connection to its pool; here a transaction left open (a caller that failed before
   * its ROLLBACK) is rolled back, since nothing else would end it before the service's timeout.
   */
  release(_error?: Error | boolean): void {
    const transactionId = this.transactionId;
    this.transactionId = undefined;
    if (transactionId) {
      this.client
        .send(
          new RollbackTransactionCommand({
            resourceArn: this.target.resourceArn,
            secretArn: this.target.secretArn,
            transactionId,
          }),
        )
        .catch(() => undefined);
    }
  }
}

/** The Data API adapter's database: every `connect()` is a new session; the HTTP client is shared. */
export class DataApiPool implements Database {
  constructor(
    readonly client: RDSDataClient,
    readonly target: DataApiTarget,
  ) {}

  async connect(): Promise<DataApiSession> {
    return new DataApiSession(this.client, this.target);
  }

  async query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<DataApiResult<R>> {
    return new DataApiSession(this.client, this.target).query<R>(text, values);
  }

  async end(): Promise<void> {}
}
