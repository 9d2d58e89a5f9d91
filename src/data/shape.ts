/**
 * Shape, layout and scaling helpers shared by the data loaders: map uint8 pixels into a model's bounds,
 * decide whether stored samples fit a model's input shape, and move the channel axis between
 * `[H, W, C]` (tfjs/Keras, NHWC) and `[C, H, W]` (PyTorch/ONNX, NCHW).
 * @module
 */
import { ConfigError, DataLoadError, ShapeError, describe } from '../errors.js';
import { inferLayout, type Bounds, type Layout } from '../model.js';

/**
 * Checks that `bounds` is a pair of finite numbers with `lower < upper`.
 *
 * @param bounds - the candidate bounds.
 * @param where - the caller's name, for the error message.
 * @throws {@link ConfigError} when the bounds are not two finite numbers in increasing order.
 * @example
 * ```ts
 * checkBounds([0, 1], 'loadNpy'); // ok
 * checkBounds([1, 0], 'loadNpy'); // throws ConfigError
 * ```
 */
export function checkBounds(bounds: unknown, where: string): asserts bounds is Bounds {
  if (
    !Array.isArray(bounds) ||
    bounds.length !== 2 ||
    typeof bounds[0] !== 'number' ||
    typeof bounds[1] !== 'number' ||
    !Number.isFinite(bounds[0]) ||
    !Number.isFinite(bounds[1]) ||
    !(bounds[0] < bounds[1])
  ) {
    throw new ConfigError(`${where}: expected bounds to be [lower, upper] with finite lower < upper, got ${describe(bounds)}`);
  }
}

/**
 * Maps uint8 values 0..255 linearly onto `[lo, hi]`: 0 → `lo` and 255 → `hi` exactly, every other value in
 * between, non-decreasing in the input. The arithmetic is done in float64 and clamped to `[lo, hi]` before
 * it is stored as float32, so rounding can never push a value outside the bounds (as float32 sees them).
 *
 * @param raw - the uint8 values.
 * @param bounds - the target range `[lo, hi]`, finite with `lo < hi`.
 * @returns a new float32 array of the same length.
 * @throws {@link ConfigError} when `bounds` is not a finite increasing pair.
 * @example
 * ```ts
 * scaleUint8(Uint8Array.of(0, 51, 255), [0, 1]); // Float32Array [0, 0.2, 1]
 * scaleUint8(Uint8Array.of(0, 255), [-1, 1]);    // Float32Array [-1, 1]
 * ```
 */
export function scaleUint8(raw: Uint8Array, bounds: Bounds): Float32Array {
  checkBounds(bounds, 'scaleUint8');
  const [lo, hi] = bounds;
  // hi/255 - lo/255 rather than (hi - lo)/255, so that a huge range cannot overflow to Infinity.
  const k = hi / 255 - lo / 255;
  const table = new Float64Array(256);
  for (let v = 0; v < 255; v++) table[v] = Math.min(hi, Math.max(lo, lo + v * k));
  table[255] = hi;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = table[raw[i]!]!;
  return out;
}

/**
 * Decides the per-sample shape of stored data for a target shape, when the values need no reordering:
 * returns the target when the two hold the same values in the same order (equal shapes, or only unit axes
 * differ, e.g. `[28, 28]` → `[28, 28, 1]` or `[1, 28, 28]`); the stored shape when no target is given;
 * `undefined` when they are incompatible. A target image with more than one channel (`[H, W, C]` or
 * `[C, H, W]`, `C > 1`, by `layout` or inferred) only fits a stored shape equal to it: moving unit axes
 * around it would change which axis is the channel (`[2, 1, 2]` CHW is not `[1, 2, 2]` HWC). See
 * {@link arrangeSamples} for the version that also transposes.
 *
 * @param stored - shape of one stored sample.
 * @param target - wanted shape of one sample, or `undefined` to keep the stored one.
 * @param layout - layout of `target`. Default: `inferLayout(target)`.
 * @param _where - unused; kept for API compatibility.
 * @returns the shape to use, or `undefined` when a reshape cannot do it.
 * @example
 * ```ts
 * fitShape([28, 28], [28, 28, 1], 'NHWC', 'x'); // [28, 28, 1]
 * fitShape([28, 28, 3], [3, 28, 28], 'NCHW', 'x'); // undefined (needs a transpose)
 * ```
 */
export function fitShape(stored: readonly number[], target: readonly number[] | undefined, layout: Layout | undefined, _where: string): number[] | undefined {
  if (!target) return [...stored];
  if (target.length === stored.length && target.every((d, i) => d === stored[i])) return [...target];
  if (target.length === 3) {
    const lay = layout ?? inferLayout(target);
    const channels = lay === 'NHWC' ? target[2]! : lay === 'NCHW' ? target[0]! : 1;
    if (channels > 1) return undefined;
  }
  const squeeze = (s: readonly number[]): number[] => s.filter((d) => d !== 1);
  const a = squeeze(stored);
  const b = squeeze(target);
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) return undefined;
  return [...target];
}

