import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Passes bytes through unchanged while counting them and hashing them (sha256, hex). */
export class ObjectMeter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private hex: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** Valid once the stream has ended. */
  get sha256(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

/** Rows in a chunk of COPY text: one line each, newlines inside values being escaped as `\n`. */
export function countLines(chunk: Buffer): number {
  let count = 0;
  let at = chunk.indexOf(10);
  while (at !== -1) {
    count++;
    at = chunk.indexOf(10, at + 1);
  }
  return count;
}
