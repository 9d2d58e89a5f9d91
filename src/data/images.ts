/**
 * Image folders in the torchvision `ImageFolder` / Keras `image_dataset_from_directory` convention: one
 * subfolder per class, images inside, decoded and resized with sharp (libvips).
 *
 * ```
 * data/
 *   cat/ 001.png 002.jpg ...
 *   dog/ a.webp  b/c.png ...   (nested folders are read too)
 * ```
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { oneLine } from '../files.js';
import { join } from 'node:path';
import { ConfigError, DataLoadError, describe } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import { inferLayout } from '../model.js';
import { readDataFile } from './io.js';
import { checkRange } from './source.js';
import type { DataBatch, DataSource, Dataset, LoadOptions } from './types.js';
import { checkBounds, checkLimit, hwcToChw, scaleUint8 } from './shape.js';
import { loadSharp, type SharpFactory } from '../sharp.js';

/**
 * File extensions (lower case, without the dot) that {@link loadImageFolder} reads; other files are ignored.
 * `bmp` is listed although sharp cannot decode it, so that a BMP file fails loudly (a {@link DataLoadError}
 * naming it) rather than being skipped without a word.
 *
 * @example
 * ```ts
 * IMAGE_EXTENSIONS.includes('webp'); // true
 * ```
 */
export const IMAGE_EXTENSIONS: readonly string[] = ['png', 'jpg', 'jpeg', 'jfif', 'webp', 'gif', 'tif', 'tiff', 'avif', 'bmp'];

/**
 * Options of {@link loadImageFolder}.
 *
 * @example
 * ```ts
 * const options: ImageFolderOptions = { inputShape: [3, 224, 224], bounds: [0, 1], fit: 'cover', classNames: ['cat', 'dog'] };
 * ```
 */
export interface ImageFolderOptions extends LoadOptions {
  /**
   * Class names in label order: the images of subfolder `classNames[i]` get label `i`. Every subfolder must
   * be listed; a listed name without a folder is a class with no images. Default: the subfolder names sorted
   * by code point (`A` < `B` < `a`), label = index in that order, as torchvision's `ImageFolder` does.
   */
  classNames?: readonly string[];
  /**
   * How an image whose aspect ratio differs from the model's is resized: `fill` stretches it (like
   * torchvision's `Resize((h, w))`), `cover` crops the overflow around the centre, `contain` letterboxes it on
   * black. Default `'fill'`.
   */
  fit?: 'fill' | 'cover' | 'contain';
  /** How many images are decoded at the same time. Default `8`. */
  concurrency?: number;
}

/**
 * What {@link loadImageFolder} returns: a {@link Dataset} plus the files and classes it came from.
 *
 * @example
 * ```ts
 * const ds = await loadImageFolder('val', { inputShape: [64, 64, 3] });
 * console.log(`${ds.files[0]} is a ${ds.classNames[ds.labels[0]!]}`);
 * ```
 */
export interface ImageFolderDataset extends Dataset {
  /** Paths of the images relative to the folder (with `/` separators), in sample order. */
  readonly files: readonly string[];
  /** Class names in label order. */
  readonly classNames: readonly string[];
}

interface Entry {
  readonly rel: string;
  readonly label: number;
}

function isImage(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot + 1).toLowerCase());
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Image files under `abs` (recursively), as paths relative to the class folder, sorted. Hidden entries and symlinked folders are skipped. */
async function listImages(abs: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(abs, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const childRel = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listImages(join(abs, e.name), childRel)));
    else if (isImage(e.name) && (e.isFile() || (e.isSymbolicLink() && (await stat(join(abs, e.name)).catch(() => undefined))?.isFile()))) out.push(childRel);
  }
  return out.sort(byCodePoint);
}

/** The largest height or width {@link loadImageFolder} resizes to. */
const MAX_SIDE = 16384;
/** The most values one resized image may hold (`H × W × C`): 2²⁶, 256 MB as float32. */
const MAX_IMAGE_VALUES = 2 ** 26;

