/**
 * Deterministic target ids (docs/design.md, "Metadata, ids and timestamps"): every id the migration writes is a UUIDv5 of the
 * source key under a fixed namespace, so a re-run upserts the same rows instead of duplicating
 * them, and a relationship's ends resolve from the source ids alone, with no lookup table.
 *
 * The namespaces below are fixed forever: changing one orphans every row an earlier run wrote.
 * They are exported so that SQL or another tool can recompute an id (uuid-ossp's
 * `uuid_generate_v5(namespace, name)` gives the same value).
 */
import { hash } from 'node:crypto';

/** `targetMemoryId(sourceId) = uuidv5(sourceId, MEMORY_ID_NAMESPACE)`. */
export const MEMORY_ID_NAMESPACE = 'd6d7451d-e5c8-4b78-9310-04c93c05aacd';
/** `cmiEntryId(targetMemoryId) = uuidv5(targetMemoryId, CMI_ID_NAMESPACE)`. */
export const CMI_ID_NAMESPACE = '948c3a50-dad2-4d79-9c94-e5cce0ad9552';
/** `relationshipId(...) = uuidv5(JSON.stringify([sourceModule, sourceMemoryId, targetModule, targetMemoryId, type]), RELATIONSHIP_ID_NAMESPACE)`. */
export const RELATIONSHIP_ID_NAMESPACE = 'b5570f20-07da-4577-adac-936da3df36e4';
/** `targetUserId(sourceUserId) = uuidv5(sourceUserId, USER_ID_NAMESPACE)`. */
export const USER_ID_NAMESPACE = 'bf9fa93c-2f8c-4d47-aa47-d4ae5934df71';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const namespaceBytes = new Map<string, Buffer>();

function bytesOf(namespace: string): Buffer {
  let bytes = namespaceBytes.get(namespace);
  if (!bytes) {
    if (!UUID_PATTERN.test(namespace)) throw new TypeError(`uuidV5: namespace is not a UUID: ${namespace}`);
    bytes = Buffer.from(namespace.replaceAll('-', ''), 'hex');
    namespaceBytes.set(namespace, bytes);
  }
  return bytes;
}

/** RFC 9562 §5.5: SHA-1 over namespace bytes + UTF-8 name, version 5, RFC variant. */
export function uuidV5(name: string, namespace: string): string {
  const ns = bytesOf(namespace);
  // One-shot hash over one buffer: a Hash object per id cost more than the digest itself.
  const input = Buffer.allocUnsafe(ns.length + Buffer.byteLength(name, 'utf8'));
  ns.copy(input, 0);
  input.write(name, ns.length, 'utf8');
  const bytes = hash('sha1', input, 'buffer');
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function targetMemoryId(sourceMemoryId: string): string {
  return uuidV5(sourceMemoryId, MEMORY_ID_NAMESPACE);
}

/** Keyed by the memory alone, not its module: a memory that moves module keeps its CMI row id. */
export function cmiEntryId(targetMemoryIdValue: string): string {
  return uuidV5(targetMemoryIdValue, CMI_ID_NAMESPACE);
}

/** Keyed by the target's unique key, JSON-encoded so no id or type can collide through a separator. */
export function relationshipId(
  sourceModule: string,
  sourceMemoryId: string,
  targetModule: string,
  targetMemoryIdValue: string,
  relationshipType: string,
): string {
  const key = JSON.stringify([
    sourceModule,
    sourceMemoryId,
    targetModule,
    targetMemoryIdValue,
    relationshipType,
  ]);
  return uuidV5(key, RELATIONSHIP_ID_NAMESPACE);
}

export function targetUserId(sourceUserId: string): string {
  return uuidV5(sourceUserId, USER_ID_NAMESPACE);
}
