import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FolderSnapshotStore } from '../../functions/snapshot/snapshot-store.js';

describe('Class: FolderSnapshotStore (upload)', () => {
  it('aborts an upload whose writer failed before the folder existed, and leaves no file', async () => {
    // Prepare
    const root = await mkdtemp(join(tmpdir(), 'folder-upload-'));
    const store = new FolderSnapshotStore(root);
    const upload = store.upload('deep/new/folder/object.bin');

    // Act: the writer fails at once, as a concatenation does when its first part is missing
    upload.stream.destroy(new Error('a part could not be read'));
    const outcome = await Promise.race([
      upload.abort().then(() => 'aborted'),
      sleep(10_000).then(() => 'still waiting'),
    ]);

    // Assess
    expect(outcome).toBe('aborted');
    await expect(upload.done).rejects.toThrow();
    expect(await readdir(join(root, 'deep/new/folder')).catch(() => [])).toEqual([]);
  });
});
