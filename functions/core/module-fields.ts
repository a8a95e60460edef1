/**
 * The module-specific metadata fields (docs/design.md, "Metadata, ids and timestamps") and the BigMemory `source_metadata` keys they
 * are read from (camelCase and snake_case spellings seen in the wild; first present wins).
 */
import type { ModuleId } from './types.js';

interface ModuleField {
  field: string;
  from: readonly string[];
}

const WORK_FIELDS: readonly ModuleField[] = [
  { field: 'category', from: ['category'] },
  { field: 'project_name', from: ['projectName', 'project_name'] },
  { field: 'status', from: ['status'] },
  { field: 'priority', from: ['priority'] },
  { field: 'assignee', from: ['assignee'] },
  { field: 'deadline', from: ['dueDate', 'due_date', 'deadline'] },
  { field: 'owner', from: ['owner'] },
  { field: 'team_members', from: ['team', 'teamMembers', 'team_members'] },
];

/** Modules without an entry (e.g. `church`) get no module-specific fields: the metadata stays as is. */
const MODULE_FIELDS: Readonly<Record<ModuleId, readonly ModuleField[]>> = {
  work: WORK_FIELDS,
  // Newer installs keep projects and tasks here, with the fields the work module has for them.
  'project-management': WORK_FIELDS,
  personal: [
    { field: 'mood', from: ['mood'] },
    { field: 'location', from: ['location'] },
    { field: 'people_mentioned', from: ['peopleMentioned', 'people_mentioned', 'people'] },
  ],
  technical: [
    { field: 'language', from: ['language', 'programmingLanguage', 'programming_language'] },
    { field: 'framework', from: ['framework'] },
    { field: 'error_type', from: ['errorType', 'error_type'] },
    { field: 'solution_found', from: ['solutionFound', 'solution_found'] },
  ],
  learning: [
    { field: 'topic', from: ['topic', 'subject'] },
    { field: 'source', from: ['source', 'learningSource', 'learning_source'] },
    { field: 'understanding_level', from: ['understandingLevel', 'understanding_level'] },
  ],
  communication: [
    { field: 'channel', from: ['channel'] },
    { field: 'participants', from: ['participants'] },
    { field: 'thread_id', from: ['threadId', 'thread_id'] },
  ],
  creative: [
    { field: 'medium', from: ['medium'] },
    { field: 'inspiration', from: ['inspiration'] },
    { field: 'status', from: ['status'] },
  ],
};

/** "Has a value": not undefined, null or a blank string. */
export function hasValue(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

/** The module's fields that the source metadata has a value for, under their Federated names. */
export function moduleFields(module: ModuleId, metadata: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const { field, from } of MODULE_FIELDS[module] ?? []) {
    const key = from.find((candidate) => hasValue(metadata[candidate]));
    if (key !== undefined) fields[field] = metadata[key];
  }
  return fields;
}
