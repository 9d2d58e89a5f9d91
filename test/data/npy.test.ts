import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { decodeNpy, loadNpy } from '../../src/data/npy.js';
import { ConfigError, DataLoadError, ShapeError } from '../../src/errors.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

const FIXTURES = new URL('../fixtures/data/', import.meta.url);
const fixture = (name: string): Promise<Uint8Array> => readFile(new URL(name, FIXTURES));

interface NpyParts {
  descr: string;
  shape: readonly number[];
  body: Uint8Array;
  fortran?: boolean;
  version?: 1 | 2 | 3;
  /** Replaces the whole header dict text. */
  header?: string;
}

/** Writes an .npy file the way numpy does: preamble, dict header padded with spaces to a multiple of 64, body. */
function npy(p: NpyParts): Uint8Array {
  const version = p.version ?? 1;
  const shape = p.shape.length === 1 ? `(${p.shape[0]},)` : `(${p.shape.join(', ')})`;
  let dict = p.header ?? `{'descr': '${p.descr}', 'fortran_order': ${p.fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  while ((pre + dict.length + 1) % 64 !== 0) dict += ' ';
  dict += '\n';
  const header = new TextEncoder().encode(dict);
  const out = new Uint8Array(pre + header.length + p.body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, pre);
  out.set(p.body, pre + header.length);
  return out;
}

/** The bytes of numbers written with a DataView setter, little- or big-endian. */
function bytesOf(values: readonly (number | bigint)[], bytes: number, set: (v: DataView, o: number, x: never, le: boolean) => void, le = true): Uint8Array {
  const out = new Uint8Array(values.length * bytes);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => set(v, i * bytes, x as never, le));
  return out;
}
const f32 = (xs: number[], le = true) => bytesOf(xs, 4, (v, o, x, l) => v.setFloat32(o, x, l), le);
const f64 = (xs: number[], le = true) => bytesOf(xs, 8, (v, o, x, l) => v.setFloat64(o, x, l), le);
const i32 = (xs: number[], le = true) => bytesOf(xs, 4, (v, o, x, l) => v.setInt32(o, x, l), le);
const i64 = (xs: bigint[], le = true) => bytesOf(xs, 8, (v, o, x, l) => v.setBigInt64(o, x, l), le);

describe('decodeNpy on files written by numpy', () => {
  it('float32, C order, v1', async () => {
    const a = decodeNpy(await fixture('f4_2x3x2.npy'), 'f4');
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 3, 2]);
    expect(a.version).toEqual([1, 0]);
    expect(a.fortranOrder).toBe(false);
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i / 8));
  });

  it('float64 in Fortran order comes back in C order', async () => {
    const a = decodeNpy(await fixture('f8_fortran_3x4.npy'));
    expect(a.fortranOrder).toBe(true);
    expect(a.dtype).toBe('float64');
    expect(a.shape).toEqual([3, 4]);
    expect(Array.from(a.data as Float64Array)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('big-endian int32', async () => {
    const a = decodeNpy(await fixture('i4_be_5.npy'));
    expect(a.dtype).toBe('int32');
    expect(Array.from(a.data as Int32Array)).toEqual([1, -2, 3, 70000, -5]);
  });

  it('int64 stays exact as BigInt64Array', async () => {
    const a = decodeNpy(await fixture('i8_labels_4.npy'));
    expect(a.dtype).toBe('int64');
    expect(a.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(a.data as BigInt64Array)).toEqual([7n, 2n, 1n, 0n]);
  });

  it('uint8 rank 4', async () => {
    const a = decodeNpy(await fixture('u1_2x2x2x3.npy'));
    expect(a.dtype).toBe('uint8');
    expect(a.shape).toEqual([2, 2, 2, 3]);
    expect(Array.from(a.data as Uint8Array)).toEqual(Array.from({ length: 24 }, (_, i) => i * 10));
  });

  it('bool, float16 (incl. a subnormal), v2 and v3 headers', async () => {
    expect(Array.from(decodeNpy(await fixture('b1_3.npy')).data as Uint8Array)).toEqual([1, 0, 1]);
    const h = decodeNpy(await fixture('f2_4.npy'));
    expect(h.dtype).toBe('float16');
    expect(Array.from(h.data as Float32Array)).toEqual([0.5, -2, 65504, 2 * 2 ** -24]);
    const v2 = decodeNpy(await fixture('f4_v2_2x2.npy'));
    expect(v2.version).toEqual([2, 0]);
    expect(Array.from(v2.data as Float32Array)).toEqual([1.5, 2.5, 3.5, 4.5]);
    const v3 = decodeNpy(await fixture('u1_v3_3.npy'));
    expect(v3.version).toEqual([3, 0]);
    expect(Array.from(v3.data as Uint8Array)).toEqual([0, 128, 255]);
  });
});

describe('decodeNpy on generated headers', () => {
  it('decodes every supported dtype, little- and big-endian', () => {
    const cases: [string, Uint8Array, number[] | bigint[]][] = [
      ['<f4', f32([1.5, -0.25]), [1.5, -0.25]],
      ['>f4', f32([1.5, -0.25], false), [1.5, -0.25]],
      ['<f8', f64([0.1, 1e300]), [0.1, 1e300]],
      ['>f8', f64([0.1, -3], false), [0.1, -3]],
      ['|u1', Uint8Array.of(0, 255), [0, 255]],
      ['|i1', Uint8Array.of(0xff, 0x7f), [-1, 127]],
      ['<i2', Uint8Array.of(0xfe, 0xff, 0x00, 0x01), [-2, 256]],
      ['<u2', Uint8Array.of(0xfe, 0xff, 0x00, 0x01), [65534, 256]],
      ['<i4', i32([-7, 2 ** 31 - 1]), [-7, 2 ** 31 - 1]],
      ['>i4', i32([-7, 9], false), [-7, 9]],
      ['<u4', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0), [2 ** 32 - 1, 1]],
      ['<i8', i64([-5n, 2n ** 40n]), [-5n, 2n ** 40n]],
      ['>i8', i64([-5n, 3n], false), [-5n, 3n]],
      ['<u8', i64([-1n, 3n]), [2n ** 64n - 1n, 3n]],
      ['|b1', Uint8Array.of(0, 1), [0, 1]],
    ];
    for (const [descr, body, want] of cases) {
      const a = decodeNpy(npy({ descr, shape: [2], body }), descr);
      expect(Array.from(a.data as ArrayLike<number | bigint>), descr).toEqual(want);
      expect(a.shape).toEqual([2]);
    }
  });

  it('reads v1, v2 and v3 headers alike', () => {
    for (const version of [1, 2, 3] as const) {
      const a = decodeNpy(npy({ descr: '<f4', shape: [2, 2], body: f32([1, 2, 3, 4]), version }));
      expect(a.version).toEqual([version, 0]);
      expect(a.shape).toEqual([2, 2]);
      expect(Array.from(a.data as Float32Array)).toEqual([1, 2, 3, 4]);
    }
  });

  it('handles scalars, empty arrays, gzip and python2-style long ints', () => {
    expect(decodeNpy(npy({ descr: '<f8', shape: [], body: f64([2.5]) })).data).toEqual(Float64Array.of(2.5));
    expect(decodeNpy(npy({ descr: '<f4', shape: [0, 3], body: new Uint8Array(0) })).data.length).toBe(0);
    const gz = gzipSync(npy({ descr: '<i4', shape: [3], body: i32([4, 5, 6]) }));
    expect(Array.from(decodeNpy(gz).data as Int32Array)).toEqual([4, 5, 6]);
    const old = npy({ descr: '', shape: [], body: i32([1, 2]), header: `{"descr": "<i4", "fortran_order": False, "shape": (2L,)}` });
    expect(Array.from(decodeNpy(old).data as Int32Array)).toEqual([1, 2]);
  });

  it('transposes Fortran-order rank-3 arrays to C order', () => {
    const [d0, d1, d2] = [2, 3, 4];
    const f = new Array<number>(d0 * d1 * d2);
    for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++) for (let k = 0; k < d2; k++) f[i + d0 * j + d0 * d1 * k] = 100 * i + 10 * j + k;
    const a = decodeNpy(npy({ descr: '<i4', shape: [d0, d1, d2], body: i32(f), fortran: true }));
    const want: number[] = [];
    for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++) for (let k = 0; k < d2; k++) want.push(100 * i + 10 * j + k);
    expect(Array.from(a.data as Int32Array)).toEqual(want);
    expect(a.fortranOrder).toBe(true);
  });

  it('rejects malformed files with typed errors naming expected and got', () => {
    const good = npy({ descr: '<f4', shape: [2, 3], body: f32([1, 2, 3, 4, 5, 6]) });
    expectThrows(() => decodeNpy(new Uint8Array(0), 'e.npy'), DataLoadError, 'e.npy', /NUMPY/, /empty file/);
    const bad = good.slice();
    bad[1] = 0x4f;
    expectThrows(() => decodeNpy(bad, 'm.npy'), DataLoadError, 'm.npy', /93 4f 55/);
    const v9 = good.slice();
    v9[6] = 9;
    expectThrows(() => decodeNpy(v9), DataLoadError, /version 1\.0, 2\.0 or 3\.0, got 9\.0/);
    expectThrows(() => decodeNpy(good.subarray(0, good.length - 3), 't.npy'), DataLoadError, 't.npy', /expected 24 data bytes/, /got 21 \(truncated\)/);
    expectThrows(() => decodeNpy(Uint8Array.from([...good, 0, 0, 0, 0])), DataLoadError, /got 28 \(trailing/);
    expectThrows(() => decodeNpy(good.subarray(0, 40)), DataLoadError, /118-byte npy header/, /truncated/);
    expectThrows(() => decodeNpy(npy({ descr: '<U5', shape: [1], body: new Uint8Array(20) })), DataLoadError, /'<U5'/);
    expectThrows(() => decodeNpy(npy({ descr: '<c8', shape: [1], body: new Uint8Array(8) })), DataLoadError, /'<c8'/);
    expectThrows(() => decodeNpy(npy({ descr: '|O', shape: [1], body: new Uint8Array(8) })), DataLoadError, /'\|O'/);
    expectThrows(() => decodeNpy(npy({ descr: '=f4', shape: [1], body: new Uint8Array(4) })), DataLoadError, /byte order/);
    const structured = `{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: structured })), DataLoadError, /structured dtype/);
    const noShape = `{'descr': '<f4', 'fortran_order': False, }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: noShape })), DataLoadError, /'shape'/, /got none/);
    const negShape = `{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: negShape })), DataLoadError, /non-negative/, /-1/);
    const noFortran = `{'descr': '<f4', 'shape': (1,), }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: noFortran })), DataLoadError, /fortran_order/);
    const syntax = `{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: syntax })), DataLoadError, /',' or '}'/, /character 16/);
    const deep = `{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(100)}1${')'.repeat(100)}, }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: deep })), DataLoadError, /32 levels/);
    const unterminated = `{'descr': '<f4`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: unterminated })), DataLoadError, /closing '/);
    const notDict = `[1, 2]`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(0), header: notDict })), DataLoadError, /header to be a dict/);
    const huge = `{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000000000), }`;
    expectThrows(() => decodeNpy(npy({ descr: '', shape: [], body: new Uint8Array(4), header: huge })), DataLoadError, /data bytes/);
    expectThrows(() => decodeNpy(Uint8Array.of(0x1f, 0x8b, 1, 2, 3)), DataLoadError, /gzip/);
  });
});

