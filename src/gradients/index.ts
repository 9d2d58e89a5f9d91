/**
 * Fast input- and weight-gradients for the kernels that dominate image classifiers, as tfjs gradient overrides.
 *
 * tfjs computes gradients through the gradient config registered for each forward kernel
 * (`tf.registerGradient`, global to the process). On tfjs-backend-wasm the configs tfjs ships call backprop
 * kernels (`Conv2DBackpropInput`, `MaxPoolGrad`, `BatchMatMul` with transpose flags) that are 10–25× slower than
 * the forward kernels, and some (`Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackprop*`) do not exist there at
 * all. {@link enableFastGradients} replaces those configs with ones that compute the same gradients from
 * forward kernels (see `formulas.ts` for the math) or, where elementwise passes dominate, from loop kernels
 * (`kernels.ts`), on the backends where that was measured to be faster, and falls back to tfjs's original
 * gradient everywhere else. It also replaces those backends' backprop kernels, which tfjs's fused ops call
 * directly, and makes the wasm backend's clones of saved tensors share buffers. Measurements:
 * `docs/gradients.md`.
 * @module
 */
import * as tf from '../tf.js';
import { ConfigError, describe } from '../errors.js';
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

/**
 * Options of {@link enableFastGradients}; every field is optional.
 * @example
 * ```ts
 * const options: FastGradientOptions = { backends: ['wasm'], policy: 'measured' };
 * enableFastGradients(options);
 * ```
 */
export interface FastGradientOptions {
  /**
   * The tfjs backends on which overrides may run; on any other backend tfjs's own gradients run.
   * Default: `['wasm', 'cpu']`.
   */
  backends?: readonly string[];
  /**
   * `measured` (default): each kernel's override runs only on the backends where {@link FAST_GRADIENT_TABLE} says
   * it is faster. `all`: every override runs on every backend in `backends` (for testing, or for backends not
   * measured; the gradients are the same either way).
   */
  policy?: 'measured' | 'all';
  /** Restrict the overrides to these kernels. Default: all of {@link FAST_GRADIENT_KERNELS}. */
  kernels?: readonly FastGradientKernel[];
}

/**
 * The environment variable that, set to `0`, `false`, `off` or `no`, makes {@link enableFastGradients} do nothing
 * (read at each call of it).
 * @example
 * ```ts
 * process.env[FAST_GRADIENTS_ENV] = '0';
 * enableFastGradients();
 * fastGradientsEnabled(); // false
 * ```
 */
export const FAST_GRADIENTS_ENV = 'ROBUSTEST_FAST_GRADIENTS';

