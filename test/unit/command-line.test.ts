import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { migrateCommandLine } from '../../functions/core/report/command-line.js';
import { parseMigrationInput } from '../../functions/core/run-options.js';
import { executionInput, migrationFlags } from '../../scripts/migrate-bigmemory.js';

/** Flags that are not part of what a run does, so a rerun command need not carry them. */
const NOT_RUN_OPTIONS: Record<string, string> = {
  'source-db': 'a URL with a password: the command relies on SOURCE_DATABASE_URL',
  'target-db': 'a URL with a password: the command relies on DATABASE_URL',
  'reports-dir': 'where reports go, not what the run does',
  bucket: 'where reports go, not what the run does',
  'run-id': 'a rerun is a new run',
  verbose: 'log output only',
  help: 'prints the usage',
  'create-users': 'the default, kept for symmetry with --no-create-users',
  'check-rejects-first': 'runs a dry run before this one; not an option of the run itself',
  'break-lock': "takes a dead run's lock over: a rerun must ask for that itself",
};

/** Splits a command the way a POSIX shell does for the quoting shellQuote produces. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  const pattern = /'((?:[^']|'\\'')*)'|(\S+)/g;
  let current = '';
  let last = 0;
  for (const match of command.matchAll(pattern)) {
    const gap = command.slice(last, match.index);
    if (/\s/.test(gap) && current !== '') {
      words.push(current);
      current = '';
    }
    current += match[1] !== undefined ? match[1].replace(/'\\''/g, "'") : (match[2] as string);
    last = (match.index ?? 0) + match[0].length;
  }
  if (current !== '') words.push(current);
  return words;
}

function parse(args: string[]) {
  return parseArgs({ args, options: migrationFlags(), strict: true }).values;
}

/** The flags of a report's rerun command, parsed back the way migrate:bigmemory parses them. */
function roundTrip(args: string[]) {
  const flags = parse(args);
  const input = executionInput(flags);
  const command = migrateCommandLine(parseMigrationInput(input), {
    concurrency: flags.concurrency === undefined ? undefined : Number(flags.concurrency),
  });
  const words = shellWords(command);
  expect(words.slice(0, 4)).toEqual(['npm', 'run', 'migrate:bigmemory', '--']);
  const again = parse(words.slice(4));
  return { input, again: executionInput(again), flags, againFlags: again, command };
}

const EVERY_FLAG = [
  '--batch-size',
  '250',
  '--preserve-embeddings',
  '--embedding-model',
  'text-embedding-3-large',
  '--embedding-dimensions',
  '1536',
  '--embedding-price',
  '0.13',
  '--snapshot',
  'both',
  '--dry-run',
  '--user-map',
  "maps/Bob's user map.json",
  '--no-create-users',
  '--rules',
  's3://bucket/rules.json',
  '--incremental',
  '--merge-on-email',
  '--placeholder-email-domain',
  'example.org',
  '--max-reject-ratio',
  '0.05',
  '--max-rejects',
  '7',
  '--concurrency',
  '3',
  '--verify-slice-size',
  '5000',
  '--classifier',
  'llm',
  '--llm-model',
  'gpt-4o-mini',
  '--embedding-tpm',
  '500000',
  '--embedding-rpm',
  '2000',
  '--embedding-api',
  'batch',
  '--embedding-batch-queue',
  '4000000000',
  '--keep-deleted',
  '--force-reprocess',
  '--verify',
  'full',
  '--verify-sample',
  '250',
  '--search-users',
  '50',
  '--search-queries-per-user',
  '2',
  '--min-recall',
  '0.9',
];

describe('Function: migrateCommandLine', () => {
  it('covers every flag of migrate:bigmemory that shapes a run', () => {
    const given = new Set([...EVERY_FLAG, '--embed-missing-only'].filter((a) => a.startsWith('--')));
    for (const flag of Object.keys(migrationFlags())) {
      expect(given.has(`--${flag}`) || flag in NOT_RUN_OPTIONS, `--${flag}`).toBe(true);
    }
  });

  it('gives a command that parses back to the same execution input and concurrency', () => {
    const { input, again, flags, againFlags, command } = roundTrip(EVERY_FLAG);

    expect(again).toEqual(input);
    expect(againFlags.concurrency).toBe(flags.concurrency);
    expect(command).toContain("'");
    expect(command).not.toMatch(/postgres/);
  });

  it('round-trips --embed-missing-only, the defaults, and the guide batch size', () => {
    for (const args of [['--embed-missing-only', '--batch-size', '100'], [], ['--batch-size', '500']]) {
      const { input, again } = roundTrip(args);
      expect(again).toEqual(input);
    }
    expect(roundTrip([]).command).toBe('npm run migrate:bigmemory -- --batch-size 100');
  });
});
