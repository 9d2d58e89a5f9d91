/**
 * MNIST-style IDX files (`*-idx3-ubyte` images, `*-idx1-ubyte` labels), optionally gzip-compressed.
 * Format: http://yann.lecun.com/exdb/mnist/ (magic `0x0000 TT DD`, big-endian dimensions, row-major data).
 * @module
 */
import { gunzipIfNeeded, readDataFile } from './io.js';
import { DataLoadError } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import type { Dataset, LoadOptions } from './types.js';
import { arrangeSamples, checkBounds, checkLimit, scaleUint8, toLabels } from './shape.js';

/** A decoded IDX array. */
export interface IdxArray {
  /** Dimensions, outermost first. */
  readonly dims: readonly number[];
  /** The values, row-major. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
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
  const buf = gunzipIfNeeded(bytes, where);
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
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerLen + count * type.bytes;
  if (buf.length !== expected) {
    throw new DataLoadError(
      `${where}: expected ${expected} bytes for an IDX ${type.name} array of shape [${dims.join(', ')}], got ${buf.length} (truncated or corrupt)`,
    );
  }
  const body = buf.subarray(headerLen);
  switch (type.name) {
    case 'uint8':
      return { dims, data: Uint8Array.from(body) };
    case 'int8':
      return { dims, data: Int8Array.from(body, (b) => (b << 24) >> 24) };
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
      return { dims, data: out };
    }
  }
}

/**
 * Loads an IDX image file and its IDX label file (MNIST, Fashion-MNIST, EMNIST, ...).
 * uint8 pixels are scaled linearly from 0..255 into `options.bounds`; other types are taken as they are.
 * Labels must be integers in `[0, 2³¹ − 1]`. Samples are brought into `options.inputShape` by a reshape or an
 * NHWC↔NCHW transpose (see {@link arrangeSamples}).
 *
 * @param imagesPath - path of the `idx3-ubyte` images (or any IDX array whose first axis is the sample).
 * @param labelsPath - path of the `idx1-ubyte` labels.
 * @param options - bounds (default `[0, 1]`), limit, target `inputShape`.
 * @throws {@link DataLoadError} for unreadable or malformed files or mismatched counts; {@link ShapeError} if the
 *   images cannot take `inputShape`; {@link ConfigError} for a bad limit or bounds.
 * @example
 * ```ts
 * const test = await loadIdx('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', { limit: 1000, inputShape: [28, 28, 1] });
 * ```
 */
export async function loadIdx(imagesPath: string, labelsPath: string, options: LoadOptions = {}): Promise<Dataset> {
  const limit = options.limit;
  checkLimit(limit, 'loadIdx');
  const bounds = options.bounds ?? [0, 1];
  checkBounds(bounds, 'loadIdx');
  const [imgBytes, lblBytes] = await Promise.all([readDataFile(imagesPath), readDataFile(labelsPath)]);
  const img = decodeIdx(imgBytes, imagesPath);
  const lbl = decodeIdx(lblBytes, labelsPath);
  if (lbl.dims.length !== 1) throw new DataLoadError(`${labelsPath}: expected a rank-1 IDX label array, got shape [${lbl.dims.join(', ')}]`);
  if (img.dims.length < 2) throw new DataLoadError(`${imagesPath}: expected an IDX array of rank >= 2 (samples first), got shape [${img.dims.join(', ')}]`);
  const total = img.dims[0]!;
  if (lbl.dims[0] !== total) {
    throw new DataLoadError(`${labelsPath}: expected ${total} labels to match ${imagesPath}, got ${lbl.dims[0]}`);
  }
  const count = limit === undefined ? total : Math.min(limit, total);
  const stored = img.dims.slice(1);
  const per = stored.reduce((a, b) => a * b, 1);
  const raw = img.data.subarray(0, count * per);
  const scaled = raw instanceof Uint8Array ? scaleUint8(raw, bounds) : Float32Array.from(raw);
  // Labels are checked one by one: a float, negative or out-of-range label is an error, never truncated.
  const labels = toLabels(lbl.data, count, labelsPath);
  const { data: images, shape } = arrangeSamples(scaled, count, stored, options.inputShape, options.layout, imagesPath);
  return {
    images,
    shape,
    labels,
    count,
    sha256: sha256Bytes([new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), new Uint8Array(labels.buffer)]),
    source: imagesPath,
  };
}
