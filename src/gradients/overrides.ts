/**
 * The gradient overrides themselves: which forward kernels robustest can override ({@link FAST_GRADIENT_KERNELS}),
 * where each override was measured to be faster ({@link FAST_GRADIENT_TABLE}), and, per kernel, the gradient
 * built from forward kernels (`formulas.ts`) or loop kernels (`kernels.ts`). Registering them is `state.ts`'s job.
 * @module
 */
import * as tf from '../tf.js';
import {
  avgPoolInputGrad,
  conv2dFilterGrad,
  conv2dInputGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  matMulNoFlags,
  maxPoolInputGradFirst,
  pair,
  type ConvGeometry,
  type PadAttr,
} from './formulas.js';
import { activationGradByLoop, hasLoopKernels } from './kernels.js';

/**
 * The forward kernels (tfjs kernel names) whose gradients robustest can override.
 * @example
 * ```ts
 * const kernels: FastGradientKernel[] = ['Conv2D', 'MaxPool'];
 * enableFastGradients({ kernels });
 * ```
 */
export type FastGradientKernel = 'Conv2D' | 'DepthwiseConv2dNative' | 'MaxPool' | 'AvgPool' | 'BatchMatMul' | 'Relu' | 'Relu6' | 'LeakyRelu' | 'Elu';

/**
 * Every kernel {@link enableFastGradients} can override, in a fixed order.
 * @example
 * ```ts
 * for (const k of FAST_GRADIENT_KERNELS) console.log(k, fastGradientsEnabled(k, 'wasm'));
 * ```
 */
export const FAST_GRADIENT_KERNELS: readonly FastGradientKernel[] = [
  'Conv2D',
  'DepthwiseConv2dNative',
  'MaxPool',
  'AvgPool',
  'BatchMatMul',
  'Relu',
  'Relu6',
  'LeakyRelu',
  'Elu',
];

/**
 * On which backends each override (per gradient: input `x`/`a`, `filter`/`b`) is faster than tfjs's own
 * gradient, used by policy `measured`. From `npx tsx bench/gradients.ts` on the project's 2-core shared machines
 * (tfjs 4.22, batch 100, the bundled MNIST CNN's layer shapes and ResNet/MobileNet-style strided layers;
 * gradient-only time, median ms, tfjs → override; "fails" = tfjs has no kernel for it on that backend). Measured
 * 2026-11-26 (wasm 08:48 UTC, load averages 1.5–2.0; cpu 08:44–08:45 UTC, 1.1–2.1); the filter-gradient rows on
 * cpu are from an earlier run.
 * Details, whole-model ratios and commands: `docs/gradients.md`.
 *
 * | gradient                                   | wasm                  | cpu                       |
 * |--------------------------------------------|-----------------------|---------------------------|
 * | Conv2D x, 28×28×1 → 26×26×16               | 11.4 → 4.0            | 29.2 → 72.6               |
 * | Conv2D x, 13×13×16 → 11×11×32              | 58.8 → 7.2            | 175.9 → 267.5             |
 * | Conv2D x, 3×3/2, 32×32×16 → 16×16×32       | 128.9 → 26.3          | 370.3 → 895.6             |
 * | Conv2D x, 1×1/2, 32×32×16 → 16×16×32       | 22.2 → 3.4            | 64.1 → 95.2               |
 * | Conv2D x, 3×3/2, 32×32×3 → 16×16×16        | 14.8 → 3.1            | 38.5 → 102.5              |
 * | Conv2D filter, the two MNIST layers        | fails → 10.8 / 10.6   | 11994 → 225 / 59749 → 292 |
 * | DepthwiseConv2dNative x, 26×26×16, 3×3     | fails → 2.9           | 170.3 → 116.6             |
 * | DepthwiseConv2dNative filter, same         | fails → 31.8          | 10092 → 359               |
 * | MaxPool 2×2/2, 26×26×16 → 13×13×16         | 26.4 → 8.9            | 1476.6 → 18.4             |
 * | MaxPool 2×2/2, 11×11×32 → 5×5×32           | 9.2 → 3.3             | 472.0 → 5.3               |
 * | MaxPool 3×3/2 `same`, 26×26×16             | 36.9 (wrong) → 19.3   | 2966.3 → 19.4             |
 * | AvgPool 2×2/2, 26×26×16                    | 12.9 → 2.5            | 596.2 → 95.6              |
 * | BatchMatMul a / b, 100×800 · 800×32        | 2.9 → 0.5 / 3.0 → 0.4 | 17.4 → 16.0 / 8.7 → 16.4  |
 * | Relu, 100×26×26×16                         | 7.1 → 3.9             | 43.3 → 13.7               |
 * | Relu6, same                                | 18.9 → 3.1            | 129.7 → 11.5              |
 * | LeakyRelu, same                            | 17.0 → 5.1            | 65.2 → 11.5               |
 * | Elu, same                                  | 1.2 → 16.3            | 12.3 → 112.3              |
 *
 * tfjs-cpu's `MaxPoolGrad` varies 4× between runs (423–1477 ms for the first row); the override's loop kernel
 * does not. The cpu backend's `Conv2DBackpropInput` and `BatchMatMul` are competitive JS loops (its
 * broadcasting elementwise ops and convolutions are not), so those stay tfjs's there; tfjs's `EluGrad` is one
 * fast kernel on both. Timings on these shared machines vary by up to ±30% between runs.
 * tfjs's wasm `MaxPoolGrad` is also wrong for 2×2 windows (it disagrees with the cpu backend even without ties)
 * and with `same` padding, so the override is a fix there as well as a speed-up.
 * @example
 * ```ts
 * FAST_GRADIENT_TABLE.Conv2D; // { x: ['wasm'], filter: ['wasm', 'cpu'] }
 * ```
 */
