import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HINT,
  ERROR_CONTRACT,
  hintFor,
  MIGRATION_ERROR_NAMES,
  RETRIED_ERROR_NAMES,
} from '../../functions/error-contract.js';
import * as errors from '../../functions/errors.js';

const errorClasses = Object.entries(errors).filter(
  (entry): entry is [string, typeof errors.MigrationError] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof errors.MigrationError,
);

describe('Error contract', () => {
  it('names every error class of the errors module, by the literal its instances carry', () => {
    // Act
    const thrown = errorClasses.map(([exported, ErrorClass]) => [exported, new ErrorClass('x').name]);

    // Assess
    expect(thrown.length).toBeGreaterThan(5);
    for (const [exported, name] of thrown) expect(name).toBe(exported);
    expect(thrown.map(([, name]) => name).sort()).toEqual([...MIGRATION_ERROR_NAMES].sort());
  });

  it('retries transient failures and never a bad input', () => {
    expect(RETRIED_ERROR_NAMES).toContain('TransientDatabaseError');
    expect(RETRIED_ERROR_NAMES).toContain('EmbeddingUnavailableError');
    expect(RETRIED_ERROR_NAMES).toContain('Lambda.TooManyRequestsException');
    expect(RETRIED_ERROR_NAMES).not.toContain('InvalidInputError');
    expect(RETRIED_ERROR_NAMES).not.toContain('PreflightError');
  });

  it('never tells a failure that will repeat that re-running is enough', () => {
    const deterministic = (Object.keys(ERROR_CONTRACT) as (keyof typeof ERROR_CONTRACT)[]).filter(
      (name) => !RETRIED_ERROR_NAMES.includes(name),
    );
    expect(deterministic).toContain('VerificationError');
    for (const name of deterministic) expect(hintFor(name), name).not.toMatch(/re-?running is safe/i);
    expect(hintFor('VerificationError')).toMatch(/fails again until their cause is fixed/);
  });

  it('gives each name its own hint and any other name the default', () => {
    expect(hintFor('InvalidInputError')).toBe(ERROR_CONTRACT.InvalidInputError.hint);
    expect(hintFor('InvalidInputError')).toMatch(/Correct the execution input/);
    expect(hintFor('States.Timeout')).toBe(DEFAULT_HINT);
    expect(hintFor('e')).toBe(DEFAULT_HINT);
  });
});
