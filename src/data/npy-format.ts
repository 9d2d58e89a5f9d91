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
import { gunzipIfNeeded } from './io.js';
import { DataLoadError } from '../errors.js';

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

/** An npy element type. @internal */
export interface DtypeInfo {
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

/** Reorders Fortran-order values of `shape` into C order. @internal */
export function fortranToC<T extends NpyData>(data: T, shape: readonly number[]): T {
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
  const buf = gunzipIfNeeded(bytes, where, (head) => {
    try {
      if (head.length < NPY_PREAMBLE || head.length < npyHeaderEnd(head, where)) return undefined;
      const h = parseNpyHeader(head, where);
      return h.dataStart + h.shape.reduce((a, b) => a * b, 1) * h.info.bytes;
    } catch {
      return undefined; // reported on the whole buffer below
    }
  });
  const head = parseNpyHeader(buf, where);
  const { info, shape, fortranOrder, dataStart } = head;
  const count = shape.reduce((a, b) => a * b, 1);
  const have = buf.length - dataStart;
  const need = count * info.bytes;
  if (!Number.isSafeInteger(need) || have !== need) {
    const what = have < need ? 'truncated' : 'trailing bytes after the array';
    throw new DataLoadError(`${where}: expected ${need} data bytes for a ${info.dtype} array of shape [${shape.join(', ')}], got ${have} (${what})`);
  }
  let data = npyValues(buf.subarray(dataStart, dataStart + need), info);
  if (fortranOrder) data = fortranToC(data, shape);
  return { shape, dtype: info.dtype, data, fortranOrder, version: head.version };
}

/** What an npy header declares. @internal */
export interface NpyHeader {
  readonly info: DtypeInfo;
  readonly shape: number[];
  readonly fortranOrder: boolean;
  readonly version: readonly [major: number, minor: number];
  /** Offset of the first value. */
  readonly dataStart: number;
}

/**
 * Bytes needed to know the header's length: the preamble (10 bytes in version 1, 12 in versions 2 and 3).
 * @internal
 */
export const NPY_PREAMBLE = 12;

/**
 * The length of preamble plus header that `buf` (the first {@link NPY_PREAMBLE} bytes or more of a file) declares,
 * after checking the magic string and version.
 * @internal
 */
export function npyHeaderEnd(buf: Uint8Array, where: string): number {
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
  if (headerLen > MAX_HEADER) throw new DataLoadError(`${where}: expected an npy header of at most ${MAX_HEADER} bytes, got ${headerLen}`);
  return 8 + lenBytes + headerLen;
}

/**
 * Parses the preamble and header at the start of `buf` (which must hold at least {@link npyHeaderEnd} bytes).
 * @internal
 */
export function parseNpyHeader(buf: Uint8Array, where: string): NpyHeader {
  const dataStart = npyHeaderEnd(buf, where);
  const major = buf[6]!;
  const minor = buf[7]!;
  const start = major === 1 ? 10 : 12;
  const headerLen = dataStart - start;
  if (buf.length < dataStart) {
    throw new DataLoadError(`${where}: expected a ${headerLen}-byte npy header after the preamble, got ${buf.length - start} bytes (truncated)`);
  }
  const headerBytes = buf.subarray(start, dataStart);
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
  return { info, shape, fortranOrder: fortran, version: [major, minor], dataStart };
}

/**
 * Decodes stored npy values (a whole number of elements of `info`'s dtype, in file order) into a new array in host
 * byte order: float16 widened to float32, bool as 0/1.
 * @internal
 */
export function npyValues(bytes: Uint8Array, info: DtypeInfo): NpyData {
  const n = Math.floor(bytes.length / info.bytes);
  const data = allocate(info.dtype, n);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  raw.set(bytes.subarray(0, n * info.bytes));
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
  return info.dtype === 'float16' ? halfToFloat32(data as Uint16Array) : data;
}
