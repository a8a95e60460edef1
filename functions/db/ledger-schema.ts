/**
 * The project's own bookkeeping, in a schema of the target database (docs/design.md, "Ledger and lock": the target's public
 * tables are never created or altered). Created on the first real run; dry runs never call this.
 */
export const LEDGER_SCHEMA = 'bigmemory_migration';

export const LEDGER_DDL = `
CREATE SCHEMA IF NOT EXISTS ${LEDGER_SCHEMA};

CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.runs (
  run_id text PRIMARY KEY,
  status text NOT NULL,
  options jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- Highest source updated_at the run planned over: the next incremental run starts after it.
  watermark timestamptz,
  summary jsonb
);

-- 'abandoned': the run was killed and a later run found it still marked running.
ALTER TABLE ${LEDGER_SCHEMA}.runs DROP CONSTRAINT IF EXISTS runs_status_check;
ALTER TABLE ${LEDGER_SCHEMA}.runs ADD CONSTRAINT runs_status_check
  CHECK (status IN ('running', 'succeeded', 'failed', 'rolled_back', 'abandoned'));

-- One row at most: the run that may write. A second execution stops with a clear message. The
-- holder names the execution (two executions may share a run id); the heartbeat tells a live
-- holder from a dead one.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.lock (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  run_id text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ${LEDGER_SCHEMA}.lock ADD COLUMN IF NOT EXISTS holder text;
ALTER TABLE ${LEDGER_SCHEMA}.lock ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz NOT NULL DEFAULT now();

-- Per source memory: where it went (or why not). Keyed by source id so reruns update in place.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.memory_ledger (
  source_id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('migrated', 'rejected')),
  module text,
  target_id text,
  target_user_id text,
  content_hash text,
  source_updated_at timestamptz,
  rule text,
  reason text,
  detail text,
  run_id text NOT NULL,
  first_run_id text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS memory_ledger_run_idx ON ${LEDGER_SCHEMA}.memory_ledger (run_id);
-- What the memory's migrated form depends on (docs/design.md, "Skipping what is done"): a later run
-- that computes the same leaves the memory alone. NULL (rows of older runs): processed again.
ALTER TABLE ${LEDGER_SCHEMA}.memory_ledger ADD COLUMN IF NOT EXISTS fingerprint text;

-- Per source user: the decision taken and the target user it maps to (NULL when unmapped).
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.user_map (
  source_user_id text PRIMARY KEY,
  target_user_id text,
  decision text NOT NULL,
  detail text,
  -- The run that created the target user, if one did: rollback removes only users it created.
  created_by_run text,
  run_id text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per source relation (and per project-task link): migrated, or skipped with a reason.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.relationship_ledger (
  source_key text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('migrated', 'skipped')),
  reason text,
  target_id text,
  run_id text NOT NULL,
  first_run_id text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The resolved relationship's fingerprint: a later run that resolves it alike leaves it alone.
ALTER TABLE ${LEDGER_SCHEMA}.relationship_ledger ADD COLUMN IF NOT EXISTS fingerprint text;

-- Per relationship item (a Map item of the relationships step): its outcome, and the basis it was
-- computed under (relationship-basis.ts), which a later run compares before redoing the item.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.relationship_items (
  kind text NOT NULL,
  item integer NOT NULL,
  from_key text,
  to_key text,
  basis text NOT NULL,
  summary jsonb NOT NULL,
  run_id text NOT NULL,
  PRIMARY KEY (kind, item)
);
-- A project-link item's inputs (core/project-links.ts), which a later run checks its changes against.
ALTER TABLE ${LEDGER_SCHEMA}.relationship_items ADD COLUMN IF NOT EXISTS link_inputs jsonb;
ALTER TABLE ${LEDGER_SCHEMA}.runs ADD COLUMN IF NOT EXISTS relationships_basis text;

-- Memory-ledger rows a run removed (the memory gone from the source). With the rows later runs
-- wrote (memory_ledger.run_id), what a relationship item recorded earlier asks about its relations'
-- ends (db/ledger-changes.ts): a removal leaves no ledger row for the run's id to mark.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.memory_removals (
  source_id text NOT NULL,
  run_id text NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_removals_run_idx ON ${LEDGER_SCHEMA}.memory_removals (run_id);

-- Per key range of memories a real run left settled: the digest of its source rows and processing
-- version, and what the ledger held for it (db/memory-ranges.ts), so a rerun's batch over the same
-- keys needs one query to find nothing changed.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.memory_ranges (
  range_key text PRIMARY KEY,
  digest text NOT NULL,
  user_map text NOT NULL,
  live integer NOT NULL,
  rejects jsonb NOT NULL,
  run_id text NOT NULL
);

-- The module centroids of the last real run, by a key of the rows sampled for them and the rules
-- (steps/plan.ts): a rerun over the same sample takes them instead of reading the sample's vectors.
CREATE TABLE IF NOT EXISTS ${LEDGER_SCHEMA}.centroid_cache (
  sample_key text NOT NULL,
  module text NOT NULL,
  count integer NOT NULL,
  sum bytea NOT NULL,
  dimensions integer NOT NULL,
  max_samples integer NOT NULL,
  PRIMARY KEY (sample_key, module)
);
-- The sample itself (its rows' hashes and what each offered the centroids), on the header row: a
-- rerun whose changed rows offer the same keeps the sums (core/centroid-sample.ts).
ALTER TABLE ${LEDGER_SCHEMA}.centroid_cache ADD COLUMN IF NOT EXISTS sample jsonb;
`;
