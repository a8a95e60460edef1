import type { CmiRow } from '../core/types.js';
import type { PgBinaryType } from './pg-binary.js';

/** `memory_index` as the batch loader and the CMI rebuild write it: column, binary type, in COPY order. */
export const CMI_COLUMNS: { name: keyof CmiRow; type: PgBinaryType }[] = [
  { name: 'id', type: 'text' },
  { name: 'userId', type: 'text' },
  { name: 'moduleId', type: 'text' },
  { name: 'remoteMemoryId', type: 'text' },
  { name: 'embedding', type: 'vector' },
  { name: 'title', type: 'text' },
  { name: 'summary', type: 'text' },
  { name: 'keywords', type: 'text[]' },
  { name: 'categories', type: 'text[]' },
  { name: 'importanceScore', type: 'float8' },
  { name: 'accessCount', type: 'int4' },
  { name: 'lastAccessed', type: 'timestamp' },
  { name: 'createdAt', type: 'timestamp' },
  { name: 'updatedAt', type: 'timestamp' },
];

export const cmiValues = (row: CmiRow): unknown[] => CMI_COLUMNS.map((c) => row[c.name]);
