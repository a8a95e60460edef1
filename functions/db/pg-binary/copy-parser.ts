import { COPY_BINARY_HEADER } from './format.js';

/**
 * Incremental parser of a binary COPY stream: feed chunks as they arrive, get complete tuples
 * (each field's raw bytes, or null). Holds at most one partial tuple between chunks.
 */
export class CopyBinaryParser {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private ended = false;

  push(chunk: Buffer): (Buffer | null)[][] {
    const tuples: (Buffer | null)[][] = [];
    if (this.pending.length > 0) {
      // Finish the tuple split across chunks from as little of the new chunk as it needs, instead
      // of copying the whole chunk behind the tail (that copy was a large share of read time).
      let take = Math.min(chunk.length, 16 * 1024);
      for (;;) {
        const joined = Buffer.concat([this.pending, chunk.subarray(0, take)]);
        const consumed = this.parse(joined, tuples, true);
        if (consumed > this.pending.length || take === chunk.length) {
          const rest = consumed - this.pending.length;
          if (rest < 0) {
            // Still incomplete with all of the chunk: keep everything for the next one.
            this.pending = Buffer.from(joined.subarray(consumed));
            return tuples;
          }
          this.pending = Buffer.alloc(0);
          chunk = chunk.subarray(rest);
          break;
        }
        take = Math.min(chunk.length, take * 4);
        tuples.length = 0;
      }
    }
    const consumed = this.parse(chunk, tuples, false);
    // Copy the leftover so the big chunk it came from can be collected.
    this.pending = consumed >= chunk.length ? Buffer.alloc(0) : Buffer.from(chunk.subarray(consumed));
    return tuples;
  }

  /**
   * Parses whole tuples from `buf` into `tuples`; returns the bytes consumed. With `firstOnly`, stops
   * after the first tuple (or the header), so a joined tail never holds more than one tuple.
   */
  private parse(buf: Buffer, tuples: (Buffer | null)[][], firstOnly: boolean): number {
    let offset = 0;
    if (!this.headerRead) {
      if (buf.length < 19) return 0;
      if (!buf.subarray(0, 11).equals(COPY_BINARY_HEADER.subarray(0, 11))) {
        throw new Error('not a binary COPY stream (bad signature)');
      }
      const extension = buf.readInt32BE(15);
      if (buf.length < 19 + extension) return 0;
      offset = 19 + extension;
      this.headerRead = true;
      if (firstOnly) return offset;
    }
    while (!this.ended && offset + 2 <= buf.length) {
      const count = buf.readInt16BE(offset);
      if (count === -1) {
        this.ended = true;
        offset += 2;
        break;
      }
      let cursor = offset + 2;
      const fields: (Buffer | null)[] = new Array(count);
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (cursor + 4 > buf.length) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(cursor);
        cursor += 4;
        if (len === -1) {
          fields[i] = null;
          continue;
        }
        if (cursor + len > buf.length) {
          complete = false;
          break;
        }
        fields[i] = buf.subarray(cursor, cursor + len);
        cursor += len;
      }
      if (!complete) break;
      tuples.push(fields);
      offset = cursor;
      if (firstOnly) break;
    }
    return offset;
  }

  /** True once the trailer was seen. */
  get done(): boolean {
    return this.ended;
  }
}
