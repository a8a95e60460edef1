import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startTestServices } from './services-runtime.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Every temporary folder of the run (run stores, CDK assemblies, the PostgreSQL cluster, the S3
  // server's files) lands under one that teardown removes, so repeated runs do not fill /tmp. The
  // forked test workers inherit TMPDIR. Readable by all: the cluster runs as the postgres user.
  const root = await mkdtemp(join(tmpdir(), 'bigmemory-test-'));
  await chmod(root, 0o755);
  process.env.TMPDIR = root;
  try {
    const { stop, ...services } = await startTestServices();
    project.provide('services', services);
    return async () => {
      await stop();
      await rm(root, { recursive: true, force: true });
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