function permute3<T extends Float32Array | Uint8Array>(data: T, count: number, d0: number, d1: number, d2: number, toChw: boolean): T {
  const per = d0 * d1 * d2;
  if (data.length !== count * per) {
    throw new ShapeError(`${toChw ? 'hwcToChw' : 'chwToHwc'}: expected ${count} × ${per} = ${count * per} values, got ${data.length}`);
  }
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let n = 0; n < count; n++) {
    const base = n * per;
    if (toChw) {
      // in: [H=d0, W=d1, C=d2]; out: [C, H, W]
      const hw = d0 * d1;
      for (let p = 0; p < hw; p++) {
        const src = base + p * d2;
        for (let c = 0; c < d2; c++) out[base + c * hw + p] = data[src + c]!;
      }
    } else {
      // in: [C=d0, H=d1, W=d2]; out: [H, W, C]
      const hw = d1 * d2;
      for (let c = 0; c < d0; c++) {
        const src = base + c * hw;
        for (let p = 0; p < hw; p++) out[base + p * d0 + c] = data[src + p]!;
      }
    }
  }
  return out;
}

/**
 * Reorders a batch of samples from `[H, W, C]` (NHWC) to `[C, H, W]` (NCHW). Returns a new array.
 *
 * @param data - `count × H × W × C` values, sample after sample.
 * @param count - number of samples.
 * @param h - height.
 * @param w - width.
 * @param c - channels.
 * @throws {@link ShapeError} when `data.length !== count × h × w × c`.
 * @example
 * ```ts
 * // one 1×2 RGB image: pixels (1,2,3) and (4,5,6)
 * hwcToChw(Float32Array.of(1, 2, 3, 4, 5, 6), 1, 1, 2, 3); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function hwcToChw<T extends Float32Array | Uint8Array>(data: T, count: number, h: number, w: number, c: number): T {
  return permute3(data, count, h, w, c, true);
}

/**
 * Reorders a batch of samples from `[C, H, W]` (NCHW) to `[H, W, C]` (NHWC). Returns a new array;
 * the inverse of {@link hwcToChw}.
 *
 * @param data - `count × C × H × W` values, sample after sample.
 * @param count - number of samples.
 * @param c - channels.
 * @param h - height.
 * @param w - width.
 * @throws {@link ShapeError} when `data.length !== count × c × h × w`.
 * @example
 * ```ts
 * chwToHwc(Float32Array.of(1, 4, 2, 5, 3, 6), 1, 3, 1, 2); // [1, 2, 3, 4, 5, 6]
 * ```
 */
export function chwToHwc<T extends Float32Array | Uint8Array>(data: T, count: number, c: number, h: number, w: number): T {
  return permute3(data, count, c, h, w, false);
}

/** The result of {@link arrangeSamples}. */
export interface ArrangedSamples {
  /** The samples in the target shape and layout (the input array itself when no reordering was needed). */
  readonly data: Float32Array;
  /** Shape of one sample. */
  readonly shape: number[];
  /** What was done to the stored samples: nothing, a reshape, or a transpose between NHWC and NCHW. */
  readonly op: 'none' | 'reshape' | 'hwc-to-chw' | 'chw-to-hwc';
}

/**
 * Brings stored samples into a model's input shape. In order of preference:
 * 1. no `target`, or equal shapes: unchanged;
 * 2. only unit axes differ (`[28, 28]` ↔ `[28, 28, 1]` ↔ `[1, 28, 28]`): a reshape;
 * 3. a rank-1 `target` of the same size (`[28, 28]` → `[784]`): a row-major flatten;
 * 4. stored `[H, W, C]` with target `[C, H, W]` (target layout NCHW), or stored `[C, H, W]` with target
 *    `[H, W, C]` (target layout NHWC), `C > 1`: a transpose. Arrays saved from PyTorch are NCHW, tfjs models
 *    are NHWC, so this is the usual conversion between the two.
 * Anything else is a {@link ShapeError}; values are never reinterpreted in a way that mixes channels.
 *
 * @param data - `count × prod(stored)` values, sample after sample.
 * @param count - number of samples.
 * @param stored - shape of one stored sample.
 * @param target - the model's input shape, or `undefined` to keep the stored one.
 * @param layout - layout of `target`. Default: `inferLayout(target)` (channels of 1, 3 or 4 last → NHWC, first → NCHW).
 * @param where - the file name or caller, for error messages.
 * @throws {@link ShapeError} when the stored samples cannot take the target shape.
 * @example
 * ```ts
 * // 10 PyTorch images [3, 32, 32] for a tfjs model taking [32, 32, 3]
 * const stored = new Float32Array(10 * 3 * 32 * 32);
 * const { data, shape } = arrangeSamples(stored, 10, [3, 32, 32], [32, 32, 3], 'NHWC', 'cifar.npy'); // shape [32, 32, 3]
 * ```
 */
