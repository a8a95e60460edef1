import { pipeline } from 'node:stream/promises';
import { SnapshotIntegrityError } from '../errors.js';
import { ObjectMeter } from './object-meter.js';
import type { SnapshotManifest } from './snapshot-manifest.js';
import type { SnapshotStore } from './snapshot-store.js';

/**
 * Reads a snapshot object once, end to end, and compares its size and sha256 with its manifest:
 * a flipped byte or a cut-off upload is refused before anything touches a database.
 */
export async function verifySnapshotObject(store: SnapshotStore, manifest: SnapshotManifest): Promise<void> {
  const meter = new ObjectMeter();
  await pipeline(await store.read(manifest.object.key), meter, async (source: AsyncIterable<Buffer>) => {
    for await (const _ of source) {
      // the meter has seen it; nothing else to do with the bytes
    }
  });
  assertObjectMatches(store, manifest, { bytes: meter.bytes, sha256: meter.sha256 });
}

export function assertObjectMatches(
  store: SnapshotStore,
  manifest: SnapshotManifest,
  seen: { bytes: number; sha256: string },
): void {
  const { object } = manifest;
  const where = store.locate(object.key);
  if (seen.bytes !== object.bytes) {
    throw new SnapshotIntegrityError(
      `Snapshot object ${where} is ${seen.bytes} bytes but its manifest says ${object.bytes}: it is truncated or was replaced. Refusing to restore it.`,
      { context: { object: where, bytes: seen.bytes, expectedBytes: object.bytes } },
    );
  }
  if (seen.sha256 !== object.sha256) {
    throw new SnapshotIntegrityError(
      `Snapshot object ${where} does not match its manifest's sha256 (got ${seen.sha256}, expected ${object.sha256}): it is corrupted. Refusing to restore it.`,
      { context: { object: where, sha256: seen.sha256, expectedSha256: object.sha256 } },
    );
  }
}
