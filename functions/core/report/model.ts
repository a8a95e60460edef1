/**
 * The migration report as data (report.json): every number the Markdown and HTML renderings show,
 * folded from the step outputs. Pure and deterministic: batches are folded in index order, ties
 * are broken by name, and no clock is read, so the same input always gives the same report.
 */

import { hintFor } from '../../error-contract.js';
import type { EmbeddingApiModes } from '../embedding-api-modes.js';
import { DEFAULT_MODULE_IDS, inModuleOrder } from '../modules.js';
import type { ThresholdVerdict } from '../reject-thresholds.js';
import type { ModuleId } from '../types.js';
import { USER_DECISION_KINDS } from '../user-decisions.js';
import { type ClassificationSection, classificationSection } from './classification.js';
import { formatCount } from './formatting.js';
import { type NextStep, nextSteps } from './guidance.js';
import type {
  NotMigratedRangeInput,
  ReportBatchInput,
  ReportDecisionInput,
  ReportInput,
  ReportRelationshipInput,
  ReportRunInput,
} from './input.js';
import { maskCredentials, maskCredentialsDeep } from './redaction.js';
import { type MeasuredTimings, measureTimings, type ProjectedTimings, projectRealRun } from './timings.js';

export type { ReportInput } from './input.js';

const REPORT_VERSION = 1;
export const SAMPLES_PER_MODULE = 10;
/** Content is cut here: enough to recognise a memory, short enough for a table cell. */
const SNIPPET_LENGTH = 160;

/** A sampled decision as the report shows it: absent fields become null, repairs a list. */
export type SampleDecision = Omit<ReportDecisionInput, 'reason' | 'detail' | 'repairs' | 'snippet'> & {
  reason: string | null;
  detail: string | null;
  repairs: string[];
  snippet: string | null;
};

interface RelationshipPart {
  batches: number;
  read: number;
  migrated: number;
  skipped: number;
}

