/**
 * When rejects are too many for a run to count as done: a share of the memories the run handled
 * (`maxRejectRatio`) and an absolute count (`maxRejects`), like DMS's error escalation and a Map's
 * tolerated failures. A run that migrated nothing of a source with live memories never succeeds,
 * whatever the thresholds say.
 */
import { RejectThresholdError } from '../errors.js';

export const DEFAULT_MAX_REJECT_RATIO = 0.01;

export interface RejectThresholds {
  /** 0–1 of the memories the run handled (migrated + rejected). */
  maxRejectRatio: number;
  /** Absent: no absolute limit. */
  maxRejects?: number | undefined;
}

export interface RejectTally {
  migrated: number;
  rejected: number;
  /** Live memories in the source at Preflight. */
  liveSourceMemories: number;
  /** Incremental runs handle only what changed, so an empty one with nothing to do is fine. */
  incremental: boolean;
  rejectsByReason: Record<string, number>;
  /** A dry run's figures are a prediction: its statement says "would be rejected". */
  dryRun?: boolean;
}

type ThresholdName = 'maxRejectRatio' | 'maxRejects' | 'nothingMigrated';

export interface ThresholdVerdict {
  ok: boolean;
  /** The first threshold passed, in the order ratio, count, nothing migrated. */
  exceeded: ThresholdName | null;
  migrated: number;
  rejected: number;
  /** rejected / (migrated + rejected); 0 when nothing was handled. */
  ratio: number;
  thresholds: { maxRejectRatio: number; maxRejects: number | null };
  topReasons: Array<{ reason: string; count: number }>;
  statement: string;
}

const TOP_REASONS = 3;

const percent = (ratio: number) => `${(Math.round(ratio * 10000) / 100).toLocaleString('en-US')}%`;
const count = (n: number) => n.toLocaleString('en-US');

export function judgeRejects(tally: RejectTally, thresholds: RejectThresholds): ThresholdVerdict {
  const { migrated, rejected } = tally;
  const handled = migrated + rejected;
  const ratio = handled > 0 ? rejected / handled : 0;
  const maxRejects = thresholds.maxRejects ?? null;
  const nothingMigrated =
    migrated === 0 && (rejected > 0 || (!tally.incremental && tally.liveSourceMemories > 0));
  const exceeded: ThresholdName | null =
    ratio > thresholds.maxRejectRatio
      ? 'maxRejectRatio'
      : maxRejects !== null && rejected > maxRejects
        ? 'maxRejects'
        : nothingMigrated
          ? 'nothingMigrated'
          : null;
  const topReasons = Object.entries(tally.rejectsByReason)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, TOP_REASONS)
    .map(([reason, n]) => ({ reason, count: n }));
  const reasons = topReasons.map((r) => `${r.reason} ${count(r.count)}`).join(', ');
  const verb = tally.dryRun ? 'would be rejected' : 'rejected';
  const of = `${count(rejected)} of ${count(handled)} memories ${verb} (${percent(ratio)})`;
  const statement =
    exceeded === 'maxRejectRatio'
      ? `${of}, over the maximum reject ratio of ${percent(thresholds.maxRejectRatio)}`
      : exceeded === 'maxRejects'
        ? `${of}, over the maximum of ${count(maxRejects ?? 0)} rejects`
        : exceeded === 'nothingMigrated'
          ? `no memory ${tally.dryRun ? 'would migrate' : 'migrated'} although the source has ${count(tally.liveSourceMemories)} live memories (${count(rejected)} ${verb})`
          : `${of}, within the thresholds (ratio ${percent(thresholds.maxRejectRatio)}${maxRejects === null ? '' : `, at most ${count(maxRejects)}`})`;
  return {
    ok: exceeded === null,
    exceeded,
    migrated,
    rejected,
    ratio,
    thresholds: { maxRejectRatio: thresholds.maxRejectRatio, maxRejects },
    topReasons,
    statement: reasons ? `${statement}; top reasons: ${reasons}` : statement,
  };
}

/** The error of a run whose rejects passed a threshold, saying which, the counts and the fix. */
export function rejectThresholdError(
  verdict: ThresholdVerdict,
  options: { dryRun: boolean },
): RejectThresholdError {
  const fix =
    verdict.exceeded === 'nothingMigrated'
      ? 'See the reasons in the report; nothing can succeed until they are fixed.'
      : 'Fix the reasons in the report, or raise --max-reject-ratio / --max-rejects ("maxRejectRatio" / "maxRejects") if these rejects are acceptable.';
  return new RejectThresholdError(
    `${options.dryRun ? 'The real run would fail: ' : ''}${verdict.statement}. ${fix}`,
    {
      context: { ...verdict },
    },
  );
}
