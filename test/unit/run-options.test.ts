import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseMigrationInput } from '../../functions/core/run-options.js';
import { InvalidInputError } from '../../functions/errors.js';
import { executionInput, migrationFlags } from '../../scripts/migrate-bigmemory.js';

const flags = (args: string[]) => parseArgs({ args, options: migrationFlags(), strict: true }).values;

describe('Function: parseMigrationInput (embeddings rate budget)', () => {
  it('takes the account limits as whole numbers and leaves them unset by default', () => {
    // Act
    const given = parseMigrationInput({ embeddingTpm: 10_000_000, embeddingRpm: 10_000 });
    const defaulted = parseMigrationInput({});

    // Assess: Preflight fills in the model's tier-1 limits when absent
    expect(given).toMatchObject({ embeddingTpm: 10_000_000, embeddingRpm: 10_000 });
    expect(defaulted.embeddingTpm).toBeUndefined();
    expect(defaulted.embeddingRpm).toBeUndefined();
  });

  it('refuses a limit that is not a positive whole number, naming the field', () => {
    // Act & Assess
    expect(() => parseMigrationInput({ embeddingTpm: 0 })).toThrow(InvalidInputError);
    expect(() => parseMigrationInput({ embeddingTpm: 0 })).toThrow(/embeddingTpm/);
    expect(() => parseMigrationInput({ embeddingRpm: 2.5 })).toThrow(/embeddingRpm/);
  });
});

describe('Function: executionInput (rate-limit flags)', () => {
  it('turns --embedding-tpm and --embedding-rpm into the execution input', () => {
    // Act
    const input = executionInput(flags(['--embedding-tpm', '5000000', '--embedding-rpm', '5000']));

    // Assess
    expect(input).toMatchObject({ embeddingTpm: 5_000_000, embeddingRpm: 5000 });
    expect(parseMigrationInput(input)).toMatchObject({ embeddingTpm: 5_000_000, embeddingRpm: 5000 });
  });

  it('refuses a flag value that is not a whole number, naming the flag', () => {
    // Act & Assess
    expect(() => executionInput(flags(['--embedding-tpm', '1M']))).toThrow(
      /--embedding-tpm takes a whole number/,
    );
    expect(() => executionInput(flags(['--embedding-rpm', '0']))).toThrow(/--embedding-rpm/);
  });
});

describe('Function: executionInput (Batch API flags)', () => {
  it('turns --embedding-api batch and --embedding-batch-queue into the execution input; sync by default', () => {
    // Act
    const input = executionInput(
      flags(['--embedding-api', 'batch', '--embedding-batch-queue', '4000000000']),
    );

    // Assess
    expect(parseMigrationInput(input)).toMatchObject({
      embeddingApi: 'batch',
      embeddingBatchQueueTokens: 4_000_000_000,
    });
    expect(parseMigrationInput({}).embeddingApi).toBe('sync');
  });

  it('refuses another API, naming the flag and the field', () => {
    // Act & Assess
    expect(() => executionInput(flags(['--embedding-api', 'async']))).toThrow(
      /--embedding-api takes sync or batch/,
    );
    expect(() => parseMigrationInput({ embeddingApi: 'async' })).toThrow(/embeddingApi/);
    expect(() => parseMigrationInput({ embeddingBatchPollSeconds: 0 })).toThrow(/embeddingBatchPollSeconds/);
  });
});
