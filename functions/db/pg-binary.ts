/**
 * PostgreSQL's binary COPY format and the binary wire forms of the column types this project moves.
 * Pure: bytes in, values out and back. The loader and reader own the streams.
 *
 * Written here rather than taken from a library because the packages that exist either write only
 * the text format or cover neither pgvector nor arrays; embeddings must travel as bytes (parsing
 * float text is what made the original scripts slow). Split like pg-protocol: the format's
 * constants, block pools, vector codec, tuple writer, field decoders and stream parser.
 */

export { BlockPool, Float32Slab } from './pg-binary/block-pools.js';
export { CopyBinaryParser } from './pg-binary/copy-parser.js';
export { decodeField, decodeTuple } from './pg-binary/field-decoders.js';
export { COPY_BINARY_HEADER, COPY_BINARY_TRAILER, type PgBinaryType } from './pg-binary/format.js';
export { encodeField, encodeTuple, TupleWriter } from './pg-binary/tuple-writer.js';
export { decodeVector, encodeVector } from './pg-binary/vectors.js';
