import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { copyBlockData, ScriptLineReader } from '../../functions/snapshot/script-reader.js';
import {
  runSnapshotDirectory,
  snapshotDirectoryName,
  snapshotObjectName,
} from '../../functions/snapshot/snapshot-manifest.js';
import {
  copyInLine,
  copyOutStatement,
  scriptEpilogue,
  scriptPrologue,
  truncateStatement,
} from '../../functions/snapshot/snapshot-sql.js';
import { defaultRunId } from '../../scripts/migrate-bigmemory.js';

const USERS = {
  schema: 'public',
  name: 'users',
  columns: [
    { name: 'id', type: 'text' },
    { name: 'passwordHash', type: 'text' },
  ],
};
const LEDGER = {
  schema: 'bigmemory_migration',
  name: 'memory_ledger',
  columns: [{ name: 'source_id', type: 'text' }],
};

function chunked(text: string, size: number): AsyncIterable<Buffer> {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

describe('Function: scriptPrologue', () => {
  it('stops psql on the first error, fixes the session settings and empties every table in one statement', () => {
    // Act
    const text = scriptPrologue({
      label: 'federated',
      databaseName: 'fm',
      serverVersion: '15.8',
      snapshotAt: '2025-03-01T10:15:00.000Z',
      ledger: 'included',
      tables: [USERS, LEDGER],
    });

    // Assess
    const lines = text.split('\n');
    expect(lines.indexOf('\\set ON_ERROR_STOP on')).toBeLessThan(lines.indexOf('BEGIN;'));
    expect(text).toContain("SET datestyle = 'ISO, YMD';");
    expect(text).toContain("SET timezone = 'UTC';");
    expect(text).toContain('CREATE TABLE IF NOT EXISTS bigmemory_migration.memory_ledger');
    expect(
      text.trimEnd().endsWith('TRUNCATE TABLE "public"."users", "bigmemory_migration"."memory_ledger";'),
    ).toBe(true);
  });

  it('drops the ledger schema when the snapshot was taken before the first run', () => {
    // Act
    const text = scriptPrologue({
      label: 'federated',
      databaseName: 'fm',
      serverVersion: '15.8',
      snapshotAt: '2025-03-01T10:15:00.000Z',
      ledger: 'absent',
      tables: [USERS],
    });

    // Assess
    expect(text).toContain('DROP SCHEMA IF EXISTS bigmemory_migration CASCADE;');
    expect(text).not.toContain('CREATE TABLE');
  });
});

describe('Function: copyInLine', () => {
  it('names the table and its columns quoted, in the form psql and the Restore handler both read', () => {
    // Assess
    expect(copyInLine(USERS)).toBe('COPY "public"."users" ("id", "passwordHash") FROM stdin;');
    expect(copyOutStatement(USERS)).toBe('COPY "public"."users" ("id", "passwordHash") TO STDOUT');
    expect(truncateStatement([{ schema: 'public', name: 'we"ird' }])).toBe(
      'TRUNCATE TABLE "public"."we""ird";',
    );
  });
});

describe('Function: scriptEpilogue', () => {
  it('resets each sequence before the commit', () => {
    // Act
    const text = scriptEpilogue([
      { name: 'public.memory_categories_id_seq', lastValue: '42', isCalled: true },
    ]);

    // Assess
    expect(text).toBe("SELECT pg_catalog.setval('public.memory_categories_id_seq', 42, true);\nCOMMIT;\n");
  });
});

describe('Function: snapshotObjectName', () => {
  it("names objects as the guide's rollback section globs them", () => {
    // Prepare
    const at = new Date('2025-03-01T10:15:07.123Z');

    // Assess
    expect(snapshotDirectoryName(at)).toBe('migration-20250301-101507');
    expect(snapshotObjectName('target', at)).toBe('federated_20250301-101507.sql.gz');
    expect(snapshotObjectName('source', at)).toBe('bigmemory_20250301-101507.sql.gz');
  });
});

describe('Function: runSnapshotDirectory', () => {
  it("names a run's snapshot after the run id and stamps its objects with the run's time", () => {
    // Prepare: a run id as the CLI makes it, and the snapshot taken seconds later
    const runId = defaultRunId('migration', new Date('2025-03-01T10:15:07.123Z'));

    // Act
    const { name, stampedAt } = runSnapshotDirectory(runId, new Date('2025-03-01T10:15:09.000Z'));

    // Assess
    expect(name).toBe(runId);
    expect(name.startsWith('migration-20250301-101507-')).toBe(true);
    expect(snapshotObjectName('target', stampedAt)).toBe('federated_20250301-101507.sql.gz');
  });

  it("puts the run's start before any other run id, as the guide's pattern expects", () => {
    // Act
    const { name, stampedAt } = runSnapshotDirectory('nightly-7', new Date('2025-03-01T10:15:07.000Z'));

    // Assess
    expect(name).toBe('migration-20250301-101507-nightly-7');
    expect(snapshotObjectName('source', stampedAt)).toBe('bigmemory_20250301-101507.sql.gz');
  });
});

describe('Class: ScriptLineReader', () => {
  it('returns every line whatever the chunk boundaries, the last one without a newline too', async () => {
    // Prepare
    const text = 'BEGIN;\nCOPY x FROM stdin;\na\tb\n\\.\nCOMMIT;';

    for (const size of [1, 2, 3, 7, 1000]) {
      // Act
      const reader = new ScriptLineReader(chunked(text, size));
      const lines: string[] = [];
      for (let line = await reader.next(); line !== null; line = await reader.next())
        lines.push(line.toString());

      // Assess
      expect(lines).toEqual(['BEGIN;', 'COPY x FROM stdin;', 'a\tb', '\\.', 'COMMIT;']);
    }
  });
});

describe('Function: copyBlockData', () => {
  it('hands over the rows of one block, newline-terminated, and stops after the end marker', async () => {
    // Prepare
    const reader = new ScriptLineReader(chunked('1\tx\\ny\n2\t\\N\n\\.\nCOMMIT;\n', 4));

    // Act
    const parts: Buffer[] = [];
    for await (const part of copyBlockData(reader)) parts.push(part);

    // Assess
    expect(Buffer.concat(parts).toString()).toBe('1\tx\\ny\n2\t\\N\n');
    expect((await reader.next())?.toString()).toBe('COMMIT;');
  });

  it('fails when the script ends inside a block', async () => {
    // Prepare
    const reader = new ScriptLineReader(chunked('1\tx\n2\ty\n', 5));

    // Act
    const drain = async () => {
      for await (const _ of copyBlockData(reader)) {
        // consume
      }
    };

    // Assess
    await expect(drain()).rejects.toThrow(/ends inside a COPY block/);
  });
});
