import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { z } from 'zod';
import { describeIssues } from '../core/schema-issues.js';
import { StepResultError } from '../errors.js';
import { pathWithin } from './folder-path.js';

/**
 * Where a run keeps what does not fit in a state's payload: plans, batch summaries, decisions,
 * reports. S3 in AWS (and against any S3-compatible endpoint); a local folder for runs on a laptop
 * that has no object store.
 */
export interface RunStore {
  put(key: string, body: Buffer | string, contentType?: string): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** A location a person can open: `s3://bucket/key` or a file path. */
  locate(key: string): string;
}

export async function putJson(store: RunStore, key: string, value: unknown): Promise<void> {
  await store.put(key, JSON.stringify(value), 'application/json');
}

/**
 * A JSON object of the run store, checked against `schema`: what an earlier step wrote is read
 * back only in the shape its reader relies on, or fails naming the object and the field.
 */
export async function getJson<S extends z.ZodType>(
  store: RunStore,
  key: string,
  schema: S,
): Promise<z.output<S>> {
  const parsed = schema.safeParse(JSON.parse((await store.get(key)).toString('utf8')));
  if (parsed.success) return parsed.data;
  const issues = describeIssues(parsed.error);
  throw new StepResultError(`${store.locate(key)} is malformed: ${issues.join('; ')}`, {
    context: { key, issues },
  });
}

export class S3RunStore implements RunStore {
  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: Buffer | string, contentType?: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  async get(key: string): Promise<Buffer> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!out.Body) throw new Error(`s3://${this.bucket}/${key} has no body`);
    return Buffer.from(await out.Body.transformToByteArray());
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}

export class FileRunStore implements RunStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    return pathWithin(this.root, key, 'run store');
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
  }

  async get(key: string): Promise<Buffer> {
    return readFile(this.path(key));
  }

  async list(prefix: string): Promise<string[]> {
    const files = await readdir(this.root, { recursive: true, withFileTypes: true }).catch(() => []);
    return files
      .filter((f) => f.isFile())
      .map((f) => relative(this.root, join(f.parentPath, f.name)).split(sep).join('/'))
      .filter((k) => k.startsWith(prefix))
      .sort();
  }

  locate(key: string): string {
    return this.path(key);
  }
}