export interface MigrationReport {
  version: typeof REPORT_VERSION;
  run: Omit<ReportRunInput, 'error'>;
  source: ReportInput['source'] | null;
  plan: ReportInput['plan'] | null;
  totals: {
    batches: number;
    read: number;
    /** Memories an earlier run left as this run would have: skipped unread (absent in older reports). */
    unchanged?: number;
    migrated: number;
    rejected: number;
    repaired: number;
  };
  accounting: {
    /** `verification`: the ledger's view of the whole source; `batches`: this run's batches. */
    basis: 'verification' | 'batches';
    liveSourceMemories: number | null;
    migrated: number;
    rejected: number;
    /** Null when it cannot be judged (no source counts, or an incremental run's partial read). */
    holds: boolean | null;
    statement: string;
  };
  rejectThresholds: ThresholdVerdict | null;
  /** Database URLs are never in them: they come from SOURCE_DATABASE_URL / DATABASE_URL. */
  commands: { rerun: string; realRun: string } | null;
  modules: Array<{ module: ModuleId; count: number; percent: number }>;
  ruleHits: Array<{ rule: string; count: number; percent: number }>;
  samples: Array<{ module: ModuleId; decisions: SampleDecision[] }>;
  rejectSamples: Array<{ reason: string; decisions: SampleDecision[] }>;
  rejectsByReason: Array<{ reason: string; count: number }>;
  repairsByRule: Array<{ rule: string; count: number }>;
  load: { inserted: number; upserted: number; moved: number; withdrawn: number } | null;
  users: {
    total: number;
    created: number;
    mapped: number;
    unmapped: number;
    byDecision: Array<{ decision: string; count: number }>;
    conflicts: Array<{ sourceUserId: string; decision: string; detail: string }>;
    conflictCount: number;
  } | null;
  relationships: {
    read: number;
    migrated: number;
    skipped: number;
    holds: boolean;
    sourceRelations: number | null;
    skippedByReason: Array<{ reason: string; count: number }>;
    byType: Array<{ type: string; count: number }>;
    relations: RelationshipPart;
    projectLinks: RelationshipPart & { projectIdsWritten: number };
    withdrawn: number;
    displaced: number;
    /** Items that kept an earlier run's outcome, of all the step's items. */
    itemsKept: number;
    items: number;
    /** Relations and links resolved again this run (the others stood as an earlier run left them). */
    resolved: number;
  } | null;
  cmi: NonNullable<ReportInput['cmi']> | null;
  /** A tolerated partial run: the memory ranges that failed; their memories were not migrated. */
  notMigrated: { memories: number; ranges: NotMigratedRangeInput[] } | null;
  deletes: NonNullable<ReportInput['deletes']> | null;
  verification: {
    ok: boolean;
    checks: Array<{
      name: string;
      ok: boolean;
      skipped: boolean;
      expected: unknown;
      actual: unknown;
      detail: string | null;
      samples: string[];
    }>;
  } | null;
  classification?: ClassificationSection | null;
  search: NonNullable<ReportInput['search']> | null;
  embeddings: {
    mode: 'preserve' | 'regenerate';
    model: string | null;
    requests: number | null;
    tokens: number | null;
    retries: number | null;
    waitMs: number | null;
    estimatedTokens: number | null;
    estimatedRequests: number | null;
    estimatedCostUsd: number | null;
    limitTokensPerMinute: number | null;
    limitRequestsPerMinute: number | null;
    rateLimited: number | null;
    paceWaitMs: number | null;
    tokensPerMinute: number | null;
    api: 'sync' | 'batch' | null;
    apiModes: EmbeddingApiModes | null;
    batchInputs: number | null;
  } | null;
  timings: { measured: MeasuredTimings; projected: ProjectedTimings | null };
  error: { name: string; message: string; step: string | null; hint: string } | null;
  nextSteps: NextStep[];
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const percentOf = (count: number, total: number) => (total > 0 ? Math.round((count * 1000) / total) / 10 : 0);

function addCounts(into: Record<string, number>, from: Record<string, number | undefined>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + (n ?? 0);
}

/** Largest first, then by name, so equal counts do not reorder between runs. */
function ranked(counts: Record<string, number>): Array<[string, number]> {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || byName(a, b));
}

const sum = <T>(items: readonly T[], pick: (item: T) => number) =>
  items.reduce((n, item) => n + pick(item), 0);

function sampleOf(d: ReportDecisionInput): SampleDecision {
  const { reason, detail, repairs, snippet, ...decision } = d;
  const text = snippet ? snippet.replace(/\s+/g, ' ').trim() : null;
  return {
    ...decision,
    reason: reason ?? null,
    detail: detail ?? null,
    repairs: repairs ?? [],
    snippet: text && text.length > SNIPPET_LENGTH ? `${text.slice(0, SNIPPET_LENGTH - 1)}…` : text,
  };
}

function collectSamples(batches: readonly ReportBatchInput[], modules: readonly ModuleId[]) {
  const byModule = new Map<ModuleId, SampleDecision[]>(modules.map((m) => [m, []]));
  const byReason = new Map<string, SampleDecision[]>();
  const reasonBucket = (reason: string) => {
    const bucket = byReason.get(reason) ?? [];
    byReason.set(reason, bucket);
    return bucket;
  };
  for (const batch of batches) {
    for (const d of batch.samples) {
      const bucket =
        d.status === 'rejected'
          ? reasonBucket(d.reason ?? 'unknown')
          : d.module
            ? byModule.get(d.module)
            : undefined;
      if (bucket && bucket.length < SAMPLES_PER_MODULE) bucket.push(sampleOf(d));
    }
  }
  return {
    samples: modules.map((module) => ({ module, decisions: byModule.get(module) ?? [] })),
    rejectSamples: [...byReason.keys()]
      .sort(byName)
      .map((reason) => ({ reason, decisions: byReason.get(reason) ?? [] })),
  };
}

