import { describe, expect, it } from 'vitest';
import type { ModuleCentroids } from '../../functions/core/centroids.js';
import {
  isUnchanged,
  memoryFingerprint,
  type ProcessingSettings,
  processingVersion,
} from '../../functions/core/fingerprint.js';
import { loadRules } from '../../functions/core/rules.js';

const rules = loadRules(undefined, { textModel: null });
const MODULES = ['work', 'personal', 'technical', 'learning', 'communication', 'creative'];
const centroid = (x: number): ModuleCentroids => ({
  dimensions: 2,
  modules: { work: Float32Array.of(x, 0), personal: Float32Array.of(0, 1) },
  samples: { work: 3, personal: 3 },
});
const settings = (overrides: Partial<ProcessingSettings> = {}): ProcessingSettings => ({
  rules,
  centroids: centroid(1),
  modules: MODULES,
  embedMode: 'preserve',
  embeddingDimensions: 1536,
  cmiDimensions: 512,
  ...overrides,
});

describe('Function: isUnchanged', () => {
  const version = processingVersion(settings());
  const migrated = (rule: string) => ({
    status: 'migrated' as const,
    rule,
    reason: null,
    fingerprint: memoryFingerprint('row', 'user-1', rule, version),
  });

  it('holds for the same row, user and settings', () => {
    expect(isUnchanged(migrated('type:meeting'), 'row', 'user-1', version)).toBe(true);
  });

  it('fails when the row, the mapped user or the rules change', () => {
    const otherRules = processingVersion(
      settings({ rules: loadRules({ typeRules: { meeting: 'personal' } }, { textModel: null }) }),
    );
    expect(isUnchanged(migrated('type:meeting'), 'row*', 'user-1', version)).toBe(false);
    expect(isUnchanged(migrated('type:meeting'), 'row', 'user-2', version)).toBe(false);
    expect(isUnchanged(migrated('type:meeting'), 'row', 'user-1', otherRules)).toBe(false);
  });

  it('fails when the embedding model or size changes', () => {
    const regenerated = processingVersion(
      settings({ embedMode: 'all', embeddingModel: 'text-embedding-3-small' }),
    );
    const resized = processingVersion(settings({ embeddingDimensions: 768, cmiDimensions: 256 }));
    expect(isUnchanged(migrated('type:meeting'), 'row', 'user-1', regenerated)).toBe(false);
    expect(isUnchanged(migrated('type:meeting'), 'row', 'user-1', resized)).toBe(false);
  });

  it('ties only centroid-placed memories to the centroids', () => {
    const moved = processingVersion(settings({ centroids: centroid(0.5) }));
    expect(isUnchanged(migrated('type:meeting'), 'row', 'user-1', moved)).toBe(true);
    expect(isUnchanged(migrated('centroid:work'), 'row', 'user-1', moved)).toBe(false);
    expect(isUnchanged(migrated('fallback:personal'), 'row', 'user-1', moved)).toBe(false);
  });

  it('always retries rejects that may come out otherwise, never ones without a fingerprint', () => {
    const rejected = (reason: string) => ({
      status: 'rejected' as const,
      rule: null,
      reason,
      fingerprint: memoryFingerprint('row', 'user-1', null, version),
    });
    expect(isUnchanged(rejected('empty_content'), 'row', 'user-1', version)).toBe(true);
    expect(isUnchanged(rejected('embedding_unavailable'), 'row', 'user-1', version)).toBe(false);
    expect(isUnchanged(rejected('target_constraint'), 'row', 'user-1', version)).toBe(false);
    expect(isUnchanged({ ...migrated('type:meeting'), fingerprint: null }, 'row', 'user-1', version)).toBe(
      false,
    );
    expect(isUnchanged(undefined, 'row', 'user-1', version)).toBe(false);
  });
});