export function arrangeSamples(
  data: Float32Array,
  count: number,
  stored: readonly number[],
  target: readonly number[] | undefined,
  layout: Layout | undefined,
  where: string,
): ArrangedSamples {
  const per = stored.reduce((a, b) => a * b, 1);
  if (data.length !== count * per) {
    throw new ShapeError(`${where}: expected ${count} samples of shape [${stored.join(', ')}] (${count * per} values), got ${data.length} values`);
  }
  if (!target) return { data, shape: [...stored], op: 'none' };
  if (target.length === stored.length && target.every((d, i) => d === stored[i])) return { data, shape: [...target], op: 'none' };
  const fitted = fitShape(stored, target, layout, where);
  if (fitted) return { data, shape: fitted, op: 'reshape' };
  const targetSize = target.reduce((a, b) => a * b, 1);
  if (target.length === 1 && targetSize === per) return { data, shape: [...target], op: 'reshape' };
  const lay = layout ?? inferLayout(target);
  if (stored.length === 3 && target.length === 3) {
    const [s0, s1, s2] = stored as [number, number, number];
    const [t0, t1, t2] = target as [number, number, number];
    if (lay === 'NCHW' && t0 > 1 && s0 === t1 && s1 === t2 && s2 === t0) {
      return { data: hwcToChw(data, count, s0, s1, s2), shape: [...target], op: 'hwc-to-chw' };
    }
    if (lay === 'NHWC' && t2 > 1 && s0 === t2 && s1 === t0 && s2 === t1) {
      return { data: chwToHwc(data, count, s0, s1, s2), shape: [...target], op: 'chw-to-hwc' };
    }
  }
  throw new ShapeError(
    `${where}: expected samples that fit the input shape [${target.join(', ')}] (${lay}) by a reshape or an NHWC↔NCHW transpose, got samples of shape [${stored.join(', ')}]`,
  );
}

/** Typed arrays a label file can decode to. */
export type LabelSource =
  Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

const INT32_MAX = 2 ** 31 - 1;

/**
 * Converts the first `count` decoded labels to int32 class indices, checking every value: each must be an
 * integer (floats such as `3.0` are accepted, `3.5` is not) in `[0, 2³¹ − 1]`. int64/uint64 labels (what numpy
 * saves by default) are converted exactly, or rejected when out of range; nothing is truncated or wrapped.
 *
 * @param data - the decoded label values.
 * @param count - how many to convert (the first `count`); default all.
 * @param where - the file name, for error messages.
 * @returns a new Int32Array of length `count`.
 * @throws {@link DataLoadError} naming the first offending index and value.
 * @example
 * ```ts
 * toLabels(BigInt64Array.of(7n, 2n, 1n), 3, 'y.npy'); // Int32Array [7, 2, 1]
 * toLabels(Float32Array.of(1.5), 1, 'y.npy');          // throws DataLoadError
 * ```
 */
export function toLabels(data: LabelSource, count: number = data.length, where = 'labels'): Int32Array {
  if (!Number.isInteger(count) || count < 0 || count > data.length) {
    throw new ShapeError(`${where}: expected a label count in [0, ${data.length}], got ${describe(count)}`);
  }
  const out = new Int32Array(count);
  const bad = (i: number, v: number | bigint): never => {
    throw new DataLoadError(`${where}: expected labels to be integer class indices in [0, ${INT32_MAX}], got ${String(v)} at index ${i}`);
  };
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) {
      const v = data[i]!;
      if (v < 0n || v > BigInt(INT32_MAX)) bad(i, v);
      out[i] = Number(v);
    }
    return out;
  }
  for (let i = 0; i < count; i++) {
    const v = data[i]!;
    if (!Number.isInteger(v) || v < 0 || v > INT32_MAX) bad(i, v);
    out[i] = v;
  }
  return out;
}

/**
 * Checks a `limit` option: `undefined` (keep everything) or a positive integer.
 *
 * @param limit - the option's value.
 * @param where - the caller's name, for the error message.
 * @throws {@link ConfigError} when `limit` is given but is not a positive integer.
 * @example
 * ```ts
 * checkLimit(100, 'loadNpy'); // ok
 * checkLimit(0, 'loadNpy');   // throws ConfigError
 * ```
 */
export function checkLimit(limit: unknown, where: string): asserts limit is number | undefined {
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0)) {
    throw new ConfigError(`${where}: expected limit to be a positive integer, got ${describe(limit)}`);
  }
}