function relationshipSection(parts: readonly ReportRelationshipInput[], sourceRelations: number | null) {
  if (parts.length === 0) return null;
  const skippedByReason: Record<string, number> = {};
  const byType: Record<string, number> = {};
  const part = (kind: ReportRelationshipInput['kind']): RelationshipPart => {
    const of = parts.filter((p) => p.kind === kind);
    return {
      batches: of.length,
      read: sum(of, (p) => p.read),
      migrated: sum(of, (p) => p.migrated),
      skipped: sum(of, (p) => sum(Object.values(p.skippedByReason), (n) => n)),
    };
  };
  for (const p of parts) {
    addCounts(skippedByReason, p.skippedByReason);
    addCounts(byType, p.byType);
  }
  const relations = part('relations');
  const projectLinks = part('project-links');
  const read = relations.read + projectLinks.read;
  const migrated = relations.migrated + projectLinks.migrated;
  const skipped = relations.skipped + projectLinks.skipped;
  return {
    read,
    migrated,
    skipped,
    holds: read === migrated + skipped,
    sourceRelations,
    skippedByReason: ranked(skippedByReason).map(([reason, count]) => ({ reason, count })),
    byType: ranked(byType).map(([type, count]) => ({ type, count })),
    relations,
    projectLinks: { ...projectLinks, projectIdsWritten: sum(parts, (p) => p.projectIdsWritten ?? 0) },
    withdrawn: sum(parts, (p) => p.withdrawn ?? 0),
    displaced: sum(parts, (p) => p.displaced ?? 0),
    itemsKept: parts.filter((p) => p.kept).length,
    items: parts.length,
    resolved: sum(parts, (p) => (p.kept ? 0 : (p.resolved ?? p.read))),
  };
}

function accountingSection(
  input: ReportInput,
  migrated: number,
  rejected: number,
  unchanged = 0,
): MigrationReport['accounting'] {
  const counts = input.verification?.counts;
  if (counts) {
    const notMigrated = counts.notMigrated ?? 0;
    const holds =
      counts.unaccounted === 0 && counts.sourceMemories === counts.migrated + counts.rejected + notMigrated;
    const partial =
      notMigrated > 0 ? ` + ${formatCount(notMigrated)} not migrated (failed ranges, tolerated)` : '';
    return {
      basis: 'verification',
      liveSourceMemories: counts.sourceMemories,
      migrated: counts.migrated,
      rejected: counts.rejected,
      holds,
      statement: `${formatCount(counts.sourceMemories)} live source memories ${holds ? '=' : '≠'} ${formatCount(counts.migrated)} migrated + ${formatCount(counts.rejected)} rejected${partial} (ledger, verified)`,
    };
  }
  const live = input.source?.liveMemories ?? null;
  // A dry run writes nothing: its figures are what the real run would do.
  const [did, rejectedWord] = input.run.dryRun
    ? ['would migrate', 'would be rejected']
    : ['migrated', 'rejected'];
  const base = { basis: 'batches' as const, liveSourceMemories: live, migrated, rejected };
  if (live === null) {
    return {
      ...base,
      holds: null,
      statement: `${formatCount(migrated)} ${did} + ${formatCount(rejected)} ${rejectedWord} (no source count to compare with)`,
    };
  }
  if (input.run.options.incremental === true) {
    return {
      ...base,
      holds: null,
      statement: `${formatCount(migrated)} ${did} + ${formatCount(rejected)} ${rejectedWord} of changed memories; ${formatCount(live)} live source memories in all (incremental run: verification checks the whole identity)`,
    };
  }
  const holds = live === migrated + rejected + unchanged;
  const gap = holds ? '' : ` (${formatCount(live - migrated - rejected - unchanged)} unaccounted)`;
  const skipped = unchanged > 0 ? ` + ${formatCount(unchanged)} unchanged (skipped)` : '';
  return {
    ...base,
    holds,
    statement: `${formatCount(live)} live source memories ${holds ? '=' : '≠'} ${formatCount(migrated)} ${did} + ${formatCount(rejected)} ${rejectedWord}${skipped}${gap}`,
  };
}

