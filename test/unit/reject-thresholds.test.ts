import { describe, expect, it } from 'vitest';
import { judgeRejects, rejectThresholdError } from '../../functions/core/reject-thresholds.js';
import { parseMigrationInput } from '../../functions/core/run-options.js';

const tally = (
  migrated: number,
  rejected: number,
  extra: Partial<Parameters<typeof judgeRejects>[0]> = {},
) => ({
  migrated,
  rejected,
  liveSourceMemories: migrated + rejected,
  incremental: false,
  rejectsByReason: { empty_content: rejected },
  ...extra,
});

describe('Function: judgeRejects', () => {
  it('passes 0.5% rejects at the default ratio and fails 1.5%', () => {
    const { maxRejectRatio } = parseMigrationInput({});

    expect(judgeRejects(tally(995, 5), { maxRejectRatio }).ok).toBe(true);
    expect(judgeRejects(tally(985, 15), { maxRejectRatio })).toMatchObject({
      ok: false,
      exceeded: 'maxRejectRatio',
    });
  });

  it('fails past maxRejects even when the ratio is within its limit', () => {
    const verdict = judgeRejects(tally(9_990, 10), { maxRejectRatio: 0.01, maxRejects: 9 });

    expect(verdict).toMatchObject({ ok: false, exceeded: 'maxRejects' });
    expect(judgeRejects(tally(9_990, 9), { maxRejectRatio: 0.01, maxRejects: 9 }).ok).toBe(true);
  });

  it('never passes a run that migrated nothing of a live source', () => {
    expect(judgeRejects(tally(0, 3), { maxRejectRatio: 1 }).exceeded).toBe('nothingMigrated');
    expect(judgeRejects(tally(0, 0, { liveSourceMemories: 40 }), { maxRejectRatio: 1 }).exceeded).toBe(
      'nothingMigrated',
    );
    // An incremental run with nothing changed has nothing to do.
    expect(
      judgeRejects(tally(0, 0, { liveSourceMemories: 40, incremental: true }), { maxRejectRatio: 0.01 }).ok,
    ).toBe(true);
  });

  it('names the threshold, the counts and the top reasons in the error', () => {
    const verdict = judgeRejects(
      tally(10, 90, { rejectsByReason: { unmapped_user: 70, empty_content: 15, non_finite_embedding: 5 } }),
      { maxRejectRatio: 0.05 },
    );

    const error = rejectThresholdError(verdict, { dryRun: false });

    expect(error.name).toBe('RejectThresholdError');
    expect(error.message).toContain('90 of 100 memories rejected (90%), over the maximum reject ratio of 5%');
    expect(error.message).toContain('unmapped_user 70, empty_content 15, non_finite_embedding 5');
    expect(error.message).toContain('--max-reject-ratio');
  });

  it('refuses thresholds outside their range in the execution input', () => {
    expect(() => parseMigrationInput({ maxRejectRatio: 1.5 })).toThrow(/maxRejectRatio/);
    expect(() => parseMigrationInput({ maxRejects: -1 })).toThrow(/maxRejects/);
    expect(parseMigrationInput({ maxRejects: 0 }).maxRejects).toBe(0);
  });
});