describe('loadNpy', () => {
  let dir: string;
  const path = (name: string): string => join(dir, name);
  const put = (name: string, bytes: Uint8Array): Promise<void> => writeFile(path(name), bytes);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-npy-'));
    // 3 greyscale 2×2 uint8 images
    await put('u8.npy', npy({ descr: '|u1', shape: [3, 2, 2], body: Uint8Array.of(0, 51, 102, 255, 255, 0, 0, 0, 1, 2, 3, 4) }));
    await put('y_i8.npy', npy({ descr: '<i8', shape: [3], body: i64([7n, 2n, 1n]) }));
    await put('y_i8_col.npy', npy({ descr: '<i8', shape: [3, 1], body: i64([7n, 2n, 1n]) }));
    await put('y_big.npy', npy({ descr: '<i8', shape: [3], body: i64([7n, 2n ** 31n, 1n]) }));
    await put('y_neg.npy', npy({ descr: '<i4', shape: [3], body: i32([7, -1, 1]) }));
    await put('y_f.npy', npy({ descr: '<f4', shape: [3], body: f32([3, 0, 9]) }));
    await put('y_frac.npy', npy({ descr: '<f8', shape: [3], body: f64([3, 0.5, 9]) }));
    await put('y_2.npy', npy({ descr: '<i4', shape: [2], body: i32([1, 2]) }));
    await put('y_onehot.npy', npy({ descr: '<f4', shape: [3, 2], body: f32([1, 0, 0, 1, 1, 0]) }));
    await put('y_str.npy', npy({ descr: '<U1', shape: [3], body: new Uint8Array(12) }));
    // floats outside [0, 1] on purpose: they must come back untouched
    await put('f32.npy', npy({ descr: '<f4', shape: [3, 2, 2], body: f32([0, 0.5, 2, -3, 1, 1, 1, 1, 0.25, 0.25, 0.25, 0.25]) }));
    await put('f64.npy', npy({ descr: '<f8', shape: [3, 4], body: f64([0.1, 0.2, 0.3, 0.4, 1, 1, 1, 1, 0, 0, 0, 0]) }));
    await put('i32img.npy', npy({ descr: '<i4', shape: [3, 2], body: i32([0, 1, 2, 3, 4, 5]) }));
    await put('rank1.npy', npy({ descr: '<f4', shape: [3], body: f32([0, 1, 2]) }));
    // 3 NCHW images [2, 1, 2] (channels first): sample n, channel c, pixel p = 100n + 10c + p
    const nchw: number[] = [];
    for (let n = 0; n < 3; n++) for (let c = 0; c < 2; c++) for (let p = 0; p < 2; p++) nchw.push(100 * n + 10 * c + p);
    await put('nchw.npy', npy({ descr: '<f4', shape: [3, 2, 1, 2], body: f32(nchw) }));
    await put('u8.npy.gz', gzipSync(await readFile(path('u8.npy'))));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scales uint8 images into the bounds and converts int64 labels exactly', async () => {
    const ds = await loadNpy(path('u8.npy'), path('y_i8.npy'));
    expect(ds.count).toBe(3);
    expect(ds.shape).toEqual([2, 2]);
    expect(Array.from(ds.labels)).toEqual([7, 2, 1]);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.images.subarray(0, 4))).toEqual([0, Math.fround(0.2), Math.fround(0.4), 1]);
    expect(ds.source).toBe(path('u8.npy'));
    expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
    const sym = await loadNpy(path('u8.npy'), path('y_i8.npy'), { bounds: [-1, 1] });
    expect(Array.from(sym.images.subarray(0, 4))).toEqual([-1, Math.fround(-1 + 0.4), Math.fround(-1 + 0.8), 1]);
    expect(sym.sha256).toBe(ds.sha256); // the hash is of the stored bytes, not of the scaling
  });

  it('takes float images as they are, without rescaling', async () => {
    const ds = await loadNpy(path('f32.npy'), path('y_f.npy'), { bounds: [0, 255] });
    expect(Array.from(ds.images.subarray(0, 4))).toEqual([0, 0.5, 2, -3]);
    expect(Array.from(ds.labels)).toEqual([3, 0, 9]);
    const d64 = await loadNpy(path('f64.npy'), path('y_f.npy'));
    expect(d64.images).toBeInstanceOf(Float32Array);
    expect(Array.from(d64.images.subarray(0, 4))).toEqual([0.1, 0.2, 0.3, 0.4].map(Math.fround));
  });

  it('accepts [N, 1] labels and gzip-compressed images', async () => {
    const ds = await loadNpy(path('u8.npy.gz'), path('y_i8_col.npy'));
    expect(Array.from(ds.labels)).toEqual([7, 2, 1]);
    expect(ds.images[3]).toBe(1);
  });

  it('limit keeps the first N samples and changes the hash', async () => {
    const all = await loadNpy(path('u8.npy'), path('y_i8.npy'));
    const two = await loadNpy(path('u8.npy'), path('y_i8.npy'), { limit: 2 });
    expect(two.count).toBe(2);
    expect(Array.from(two.labels)).toEqual([7, 2]);
    expect(Array.from(two.images)).toEqual(Array.from(all.images.subarray(0, 8)));
    expect(two.sha256).not.toBe(all.sha256);
    const more = await loadNpy(path('u8.npy'), path('y_i8.npy'), { limit: 100 });
    expect(more.count).toBe(3);
    expect(more.sha256).toBe(all.sha256);
  });

  it('fits inputShape: unit axes, and NCHW ↔ NHWC transposes', async () => {
    const hw1 = await loadNpy(path('u8.npy'), path('y_i8.npy'), { inputShape: [2, 2, 1] });
    expect(hw1.shape).toEqual([2, 2, 1]);
    const flat = await loadNpy(path('u8.npy'), path('y_i8.npy'), { inputShape: [4] });
    expect(flat.shape).toEqual([4]);
    // stored [2, 1, 2] (C, H, W) → model [1, 2, 2] (H, W, C)
    const nhwc = await loadNpy(path('nchw.npy'), path('y_f.npy'), { inputShape: [1, 2, 2], layout: 'NHWC' });
    expect(nhwc.shape).toEqual([1, 2, 2]);
    const want: number[] = [];
    for (let n = 0; n < 3; n++) for (let p = 0; p < 2; p++) for (let c = 0; c < 2; c++) want.push(100 * n + 10 * c + p);
    expect(Array.from(nhwc.images)).toEqual(want);
    await expectRejects(loadNpy(path('u8.npy'), path('y_i8.npy'), { inputShape: [3, 3, 1] }), ShapeError, /\[3, 3, 1\]/, /\[2, 2\]/);
  });

  it('rejects bad labels, counts, dtypes and ranks with typed errors', async () => {
    await expectRejects(loadNpy(path('u8.npy'), path('y_big.npy')), DataLoadError, 'y_big.npy', /2147483648 at index 1/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_neg.npy')), DataLoadError, /-1 at index 1/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_frac.npy')), DataLoadError, /0\.5 at index 1/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_2.npy')), DataLoadError, /expected 3 labels/, /got 2/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_onehot.npy')), DataLoadError, /\[N\] or \[N, 1\]/, /\[3, 2\]/, /argmax/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_str.npy')), DataLoadError, /'<U1'/);
    await expectRejects(loadNpy(path('i32img.npy'), path('y_f.npy')), DataLoadError, /uint8/, /got int32/);
    await expectRejects(loadNpy(path('rank1.npy'), path('y_f.npy')), DataLoadError, /rank >= 2/, /\[3\]/);
    await expectRejects(loadNpy(path('missing.npy'), path('y_f.npy')), DataLoadError, 'missing.npy', /ENOENT/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_i8.npy'), { limit: 0 }), ConfigError, /limit/, /got 0/);
    await expectRejects(loadNpy(path('u8.npy'), path('y_i8.npy'), { bounds: [1, 0] }), ConfigError, /bounds/, /\[1, 0\]/);
  });
});
