/**
 * NumPy `.npy` arrays (what `numpy.save` writes), optionally gzip-compressed.
 *
 * Format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): the magic `\x93NUMPY`,
 * a major and minor version byte, the header length (uint16 little-endian in version 1, uint32 in versions
 * 2 and 3), then a Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (10, 28, 28), }`
 * (latin-1 in versions 1 and 2, UTF-8 in version 3), then the raw values.
 *
 * Supported dtypes: `f2 f4 f8` (float16/32/64), `i1 i2 i4 i8`, `u1 u2 u4 u8`, `b1` (bool), little- or big-endian.
 * Arrays stored in Fortran (column-major) order are transposed to C (row-major) order on load, so callers
 * always see C order. Structured, object, string, complex and datetime arrays are rejected.
 * @module
 */
import { gunzipIfNeeded, readDataFile } from './io.js';
import { DataLoadError } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import type { Dataset, LoadOptions } from './types.js';
import { arrangeSamples, checkBounds, checkLimit, scaleUint8, toLabels } from './shape.js';

/** Element type of a decoded `.npy` array, named after numpy's dtypes. */
export type NpyDtype = 'float16' | 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool';

/**
 * The values of a decoded `.npy` array. float16 is widened to Float32Array (exactly); int64/uint64 stay
 * 64-bit (BigInt64Array/BigUint64Array) so that nothing is rounded; bool is a Uint8Array of 0s and 1s.
 */
export type NpyData =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/**
 * A decoded `.npy` array, always in C (row-major) order.
 *
 * @example
 * ```ts
 * const a: NpyArray = decodeNpy(bytes, 'x.npy');
 * if (a.dtype === 'int64') console.log((a.data as BigInt64Array)[0]);
 * ```
 */
