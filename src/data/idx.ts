/**
 * MNIST-style IDX files (`*-idx3-ubyte` images, `*-idx1-ubyte` labels), optionally gzip-compressed.
 * Format: http://yann.lecun.com/exdb/mnist/ (magic `0x0000 TT DD`, big-endian dimensions, row-major data).
 * @module
 */
import { readDataset } from './source.js';
import { openIdx } from './stream.js';
import type { Dataset, LoadOptions } from './types.js';

export * from './idx-format.js';

/**
 * Loads an IDX image file and its IDX label file (MNIST, Fashion-MNIST, EMNIST, ...).
 * uint8 pixels are scaled linearly from 0..255 into `options.bounds`; other types are taken as they are.
 * Labels must be integers in `[0, 2³¹ − 1]`. Samples are brought into `options.inputShape` by a reshape or an
 * NHWC↔NCHW transpose (see {@link arrangeSamples}).
 *
 * @param imagesPath - path of the `idx3-ubyte` images (or any IDX array whose first axis is the sample).
 * @param labelsPath - path of the `idx1-ubyte` labels.
 * @param options - bounds (default `[0, 1]`), limit, target `inputShape`.
 * The files are read through {@link openIdx}: a gzip file is inflated only up to the last sample used (`limit`),
 * never past the size its header declares.
 *
 * @throws {@link DataLoadError} for unreadable, non-regular, malformed or empty (0-sample) files or mismatched counts; {@link ShapeError} if the
 *   images cannot take `inputShape`; {@link ConfigError} for a bad limit or bounds.
 * @example
 * ```ts
 * const test = await loadIdx('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', { limit: 1000, inputShape: [28, 28, 1] });
 * ```
 */
export async function loadIdx(imagesPath: string, labelsPath: string, options: LoadOptions = {}): Promise<Dataset> {
  const source = await openIdx(imagesPath, labelsPath, options);
  try {
    return await readDataset(source);
  } finally {
    await source.close();
  }
}