export const FAST_GRADIENT_TABLE: Readonly<Record<FastGradientKernel, Readonly<Record<string, readonly string[]>>>> = {
  Conv2D: { x: ['wasm'], filter: ['wasm', 'cpu'] },
  DepthwiseConv2dNative: { x: ['wasm', 'cpu'], filter: ['wasm', 'cpu'] },
  MaxPool: { x: ['wasm', 'cpu'] },
  AvgPool: { x: ['wasm', 'cpu'] },
  BatchMatMul: { a: ['wasm'], b: ['wasm'] },
  Relu: { x: ['wasm', 'cpu'] },
  Relu6: { x: ['wasm', 'cpu'] },
  LeakyRelu: { x: ['wasm', 'cpu'] },
  Elu: { x: [] },
};

/** The override of one kernel's gradient: thunks per gradient name, or `undefined` where tfjs's own must run. @internal */
export type Impl = (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => ReturnType<tf.GradFunc> | undefined;

/** The geometry attributes of a convolution kernel, normalised. @internal */
export function convGeometry(attrs: tf.NamedAttrMap): ConvGeometry {
  const a = attrs as unknown as {
    strides: number | [number, number];
    dilations?: number | [number, number];
    pad: PadAttr;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  return { strides: pair(a.strides), dilations: pair(a.dilations), pad: a.pad, dimRoundingMode: a.dimRoundingMode ?? undefined };
}

/**
 * Whether an activation gradient runs as one loop kernel (`kernels.ts`): on the cpu backend, where tfjs's
 * elementwise ops are slow JS (Relu's gradient on 100×26×26×16: 70 ms as `Step` + `Multiply`, 14 ms as one loop).
 * On wasm the XNNPACK ops are faster than a JS loop.
 */
function useLoop(x: tf.Tensor, dy: tf.Tensor): boolean {
  return tf.getBackend() === 'cpu' && x.dtype === 'float32' && dy.dtype === 'float32';
}

/** The float32 right after 6 (6 + 2⁻²¹). */
const RELU6_CAP = 6 + 2 ** -21;

/** The override of each kernel's gradient. @internal */
export const IMPLS: Record<FastGradientKernel, Impl> = {
  Conv2D: (dy, saved, attrs) => {
    const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
    if ((attrs['dataFormat'] ?? 'NHWC') !== 'NHWC' || x.rank !== 4) return undefined;
    const g = convGeometry(attrs);
    return {
      x: () => conv2dInputGrad(x.shape, dy as tf.Tensor4D, w, g),
      filter: () => conv2dFilterGrad(x, dy as tf.Tensor4D, w.shape, g),
    };
  },
  DepthwiseConv2dNative: (dy, saved, attrs) => {
    const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
    if (x.rank !== 4 || w.rank !== 4) return undefined;
    const g = convGeometry(attrs);
    return {
      x: () => depthwiseInputGrad(x.shape, dy as tf.Tensor4D, w, g),
      filter: () => depthwiseFilterGrad(x, dy as tf.Tensor4D, w.shape, g),
    };
  },
  MaxPool: (dy, saved, attrs) => {
    const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolAttrs;
    if (x.rank !== 4) return undefined;
    const f = pair(filterSize);
    const s = pair(strides);
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
    // Overlapping windows off the loop backends: MaxPoolWithArgmax + ScatterNd, `valid`/`same` padding only.
    const tiled = f[0] === s[0] && f[1] === s[1];
    if (!tiled && !hasLoopKernels() && ((pad !== 'valid' && pad !== 'same') || dimRoundingMode != null)) return undefined;
    return { x: () => maxPoolInputGradFirst(x, y, dy as tf.Tensor4D, f, s, [1, 1], pad, dimRoundingMode ?? undefined) };
  },
  AvgPool: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor4D];
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.AvgPoolAttrs;
    if (x.rank !== 4) return undefined;
    return { x: () => avgPoolInputGrad(x.shape, dy as tf.Tensor4D, pair(filterSize), pair(strides), pad, dimRoundingMode) };
  },
  BatchMatMul: (dy, saved, attrs) => {
    const [a, b] = saved as [tf.Tensor, tf.Tensor];
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    // The four cases of tfjs's BatchMatMul gradient (C = op(A)·op(B)):
    // dA = dC·op(B)ᵀ (or its transpose), dB = op(A)ᵀ·dC (or its transpose).
    if (!transposeA && !transposeB) return { a: () => matMulNoFlags(dy, b, false, true), b: () => matMulNoFlags(a, dy, true, false) };
    if (!transposeA && transposeB) return { a: () => matMulNoFlags(dy, b, false, false), b: () => matMulNoFlags(dy, a, true, false) };
    if (transposeA && !transposeB) return { a: () => matMulNoFlags(b, dy, false, true), b: () => matMulNoFlags(a, dy, false, false) };
    return { a: () => matMulNoFlags(b, dy, true, true), b: () => matMulNoFlags(dy, a, true, true) };
  },
  // d relu(x)/dx = 1 for x > 0, else 0 = step(x).
  Relu: (dy, saved) => {
    const [x] = saved as [tf.Tensor];
    return { x: () => (useLoop(x, dy) ? activationGradByLoop(x, dy, 'relu') : tf.mul(dy, tf.step(x))) };
  },
  // d relu6(x)/dx = 1 for 0 < x ≤ 6, else 0 = step(x · (c − x)) with c the float32 after 6: in float32,
  // c − x > 0 exactly when x ≤ 6, and the product of a positive x and c − x never underflows to 0 (it is at
  // least min(6x, 6·(c − 6)) > 0). Four elementwise ops instead of five for step(x) − step(x − 6).
  Relu6: (dy, saved) => {
    const [x] = saved as [tf.Tensor];
    return { x: () => (useLoop(x, dy) ? activationGradByLoop(x, dy, 'relu6') : tf.tidy(() => tf.mul(dy, tf.step(tf.mul(x, tf.sub(RELU6_CAP, x)))))) };
  },
  // d leakyRelu(x)/dx = 1 for x > 0, else alpha = step(x, alpha).
  LeakyRelu: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    const alpha = (attrs as unknown as tf.LeakyReluAttrs).alpha;
    return { x: () => (useLoop(x, dy) ? activationGradByLoop(x, dy, 'leakyRelu', alpha) : tf.mul(dy, tf.step(x, alpha))) };
  },
  // d elu(x)/dx = 1 for x > 0, else exp(x) = y + 1; with y = elu(x): 1 + min(y, 0).
  Elu: (dy, saved) => {
    const [y] = saved as [tf.Tensor];
    return { x: () => tf.tidy(() => tf.mul(dy, tf.add(tf.minimum(y, 0), 1))) };
  },
};
