/**
 * Reads a snapshot script line by line from a stream of chunks (gunzip's output). Lines are Buffer
 * slices without their newline; a line split across chunks is joined, nothing else is copied.
 */
export class ScriptLineReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private buffer: Buffer = Buffer.alloc(0);
  private at = 0;
  private ended = false;
  /** 1-based number of the last line returned, for messages. */
  lineNumber = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** The next line, or null at the end of the script. A last line without a newline is returned too. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const newline = this.buffer.indexOf(10, this.at);
      if (newline !== -1) {
        const line = this.buffer.subarray(this.at, newline);
        this.at = newline + 1;
        this.lineNumber++;
        return line;
      }
      if (this.ended) {
        if (this.at >= this.buffer.length) return null;
        const rest = this.buffer.subarray(this.at);
        this.at = this.buffer.length;
        this.lineNumber++;
        return rest;
      }
      const { value, done } = await this.chunks.next();
      if (done) {
        this.ended = true;
        continue;
      }
      const rest = this.buffer.subarray(this.at);
      this.buffer = rest.length === 0 ? (value as Buffer) : Buffer.concat([rest, value as Buffer]);
      this.at = 0;
    }
  }
}

const END_OF_DATA = Buffer.from('\\.');
// Data goes to the server in chunks of about this size: one write per row would cost more than the row.
const DATA_CHUNK_BYTES = 256 * 1024;

/**
 * The rows of one COPY block, newline-terminated, gathered into chunks; ends after the `\.` line.
 * Throws if the script ends inside the block.
 */
export async function* copyBlockData(reader: ScriptLineReader): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  const newline = Buffer.from('\n');
  for (;;) {
    const line = await reader.next();
    if (line === null) throw new Error(`the script ends inside a COPY block (line ${reader.lineNumber})`);
    if (line.equals(END_OF_DATA)) break;
    parts.push(line, newline);
    size += line.length + 1;
    if (size >= DATA_CHUNK_BYTES) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield Buffer.concat(parts, size);
}