/** Resolves the target height, width, channels and layout from the options. */
function target(options: ImageFolderOptions): { h: number; w: number; c: number; chw: boolean } {
  const shape: unknown = options.inputShape;
  if (shape === undefined) {
    throw new ConfigError('loadImageFolder: expected inputShape (e.g. [28, 28, 1] or [3, 224, 224]) to resize the images to, got undefined');
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    throw new ConfigError(`loadImageFolder: expected inputShape to be an array of positive integers, got ${describe(shape)}`);
  }
  const dims = shape as number[];
  if (dims.length !== 2 && dims.length !== 3) {
    throw new ConfigError(`loadImageFolder: expected an image inputShape [H, W], [H, W, C] or [C, H, W], got ${describe([...dims])}`);
  }
  let out: { h: number; w: number; c: number; chw: boolean };
  let layout: string = 'NHWC';
  if (dims.length === 2) out = { h: dims[0]!, w: dims[1]!, c: 1, chw: false };
  else {
    layout = options.layout ?? inferLayout(dims);
    if (layout === 'flat') throw new ConfigError(`loadImageFolder: expected layout NHWC or NCHW for inputShape ${describe([...dims])}, got flat`);
    const [a, b, c] = dims as [number, number, number];
    out = layout === 'NHWC' ? { h: a, w: b, c, chw: false } : { h: b, w: c, c: a, chw: true };
    if (![1, 3, 4].includes(out.c)) {
      throw new ConfigError(`loadImageFolder: expected 1, 3 or 4 channels in inputShape ${describe([...dims])} (${layout}), got ${out.c}`);
    }
  }
  if (out.h > MAX_SIDE || out.w > MAX_SIDE || out.h * out.w * out.c > MAX_IMAGE_VALUES) {
    throw new ConfigError(
      `loadImageFolder: expected an inputShape of at most ${MAX_SIDE} pixels a side and ${MAX_IMAGE_VALUES} values, got ${describe([...dims])} (${out.h * out.w * out.c} values)`,
    );
  }
  return out;
}

/**
 * Decodes one image to `h × w × c` uint8 values, HWC. Greyscale is computed from sRGB with the ITU-R 601 weights
 * that PIL's `convert('L')` uses (`L = (19595 R + 38470 G + 7471 B + 32768) >> 16`), so a model trained on
 * torchvision greyscale images sees the same values; an alpha channel is dropped for 1 or 3 channels (as PIL's
 * `convert('RGB')` does) and added (opaque) for 4.
 */
