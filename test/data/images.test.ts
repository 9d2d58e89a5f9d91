import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImageFolder } from '../../src/data/images.js';
import { ConfigError, DataLoadError } from '../../src/errors.js';
import { expectRejects } from '../helpers/errors.js';

const solid = (width: number, height: number, channels: 3 | 4, background: { r: number; g: number; b: number; alpha?: number }) =>
  sharp({ create: { width, height, channels, background } });

/** A greyscale PNG of one value. */
const greyPng = (width: number, height: number, value: number) =>
  sharp(Buffer.alloc(width * height, value), { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();

/** The same value repeated. */
const fill = (n: number, v: number): number[] => new Array<number>(n).fill(v);

// PIL's convert('L') weights: L = (19595 R + 38470 G + 7471 B + 32768) >> 16
const RED_L = 76;
const BLUE_L = 29;

describe('loadImageFolder', () => {
  let root: string;
  let dir: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'robustest-img-'));
    dir = join(root, 'ds');
    await mkdir(join(dir, 'cat'), { recursive: true });
    await mkdir(join(dir, 'dog', 'more'), { recursive: true });
    await mkdir(join(dir, '.hidden'));
    await writeFile(join(dir, 'cat', 'b.png'), await solid(10, 6, 3, { r: 255, g: 0, b: 0 }).png().toBuffer()); // red, RGB, not square
    await writeFile(join(dir, 'cat', 'a.png'), await solid(8, 8, 4, { r: 0, g: 0, b: 255, alpha: 0.5 }).png().toBuffer()); // blue, RGBA
    await writeFile(join(dir, 'cat', 'notes.txt'), 'not an image');
    await writeFile(join(dir, 'cat', '.DS_Store'), 'junk');
    await writeFile(join(dir, 'dog', 'c.PNG'), await greyPng(12, 12, 128)); // greyscale, upper-case extension
    await writeFile(join(dir, 'dog', 'more', 'd.webp'), await solid(5, 7, 3, { r: 0, g: 255, b: 0 }).webp({ lossless: true }).toBuffer());
    await writeFile(join(dir, 'dog', 'e.jpg'), await solid(16, 16, 3, { r: 200, g: 100, b: 50 }).jpeg({ quality: 90 }).toBuffer());
    await writeFile(join(dir, '.hidden', 'z.png'), await greyPng(2, 2, 0));
    await writeFile(join(dir, 'top.png'), await greyPng(2, 2, 0)); // a loose file at the top level is ignored
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('orders by class then path, labels by sorted folder name, and records files and classes', async () => {
    const ds = await loadImageFolder(dir, { inputShape: [8, 8, 1] });
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(ds.files).toEqual(['cat/a.png', 'cat/b.png', 'dog/c.PNG', 'dog/e.jpg', 'dog/more/d.webp']);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1, 1]);
    expect(ds.count).toBe(5);
    expect(ds.shape).toEqual([8, 8, 1]);
    expect(ds.images.length).toBe(5 * 64);
    expect(ds.source).toBe(dir);
    expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('converts to greyscale as PIL does, exactly for solid colours, into the bounds', async () => {
    const ds = await loadImageFolder(dir, { inputShape: [8, 8, 1] });
    const img = (i: number): number[] => Array.from(ds.images.subarray(i * 64, (i + 1) * 64));
    expect(img(0)).toEqual(fill(64, Math.fround(BLUE_L / 255))); // RGBA blue, alpha dropped
    expect(img(1)).toEqual(fill(64, Math.fround(RED_L / 255))); // red 10×6 stretched to 8×8
    expect(img(2)).toEqual(fill(64, Math.fround(128 / 255))); // grey 12×12 shrunk
    const sym = await loadImageFolder(dir, { inputShape: [8, 8], bounds: [-1, 1], limit: 3 });
    expect(sym.shape).toEqual([8, 8]);
    expect(Array.from(sym.images.subarray(128, 192))).toEqual(fill(64, Math.fround(-1 + (2 * 128) / 255)));
  });

  it('lays out RGB as NCHW [3, 8, 8] and NHWC [8, 8, 3]', async () => {
    const chw = await loadImageFolder(dir, { inputShape: [3, 8, 8], limit: 2 });
    expect(chw.shape).toEqual([3, 8, 8]);
    const red = chw.images.subarray(64 * 3, 64 * 6); // second image: cat/b.png
    expect(Array.from(red)).toEqual([...fill(64, 1), ...fill(64, 0), ...fill(64, 0)]);
    const blue = chw.images.subarray(0, 64 * 3);
    expect(Array.from(blue)).toEqual([...fill(64, 0), ...fill(64, 0), ...fill(64, 1)]);
    const hwc = await loadImageFolder(dir, { inputShape: [8, 8, 3], limit: 2, bounds: [0, 255] });
    expect(Array.from(hwc.images.subarray(64 * 3, 64 * 3 + 6))).toEqual([255, 0, 0, 255, 0, 0]);
    // a greyscale image becomes three equal channels
    const grey = await loadImageFolder(dir, { inputShape: [8, 8, 3], bounds: [0, 255] });
    expect(Array.from(grey.images.subarray(2 * 192, 2 * 192 + 6))).toEqual(fill(6, 128));
    // the JPEG decodes close to its colour (lossy, so not exactly)
    const j = Array.from(grey.images.subarray(3 * 192, 3 * 192 + 3));
    expect(Math.abs(j[0]! - 200) + Math.abs(j[1]! - 100) + Math.abs(j[2]! - 50)).toBeLessThan(12);
  });

  it('keeps or adds alpha for 4 channels', async () => {
    const ds = await loadImageFolder(dir, { inputShape: [4, 4, 4], limit: 2, bounds: [0, 255] });
    expect(Array.from(ds.images.subarray(0, 4))).toEqual([0, 0, 255, 128]); // RGBA blue at alpha 0.5
    expect(Array.from(ds.images.subarray(64, 68))).toEqual([255, 0, 0, 255]); // RGB red, opaque alpha added
  });

  it('fit: contain letterboxes on black, cover crops', async () => {
    const contain = await loadImageFolder(dir, { inputShape: [8, 8, 3], limit: 2, fit: 'contain', bounds: [0, 255] });
    const img = contain.images.subarray(192, 384); // red 10×6 → 8×5 band in the middle of 8×8
    const px = (y: number, x: number): number[] => Array.from(img.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([0, 0, 0]);
    expect(px(4, 4)).toEqual([255, 0, 0]);
    const cover = await loadImageFolder(dir, { inputShape: [8, 8, 3], limit: 2, fit: 'cover', bounds: [0, 255] });
    expect(Array.from(cover.images.subarray(192, 195))).toEqual([255, 0, 0]);
  });

  it('limit takes the first N in order; repeated loads are identical', async () => {
    const all = await loadImageFolder(dir, { inputShape: [8, 8, 3] });
    const two = await loadImageFolder(dir, { inputShape: [8, 8, 3], limit: 2 });
    expect(two.count).toBe(2);
    expect(two.files).toEqual(['cat/a.png', 'cat/b.png']);
    expect(Array.from(two.images)).toEqual(Array.from(all.images.subarray(0, 2 * 192)));
    expect(two.sha256).not.toBe(all.sha256);
    const again = await loadImageFolder(dir, { inputShape: [8, 8, 3], concurrency: 1 });
    expect(again.files).toEqual(all.files);
    expect(again.images).toEqual(all.images);
    expect(again.labels).toEqual(all.labels);
    expect(again.sha256).toBe(all.sha256);
  });

  it('maps labels through classNames; unlisted folders are an error', async () => {
    const ds = await loadImageFolder(dir, { inputShape: [8, 8, 1], classNames: ['bird', 'dog', 'cat'] });
    expect(ds.classNames).toEqual(['bird', 'dog', 'cat']);
    expect(ds.files).toEqual(['dog/c.PNG', 'dog/e.jpg', 'dog/more/d.webp', 'cat/a.png', 'cat/b.png']);
    expect(Array.from(ds.labels)).toEqual([1, 1, 1, 2, 2]);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 1], classNames: ['cat'] }), ConfigError, /classNames/, /"dog"/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 1], classNames: ['cat', 'cat', 'dog'] }), ConfigError, /distinct/);
  });

  it('follows a symlinked class folder', async () => {
    const linked = join(root, 'linked');
    await mkdir(linked);
    await symlink(join(dir, 'dog'), join(linked, 'dog'));
    const ds = await loadImageFolder(linked, { inputShape: [8, 8, 1] });
    expect(ds.files).toEqual(['dog/c.PNG', 'dog/e.jpg', 'dog/more/d.webp']);
  });

  it('names an undecodable file in a DataLoadError', async () => {
    const bad = join(root, 'bad');
    await mkdir(join(bad, 'a'), { recursive: true });
    await mkdir(join(bad, 'b'), { recursive: true });
    await writeFile(join(bad, 'a', 'ok.png'), await greyPng(4, 4, 9));
    await writeFile(
      join(bad, 'b', 'x.png'),
      Uint8Array.from({ length: 256 }, (_, i) => (i * 73 + 11) & 0xff),
    );
    await writeFile(join(bad, 'b', 'y.png'), Uint8Array.of(1, 2, 3));
    await expectRejects(loadImageFolder(bad, { inputShape: [4, 4, 1] }), DataLoadError, /b[/\\]x\.png/, /sharp can decode/);
    // the failure is outside the limit: fine
    expect((await loadImageFolder(bad, { inputShape: [4, 4, 1], limit: 1 })).count).toBe(1);
  });

  it('rejects empty and missing folders and bad options', async () => {
    const empty = join(root, 'empty');
    await mkdir(join(empty, 'a'), { recursive: true });
    await expectRejects(loadImageFolder(empty, { inputShape: [8, 8, 1] }), DataLoadError, 'empty', /1 class folders without images/);
    const flat = join(root, 'flat');
    await mkdir(flat);
    await writeFile(join(flat, 'p.png'), await greyPng(2, 2, 0));
    await expectRejects(loadImageFolder(flat, { inputShape: [8, 8, 1] }), DataLoadError, /no class subfolders/, /1 images at the top level/);
    await expectRejects(loadImageFolder(join(root, 'missing'), { inputShape: [8, 8, 1] }), DataLoadError, 'missing', /ENOENT/);
    await expectRejects(loadImageFolder(join(flat, 'p.png'), { inputShape: [8, 8, 1] }), DataLoadError, /directory/, /got a file/);
    await expectRejects(loadImageFolder(dir, {}), ConfigError, /inputShape/, /got undefined/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 2] }), ConfigError, /1, 3 or 4 channels/, /got 2/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 3], layout: 'flat' }), ConfigError, /got flat/);
    await expectRejects(loadImageFolder(dir, { inputShape: [64] }), ConfigError, /\[H, W\]/, /\[64\]/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 0, 3] }), ConfigError, /positive integers/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 3], limit: 0 }), ConfigError, /limit/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 3], bounds: [1, 1] }), ConfigError, /bounds/);
    await expectRejects(loadImageFolder(dir, { inputShape: [8, 8, 3], concurrency: 0 }), ConfigError, /concurrency/);
  });
});
