/**
 * NumPy `.npy` arrays (what `numpy.save` writes), optionally gzip-compressed.
 *
 * Format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): the magic `\x93NUMPY`,
 * a major and minor version byte, the header length (uint16 little-endian in version 1, uint32 in versions
 * 2 and 3), then a Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (10, 28, 28), }`
 * (latin-1 in versions 1 and 2, UTF-8 in version 3), then the raw values.
 *
 * Supported dtypes: `f2 f4 f8` (float16/32/64), `i1 i2 i4 i8`, `u1 u2 u4 u8`, `b1` (bool), little- or big-endian.
 * Arrays stored in Fortran (column-major) order are transposed to C (row-major) order on load, so callers
 * always see C order. Structured, object, string, complex and datetime arrays are rejected.
 * @module
 */
import { readDataset } from './source.js';
import { openNpy } from './stream.js';
import type { Dataset, LoadOptions } from './types.js';

export * from './npy-format.js';

/**
 * Loads a `.npy` image array and its `.npy` label array (e.g. from `np.save('x_test.npy', x)`).
 *
 * - Images: the first axis is the sample. float16/32/64 values are taken as they are (they must already lie
 *   inside the model's bounds, which the library checks later; they are *not* rescaled); uint8 values are scaled
 *   linearly from 0..255 onto `options.bounds`. Other integer or bool image arrays are rejected, since their range
 *   is ambiguous: convert them to uint8 or float32 first.
 * - Labels: shape `[N]` (or `[N, 1]`), any integer or bool dtype, or a float dtype holding whole numbers; each
 *   must be in `[0, 2³¹ − 1]`. int64 (numpy's default) is converted exactly or rejected, never wrapped.
 * - Shape: samples are brought into `options.inputShape` by {@link arrangeSamples}: a reshape when only unit
 *   axes differ, or an NHWC↔NCHW transpose (PyTorch arrays are `[N, C, H, W]`, tfjs models take `[N, H, W, C]`).
 * - `sha256` covers the decoded image values (C order, host byte order, in the stored dtype with float16 widened
 *   to float32; the first `count` samples) followed by the int32 labels.
 *
 * @param imagesPath - path of the image array (`.npy`, or `.npy` compressed with gzip).
 * @param labelsPath - path of the label array.
 * @param options - bounds (default `[0, 1]`), limit (default: all), inputShape and layout (default: as stored).
 * The files are read through {@link openNpy}: a gzip file is inflated only up to the last sample used (`limit`).
 *
 * @throws {@link DataLoadError} for unreadable, non-regular, malformed or empty (0-sample) files, unsupported dtypes, non-integer or negative
 *   labels, or mismatched counts; {@link ShapeError} if the images cannot take `inputShape`;
 *   {@link ConfigError} for a bad limit or bounds.
 * @example
 * ```ts
 * const test = await loadNpy('x_test.npy', 'y_test.npy', { limit: 500, inputShape: [32, 32, 3], bounds: [0, 1] });
 * ```
 */
export async function loadNpy(imagesPath: string, labelsPath: string, options: LoadOptions = {}): Promise<Dataset> {
  const source = await openNpy(imagesPath, labelsPath, options);
  try {
    return await readDataset(source);
  } finally {
    await source.close();
  }
}
