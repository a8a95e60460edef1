import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { snapshotStoreInRunStore } from '../snapshot/snapshot-store.js';
import { fetchInOrder } from './read-ahead.js';
import type { RunStore } from './run-store.js';

/**
 * The objects at `parts`, in that order, joined into one object at `key`. Each part is written as it
 * comes, through the snapshot stores' streaming upload (S3: a multipart upload; a folder: written
 * aside and renamed), so memory stays at a few parts however many there are, and a failure leaves
 * no half object under the key.
 */
export async function concatenateObjects(
  store: RunStore,
  parts: readonly string[],
  key: string,
  contentType: string,
): Promise<void> {
  const upload = snapshotStoreInRunStore(store, '').upload(key, contentType);
  try {
    await Promise.all([
      pipeline(Readable.from(fetchInOrder(parts, (part) => store.get(part))), upload.stream),
      upload.done,
    ]);
  } catch (error) {
    await upload.abort();
    throw error;
  }
}
