/**
 * Data loaders: IDX (MNIST and friends), NumPy `.npy` arrays and image folders, all returning the same
 * host-side {@link Dataset} scaled into a model's bounds and shaped for its input; {@link loadData} picks the
 * loader from the path.
 * @module
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConfigError, DataLoadError, describe } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import { loadImageFolder, openImageFolder, type ImageFolderOptions } from './images.js';
import { openBytes } from './reader.js';
import { readDataset } from './source.js';
import { openIdx, openNpy } from './stream.js';
import type { DataSource, Dataset } from './types.js';

export type { Dataset, DataBatch, DataSource, LoadOptions } from './types.js';
export { decodeIdx, loadIdx, type IdxArray } from './idx.js';
export { decodeNpy, loadNpy, type NpyArray, type NpyData, type NpyDtype } from './npy.js';
export { IMAGE_EXTENSIONS, loadImageFolder, openImageFolder, type ImageFolderDataset, type ImageFolderOptions, type ImageFolderSource } from './images.js';
export { arrangeSamples, chwToHwc, fitShape, hwcToChw, scaleUint8, toLabels, type ArrangedSamples, type LabelSource } from './shape.js';
export { openIdx, openNpy, type ArrayOpenOptions } from './stream.js';
export { datasetSource, readDataset, syntheticSource, MAX_BATCH_VALUES, type SyntheticOptions } from './source.js';

/**
 * The formats {@link loadData} understands, as {@link detectFormat} names them.
 *
 * @example
 * ```ts
 * const f: DataFormat = await detectFormat('x_test.npy'); // 'npy'
 * ```
 */
export type DataFormat = 'image-folder' | 'npy' | 'idx';

/**
 * Options of {@link loadData}: those of every loader, plus the label file for the array formats. `classNames`
 * means for an image folder what it means for {@link loadImageFolder} (the subfolders in label order); for
 * `.npy` and IDX data it names labels `0, 1, ...` and is put on the dataset. Default: an image folder's
 * subfolder names; no names for the array formats.
 *
 * @example
 * ```ts
 * const options: LoadDataOptions = { labels: 'y_test.npy', inputShape: [32, 32, 3], bounds: [0, 1], limit: 1000 };
 * ```
 */
