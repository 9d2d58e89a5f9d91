/**
 * {@link DataSource}s that are not files: an eager {@link Dataset} adapted to the lazy interface, a seeded
 * synthetic source for benchmarks and tests, and {@link readDataset}, which reads a whole source into memory.
 * @module
 */
import { ConfigError, DataLoadError, ShapeError, describe } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import { createRng } from '../rng.js';
import type { Bounds } from '../model.js';
import { checkBounds, scaleUint8 } from './shape.js';
import type { DataBatch, DataSource, Dataset } from './types.js';

/**
 * The most values a single read may return (2³¹ − 1, the size of the largest Float32Array every JavaScript engine
 * allows); a larger read is a {@link DataLoadError} rather than an allocation failure.
 */
export const MAX_BATCH_VALUES = 2 ** 31 - 1;

/**
 * Checks a read range of a source of `count` samples.
 * @internal
 */
export function checkRange(start: number, end: number, count: number, where: string, per = 1): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > count) {
    throw new ConfigError(`${where}.read: expected integers 0 <= start <= end <= ${count}, got start ${describe(start)} and end ${describe(end)}`);
  }
  if ((end - start) * per > MAX_BATCH_VALUES) {
    throw new DataLoadError(
      `${where}.read: expected at most ${MAX_BATCH_VALUES} values in one read, got ${(end - start) * per} (read fewer samples at a time)`,
    );
  }
}

/**
 * Adapts an eager {@link Dataset} (what {@link loadData} returns) to the lazy {@link DataSource} interface, so code
 * written for sources (evaluation batch by batch, shards) also takes data already in memory. Reads copy their slice;
 * `close` drops nothing (the dataset stays the caller's).
 *
 * @param ds - the dataset; its `images` must hold `count × prod(shape)` values and `labels` `count` labels.
 * @returns a source with the dataset's `count`, `shape`, `sha256`, `source` and `classNames`.
 * @throws {@link ShapeError} when the dataset's arrays do not match its `count` and `shape`.
 * @example
 * ```ts
 * import { datasetSource, loadData } from 'robustest';
 * const source = datasetSource(await loadData('assets/mnist-sample/images-idx3-ubyte.gz', { labels: 'assets/mnist-sample/labels-idx1-ubyte.gz' }));
 * const { images, labels } = await source.read(0, 10);
 * ```
 */