type Impl = (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => ReturnType<tf.GradFunc> | undefined;

interface State {
  readonly originals: Map<string, tf.GradConfig>;
  /** kernel → gradient name (`x`, `filter`, `a`, `b`) → backends where the override computes it. */
  readonly active: Map<string, ReadonlyMap<string, ReadonlySet<string>>>;
  /** Whether the wasm backend's clones share buffers (see {@link shareWasmClones}). */
  readonly wasmShared: boolean;
}

let state: State | undefined;
/** Set once a user (or the automatic default) has chosen: auto-enabling then never overrides that choice. */
let chosen = false;

function convGeometry(attrs: tf.NamedAttrMap): ConvGeometry {
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

const IMPLS: Record<FastGradientKernel, Impl> = {
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

/** tfjs-backend-wasm's own `Identity` kernel while {@link shareWasmClones} has replaced it. */
let wasmIdentity: tf.KernelConfig | undefined;

/**
 * Makes the wasm backend's `Identity` kernel share its input's buffer (reference-counted, as tfjs's cpu backend
 * does) instead of copying it. tfjs clones every tensor a gradient saves for the backward pass (`Identity`), and
 * on wasm each clone is a full copy: about 0.7 ms per 100×26×26×16 activation, several per layer. Tensors are
 * immutable in tfjs (wasm kernels write to new outputs only; `Reshape` already shares buffers there), so sharing
 * changes no value. Does nothing when the wasm backend's kernels are not registered (yet).
 */
function shareWasmClones(): void {
  if (wasmIdentity !== undefined) return;
  const original = tf.getKernel('Identity', 'wasm');
  if (original === undefined) return;
  wasmIdentity = original;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs['x'] as tf.TensorInfo;
      if (x.dtype === 'string') return original.kernelFunc(args);
      (args.backend as unknown as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

/** Puts tfjs-backend-wasm's own `Identity` kernel back. */
function restoreWasmClones(): void {
  if (wasmIdentity === undefined) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel(wasmIdentity);
  wasmIdentity = undefined;
}

/** A backprop kernel replaced by {@link installBackpropKernels}: kernel, gradient of {@link FAST_GRADIENT_TABLE}. */
const BACKPROP_KERNELS: readonly { kernel: string; of: FastGradientKernel; input: string }[] = [
  { kernel: 'Conv2DBackpropInput', of: 'Conv2D', input: 'x' },
  { kernel: 'Conv2DBackpropFilter', of: 'Conv2D', input: 'filter' },
  { kernel: 'DepthwiseConv2dNativeBackpropInput', of: 'DepthwiseConv2dNative', input: 'x' },
  { kernel: 'DepthwiseConv2dNativeBackpropFilter', of: 'DepthwiseConv2dNative', input: 'filter' },
  { kernel: 'MaxPoolGrad', of: 'MaxPool', input: 'x' },
];

type Attrs = Record<string, unknown>;

/** The forward-kernel formula of each backprop kernel, on tensors; `undefined` where it does not apply. */
const BACKPROP_IMPLS: Record<string, (t: Record<string, tf.Tensor>, a: Attrs) => tf.Tensor | undefined> = {
  Conv2DBackpropInput: (t, a) =>
    a['dataFormat'] === 'NCHW'
      ? undefined
      : conv2dInputGrad(a['inputShape'] as number[], t['dy'] as tf.Tensor4D, t['filter'] as tf.Tensor4D, convGeometry(a as unknown as tf.NamedAttrMap)),
  Conv2DBackpropFilter: (t, a) =>
    a['dataFormat'] === 'NCHW'
      ? undefined
      : conv2dFilterGrad(t['x'] as tf.Tensor4D, t['dy'] as tf.Tensor4D, a['filterShape'] as number[], convGeometry(a as unknown as tf.NamedAttrMap)),
  DepthwiseConv2dNativeBackpropInput: (t, a) =>
    depthwiseInputGrad(a['inputShape'] as number[], t['dy'] as tf.Tensor4D, t['filter'] as tf.Tensor4D, convGeometry(a as unknown as tf.NamedAttrMap)),
  DepthwiseConv2dNativeBackpropFilter: (t, a) =>
    depthwiseFilterGrad(t['x'] as tf.Tensor4D, t['dy'] as tf.Tensor4D, a['filterShape'] as number[], convGeometry(a as unknown as tf.NamedAttrMap)),
  MaxPoolGrad: (t, a) => {
    const x = t['input'] as tf.Tensor4D;
    const f = pair(a['filterSize'] as number | [number, number]);
    const s = pair(a['strides'] as number | [number, number]);
    const pad = a['pad'] as PadAttr;
    const rounding = (a['dimRoundingMode'] ?? undefined) as 'floor' | 'round' | 'ceil' | undefined;
    if (x.dtype !== 'float32' || (!(f[0] === s[0] && f[1] === s[1]) && !hasLoopKernels() && ((pad !== 'valid' && pad !== 'same') || rounding !== undefined)))
      return undefined;
    return maxPoolInputGradFirst(x, t['output'] as tf.Tensor4D, t['dy'] as tf.Tensor4D, f, s, [1, 1], pad, rounding);
  },
};

/** Backprop kernels replaced by {@link installBackpropKernels}: `kernel/backend` → the backend's own (if any). */
const replacedKernels = new Map<string, { kernel: string; backend: string; original: tf.KernelConfig | undefined }>();

/**
 * Replaces the backend's own backprop kernels (`Conv2DBackpropInput`, `Conv2DBackpropFilter`, the depthwise
 * ones, `MaxPoolGrad`) with kernels that run the same formulas as the gradient overrides, where the matching
 * override is active. Gradients that tfjs computes without a registered gradient config call them directly:
 * the `customGrad` of `tf.fused.conv2d`/`tf.fused.depthwiseConv2d` with a linear activation (tfjs-layers'
 * convolutions without an activation, e.g. before a BatchNormalization layer), which computes the filter gradient
 * even for an input gradient (on wasm it failed: no `Conv2DBackpropFilter` kernel; on cpu it took seconds), and
 * `tf.conv2dTranspose`. The replacement runs tf ops inside the kernel and hands their result's buffer over.
 */
function installBackpropKernels(active: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>): void {
  for (const { kernel, of, input } of BACKPROP_KERNELS) {
    for (const backend of active.get(of)?.get(input) ?? []) {
      if (backend !== 'wasm' && backend !== 'cpu') continue;
      const key = `${kernel}/${backend}`;
      if (replacedKernels.has(key)) continue;
      const original = tf.getKernel(kernel, backend);
      // Only where the backend is loaded (its kernels registered): a later load keeps its own kernels.
      if (tf.getKernel('Identity', backend) === undefined) continue;
      const impl = BACKPROP_IMPLS[kernel]!;
      const kernelFunc: tf.KernelFunc = (args) => {
        const b = args.backend as unknown as { incRef(dataId: tf.DataId): void };
        const engine = tf.engine();
        const out = tf.tidy(() => {
          const ts: Record<string, tf.Tensor> = {};
          for (const [name, info] of Object.entries(args.inputs)) {
            if (info === undefined) continue;
            // A tensor of the kernel's input: its own reference, released when tidy disposes it.
            b.incRef(info.dataId);
            ts[name] = engine.makeTensorFromTensorInfo(info);
          }
          return impl(ts, args.attrs as Attrs);
        });
        if (out === undefined) {
          if (original === undefined) throw new Error(`Kernel '${kernel}' not registered for backend '${backend}'`);
          return original.kernelFunc(args);
        }
        // Hand the result's buffer to the kernel's output: one more reference, then drop the tensor's.
        b.incRef(out.dataId);
        const info: tf.TensorInfo = { dataId: out.dataId, shape: out.shape, dtype: out.dtype };
        out.dispose();
        return info;
      };
      if (original !== undefined) tf.unregisterKernel(kernel, backend);
      tf.registerKernel({ kernelName: kernel, backendName: backend, kernelFunc });
      replacedKernels.set(key, { kernel, backend, original });
    }
  }
}

/** Puts the backends' own backprop kernels back (and removes those they did not have). */
function restoreBackpropKernels(): void {
  for (const { kernel, backend, original } of replacedKernels.values()) {
    tf.unregisterKernel(kernel, backend);
    if (original !== undefined) tf.registerKernel(original);
  }
  replacedKernels.clear();
}

function envDisabled(): boolean {
  const v = typeof process === 'undefined' ? undefined : process.env[FAST_GRADIENTS_ENV];
  return v !== undefined && ['0', 'false', 'off', 'no'].includes(v.trim().toLowerCase());
}

/**
 * Replaces tfjs's gradient configs for {@link FAST_GRADIENT_KERNELS} with versions built from forward kernels.
 *
 * What changes: the input gradient (used by attacks) and the filter/weight gradients (used by training) of
 * `Conv2D` (NHWC; any strides, dilations, `same`/`valid`/explicit padding — tfjs's own rejects dilations > 1),
 * `DepthwiseConv2dNative` (any channel multiplier; wasm has no kernel for tfjs's own), `MaxPool`, `AvgPool`,
 * `BatchMatMul` (all transpose flags), `Relu`, `Relu6`, `LeakyRelu` and `Elu`. The math (transposed
 * convolutions as forward convolutions of the padded upstream gradient with the flipped filter — Dumoulin &
 * Visin 2016, §4 — in sub-pixel form for strided convolutions, as a matmul plus col2im when windows do not
 * overlap, and as a depthwise convolution plus a channel sum for one input channel; filter gradients as
 * convolutions of the input with the upstream gradient; max-pool gradients routed to each window's first
 * maximum in row-major order, as tfjs-cpu does, ties included) is documented in `src/gradients/formulas.ts`;
 * the max-pool gradient of overlapping windows, and on cpu the activation gradients, run as loop kernels
 * (`src/gradients/kernels.ts`).
 * Values equal tfjs-cpu's own gradients to float32 rounding, with two intended exceptions where tfjs's gradient
 * is not the derivative of its forward pass: `AvgPool` with padding follows the forward pass (which averages
 * in-bounds pixels only), where tfjs's gradient divides by the full window area; and `MaxPool` with `ceil`
 * rounding gives the windows that rounding adds past the input their gradient, which tfjs-cpu's drops.
 *
 * On wasm, while any override is enabled for it, the backend's `Identity` kernel shares its input's buffer
 * instead of copying it (as tfjs's cpu backend does): tfjs clones every tensor a gradient saves for the backward
 * pass, and each clone was a full copy there. {@link disableFastGradients} restores the copying kernel.
 *
 * Each override checks `tf.getBackend()` when the gradient is computed and runs tfjs's original gradient
 * function unless it is active for that backend, so enabling is safe with any backend. Calling it again replaces
 * the previous options. `NCHW` convolutions and tensors not of rank 4 always use tfjs's gradient, and so do
 * overlapping `MaxPool` windows with numeric padding or a rounding mode on backends other than wasm and cpu.
 *
 * Fused kernels: tfjs-layers' `Conv2D`/`Dense` call `tf.fused.conv2d`/`tf.fused.matMul`, which run the fused
 * kernel only when no gradient is being recorded or the activation is linear; so under `tf.grad` a layer with
 * an activation runs `Conv2D`/`BatchMatMul` + bias add + activation and gets these overrides, while a layer with
 * a linear activation runs `FusedConv2D`/`_FusedMatMul`, whose gradient is a `customGrad` inside tfjs that no
 * registered gradient can replace (on wasm its conv filter gradient fails: no `Conv2DBackpropFilter`).
 *
 * Does nothing when the environment variable `ROBUSTEST_FAST_GRADIENTS` is `0`, `false`, `off` or `no`.
 *
 * @param options - backends (default `wasm` and `cpu`), policy (default `measured`: only where faster), kernels.
 * @throws {@link ConfigError} for an unknown kernel name, an unknown policy, or a non-string backend name.
 * @example
 * ```ts
 * await initBackend('wasm');
 * enableFastGradients();                 // wasm input-gradients several times faster
 * const { grad } = await model.valueAndGrad(x, loss);
 * disableFastGradients();                // tfjs's own gradients again
 * ```
 */
export function enableFastGradients(options: FastGradientOptions = {}): void {
  chosen = true;
  const kernels = options.kernels ?? FAST_GRADIENT_KERNELS;
  for (const k of kernels) {
    if (!FAST_GRADIENT_KERNELS.includes(k)) {
      throw new ConfigError(`enableFastGradients: expected kernels from ${FAST_GRADIENT_KERNELS.join(', ')}, got ${describe(k)}`);
    }
  }
  const policy = options.policy ?? 'measured';
  if (policy !== 'measured' && policy !== 'all') {
    throw new ConfigError(`enableFastGradients: expected policy 'measured' or 'all', got ${describe(policy)}`);
  }
  const backends = options.backends ?? ['wasm', 'cpu'];
  for (const b of backends) {
    if (typeof b !== 'string' || b.length === 0) throw new ConfigError(`enableFastGradients: expected backend names, got ${describe(b)}`);
  }
  disableFastGradients();
  if (envDisabled()) return;
  const originals = new Map<string, tf.GradConfig>();
  const active = new Map<string, ReadonlyMap<string, ReadonlySet<string>>>();
  for (const kernel of kernels) {
    const original = tf.getGradient(kernel);
    if (original === undefined) continue;
    const perInput = new Map<string, ReadonlySet<string>>();
    for (const [input, measured] of Object.entries(FAST_GRADIENT_TABLE[kernel])) {
      const on = new Set(backends.filter((b) => policy === 'all' || measured.includes(b)));
      if (on.size > 0) perInput.set(input, on);
    }
    if (perInput.size === 0) continue;
    originals.set(kernel, original);
    active.set(kernel, perInput);
    const impl = IMPLS[kernel];
    const config: tf.GradConfig = {
      kernelName: kernel,
      gradFunc: (dy, saved, attrs) => {
        const here = state?.active.get(kernel);
        const backend = tf.getBackend();
        // The wasm backend may have been loaded after enableFastGradients: share clones from the next step on.
        if (backend === 'wasm' && state?.wasmShared === true) shareWasmClones();
        if (state !== undefined) installBackpropKernels(state.active);
        const mine = here !== undefined && !Array.isArray(dy) && [...here.values()].some((s) => s.has(backend)) ? impl(dy, saved, attrs) : undefined;
        if (mine === undefined) return original.gradFunc(dy, saved, attrs);
        // Per gradient: the override where it is active, else tfjs's own; where tfjs's own cannot be built
        // (it rejects dilated convolutions), the override.
        let theirs: ReturnType<tf.GradFunc> | undefined;
        const result: ReturnType<tf.GradFunc> = {};
        for (const [name, thunk] of Object.entries(mine)) {
          result[name] = here?.get(name)?.has(backend)
            ? thunk
            : () => {
                try {
                  theirs ??= original.gradFunc(dy, saved, attrs);
                } catch {
                  return thunk();
                }
                const t = theirs[name];
                return t === undefined ? thunk() : t();
              };
        }
        return result;
      },
    };
    // Save exactly what the original saves, in the same order, so that falling back to it always works.
    if (original.inputsToSave !== undefined) config.inputsToSave = original.inputsToSave;
    if (original.outputsToSave !== undefined) config.outputsToSave = original.outputsToSave;
    if (original.saveAllInputs !== undefined) config.saveAllInputs = original.saveAllInputs;
    tf.registerGradient(config);
  }
  const wasmShared = active.size > 0 && backends.includes('wasm');
  if (wasmShared) shareWasmClones();
  installBackpropKernels(active);
  state = { originals, active, wasmShared };
}

/**
 * Restores tfjs's original gradient configs replaced by {@link enableFastGradients}. Does nothing when none are
 * enabled.
 * @example
 * ```ts
 * enableFastGradients();
 * // ...
 * disableFastGradients();
 * ```
 */
export function disableFastGradients(): void {
  chosen = true;
  if (state === undefined) return;
  for (const original of state.originals.values()) tf.registerGradient(original);
  restoreWasmClones();
  restoreBackpropKernels();
  state = undefined;
}

/**
 * Whether {@link enableFastGradients} has overrides in place. Defaults to `false` (nothing enabled).
 * @param kernel - when given, whether an override of that kernel's gradient is active...
 * @param backend - ...on this backend (default: the current one, `tf.getBackend()`).
 * @returns `true` if any override (or one of the given kernel's gradients, on the given backend) is active.
 * @example
 * ```ts
 * enableFastGradients({ backends: ['wasm'] });
 * fastGradientsEnabled();                  // true
 * fastGradientsEnabled('MaxPool', 'cpu');  // false
 * ```
 */
export function fastGradientsEnabled(kernel?: FastGradientKernel, backend?: string): boolean {
  if (state === undefined) return false;
  if (kernel === undefined) return state.active.size > 0;
  const b = backend ?? tf.getBackend();
  return [...(state.active.get(kernel)?.values() ?? [])].some((s) => s.has(b));
}

/**
 * Enables the overrides with their defaults the first time robustest computes a gradient, unless the user has
 * already called {@link enableFastGradients} or {@link disableFastGradients} (their choice stands), or the
 * environment variable `ROBUSTEST_FAST_GRADIENTS` turns them off. Called by the tfjs model adapters: on wasm,
 * tfjs 4.22's own MaxPool gradient is wrong, so the overrides are a correctness fix as well as a speed-up.
 * @internal
 */
export function autoEnableFastGradients(): void {
  if (chosen) return;
  enableFastGradients();
}