export interface LoadDataOptions extends ImageFolderOptions {
  /** Path of the label file; required for `.npy` and IDX data, not allowed for an image folder. */
  labels?: string;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** The first bytes of a file (inflated when it is gzip-compressed), enough to recognise its format. */
async function sniff(path: string): Promise<Uint8Array> {
  const reader = await openBytes(path);
  try {
    return await reader.read(0, 16).catch(() => new Uint8Array(0));
  } finally {
    await reader.close();
  }
}

/**
 * Tells which loader a path needs: a directory is an image folder; a file is `.npy` or IDX by its name
 * (`*.npy`, `*.npy.gz`; a name containing `idx` or ending in `ubyte`, optionally `.gz`) or else by its magic
 * bytes (`\x93NUMPY`, or IDX's `00 00 TT RR` with a known type code `TT`), looking inside gzip if needed.
 *
 * @param path - a file or directory.
 * @returns the format.
 * @throws {@link DataLoadError} when the path does not exist or its format is not recognised.
 * @example
 * ```ts
 * await detectFormat('data/t10k-images-idx3-ubyte.gz'); // 'idx'
 * await detectFormat('x_test.npy');                    // 'npy'
 * ```
 */
export async function detectFormat(path: string): Promise<DataFormat> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new DataLoadError(`${path}: expected an existing file or directory, got ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (info.isDirectory()) return 'image-folder';
  // a FIFO or device could block a read forever
  if (!info.isFile()) throw new DataLoadError(`${path}: expected a regular file or a directory, got another kind of file (a pipe, socket or device)`);
  const name = basename(path).toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.npz')) {
    throw new DataLoadError(`${path}: expected a .npy array, got a .npz archive (extract it: np.savez(...) → np.save('x.npy', np.load(path)['x']))`);
  }
  if (name.endsWith('.npy')) return 'npy';
  if (name.includes('idx') || name.endsWith('ubyte')) return 'idx';
  const head = await sniff(path);
  if (head.length >= 6 && NPY_MAGIC.every((b, i) => head[i] === b)) return 'npy';
  if (head.length >= 4 && head[0] === 0 && head[1] === 0 && [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e].includes(head[2]!) && head[3]! >= 1) return 'idx';
  throw new DataLoadError(`${path}: expected a directory of class folders, a .npy file or an IDX file, got a file of another format`);
}

/**
 * Loads a dataset from a path, choosing the loader with {@link detectFormat}: a directory → {@link loadImageFolder};
 * a `.npy` file → {@link loadNpy}; an IDX file → {@link loadIdx}. The array formats need `options.labels`.
 *
 * @param path - the image folder, or the images file.
 * @param options - the loaders' options (bounds default `[0, 1]`, limit default all, inputShape and layout —
 *   required for an image folder), plus `labels`, the label file of the array formats.
 * @returns the dataset, scaled into `bounds` and shaped as `inputShape`.
 * @throws {@link DataLoadError} when the path is missing, of an unknown format, or malformed;
 *   {@link ConfigError} when `labels` is missing for `.npy`/IDX or given for an image folder, when `classNames`
 *   are not distinct or (array formats) fewer than the labels need, or an option is invalid; {@link ShapeError} when the data cannot take `inputShape`.
 * @example
 * ```ts
 * const ds = await loadData('mnist/t10k-images-idx3-ubyte', { labels: 'mnist/t10k-labels-idx1-ubyte', inputShape: [28, 28, 1], limit: 1000 });
 * const pets = await loadData('pets/val', { inputShape: [3, 224, 224] });
 * ```
 */
export async function loadData(path: string, options: LoadDataOptions = {}): Promise<Dataset> {
  const format = await detectFormat(path);
  if (format === 'image-folder') {
    checkFolderLabels(path, options);
    const { labels: _labels, ...rest } = options;
    return loadImageFolder(path, rest);
  }
  const source = await openArrays(format, path, options);
  try {
    return await readDataset(source);
  } finally {
    await source.close();
  }
}

function checkFolderLabels(path: string, options: LoadDataOptions): void {
  if (options.labels !== undefined) {
    throw new ConfigError(`loadData: expected no labels file for the image folder ${path} (labels come from its subfolders), got ${describe(options.labels)}`);
  }
}

async function openArrays(format: 'npy' | 'idx', path: string, options: LoadDataOptions): Promise<DataSource> {
  const { labels, fit: _fit, concurrency: _concurrency, ...arrayOptions } = options;
  if (typeof labels !== 'string' || labels === '') {
    throw new ConfigError(`loadData: expected a labels file for the ${format === 'npy' ? '.npy' : 'IDX'} images ${path}, got ${describe(labels)}`);
  }
  return format === 'npy' ? openNpy(path, labels, arrayOptions) : openIdx(path, labels, arrayOptions);
}

/**
 * Opens a dataset as a lazy {@link DataSource}: the same formats, detection ({@link detectFormat}) and options as
 * {@link loadData}, but the samples are read a batch at a time when `read` is called, so memory holds one batch, not
 * the dataset. IDX and `.npy` samples are read by file offset (a gzip file is inflated sequentially up to them, and
 * again from the start when a read goes backwards); an image folder is listed when opened and a batch's images are
 * decoded with sharp when it is read. Opening reads every file used once to compute `sha256` (bounded memory).
 * A batch holds the same values, bit for bit, as the same slice of what {@link loadData} returns, and `sha256`,
 * `source`, `shape` and `classNames` are the same, so a report does not depend on which of the two was used.
 *
 * @param path - the image folder, or the images file.
 * @param options - as for {@link loadData}.
 * @returns the source ({@link ImageFolderSource} for an image folder); close it when done.
 * @throws as {@link loadData} does, when the source is opened; a {@link DataLoadError} from `read` when a file
 *   changed or an image cannot be decoded.
 * @example
 * ```ts
 * import { openData } from 'robustest';
 * const source = await openData('mnist/train-images-idx3-ubyte', { labels: 'mnist/train-labels-idx1-ubyte', inputShape: [28, 28, 1] });
 * for (let i = 0; i < source.count; i += 500) {
 *   const { images, labels } = await source.read(i, Math.min(i + 500, source.count));
 * }
 * await source.close();
 * ```
 */
export async function openData(path: string, options: LoadDataOptions = {}): Promise<DataSource> {
  const format = await detectFormat(path);
  if (format === 'image-folder') {
    checkFolderLabels(path, options);
    const { labels: _labels, ...rest } = options;
    return openImageFolder(path, rest);
  }
  return openArrays(format, path, options);
}

/**
 * A contiguous part of a dataset, with `Array.prototype.slice` semantics for `start` and `end` (negative
 * values count from the end, both are clamped to `[0, count]`). The values are copied, so the slice and the
 * original do not share memory. Its `sha256` is derived from the original's and the range
 * (`sha256(original.sha256 + "[start:end]")`; unchanged when the slice is the whole dataset), and `files`
 * is sliced too when present.
 *
 * @param ds - the dataset.
 * @param start - first sample. Default `0`.
 * @param end - one past the last sample. Default `ds.count`.
 * @returns a new dataset of `end - start` samples (possibly zero).
 * @throws {@link ConfigError} when `start` or `end` is not an integer.
 * @example
 * ```ts
 * const [calib, test] = [sliceDataset(ds, 0, 100), sliceDataset(ds, 100)];
 * ```
 */
export function sliceDataset<T extends Dataset>(ds: T, start = 0, end: number = ds.count): T {
  for (const [name, v] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (!Number.isInteger(v)) throw new ConfigError(`sliceDataset: expected ${name} to be an integer, got ${describe(v)}`);
  }
  const clamp = (i: number): number => (i < 0 ? Math.max(0, ds.count + i) : Math.min(i, ds.count));
  const s = clamp(start);
  const e = Math.max(s, clamp(end));
  const per = ds.shape.reduce((a, b) => a * b, 1);
  const whole = s === 0 && e === ds.count;
  const files = (ds as Partial<{ files: readonly string[] }>).files;
  return {
    ...ds,
    images: ds.images.slice(s * per, e * per),
    labels: ds.labels.slice(s, e),
    count: e - s,
    sha256: whole ? ds.sha256 : sha256Bytes([ds.sha256, `[${s}:${e}]`]),
    source: whole ? ds.source : `${ds.source}[${s}:${e}]`,
    ...(files ? { files: files.slice(s, e) } : {}),
  };
}
