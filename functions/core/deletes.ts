/** What a run removed (or, in a dry run, would remove) because the source no longer has it. */
export interface DeletesSummary {
  dryRun: boolean;
  /** `--keep-deleted`: nothing was looked for or removed. */
  kept: boolean;
  /** Migrated memories whose source row is gone or soft-deleted: module, CMI and relationship rows removed. */
  memories: number;
  /** Rejected memories whose source row is gone: only their ledger rows went. */
  rejectedForgotten: number;
  /** Relationships whose source relation is gone. */
  relationships: number;
  /** Target users this migration created for a source user that is gone, referenced by nothing else. */
  users: number;
  /** Target users of a gone source user that stay: not created by the migration, or still referenced. */
  usersKept: number;
  /** Tasks that stay but lost the `project_id` naming a removed project (not counted in a dry run). */
  projectIdsCleared: number;
  /** A few source ids of removed memories, for the report. */
  samples: string[];
}
