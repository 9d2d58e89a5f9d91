/**
 * Lazy IDX and `.npy` datasets: {@link DataSource}s that read the samples of a batch by file offset (a plain file)
 * or by inflating up to them (a gzip file), so that evaluating a dataset needs memory for one batch, not for the
 * whole set. The eager loaders ({@link loadIdx}, {@link loadNpy}) are these sources read whole.
 * @module
 */
import { createHash } from 'node:crypto';
import { ConfigError, DataLoadError, describe } from '../errors.js';
import { idxValues, parseIdxHeader } from './idx-format.js';
import { fortranToC, npyHeaderEnd, npyValues, parseNpyHeader, NPY_PREAMBLE, type NpyData, type NpyHeader } from './npy-format.js';
import { openBytes, type ByteSource } from './reader.js';
import { arrangeSamples, checkBounds, checkLimit, scaleUint8, toLabels, type LabelSource } from './shape.js';
import { checkRange } from './source.js';
import type { DataBatch, DataSource, LoadOptions } from './types.js';

/** Values of stored samples, decoded into host byte order (before scaling). */
type Raw = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array | NpyData;

/** Bytes hashed and read at a time while a source is opened. */
const OPEN_CHUNK_BYTES = 1 << 22;

/** Where the samples of an array file are and how to decode them. */
interface Samples {
  /** Decoded values of samples `[start, start + n)`, C order. */
  fetch(start: number, n: number): Promise<Raw>;
  /** Closes the file. */
  close(): Promise<void>;
}

/** A sample store reading an array file by offset: `dataStart + i × sampleBytes` is sample `i`. */
function fileSamples(
  reader: ByteSource,
  dataStart: number,
  sampleBytes: number,
  decode: (bytes: Uint8Array) => Raw,
  truncated: (got: number) => Error,
): Samples {
  return {
    async fetch(start, n) {
      const want = n * sampleBytes;
      const bytes = await reader.read(dataStart + start * sampleBytes, want);
      if (bytes.length !== want) throw truncated(dataStart + start * sampleBytes + bytes.length);
      return decode(bytes);
    },
    close: () => reader.close(),
  };
}

function bytesOf(a: Raw): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A serialising lock: a gzip cursor must see one read at a time. */
function serial(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}

interface ArraySourceSpec {
  readonly what: string;
  readonly imagesPath: string;
  readonly samples: Samples;
  readonly count: number;
  readonly stored: readonly number[];
  readonly labels: Int32Array;
  readonly toFloat: (raw: Raw) => Float32Array;
  readonly options: ArrayOpenOptions;
  /** Bytes of one stored sample, to size the hashing chunks. */
  readonly sampleBytes: number;
  readonly labelsPath: string;
}

/**
 * Options of {@link openIdx} and {@link openNpy}: those of every loader, plus names for the labels.
 *
 * @example
 * ```ts
 * const options: ArrayOpenOptions = { inputShape: [28, 28, 1], classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] };
 * ```
 */
export interface ArrayOpenOptions extends LoadOptions {
  /** Names of labels `0, 1, ...` (distinct non-empty strings, one at least for every label used), put on the source. Default: none. */
  classNames?: readonly string[];
}

function checkClassNames(names: unknown, labels: Int32Array, labelsPath: string): string[] {
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '') || new Set(names).size !== names.length) {
    throw new ConfigError(`${labelsPath}: expected classNames to be distinct non-empty strings, got ${describe(names)}`);
  }
  const top = labels.reduce((m, l) => Math.max(m, l), -1);
  if (top >= names.length) {
    throw new ConfigError(`${labelsPath}: expected a class name for every label (labels go up to ${top}), got ${names.length} names`);
  }
  return [...(names as string[])];
}