export interface NpyArray {
  /** Dimensions, outermost first (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** The element type. */
  readonly dtype: NpyDtype;
  /** The values in C order, in host byte order. */
  readonly data: NpyData;
  /** Whether the file stored the values in Fortran order (they have been transposed to C order). */
  readonly fortranOrder: boolean;
  /** The format version of the file, e.g. `[1, 0]`. */
  readonly version: readonly [major: number, minor: number];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Headers longer than this are refused (numpy itself refuses more than 10 000 bytes by default). */
const MAX_HEADER = 1 << 20;
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------------------
// A small parser for the Python literal in the header: dicts, tuples, lists, strings, ints, True/False/None.

type PyValue = string | number | boolean | null | PyValue[] | { readonly [key: string]: PyValue };

class HeaderParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly where: string,
  ) {}

  private fail(expected: string): never {
    const got = this.pos >= this.text.length ? 'the end of the header' : JSON.stringify(this.text.slice(this.pos, this.pos + 20));
    throw new DataLoadError(`${this.where}: expected ${expected} in the npy header at character ${this.pos}, got ${got}`);
  }

  private skip(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private peek(): string | undefined {
    this.skip();
    return this.text[this.pos];
  }

  private eat(ch: string): boolean {
    if (this.peek() === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  parseAll(): PyValue {
    const v = this.value(0);
    this.skip();
    if (this.pos !== this.text.length) this.fail('nothing after the header dict');
    return v;
  }

  private value(depth: number): PyValue {
    if (depth > 32) this.fail('a header nested at most 32 levels deep');
    const c = this.peek();
    if (c === undefined) this.fail('a value');
    if (c === '{') return this.dict(depth);
    if (c === '(') return this.sequence(')', depth);
    if (c === '[') return this.sequence(']', depth);
    if (c === "'" || c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.integer();
    for (const [word, v] of [
      ['True', true],
      ['False', false],
      ['None', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail('a Python literal (dict, tuple, list, string, integer, True, False or None)');
  }

  private dict(depth: number): { [key: string]: PyValue } {
    this.pos++; // {
    const out: { [key: string]: PyValue } = Object.create(null) as { [key: string]: PyValue };
    while (!this.eat('}')) {
      const c = this.peek();
      if (c !== "'" && c !== '"') this.fail("a quoted key or '}'");
      const key = this.string();
      if (!this.eat(':')) this.fail("':'");
      out[key] = this.value(depth + 1);
      if (!this.eat(',')) {
        if (!this.eat('}')) this.fail("',' or '}'");
        break;
      }
    }
    return out;
  }

  private sequence(close: string, depth: number): PyValue[] {
    this.pos++; // ( or [
    const out: PyValue[] = [];
    while (!this.eat(close)) {
      out.push(this.value(depth + 1));
      if (!this.eat(',')) {
        if (!this.eat(close)) this.fail(`',' or '${close}'`);
        break;
      }
    }
    return out;
  }

  private string(): string {
    const quote = this.text[this.pos]!;
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      this.pos++;
      if (c === quote) return out;
      if (c === '\\') {
        const n = this.text[this.pos];
        if (n === undefined) break;
        this.pos++;
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      } else {
        out += c;
      }
    }
    return this.fail(`a closing ${quote}`);
  }

  private integer(): number {
    const m = /^-?\d+L?/.exec(this.text.slice(this.pos, this.pos + 40));
    if (!m) this.fail('an integer');
    this.pos += m[0].length;
    const n = Number(m[0].replace(/L$/, ''));
    if (!Number.isSafeInteger(n)) this.fail('an integer below 2^53');
    return n;
  }
}

// ---------------------------------------------------------------------------------------------------------

interface DtypeInfo {
  readonly dtype: NpyDtype;
  readonly bytes: number;
  readonly littleEndian: boolean;
}

const KINDS: Record<string, Partial<Record<number, NpyDtype>>> = {
  f: { 2: 'float16', 4: 'float32', 8: 'float64' },
  i: { 1: 'int8', 2: 'int16', 4: 'int32', 8: 'int64' },
  u: { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' },
  b: { 1: 'bool' },
};

function parseDescr(descr: PyValue | undefined, where: string): DtypeInfo {
  if (typeof descr !== 'string') {
    const got = Array.isArray(descr) ? 'a structured dtype (a list of fields)' : descr === undefined ? 'no descr key' : JSON.stringify(descr);
    throw new DataLoadError(`${where}: expected a plain numeric dtype in the npy header's 'descr', got ${got}`);
  }
  const m = /^([<>|=]?)([a-zA-Z?])(\d*)$/.exec(descr);
  const dtype = m ? KINDS[m[2]!]?.[Number(m[3])] : undefined;
  if (!m || !dtype) {
    throw new DataLoadError(
      `${where}: expected an npy dtype among <f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (or big-endian >), got '${descr}' (convert with arr.astype('float32') or arr.astype('int64'))`,
    );
  }
  const bytes = Number(m[3]);
  const order = m[1]!;
  if (bytes > 1 && order !== '<' && order !== '>') {
    throw new DataLoadError(`${where}: expected an explicit byte order '<' or '>' in the npy dtype, got '${descr}'`);
  }
  return { dtype, bytes, littleEndian: order !== '>' };
}

function parseShape(shape: PyValue | undefined, where: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    throw new DataLoadError(`${where}: expected the npy header's 'shape' to be a tuple of non-negative integers, got ${JSON.stringify(shape) ?? 'none'}`);
  }
  return shape as number[];
}

function allocate(dtype: NpyDtype, n: number): NpyData {
  switch (dtype) {
    case 'float16':
    case 'uint16':
      return new Uint16Array(n); // float16 is widened afterwards
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'uint64':
      return new BigUint64Array(n);
  }
}

/** Exact conversion of IEEE 754 half-precision bit patterns to numbers. */
function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Reorders Fortran-order values of `shape` into C order. */
function fortranToC<T extends NpyData>(data: T, shape: readonly number[]): T {
  const rank = shape.length;
  if (rank < 2 || data.length === 0) return data;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const fstride: number[] = [];
  let s = 1;
  for (let j = 0; j < rank; j++) {
    fstride.push(s);
    s *= shape[j]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let off = 0; // Fortran offset of the current C-order multi-index
  const src = data as unknown as ArrayLike<number | bigint>;
  const dst = out as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < data.length; i++) {
    dst[i] = src[off]!;
    // advance the odometer, last axis fastest
    for (let j = rank - 1; j >= 0; j--) {
      idx[j]!++;
      off += fstride[j]!;
      if (idx[j]! < shape[j]!) break;
      off -= fstride[j]! * shape[j]!;
      idx[j] = 0;
    }
  }
  return out;
}

/**
 * Decodes the bytes of a `.npy` file (gzip-compressed input is detected from its magic bytes and inflated).
 * Values come back in C order and host byte order; Fortran-order arrays are transposed.
 *
 * @param bytes - the file's contents.
 * @param where - the file name, for error messages. Default `'npy'`.
 * @returns the shape, dtype and values (see {@link NpyData} for how each dtype is represented).
 * @throws {@link DataLoadError} on a wrong magic string, an unsupported version, a malformed header, an
 *   unsupported dtype, or a data section whose size does not match the header (truncated or trailing bytes).
 * @example
 * ```ts
 * const { shape, dtype, data } = decodeNpy(await readFile('x_test.npy'), 'x_test.npy');
 * // shape [10000, 28, 28], dtype 'uint8'
 * ```
 */
export function decodeNpy(bytes: Uint8Array, where = 'npy'): NpyArray {
  const buf = gunzipIfNeeded(bytes, where);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) {
    const head = Array.from(buf.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataLoadError(
      `${where}: expected an npy file starting with \\x93NUMPY (93 4e 55 4d 50 59) and a 10-byte preamble, got ${head ? `${head} (${buf.length} bytes)` : 'an empty file'}`,
    );
  }
  const major = buf[6]!;
  const minor = buf[7]!;
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw new DataLoadError(`${where}: expected npy format version 1.0, 2.0 or 3.0, got ${major}.${minor}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) throw new DataLoadError(`${where}: expected a ${8 + lenBytes}-byte npy preamble, got ${buf.length} bytes`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (headerLen > MAX_HEADER) throw new DataLoadError(`${where}: expected an npy header of at most ${MAX_HEADER} bytes, got ${headerLen}`);
  if (buf.length < start + headerLen) {
    throw new DataLoadError(`${where}: expected a ${headerLen}-byte npy header after the preamble, got ${buf.length - start} bytes (truncated)`);
  }
  const headerBytes = buf.subarray(start, start + headerLen);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  const header = new HeaderParser(text, where).parseAll();
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new DataLoadError(`${where}: expected the npy header to be a dict, got ${JSON.stringify(header)}`);
  }
  const info = parseDescr(header['descr'], where);
  const fortran = header['fortran_order'];
  if (typeof fortran !== 'boolean') {
    throw new DataLoadError(`${where}: expected the npy header's 'fortran_order' to be True or False, got ${JSON.stringify(fortran) ?? 'none'}`);
  }
  const shape = parseShape(header['shape'], where);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const have = buf.length - dataStart;
  const need = count * info.bytes;
  if (!Number.isSafeInteger(need) || have !== need) {
    const what = have < need ? 'truncated' : 'trailing bytes after the array';
    throw new DataLoadError(`${where}: expected ${need} data bytes for a ${info.dtype} array of shape [${shape.join(', ')}], got ${have} (${what})`);
  }
  let data = allocate(info.dtype, count);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  raw.set(buf.subarray(dataStart, dataStart + need));
  if (info.bytes > 1 && info.littleEndian !== HOST_LITTLE_ENDIAN) {
    const b = info.bytes;
    for (let o = 0; o < raw.length; o += b) {
      for (let i = 0, j = b - 1; i < j; i++, j--) {
        const t = raw[o + i]!;
        raw[o + i] = raw[o + j]!;
        raw[o + j] = t;
      }
    }
  }
  if (info.dtype === 'bool') {
    for (let i = 0; i < raw.length; i++) raw[i] = raw[i] ? 1 : 0;
  }
  if (info.dtype === 'float16') data = halfToFloat32(data as Uint16Array);
  if (fortran) data = fortranToC(data, shape);
  return { shape, dtype: info.dtype, data, fortranOrder: fortran, version: [major, minor] };
}

const FLOAT_DTYPES: readonly NpyDtype[] = ['float16', 'float32', 'float64'];
const INT_DTYPES: readonly NpyDtype[] = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool'];

/**
 * Loads a `.npy` image array and its `.npy` label array (e.g. from `np.save('x_test.npy', x)`).
 *
 * - Images: the first axis is the sample. float16/32/64 values are taken as they are (they must already lie
 *   inside the model's bounds, which the library checks later; they are *not* rescaled); uint8 values are scaled
 *   linearly from 0..255 onto `options.bounds`. Other integer or bool image arrays are rejected, since their range
 *   is ambiguous: convert them to uint8 or float32 first.
 * - Labels: shape `[N]` (or `[N, 1]`), any integer or bool dtype, or a float dtype holding whole numbers; each
 *   must be in `[0, 2³¹ − 1]`. int64 (numpy's default) is converted exactly or rejected, never wrapped.
 * - Shape: samples are brought into `options.inputShape` by {@link arrangeSamples}: a reshape when only unit
 *   axes differ, or an NHWC↔NCHW transpose (PyTorch arrays are `[N, C, H, W]`, tfjs models take `[N, H, W, C]`).
 * - `sha256` covers the decoded image values (C order, host byte order, in the stored dtype with float16 widened
 *   to float32; the first `count` samples) followed by the int32 labels.
 *
 * @param imagesPath - path of the image array (`.npy`, or `.npy` compressed with gzip).
 * @param labelsPath - path of the label array.
 * @param options - bounds (default `[0, 1]`), limit (default: all), inputShape and layout (default: as stored).
 * @throws {@link DataLoadError} for unreadable or malformed files, unsupported dtypes, non-integer or negative
 *   labels, or mismatched counts; {@link ShapeError} if the images cannot take `inputShape`;
 *   {@link ConfigError} for a bad limit or bounds.
 * @example
 * ```ts
 * const test = await loadNpy('x_test.npy', 'y_test.npy', { limit: 500, inputShape: [32, 32, 3], bounds: [0, 1] });
 * ```
 */
export async function loadNpy(imagesPath: string, labelsPath: string, options: LoadOptions = {}): Promise<Dataset> {
  checkLimit(options.limit, 'loadNpy');
  const bounds = options.bounds ?? [0, 1];
  checkBounds(bounds, 'loadNpy');
  const [imgBytes, lblBytes] = await Promise.all([readDataFile(imagesPath), readDataFile(labelsPath)]);
  const img = decodeNpy(imgBytes, imagesPath);
  const lbl = decodeNpy(lblBytes, labelsPath);
  if (img.shape.length < 2) {
    throw new DataLoadError(`${imagesPath}: expected an image array of rank >= 2 (samples first), got shape [${img.shape.join(', ')}]`);
  }
  if (!(lbl.shape.length === 1 || (lbl.shape.length === 2 && lbl.shape[1] === 1))) {
    const hint = lbl.shape.length === 2 ? ' (one-hot labels? save labels.argmax(axis=1) instead)' : '';
    throw new DataLoadError(`${labelsPath}: expected a label array of shape [N] or [N, 1], got shape [${lbl.shape.join(', ')}]${hint}`);
  }
  if (!FLOAT_DTYPES.includes(lbl.dtype) && !INT_DTYPES.includes(lbl.dtype)) {
    throw new DataLoadError(`${labelsPath}: expected an integer, bool or float label array, got ${lbl.dtype}`);
  }
  const total = img.shape[0]!;
  if (lbl.shape[0] !== total) {
    throw new DataLoadError(`${labelsPath}: expected ${total} labels to match the ${total} images of ${imagesPath}, got ${lbl.shape[0]}`);
  }
  const count = options.limit === undefined ? total : Math.min(options.limit, total);
  const stored = img.shape.slice(1);
  const per = stored.reduce((a, b) => a * b, 1);
  const raw = img.data.subarray(0, count * per);
  let images: Float32Array;
  if (img.dtype === 'uint8') images = scaleUint8(raw as Uint8Array, bounds);
  else if (raw instanceof Float32Array) images = raw.slice();
  else if (raw instanceof Float64Array) images = Float32Array.from(raw);
  else {
    throw new DataLoadError(
      `${imagesPath}: expected images of dtype float16, float32, float64 (taken as they are) or uint8 (scaled from 0..255), got ${img.dtype} (convert with x.astype('uint8') or x.astype('float32'))`,
    );
  }
  const labels = toLabels(lbl.data, count, labelsPath);
  const arranged = arrangeSamples(images, count, stored, options.inputShape, options.layout, imagesPath);
  return {
    images: arranged.data,
    shape: arranged.shape,
    labels,
    count,
    sha256: sha256Bytes([new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength)]),
    source: imagesPath,
  };
}
