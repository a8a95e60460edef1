import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InvalidInputError } from '../errors.js';
import { pathWithin } from '../store/folder-path.js';
import { FileRunStore, type RunStore, S3RunStore } from '../store/run-store.js';

/** An object being written: bytes go to `stream`; `done` settles once the object is stored. */
export interface ObjectUpload {
  stream: Writable;
  done: Promise<void>;
  /** Drops a half-written object (a failed snapshot must not look like a complete one). */
  abort(): Promise<void>;
}

/**
 * One snapshot directory: `s3://bucket/backups/migration-…/` or a local `./backups/migration-…/`.
 * Objects stream both ways, so no table is ever held in memory.
 */
export interface SnapshotStore {
  upload(key: string, contentType: string): ObjectUpload;
  read(key: string): Promise<Readable>;
  putText(key: string, text: string): Promise<void>;
  getText(key: string): Promise<string>;
  exists(key: string): Promise<boolean>;
  /** Where a person finds the object. */
  locate(key?: string): string;
  /** Removes the whole directory: a backup that failed must not be mistaken for one. */
  discard(): Promise<void>;
}

// 8 MiB parts, two in flight: about 16 MiB of buffers whatever the table size.
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

export class S3SnapshotStore implements SnapshotStore {
  readonly prefix: string;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    prefix: string,
  ) {
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  upload(key: string, contentType: string): ObjectUpload {
    const body = new PassThrough();
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentType: contentType },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    const done = upload.done().then(() => undefined);
    return {
      stream: body,
      done,
      abort: async () => {
        body.destroy();
        await upload.abort().catch(() => undefined);
        await done.catch(() => undefined);
      },
    };
  }

  async read(key: string): Promise<Readable> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    if (!out.Body) throw new InvalidInputError(`${this.locate(key)} has no body`);
    return out.Body as Readable;
  }

  async putText(key: string, text: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: text,
        ContentType: 'application/json',
      }),
    );
  }

  async getText(key: string): Promise<string> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    return (await out.Body?.transformToString('utf8')) ?? '';
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NotFound') return false;
      throw error;
    }
  }

  locate(key = ''): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  async discard(): Promise<void> {
    // One object at a time: a snapshot holds a handful, and DeleteObjects needs a checksum that
    // some S3-compatible stores refuse.
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

export class FolderSnapshotStore implements SnapshotStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    return pathWithin(this.root, key, 'snapshot directory');
  }

  upload(key: string): ObjectUpload {
    const path = this.path(key);
    // Written under a temporary name and renamed when complete: a crash never leaves a short object
    // under the real name.
    const partial = `${path}.partial`;
    const body = new PassThrough();
    const done = (async () => {
      await mkdir(dirname(path), { recursive: true });
      // pipeline, not listeners: a writer that failed while the directory was being made has
      // already destroyed the body, and only pipeline sees that (an 'error' listener added now
      // would wait for an event that has passed, and abort would wait on it for ever).
      await pipeline(body, createWriteStream(partial));
      await rename(partial, path);
    })();
    return {
      stream: body,
      done,
      abort: async () => {
        body.destroy();
        await done.catch(() => undefined);
        await rm(partial, { force: true });
      },
    };
  }

  async read(key: string): Promise<Readable> {
    const path = this.path(key);
    await stat(path).catch((error: unknown) => {
      throw new InvalidInputError(`No snapshot object at ${path}`, { cause: error });
    });
    return createReadStream(path);
  }

  async putText(key: string, text: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }

  async getText(key: string): Promise<string> {
    return readFile(this.path(key), 'utf8');
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.path(key)).then(
      () => true,
      () => false,
    );
  }

  locate(key = ''): string {
    return key ? this.path(key) : this.root;
  }

  async discard(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** `s3://bucket/prefix/` or a local directory, as `--snapshot` takes it. */
export function snapshotStoreAt(location: string, s3?: () => S3Client): SnapshotStore {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  if (match) {
    if (!s3) throw new InvalidInputError(`No S3 client to read ${location}`);
    return new S3SnapshotStore(s3(), match[1]!, match[2] ?? '');
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://')) {
    throw new InvalidInputError(`A snapshot is an s3:// URI or a local directory, got ${location}`);
  }
  return new FolderSnapshotStore(location.replace(/^file:\/\//, ''));
}

/** A snapshot directory inside a run store: the run bucket, or the local runner's folder. */
export function snapshotStoreInRunStore(store: RunStore, directory: string): SnapshotStore {
  if (store instanceof FileRunStore) return new FolderSnapshotStore(resolve(store.root, directory));
  if (store instanceof S3RunStore) {
    // The run store's own client: it carries the endpoint and checksum settings of S3-compatible stores.
    return new S3SnapshotStore(store.s3, store.bucket, directory);
  }
  throw new InvalidInputError('Snapshots need an S3 or folder run store');
}