export function datasetSource(ds: Dataset): DataSource {
  const per = ds.shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(ds.count) || ds.count < 0 || ds.images.length !== ds.count * per || ds.labels.length !== ds.count) {
    throw new ShapeError(
      `datasetSource: expected ${describe(ds.count)} samples of shape [${ds.shape.join(', ')}] and as many labels, got ${ds.images.length} values and ${ds.labels.length} labels`,
    );
  }
  let closed = false;
  return {
    count: ds.count,
    shape: [...ds.shape],
    sha256: ds.sha256,
    source: ds.source,
    ...(ds.classNames ? { classNames: [...ds.classNames] } : {}),
    read(start: number, end: number): Promise<DataBatch> {
      return Promise.resolve().then(() => {
        if (closed) throw new DataLoadError(`datasetSource(${ds.source}).read: expected an open source, got one already closed`);
        checkRange(start, end, ds.count, 'datasetSource');
        return { images: ds.images.slice(start * per, end * per), labels: ds.labels.slice(start, end) };
      });
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}

/**
 * Reads a whole {@link DataSource} into an eager {@link Dataset} (one read of every sample) and closes nothing: the
 * caller still owns the source.
 *
 * @param source - the source.
 * @returns the dataset, with the source's `shape`, `sha256`, `source` and `classNames`.
 * @throws what `source.read` throws.
 * @example
 * ```ts
 * import { openData, readDataset } from 'robustest';
 * const source = await openData('assets/mnist-sample/images-idx3-ubyte.gz', { labels: 'assets/mnist-sample/labels-idx1-ubyte.gz' });
 * const ds = await readDataset(source);
 * await source.close();
 * ```
 */
export async function readDataset(source: DataSource): Promise<Dataset> {
  const { images, labels } = await source.read(0, source.count);
  return {
    images,
    labels,
    shape: [...source.shape],
    count: source.count,
    sha256: source.sha256,
    source: source.source,
    ...(source.classNames ? { classNames: [...source.classNames] } : {}),
  };
}

/**
 * Options of {@link syntheticSource}.
 *
 * @example
 * ```ts
 * const options: SyntheticOptions = { count: 200_000, shape: [28, 28, 1], numClasses: 10, seed: 0 };
 * ```
 */
export interface SyntheticOptions {
  /** Number of samples (a non-negative integer). */
  count: number;
  /** Shape of one sample (positive integers). */
  shape: readonly number[];
  /** Labels are drawn from `0 .. numClasses − 1`. Default `10`. */
  numClasses?: number;
  /** Seed of every draw. Default `0`. */
  seed?: number;
  /** Range of the values: each is `k / 255` of the way from lower to upper, `k` a uniform integer 0..255, as a uint8 image scaled into the bounds. Default `[0, 1]`. */
  bounds?: Bounds;
}

/**
 * A seeded synthetic {@link DataSource}, for benchmarks and tests of large evaluations without large files. Sample
 * `i` (values and label) is drawn from a generator seeded by `seed` and `i` alone, so a read gives the same sample
 * whatever range it belongs to, and nothing is held in memory between reads.
 *
 * @param options - `count` and `shape` (required), `numClasses` (default 10), `seed` (default 0), `bounds`
 *   (default `[0, 1]`).
 * @returns a source whose `sha256` is derived from the options and whose `source` describes them.
 * @throws {@link ConfigError} for a negative or fractional count, a shape of non-positive or fractional sizes, fewer
 *   than one class, a non-finite seed, or invalid bounds.
 * @example
 * ```ts
 * import { syntheticSource } from 'robustest';
 * const source = syntheticSource({ count: 200_000, shape: [28, 28, 1], numClasses: 10, seed: 1 });
 * const { images, labels } = await source.read(1000, 1100);
 * ```
 */
export function syntheticSource(options: SyntheticOptions): DataSource {
  const { count, shape } = options ?? ({} as Partial<SyntheticOptions>);
  const numClasses = options?.numClasses ?? 10;
  const seed = options?.seed ?? 0;
  const bounds = options?.bounds ?? [0, 1];
  if (!Number.isSafeInteger(count) || count < 0) throw new ConfigError(`syntheticSource: expected count to be a non-negative integer, got ${describe(count)}`);
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new ConfigError(`syntheticSource: expected shape to be a non-empty array of positive integers, got ${describe(shape)}`);
  }
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new ConfigError(`syntheticSource: expected numClasses to be a positive integer, got ${describe(numClasses)}`);
  }
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ConfigError(`syntheticSource: expected seed to be a finite number, got ${describe(seed)}`);
  checkBounds(bounds, 'syntheticSource');
  const dims = [...(shape as number[])];
  const per = dims.reduce((a, b) => a * b, 1);
  const description = `synthetic(count=${count}, shape=[${dims.join(',')}], classes=${numClasses}, seed=${seed}, bounds=[${bounds.join(',')}])`;
  let closed = false;
  return {
    count,
    shape: dims,
    sha256: sha256Bytes([description]),
    source: description,
    read(start: number, end: number): Promise<DataBatch> {
      return Promise.resolve().then(() => {
        if (closed) throw new DataLoadError(`syntheticSource.read: expected an open source, got one already closed`);
        checkRange(start, end, count, 'syntheticSource', per);
        const n = end - start;
        const raw = new Uint8Array(n * per);
        const labels = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const rng = createRng(`synthetic/${seed}/${start + i}`);
          labels[i] = rng.int(numClasses);
          const o = i * per;
          for (let j = 0; j < per; j++) raw[o + j] = rng.int(256);
        }
        return { images: scaleUint8(raw, bounds), labels };
      });
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
