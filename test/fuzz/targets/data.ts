// Fuzz targets: IDX (raw and gzip), npy and image folders, mutated as bytes, with lying headers (huge and negative
// dimensions, wrong dtypes, shapes that disagree with the data), gzip streams that inflate far beyond their
// header, hostile file-system entries, and hostile loader options (limit, inputShape).
import fc from 'fast-check';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadIdx } from '../../../src/data/idx.js';
import { loadNpy } from '../../../src/data/npy.js';
import { loadImageFolder } from '../../../src/data/images.js';
import type { FuzzTarget } from '../harness.js';
import { HOSTILE_NUMBERS, applyBytes, byteEdit, writeHostile, type ByteEdit, type FsHostility } from '../mutate.js';

/** The loaders' input files are the user's choice (a symlink to them is followed), so no symlinks here. */
const dataFsHostility: fc.Arbitrary<FsHostility> = fc.constantFrom('fifo', 'directory', 'loop', 'missing', 'sparse-giant');
const maybeFs = fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: dataFsHostility });
const edits = fc.oneof({ weight: 2, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 3, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 3 }) });

/** Hostile values of `limit` and `inputShape` (undefined most of the time). */
const limitOption = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 1, 3, -1, 1.5, Number.NaN, 1e12, '2', null) },
);
const shapeOption = (valid: number[][]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom<unknown>(...valid) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>([0], [-1, 4], [2 ** 31], [1e6, 1e6, 3], [3e4, 3e4], 'x', null, [], [1.5], [Number.NaN], {}) },
  );

function loadOptions(limit: unknown, inputShape: unknown): Record<string, unknown> {
  return { ...(limit !== undefined ? { limit } : {}), ...(inputShape !== undefined ? { inputShape } : {}) };
}

// ---------------------------------------------------------------- IDX

function idx(type: number, dims: number[], data: Uint8Array): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  head.setUint32(0, (type << 8) | dims.length, false);
  dims.forEach((d, i) => head.setUint32(4 + 4 * i, d, false));
  return new Uint8Array([...new Uint8Array(head.buffer), ...data]);
}
const IDX_IMAGES = idx(
  0x08,
  [12, 6, 6],
  Uint8Array.from({ length: 12 * 36 }, (_, i) => (i * 37) % 256),
);
const BOMB_ZEROS = new Uint8Array(8 * 2 ** 20);
const IDX_LABELS = idx(
  0x08,
  [12],
  Uint8Array.from({ length: 12 }, (_, i) => i % 3),
);

export interface IdxCase {
  gzip: 'none' | 'before' | 'after' | 'bomb';
  images: ByteEdit[];
  labels: ByteEdit[];
  imagesFs: FsHostility | undefined;
  labelsFs: FsHostility | undefined;
  /** Lying header values: [position (0 magic, 1.. dims), value] pairs applied to the images header. */
  header: [number, number][];
  limit: unknown;
  inputShape: unknown;
}

export const idxTarget: FuzzTarget<IdxCase> = {
  name: 'idx',
  arbitrary: fc.record({
    gzip: fc.constantFrom('none' as const, 'none' as const, 'before' as const, 'after' as const, 'bomb' as const),
    images: edits,
    labels: fc.oneof({ weight: 3, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
    imagesFs: maybeFs,
    labelsFs: maybeFs,
    header: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(...HOSTILE_NUMBERS, 0x00000803, 0x00000d03, 0x00000b02)), { maxLength: 2 }),
    limit: limitOption,
    inputShape: shapeOption([[6, 6], [36], [6, 6, 1], [1, 6, 6]]),
  }),
  prepare(c, ctx) {
    let images: Uint8Array = Uint8Array.from(IDX_IMAGES);
    for (const [pos, value] of c.header) new DataView(images.buffer).setUint32(4 * pos, value >>> 0, false);
    // 8 MiB of zeros behind the 16-byte header: a stream that inflates far beyond what the header declares.
    if (c.gzip === 'bomb') images = gzipSync(Buffer.concat([images.subarray(0, 16), BOMB_ZEROS]));
    if (c.gzip === 'before') images = gzipSync(images);
    images = applyBytes(images, c.images);
    if (c.gzip === 'after') images = gzipSync(images);
    writeHostile(join(ctx.dir, 'images-idx3-ubyte'), images, c.imagesFs, ctx.canary);
    writeHostile(join(ctx.dir, 'labels-idx1-ubyte'), applyBytes(IDX_LABELS, c.labels), c.labelsFs, ctx.canary);
  },
  async run(c, ctx) {
    await loadIdx(join(ctx.dir, 'images-idx3-ubyte'), join(ctx.dir, 'labels-idx1-ubyte'), loadOptions(c.limit, c.inputShape) as never);
  },
  describe: (c) => JSON.stringify(c),
};

// ---------------------------------------------------------------- npy

function npy(descr: string, shape: string, fortran: string, data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = new Uint8Array(10);
  pre.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(pre.buffer).setUint16(8, header.length, true);
  return new Uint8Array([...pre, ...new TextEncoder().encode(header), ...data]);
}
const NPY_DATA = new Uint8Array(new Float32Array(6 * 4).map((_, i) => (i % 10) / 10).buffer);
const NPY_LABELS = new Uint8Array(new BigInt64Array(6).map((_, i) => BigInt(i % 2)).buffer);

/** The valid value most of the time, one of the others otherwise. */
function mostly(valid: string, others: string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: fc.constantFrom(...others) });
}