/** Hashes the samples (bounded memory) and labels as the eager loaders do, and builds the source. */
async function arraySource(spec: ArraySourceSpec): Promise<DataSource> {
  const { samples, count, stored, labels, imagesPath } = spec;
  const per = stored.reduce((a, b) => a * b, 1);
  const { shape } = arrangeSamples(new Float32Array(0), 0, stored, spec.options.inputShape, spec.options.layout, imagesPath);
  const hash = createHash('sha256');
  const step = Math.max(1, Math.floor(OPEN_CHUNK_BYTES / Math.max(1, spec.sampleBytes)));
  for (let i = 0; i < count; i += step) hash.update(bytesOf(await samples.fetch(i, Math.min(step, count - i))));
  hash.update(bytesOf(labels));
  const sha256 = hash.digest('hex');
  const classNames = spec.options.classNames === undefined ? undefined : checkClassNames(spec.options.classNames, labels, spec.labelsPath);
  const lock = serial();
  let closed = false;
  return {
    count,
    shape,
    sha256,
    source: imagesPath,
    ...(classNames ? { classNames } : {}),
    read(start: number, end: number): Promise<DataBatch> {
      return lock(async () => {
        if (closed) throw new DataLoadError(`${spec.what}(${imagesPath}).read: expected an open source, got one already closed`);
        checkRange(start, end, count, spec.what, per);
        const n = end - start;
        const raw = n === 0 ? new Float32Array(0) : await samples.fetch(start, n);
        const arranged = arrangeSamples(spec.toFloat(raw), n, stored, spec.options.inputShape, spec.options.layout, imagesPath);
        return { images: arranged.data, labels: labels.slice(start, end) };
      });
    },
    close(): Promise<void> {
      return lock(async () => {
        if (closed) return;
        closed = true;
        await samples.close();
      });
    },
  };
}

/** Reads `length` bytes at `offset`, or fails with `truncated`. */
async function readExactly(reader: ByteSource, offset: number, length: number, truncated: (got: number) => Error): Promise<Uint8Array> {
  const bytes = await reader.read(offset, length);
  if (bytes.length !== length) throw truncated(offset + bytes.length);
  return bytes;
}

/** Checks that a plain file holds exactly `expected` bytes (a gzip file is checked by {@link checkGzipEnd}). */
function checkSize(reader: ByteSource, expected: number, wrong: (got: number | string) => Error): void {
  if (reader.size !== undefined && reader.size !== expected) throw wrong(reader.size);
}

/**
 * Checks that a gzip file's inflated bytes end at `expected`, when all of them are used (no `limit`): called once
 * the cursor is near the end, so it costs one chunk. With a limit, the inflater stops at the last sample used.
 */
async function checkGzipEnd(reader: ByteSource, expected: number, all: boolean, wrong: (got: number | string) => Error): Promise<void> {
  if (reader.gzip && all && (await reader.hasByteAt(expected))) throw wrong(`more (trailing bytes after ${expected})`);
}

/**
 * Opens the images and labels files and runs `body`; on failure closes both, on success only the labels (the
 * source keeps the images file open).
 */
async function withReaders(imagesPath: string, labelsPath: string, body: (img: ByteSource, lbl: ByteSource) => Promise<DataSource>): Promise<DataSource> {
  const readers: ByteSource[] = [];
  try {
    readers.push(await openBytes(imagesPath));
    readers.push(await openBytes(labelsPath));
    const source = await body(readers[0]!, readers[1]!);
    await readers[1]!.close();
    return source;
  } catch (e) {
    await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
    throw e;
  }
}

/** The most values one stored sample may hold (2²⁶: 256 MB as float32), so that a header cannot make one read huge. */
const MAX_SAMPLE_VALUES = 2 ** 26;

/** Refuses an array with no samples, or samples too large to read one at a time. */
function checkSamples(where: string, shape: readonly number[]): void {
  if (shape[0] === 0) throw emptyError(where, shape);
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  if (per > MAX_SAMPLE_VALUES) {
    throw new DataLoadError(`${where}: expected samples of at most ${MAX_SAMPLE_VALUES} values, got shape [${shape.join(', ')}] (${per} values a sample)`);
  }
}

