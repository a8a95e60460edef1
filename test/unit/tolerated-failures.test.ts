import { describe, expect, it } from 'vitest';
import { parseMigrationInput, toleratedFailuresOf } from '../../functions/core/run-options.js';

describe('Function: toleratedFailuresOf', () => {
  it('tolerates nothing unless the input says so', () => {
    expect(toleratedFailuresOf(parseMigrationInput({}), 500)).toEqual({
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
    });
  });

  it('lets the threshold the input leaves out never limit, since a Map Run fails past either', () => {
    expect(toleratedFailuresOf(parseMigrationInput({ toleratedFailurePercentage: 5 }), 500)).toEqual({
      toleratedFailurePercentage: 5,
      toleratedFailureCount: 500,
    });
    expect(toleratedFailuresOf(parseMigrationInput({ toleratedFailureCount: 2 }), 500)).toEqual({
      toleratedFailurePercentage: 100,
      toleratedFailureCount: 2,
    });
    expect(
      toleratedFailuresOf(
        parseMigrationInput({ toleratedFailurePercentage: 5, toleratedFailureCount: 2 }),
        500,
      ),
    ).toEqual({ toleratedFailurePercentage: 5, toleratedFailureCount: 2 });
  });

  it('refuses a percentage over 100 or a negative count, naming the field', () => {
    expect(() => parseMigrationInput({ toleratedFailurePercentage: 150 })).toThrow(
      /toleratedFailurePercentage/,
    );
    expect(() => parseMigrationInput({ toleratedFailureCount: -1 })).toThrow(/toleratedFailureCount/);
  });
});