function usersSection(users: NonNullable<ReportInput['users']>): NonNullable<MigrationReport['users']> {
  const known = new Set<string>(USER_DECISION_KINDS);
  const extra = Object.keys(users.byDecision)
    .filter((k) => !known.has(k))
    .sort(byName);
  return {
    total: users.total,
    created: users.created,
    mapped: users.mapped,
    unmapped: users.unmapped,
    byDecision: [...USER_DECISION_KINDS, ...extra].map((decision) => ({
      decision,
      count: users.byDecision[decision] ?? 0,
    })),
    conflicts: users.conflicts.map((c) => ({
      sourceUserId: c.sourceUserId,
      decision: c.decision,
      detail: c.detail,
    })),
    conflictCount: users.conflictCount ?? users.conflicts.length,
  };
}

function notMigratedSection(ranges: NotMigratedRangeInput[] | undefined): MigrationReport['notMigrated'] {
  if (!ranges || ranges.length === 0) return null;
  return { memories: sum(ranges, (r) => r.memories), ranges: [...ranges].sort((a, b) => a.index - b.index) };
}

function verificationSection(
  v: NonNullable<ReportInput['verification']>,
): NonNullable<MigrationReport['verification']> {
  return {
    ok: v.ok,
    checks: v.checks.map((c) => ({
      name: c.name,
      ok: c.ok,
      skipped: c.skipped === true,
      expected: c.expected === undefined ? null : maskCredentialsDeep(c.expected),
      actual: c.actual === undefined ? null : maskCredentialsDeep(c.actual),
      detail: c.detail === undefined ? null : maskCredentials(c.detail),
      samples: c.samples ?? [],
    })),
  };
}

function embeddingsSection(
  e: NonNullable<ReportInput['embeddings']>,
): NonNullable<MigrationReport['embeddings']> {
  return {
    mode: e.mode,
    model: e.model ?? null,
    requests: e.requests ?? null,
    tokens: e.tokens ?? null,
    retries: e.retries ?? null,
    waitMs: e.waitMs ?? null,
    estimatedTokens: e.estimatedTokens ?? null,
    estimatedRequests: e.estimatedRequests ?? null,
    estimatedCostUsd: e.estimatedCostUsd ?? null,
    limitTokensPerMinute: e.limitTokensPerMinute ?? null,
    limitRequestsPerMinute: e.limitRequestsPerMinute ?? null,
    rateLimited: e.rateLimited ?? null,
    paceWaitMs: e.paceWaitMs ?? null,
    tokensPerMinute: e.tokensPerMinute ?? null,
    api: e.api ?? null,
    apiModes: e.apiModes ?? null,
    batchInputs: e.batchInputs ?? null,
  };
}