/** Checks the options every array loader takes before any file is opened. */
function checkArrayOptions(options: ArrayOpenOptions, where: string): void {
  checkLimit(options.limit, where);
  checkBounds(options.bounds ?? [0, 1], where);
  const shape: unknown = options.inputShape;
  if (shape !== undefined && (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0))) {
    throw new ConfigError(`${where}: expected inputShape to be a non-empty array of positive integers, got ${describe(shape)}`);
  }
  const layout: unknown = options.layout;
  if (layout !== undefined && layout !== 'NHWC' && layout !== 'NCHW' && layout !== 'flat') {
    throw new ConfigError(`${where}: expected layout to be 'NHWC', 'NCHW' or 'flat', got ${describe(layout)}`);
  }
}

function emptyError(where: string, shape: readonly number[]): DataLoadError {
  return new DataLoadError(`${where}: expected at least one sample, got an array of shape [${shape.join(', ')}]`);
}

async function idxLabels(reader: ByteSource, labelsPath: string, imagesPath: string, total: number, count: number): Promise<Int32Array> {
  const head = await reader.read(0, 4);
  const { type, dims, headerLen } = parseIdxHeader(await reader.read(0, 4 + 4 * (head[3] ?? 0)), labelsPath);
  if (dims.length !== 1) throw new DataLoadError(`${labelsPath}: expected a rank-1 IDX label array, got shape [${dims.join(', ')}]`);
  if (dims[0] !== total) throw new DataLoadError(`${labelsPath}: expected ${total} labels to match ${imagesPath}, got ${dims[0]}`);
  const wrong = (got: string | number): DataLoadError =>
    new DataLoadError(
      `${labelsPath}: expected ${headerLen + total * type.bytes} bytes for an IDX ${type.name} array of shape [${total}], got ${got} (truncated or corrupt)`,
    );
  checkSize(reader, headerLen + total * type.bytes, wrong);
  const body = await readExactly(reader, headerLen, count * type.bytes, wrong);
  await checkGzipEnd(reader, headerLen + total * type.bytes, count === total, wrong);
  return toLabels(idxValues(body, type) as LabelSource, count, labelsPath);
}

/**
 * Opens an IDX image file and its IDX label file as a lazy {@link DataSource}: the header and the labels are read
 * at once; the samples of a batch are read when it is (by file offset, or by inflating a gzip file up to them) and
 * converted exactly as {@link loadIdx} converts them, so a batch holds the same values, bit for bit, as the same
 * slice of the eager dataset, and `sha256` is the same. Opening streams once over the samples used to hash them
 * (memory: a few MB whatever the size); a gzip file is inflated only up to the last sample used (`limit`), and
 * never past the size its header declares.
 *
 * @param imagesPath - the `idx3-ubyte` images (optionally gzip-compressed).
 * @param labelsPath - the `idx1-ubyte` labels.
 * @param options - bounds (default `[0, 1]`), limit (default all), inputShape and layout (default as stored),
 *   classNames (default none).
 * @returns the source; close it when done.
 * @throws {@link DataLoadError} for unreadable, non-regular, malformed or empty files, mismatched counts, or bad
 *   labels; {@link ShapeError} if the images cannot take `inputShape`; {@link ConfigError} for a bad limit, bounds or classNames.
 * @example
 * ```ts
 * import { openIdx } from 'robustest';
 * const source = await openIdx('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', { inputShape: [28, 28, 1] });
 * const batch = await source.read(0, 100);
 * await source.close();
 * ```
 */
