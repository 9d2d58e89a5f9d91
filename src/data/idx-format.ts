/**
 * MNIST-style IDX files (`*-idx3-ubyte` images, `*-idx1-ubyte` labels), optionally gzip-compressed.
 * Format: http://yann.lecun.com/exdb/mnist/ (magic `0x0000 TT DD`, big-endian dimensions, row-major data).
 * @module
 */
import { gunzipIfNeeded } from './io.js';
import { DataLoadError } from '../errors.js';

/** A decoded IDX array. */
export interface IdxArray {
  /** Dimensions, outermost first. */
  readonly dims: readonly number[];
  /** The values, row-major. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, IdxType> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
};

/**
 * Decodes an IDX buffer (gzip is detected from its magic bytes and inflated).
 *
 * @param bytes - the file's contents.
 * @param where - the file name, for error messages.
 * @throws {@link DataLoadError} on a wrong magic number, unknown type code, or a size that does not match the header.
 * @example
 * ```ts
 * const { dims, data } = decodeIdx(await readFile('t10k-labels-idx1-ubyte'));
 * ```
 */
export function decodeIdx(bytes: Uint8Array, where = 'idx'): IdxArray {
  const buf = gunzipIfNeeded(bytes, where, (head) => {
    if (head.length < 4 || head.length < 4 + 4 * head[3]!) return undefined;
    try {
      const h = parseIdxHeader(head, where);
      return h.headerLen + h.dims.reduce((a, b) => a * b, 1) * h.type.bytes;
    } catch {
      return undefined; // reported on the whole buffer below
    }
  });
  const { type, dims, headerLen } = parseIdxHeader(buf, where);
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerLen + count * type.bytes;
  if (buf.length !== expected) {
    throw new DataLoadError(
      `${where}: expected ${expected} bytes for an IDX ${type.name} array of shape [${dims.join(', ')}], got ${buf.length} (truncated or corrupt)`,
    );
  }
  return { dims, data: idxValues(buf.subarray(headerLen), type) };
}

/** An IDX element type: its name and size in bytes. @internal */
export interface IdxType {
  readonly name: 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
  readonly bytes: number;
}

/** What an IDX header declares. @internal */
export interface IdxHeader {
  readonly type: IdxType;
  readonly dims: number[];
  /** Bytes before the values: `4 + 4 × rank`. */
  readonly headerLen: number;
}

/**
 * Parses an IDX header from the first bytes of a file (at least `4 + 4 × rank` of them).
 * @internal
 */
export function parseIdxHeader(buf: Uint8Array, where: string): IdxHeader {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) {
    throw new DataLoadError(
      `${where}: expected an IDX file starting with magic bytes 00 00, got ${Array.from(buf.slice(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'an empty file'}`,
    );
  }
  const type = TYPES[buf[2]!];
  if (!type) throw new DataLoadError(`${where}: expected an IDX type code among 08,09,0b,0c,0d,0e, got ${buf[2]!.toString(16)}`);
  const rank = buf[3]!;
  if (rank === 0) throw new DataLoadError(`${where}: expected an IDX rank of at least 1, got 0`);
  const headerLen = 4 + 4 * rank;
  if (buf.length < headerLen) throw new DataLoadError(`${where}: expected a ${headerLen}-byte header, got a file of ${buf.length} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { type, dims, headerLen };
}

/**
 * Decodes big-endian IDX values of `type` (a whole number of them) into a new host-order typed array.
 * @internal
 */
export function idxValues(body: Uint8Array, type: IdxType): IdxArray['data'] {
  const count = Math.floor(body.length / type.bytes);
  switch (type.name) {
    case 'uint8':
      return Uint8Array.from(body);
    case 'int8':
      return Int8Array.from(body, (b) => (b << 24) >> 24);
    default: {
      const out =
        type.name === 'int16'
          ? new Int16Array(count)
          : type.name === 'int32'
            ? new Int32Array(count)
            : type.name === 'float32'
              ? new Float32Array(count)
              : new Float64Array(count);
      const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let i = 0; i < count; i++) {
        const o = i * type.bytes;
        out[i] =
          type.name === 'int16'
            ? v.getInt16(o, false)
            : type.name === 'int32'
              ? v.getInt32(o, false)
              : type.name === 'float32'
                ? v.getFloat32(o, false)
                : v.getFloat64(o, false);
      }
      return out;
    }
  }
}