export function buildMigrationReport(input: ReportInput): MigrationReport {
  const { run } = input;
  const batches = [...input.batches].sort((a, b) => a.index - b.index);
  const relationshipParts = [...input.relationships].sort(
    (a, b) => byName(a.kind, b.kind) || a.index - b.index,
  );

  const byModule: Record<string, number> = {};
  const byRule: Record<string, number> = {};
  const rejectsByReason: Record<string, number> = {};
  const repairsByRule: Record<string, number> = {};
  for (const b of batches) {
    addCounts(byModule, b.byModule);
    addCounts(byRule, b.byRule);
    addCounts(rejectsByReason, b.rejectsByReason);
    addCounts(repairsByRule, b.repairsByRule);
  }
  const totals = {
    batches: batches.length,
    read: sum(batches, (b) => b.read),
    unchanged: sum(batches, (b) => b.unchanged ?? 0),
    migrated: sum(batches, (b) => b.migrated),
    rejected: sum(batches, (b) => b.rejected),
    repaired: sum(Object.values(repairsByRule), (n) => n),
  };
  const ruleTotal = sum(Object.values(byRule), (n) => n);
  const modules = inModuleOrder(
    new Set([...(input.modules ?? DEFAULT_MODULE_IDS), ...Object.keys(byModule)]),
  );
  const loads = batches.flatMap((b) => (b.load ? [b.load] : []));
  const users = input.users ? usersSection(input.users) : null;
  const verification = input.verification ? verificationSection(input.verification) : null;
  const options = maskCredentialsDeep(run.options) as Record<string, unknown>;
  const error = run.error
    ? {
        name: run.error.name,
        message: maskCredentials(run.error.message),
        step: run.error.step ?? null,
        hint: hintFor(run.error.name),
      }
    : null;
  const failed = run.status === 'failed';
  const commands = input.commands
    ? { rerun: maskCredentials(input.commands.rerun), realRun: maskCredentials(input.commands.realRun) }
    : null;
  const embeddings = input.embeddings ? embeddingsSection(input.embeddings) : null;
  const classification =
    batches.length > 0 ? classificationSection(batches, modules, byModule, input.prediction ?? null) : null;

  return {
    version: REPORT_VERSION,
    run: {
      runId: run.runId,
      dryRun: run.dryRun,
      status: run.status,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      options,
    },
    source: input.source ?? null,
    plan: input.plan ?? null,
    totals,
    accounting: accountingSection(input, totals.migrated, totals.rejected, totals.unchanged),
    rejectThresholds: input.rejectThresholds ?? null,
    commands,
    modules: modules.map((module) => ({
      module,
      count: byModule[module] ?? 0,
      percent: percentOf(byModule[module] ?? 0, totals.migrated),
    })),
    ruleHits: ranked(byRule).map(([rule, count]) => ({ rule, count, percent: percentOf(count, ruleTotal) })),
    classification,
    ...collectSamples(batches, modules),
    rejectsByReason: ranked(rejectsByReason).map(([reason, count]) => ({ reason, count })),
    repairsByRule: ranked(repairsByRule).map(([rule, count]) => ({ rule, count })),
    load:
      loads.length === 0
        ? null
        : {
            inserted: sum(loads, (l) => l.inserted),
            upserted: sum(loads, (l) => l.upserted),
            moved: sum(loads, (l) => l.moved),
            withdrawn: sum(loads, (l) => l.withdrawn),
          },
    users,
    relationships: relationshipSection(relationshipParts, input.source?.relations ?? null),
    cmi: input.cmi ?? null,
    notMigrated: notMigratedSection(input.verification?.notMigratedRanges),
    deletes: input.deletes ?? null,
    verification,
    search: input.search ?? null,
    embeddings,
    timings: {
      measured: measureTimings(batches, run, input.cmi?.durationMs ?? null),
      projected: run.dryRun
        ? projectRealRun(batches, {
            memories: input.source?.liveMemories ?? totals.read,
            concurrency: input.concurrency ?? 1,
            regenerateEmbeddings: embeddings?.mode === 'regenerate',
            // The real run snapshots unless this run's input said none.
            snapshot: input.realRunSnapshots ?? true,
          })
        : null,
    },
    error,
    nextSteps: nextSteps({
      classificationWarning: classification?.warning ?? null,
      dryRun: run.dryRun,
      failed,
      hint: error?.hint ?? null,
      options,
      rejected: totals.rejected,
      commands,
      unmappedUsers: users?.unmapped ?? 0,
      conflicts: users?.conflictCount ?? 0,
      verification: verification
        ? {
            ok: verification.ok,
            failedChecks: verification.checks.filter((c) => !c.ok && !c.skipped).map((c) => c.name),
          }
        : null,
    }),
  };
}