export async function openIdx(imagesPath: string, labelsPath: string, options: ArrayOpenOptions = {}): Promise<DataSource> {
  checkArrayOptions(options, 'loadIdx');
  const bounds = options.bounds ?? [0, 1];
  return withReaders(imagesPath, labelsPath, async (img, lbl) => {
    const head = await img.read(0, 4);
    const { type, dims, headerLen } = parseIdxHeader(await img.read(0, 4 + 4 * (head[3] ?? 0)), imagesPath);
    const expected = headerLen + dims.reduce((a, b) => a * b, 1) * type.bytes;
    const wrong = (got: string | number): DataLoadError =>
      new DataLoadError(
        `${imagesPath}: expected ${expected} bytes for an IDX ${type.name} array of shape [${dims.join(', ')}], got ${got} (truncated or corrupt)`,
      );
    const total = dims[0]!;
    const count = options.limit === undefined ? total : Math.min(options.limit, total);
    if (dims.length < 2) throw new DataLoadError(`${imagesPath}: expected an IDX array of rank >= 2 (samples first), got shape [${dims.join(', ')}]`);
    checkSamples(imagesPath, dims);
    checkSize(img, expected, wrong);
    const labels = await idxLabels(lbl, labelsPath, imagesPath, total, count);
    const stored = dims.slice(1);
    const sampleBytes = stored.reduce((a, b) => a * b, 1) * type.bytes;
    const samples = fileSamples(img, headerLen, sampleBytes, (b) => idxValues(b, type), wrong);
    const source = await arraySource({
      what: 'openIdx',
      imagesPath,
      labelsPath,
      samples,
      count,
      stored,
      labels,
      sampleBytes,
      options,
      toFloat: (raw) => (raw instanceof Uint8Array ? scaleUint8(raw, bounds) : Float32Array.from(raw as Exclude<Raw, BigInt64Array | BigUint64Array>)),
    });
    await checkGzipEnd(img, expected, count === total, wrong); // the hashing pass left the cursor at the last sample
    return source;
  });
}