export interface NpyCase {
  descr: string;
  shape: string;
  fortran: string;
  labelsDescr: string;
  labelsShape: string;
  images: ByteEdit[];
  labels: ByteEdit[];
  imagesFs: FsHostility | undefined;
  gzip: boolean;
  limit: unknown;
  inputShape: unknown;
}

export const npyTarget: FuzzTarget<NpyCase> = {
  name: 'npy',
  arbitrary: fc.record({
    descr: mostly('<f4', ['<f8', '|u1', '>f4', '<f2', '<i8', '|O', '<U4', '<c8', '<f16', 'x', '', "'"]),
    shape: mostly('(6, 2, 2)', [
      '(6, 4)',
      '(6, 2, 2, 1)',
      '(2147483648, 2)',
      '(6, -1)',
      '()',
      '(0, 2, 2)',
      '(1e9,)',
      '(6, 2, 2',
      '(9007199254740993, 3)',
      '(6, 4294967296)',
    ]),
    fortran: mostly('False', ['True', 'maybe', '1']),
    labelsDescr: mostly('<i8', ['<f4', '|b1', '<u8']),
    labelsShape: mostly('(6,)', ['(5,)', '(6, 1)', '(-6,)', '(2147483648,)']),
    images: fc.oneof({ weight: 3, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 2, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 3 }) }),
    labels: fc.oneof({ weight: 5, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
    imagesFs: maybeFs,
    gzip: fc.boolean(),
    limit: limitOption,
    inputShape: shapeOption([[2, 2], [4], [2, 2, 1], [1, 2, 2]]),
  }),
  prepare(c, ctx) {
    let images = applyBytes(npy(c.descr, c.shape, c.fortran, NPY_DATA), c.images);
    if (c.gzip) images = gzipSync(images);
    writeHostile(join(ctx.dir, 'x.npy'), images, c.imagesFs, ctx.canary);
    writeHostile(join(ctx.dir, 'y.npy'), applyBytes(npy(c.labelsDescr, c.labelsShape, 'False', NPY_LABELS), c.labels), undefined, ctx.canary);
  },
  async run(c, ctx) {
    await loadNpy(join(ctx.dir, 'x.npy'), join(ctx.dir, 'y.npy'), loadOptions(c.limit, c.inputShape) as never);
  },
  describe: (c) => JSON.stringify(c),
};

// ---------------------------------------------------------------- image folders

let PNGS: Uint8Array[] | undefined;
async function pngs(): Promise<Uint8Array[]> {
  if (!PNGS) {
    const sharp = (await import('sharp')).default;
    PNGS = await Promise.all(
      [0, 1, 2].map(
        async (k) =>
          new Uint8Array(
            await sharp(Buffer.from(Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * (k + 3)) % 256)), { raw: { width: 8, height: 8, channels: 3 } })
              .png()
              .toBuffer(),
          ),
      ),
    );
  }
  return PNGS;
}

/** A PNG's IHDR width and height live at bytes 16..23 (big-endian). */
export interface ImagesCase {
  files: { cls: number; png: number; edits: ByteEdit[]; fs: FsHostility | undefined; name: string; width: number | undefined }[];
  emptyClass: boolean;
  inputShape: unknown;
  limit: unknown;
}

export const imagesTarget: FuzzTarget<ImagesCase> = {
  name: 'images',
  arbitrary: fc.record({
    files: fc.array(
      fc.record({
        cls: fc.integer({ min: 0, max: 2 }),
        png: fc.integer({ min: 0, max: 2 }),
        edits: fc.oneof({ weight: 3, arbitrary: fc.constant([] as ByteEdit[]) }, { weight: 1, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
        fs: fc.oneof(
          { weight: 12, arbitrary: fc.constant(undefined) },
          // A symlink in an image folder is followed wherever it leads (the folder's listing is the user's dataset, as
          // the entry file is), so 'symlink-out' is not generated; links that stay inside are.
          { weight: 1, arbitrary: fc.constantFrom<FsHostility>('fifo', 'directory', 'loop', 'symlink-in') },
        ),
        name: fc.constantFrom('a.png', 'b.png', 'c.jpg.png', '.hidden.png', 'x.txt', 'new\nline.png', 'd.PNG'),
        width: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 65535, 2 ** 31 - 1, 1e6) }),
      }),
      { minLength: 0, maxLength: 5 },
    ),
    emptyClass: fc.boolean(),
    inputShape: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom<unknown>([8, 8, 3], [4, 4, 1], [3, 8, 8], [8, 8]) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, [0, 8, 3], [8, 8, 5], [1e6, 1e6, 3], [2 ** 31, 1, 1], 'x', null, [8.5, 8, 3]) },
    ),
    limit: limitOption,
  }),
  async prepare(c, ctx) {
    const images = await pngs();
    if (c.emptyClass) mkdirSync(join(ctx.dir, 'empty'));
    c.files.forEach((f, i) => {
      let bytes: Uint8Array = Uint8Array.from(images[f.png]!);
      if (f.width !== undefined) new DataView(bytes.buffer).setUint32(16, f.width >>> 0, false);
      bytes = applyBytes(bytes, f.edits);
      writeHostile(join(ctx.dir, `class${f.cls}`, `${i}-${f.name}`), bytes, f.fs, ctx.canary);
    });
  },
  async run(c, ctx) {
    await loadImageFolder(ctx.dir, loadOptions(c.limit, c.inputShape) as never);
  },
  describe: (c) => JSON.stringify(c),
};
