import { describe, expect, it } from 'vitest';
import {
  CMI_ID_NAMESPACE,
  cmiEntryId,
  MEMORY_ID_NAMESPACE,
  RELATIONSHIP_ID_NAMESPACE,
  relationshipId,
  targetMemoryId,
  targetUserId,
  USER_ID_NAMESPACE,
  uuidV5,
} from '../../functions/core/ids.js';

const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('Function: uuidV5', () => {
  it('matches the RFC DNS-namespace vector', () => {
    // Act
    const id = uuidV5('www.example.com', DNS_NAMESPACE);

    // Assess
    expect(id).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('matches the python uuid5 vector for python.org', () => {
    // Act & Assess: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
    expect(uuidV5('python.org', DNS_NAMESPACE)).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('accepts an upper-case namespace and rejects a malformed one', () => {
    // Act & Assess
    expect(uuidV5('www.example.com', DNS_NAMESPACE.toUpperCase())).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(/namespace is not a UUID/);
  });
});

describe('Function: targetMemoryId', () => {
  it('is a deterministic version-5 UUID of the source id', () => {
    // Act
    const first = targetMemoryId('3f2c1a9e-0000-4000-8000-000000000001');
    const again = targetMemoryId('3f2c1a9e-0000-4000-8000-000000000001');

    // Assess
    expect(first).toBe(again);
    expect(first).toMatch(UUID_V5);
    expect(first).toBe(uuidV5('3f2c1a9e-0000-4000-8000-000000000001', MEMORY_ID_NAMESPACE));
    expect(targetMemoryId('3f2c1a9e-0000-4000-8000-000000000002')).not.toBe(first);
  });
});

describe('Function: cmiEntryId', () => {
  it('depends on the memory id only, under its own namespace', () => {
    // Prepare
    const memoryId = targetMemoryId('source-1');

    // Act
    const id = cmiEntryId(memoryId);

    // Assess
    expect(id).toBe(uuidV5(memoryId, CMI_ID_NAMESPACE));
    expect(id).not.toBe(memoryId);
    expect(id).toMatch(UUID_V5);
  });
});

describe('Function: relationshipId', () => {
  it('is stable for the same unique key and differs when any part differs', () => {
    // Prepare
    const key = ['work', 'a', 'technical', 'b', 'related'] as const;

    // Act
    const id = relationshipId(...key);

    // Assess
    expect(id).toBe(relationshipId(...key));
    expect(id).toBe(uuidV5(JSON.stringify(key), RELATIONSHIP_ID_NAMESPACE));
    expect(relationshipId('work', 'a', 'technical', 'b', 'belongs_to')).not.toBe(id);
    expect(relationshipId('technical', 'a', 'technical', 'b', 'related')).not.toBe(id);
  });

  it('cannot collide through a separator inside an id', () => {
    // Act & Assess
    expect(relationshipId('work', 'a:b', 'work', 'c', 't')).not.toBe(
      relationshipId('work', 'a', 'work', 'b:c', 't'),
    );
  });
});

describe('Function: targetUserId', () => {
  it('is a deterministic UUIDv5 distinct from the memory id of the same string', () => {
    // Act
    const id = targetUserId('user-1');

    // Assess
    expect(id).toBe(uuidV5('user-1', USER_ID_NAMESPACE));
    expect(id).not.toBe(targetMemoryId('user-1'));
  });
});