const FLOAT_DTYPES = ['float16', 'float32', 'float64'];
const LABEL_DTYPES = [...FLOAT_DTYPES, 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool'];

async function npyHead(reader: ByteSource, where: string): Promise<NpyHeader> {
  const pre = await reader.read(0, NPY_PREAMBLE);
  const end = npyHeaderEnd(pre, where);
  return parseNpyHeader(await reader.read(0, end), where);
}

/**
 * Opens a `.npy` image array and its `.npy` label array as a lazy {@link DataSource}, as {@link openIdx} does for
 * IDX files: labels are read at once, the samples of a batch when it is read, converted exactly as {@link loadNpy}
 * converts them (same values bit for bit, same `sha256`). An image array stored in Fortran order is not contiguous
 * per sample: it is read whole into memory (save it with `np.ascontiguousarray` to stream it).
 *
 * @param imagesPath - the image array (`.npy`, optionally gzip-compressed).
 * @param labelsPath - the label array.
 * @param options - bounds (default `[0, 1]`), limit (default all), inputShape and layout (default as stored),
 *   classNames (default none).
 * @returns the source; close it when done.
 * @throws {@link DataLoadError} for unreadable, non-regular, malformed or empty files, unsupported dtypes, bad labels
 *   or mismatched counts; {@link ShapeError} if the images cannot take `inputShape`; {@link ConfigError} for a bad
 *   limit, bounds or classNames.
 * @example
 * ```ts
 * import { openNpy } from 'robustest';
 * const source = await openNpy('x_val.npy', 'y_val.npy', { inputShape: [32, 32, 3] });
 * const batch = await source.read(0, 100);
 * await source.close();
 * ```
 */
export async function openNpy(imagesPath: string, labelsPath: string, options: ArrayOpenOptions = {}): Promise<DataSource> {
  checkArrayOptions(options, 'loadNpy');
  const bounds = options.bounds ?? [0, 1];
  return withReaders(imagesPath, labelsPath, async (img, lbl) => {
    const ih = await npyHead(img, imagesPath);
    const lh = await npyHead(lbl, labelsPath);
    const sizeOf = (shape: readonly number[], bytes: number): number => shape.reduce((a, b) => a * b, 1) * bytes;
    const wrongOf =
      (where: string, h: NpyHeader) =>
      (got: string | number): DataLoadError => {
        const need = sizeOf(h.shape, h.info.bytes);
        const have = typeof got === 'number' ? got - h.dataStart : got;
        const what = typeof have === 'number' && have < need ? 'truncated' : 'trailing bytes after the array';
        return new DataLoadError(`${where}: expected ${need} data bytes for a ${h.info.dtype} array of shape [${h.shape.join(', ')}], got ${have} (${what})`);
      };
    if (ih.shape.length < 2) throw new DataLoadError(`${imagesPath}: expected an image array of rank >= 2 (samples first), got shape [${ih.shape.join(', ')}]`);
    const lshape = lh.shape;
    if (!(lshape.length === 1 || (lshape.length === 2 && lshape[1] === 1))) {
      const hint = lshape.length === 2 ? ' (one-hot labels? save labels.argmax(axis=1) instead)' : '';
      throw new DataLoadError(`${labelsPath}: expected a label array of shape [N] or [N, 1], got shape [${lshape.join(', ')}]${hint}`);
    }
    if (!LABEL_DTYPES.includes(lh.info.dtype)) throw new DataLoadError(`${labelsPath}: expected an integer, bool or float label array, got ${lh.info.dtype}`);
    const total = ih.shape[0]!;
    if (lshape[0] !== total) throw new DataLoadError(`${labelsPath}: expected ${total} labels to match the ${total} images of ${imagesPath}, got ${lshape[0]}`);
    const count = options.limit === undefined ? total : Math.min(options.limit, total);
    const wrongImg = wrongOf(imagesPath, ih);
    const wrongLbl = wrongOf(labelsPath, lh);
    const needImg = sizeOf(ih.shape, ih.info.bytes);
    if (!Number.isSafeInteger(needImg)) throw wrongImg('an impossible size');
    checkSamples(imagesPath, ih.shape);
    checkSize(img, ih.dataStart + needImg, wrongImg);
    checkSize(lbl, lh.dataStart + sizeOf(lshape, lh.info.bytes), wrongLbl);
    const dtype = ih.info.dtype;
    if (dtype !== 'uint8' && !FLOAT_DTYPES.includes(dtype)) {
      throw new DataLoadError(
        `${imagesPath}: expected images of dtype float16, float32, float64 (taken as they are) or uint8 (scaled from 0..255), got ${dtype} (convert with x.astype('uint8') or x.astype('float32'))`,
      );
    }
    const lbody = await readExactly(lbl, lh.dataStart, count * lh.info.bytes, wrongLbl);
    await checkGzipEnd(lbl, lh.dataStart + sizeOf(lshape, lh.info.bytes), count === total, wrongLbl);
    const labels = toLabels(npyValues(lbody, lh.info) as LabelSource, count, labelsPath);
    const stored = ih.shape.slice(1);
    const per = stored.reduce((a, b) => a * b, 1);
    const sampleBytes = per * ih.info.bytes;
    let samples: Samples;
    if (ih.fortranOrder && stored.some((d) => d !== 1)) {
      // not contiguous per sample: decode the whole array once, in C order
      const whole = fortranToC(npyValues(await readExactly(img, ih.dataStart, needImg, wrongImg), ih.info), ih.shape);
      await checkGzipEnd(img, ih.dataStart + needImg, true, wrongImg);
      await img.close();
      samples = { fetch: (start, n) => Promise.resolve(whole.subarray(start * per, (start + n) * per) as Raw), close: () => Promise.resolve() };
    } else {
      samples = fileSamples(img, ih.dataStart, sampleBytes, (b) => npyValues(b, ih.info), wrongImg);
    }
    const source = await arraySource({
      what: 'openNpy',
      imagesPath,
      labelsPath,
      samples,
      count,
      stored,
      labels,
      sampleBytes,
      options,
      toFloat: (raw) =>
        dtype === 'uint8' ? scaleUint8(raw as Uint8Array, bounds) : raw instanceof Float32Array ? raw.slice() : Float32Array.from(raw as Float64Array),
    });
    if (!ih.fortranOrder) await checkGzipEnd(img, ih.dataStart + needImg, count === total, wrongImg);
    return source;
  });
}