async function decode(sharp: SharpFactory, bytes: Uint8Array, h: number, w: number, c: number, fit: 'fill' | 'cover' | 'contain'): Promise<Uint8Array> {
  let p = sharp(bytes, { pages: 1 }).resize(w, h, { fit, background: { r: 0, g: 0, b: 0, alpha: 1 } });
  p = c === 4 ? p.ensureAlpha().toColourspace('srgb') : p.removeAlpha().toColourspace('srgb');
  const { data, info } = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const got = c === 1 ? 3 : c;
  if (info.width !== w || info.height !== h || info.channels !== got || data.length !== w * h * got) {
    throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, not ${w}×${h}×${got}`);
  }
  if (c !== 1) return data;
  const grey = new Uint8Array(w * h);
  for (let i = 0, o = 0; i < grey.length; i++, o += 3) grey[i] = (data[o]! * 19595 + data[o + 1]! * 38470 + data[o + 2]! * 7471 + 0x8000) >> 16;
  return grey;
}

/**
 * Loads a folder of images, one subfolder per class, into a {@link Dataset} shaped for a model.
 *
 * - Order: classes by label, then files by relative path (code-point order), so the result is deterministic;
 *   `limit` keeps the first N in that order (only those are read).
 * - Files: {@link IMAGE_EXTENSIONS}, case-insensitive, searched recursively inside each class folder; hidden
 *   files and folders (`.xxx`) and other extensions are ignored, and so are files at the top level. A class
 *   folder may be a symbolic link; symbolic links to folders inside a class folder are not followed.
 *   Animated images give their first frame; EXIF orientation is not applied (as with PIL).
 * - Pixels: resized to the H and W of `inputShape` (see {@link ImageFolderOptions.fit}); 1 channel →
 *   greyscale, 3 → RGB (alpha dropped), 4 → RGBA; 0..255 scaled linearly onto `bounds`; laid out as
 *   `inputShape` says (`[H, W, C]` NHWC or `[C, H, W]` NCHW, from `layout` or inferred; `[H, W]` is greyscale).
 * - `sha256`: over, for each image in order, its relative path, its label and the SHA-256 of its file bytes.
 *
 * @param dir - the folder holding one subfolder per class.
 * @param options - `inputShape` (required), bounds (default `[0, 1]`), layout (default inferred), limit
 *   (default all), classNames, fit (default `'fill'`), concurrency (default 8).
 * @returns the images, labels and shape (`inputShape`), plus the files and class names.
 * @throws {@link ConfigError} without `inputShape`, or for an unusable inputShape, bounds, limit, or classNames
 *   that miss a subfolder; {@link DataLoadError} when the folder is missing or holds no images, or an image
 *   cannot be read or decoded (the message names the file).
 * @example
 * ```ts
 * const ds = await loadImageFolder('data/val', { inputShape: [224, 224, 3], bounds: [0, 1], limit: 200 });
 * console.log(ds.classNames, ds.files[0], ds.labels[0]);
 * ```
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const source = await openImageFolder(dir, options);
  try {
    const { images, labels } = await source.read(0, source.count);
    return {
      images,
      shape: [...source.shape],
      labels,
      count: source.count,
      sha256: source.sha256,
      source: dir,
      files: source.files,
      classNames: source.classNames,
    };
  } finally {
    await source.close();
  }
}

/**
 * What {@link openImageFolder} returns: a {@link DataSource} plus the files and classes it reads.
 *
 * @example
 * ```ts
 * import { openImageFolder } from 'robustest';
 * const source = await openImageFolder('val', { inputShape: [224, 224, 3] });
 * console.log(source.files.length, source.classNames);
 * ```
 */
export interface ImageFolderSource extends DataSource {
  /** Paths of the images relative to the folder (with `/` separators), in sample order. */
  readonly files: readonly string[];
  /** Class names in label order. */
  readonly classNames: readonly string[];
}

/** Reads an image file through the hang-proof reader, with the loader's error message. */
async function readImageFile(file: string): Promise<Uint8Array> {
  try {
    return await readDataFile(file);
  } catch (e) {
    throw e instanceof DataLoadError ? e : new DataLoadError(`${oneLine(file)}: expected a readable file, got ${oneLine((e as Error).message)}`);
  }
}

/** Runs `job(i)` for `i` in `[0, n)`, `concurrency` at a time; throws the failure of the smallest `i` that failed. */
async function forEachIndex(n: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  const failures = new Map<number, DataLoadError>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n && failures.size === 0) {
      const i = next++;
      try {
        await job(i);
      } catch (e) {
        failures.set(i, e instanceof DataLoadError ? e : new DataLoadError(`image ${i}: expected a readable image, got ${(e as Error).message}`));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  // Report the first failing file in sample order, whatever finished first: every earlier file was started.
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()))!;
}

/**
 * Opens a folder of images, one subfolder per class, as a lazy {@link DataSource}: the files are listed (and
 * hashed, one at a time) when it is opened, and the images of a batch are read and decoded with sharp when the batch
 * is read, exactly as {@link loadImageFolder} decodes them (same values bit for bit, same `sha256`, same order,
 * labels and class names). Memory: one batch of images, whatever the size of the folder.
 *
 * @param dir - the folder holding one subfolder per class.
 * @param options - as for {@link loadImageFolder}: `inputShape` (required), bounds (default `[0, 1]`), layout
 *   (default inferred), limit (default all), classNames, fit (default `'fill'`), concurrency (default 8).
 * @returns the source, with the files and class names; close it when done.
 * @throws {@link ConfigError} without `inputShape` or for an unusable one (not an array of positive integers, more
 *   than 16384 pixels a side or 2²⁶ values), or for bad bounds, limit, fit, concurrency, or classNames that miss a
 *   subfolder; {@link DataLoadError} when the folder is missing or holds no images, or an image cannot be read
 *   (when opened) or decoded (when its batch is read); the message names the file.
 * @example
 * ```ts
 * import { openImageFolder } from 'robustest';
 * const source = await openImageFolder('imagenet/val', { inputShape: [224, 224, 3] });
 * for (let i = 0; i < source.count; i += 100) {
 *   const { images, labels } = await source.read(i, Math.min(i + 100, source.count));
 * }
 * await source.close();
 * ```
 */
export async function openImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderSource> {
  const { h, w, c, chw } = target(options);
  checkLimit(options.limit, 'loadImageFolder');
  const bounds = options.bounds ?? [0, 1];
  checkBounds(bounds, 'loadImageFolder');
  const fit = options.fit ?? 'fill';
  if (!['fill', 'cover', 'contain'].includes(fit))
    throw new ConfigError(`loadImageFolder: expected fit to be 'fill', 'cover' or 'contain', got ${describe(fit)}`);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError(`loadImageFolder: expected concurrency to be a positive integer, got ${describe(concurrency)}`);
  }

  let top;
  try {
    if (!(await stat(dir)).isDirectory()) throw new DataLoadError(`${dir}: expected a directory of class subfolders, got a file`);
    top = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (e instanceof DataLoadError) throw e;
    throw new DataLoadError(`${dir}: expected a readable directory, got ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const folders: string[] = [];
  for (const e of top) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => undefined))?.isDirectory())) folders.push(e.name);
  }
  folders.sort(byCodePoint);

  let classNames: readonly string[];
  if (options.classNames !== undefined) {
    const names = options.classNames;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string') || new Set(names).size !== names.length) {
      throw new ConfigError(`loadImageFolder: expected classNames to be distinct strings, got ${describe(names)}`);
    }
    const unknown = folders.filter((f) => !names.includes(f));
    if (unknown.length > 0) {
      throw new ConfigError(
        `loadImageFolder: expected every class folder of ${dir} to be listed in classNames ${describe([...names])}, got unlisted ${describe(unknown)}`,
      );
    }
    classNames = [...names];
  } else {
    classNames = folders;
  }

  const entries: Entry[] = [];
  for (const [label, name] of classNames.entries()) {
    if (!folders.includes(name)) continue;
    for (const rel of await listImages(join(dir, name), name)) entries.push({ rel, label });
  }
  if (entries.length === 0) {
    const loose = top.filter((e) => !e.isDirectory() && isImage(e.name)).length;
    const got =
      folders.length === 0
        ? `no class subfolders${loose ? ` (${loose} images at the top level: move them into one folder per class)` : ''}`
        : `${folders.length} class folders without images`;
    throw new DataLoadError(`${dir}: expected image files (${IMAGE_EXTENSIONS.join(', ')}) in one subfolder per class, got ${got}`);
  }
  const used = options.limit === undefined ? entries : entries.slice(0, options.limit);
  const sharp = await loadSharp((reason) => new DataLoadError(`loadImageFolder: expected the sharp package to decode images, got ${reason}`));
  const count = used.length;
  const per = h * w * c;

  // sha256 over each file's digest, as the files are read one at a time (bounded memory)
  const digests: string[] = new Array<string>(count);
  await forEachIndex(count, concurrency, async (i) => {
    digests[i] = sha256Bytes([await readImageFile(join(dir, used[i]!.rel))]);
  });
  const sha256 = sha256Bytes(used.map((e, i) => `${e.rel}\u0000${e.label}\u0000${digests[i]}\n`));
  const labels = Int32Array.from(used, (e) => e.label);
  const files = used.map((e) => e.rel);
  let closed = false;

  return {
    count,
    shape: [...(options.inputShape ?? [])],
    sha256,
    source: dir,
    files,
    classNames,
    async read(start: number, end: number): Promise<DataBatch> {
      if (closed) throw new DataLoadError(`openImageFolder(${dir}).read: expected an open source, got one already closed`);
      checkRange(start, end, count, 'openImageFolder', per);
      const n = end - start;
      const pixels = new Uint8Array(n * per);
      await forEachIndex(n, concurrency, async (k) => {
        const file = join(dir, used[start + k]!.rel);
        const bytes = await readImageFile(file);
        try {
          pixels.set(await decode(sharp, bytes, h, w, c, fit), k * per);
        } catch (e) {
          throw new DataLoadError(
            `${oneLine(file)}: expected an image sharp can decode (png, jpeg, webp, gif, tiff, avif), got ${oneLine((e as Error).message)}`,
          );
        }
      });
      const scaled = scaleUint8(pixels, bounds);
      return { images: chw ? hwcToChw(scaled, n, h, w, c) : scaled, labels: labels.slice(start, end) };
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
