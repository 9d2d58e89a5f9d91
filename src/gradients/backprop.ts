/**
 * Backend kernels replaced while the overrides are on: the backprop kernels (`Conv2DBackpropInput`,
 * `Conv2DBackpropFilter`, the depthwise ones, `MaxPoolGrad`) that tfjs's fused ops call directly, rebuilt from the
 * same forward-kernel formulas as the overrides, and the wasm backend's `Identity` kernel, made to share buffers.
 * @module
 */
import * as tf from '../tf.js';
import { conv2dFilterGrad, conv2dInputGrad, depthwiseFilterGrad, depthwiseInputGrad, maxPoolInputGradFirst, pair, type PadAttr } from './formulas.js';
import { hasLoopKernels } from './kernels.js';
import { convGeometry, type FastGradientKernel } from './overrides.js';

/** tfjs-backend-wasm's own `Identity` kernel while {@link shareWasmClones} has replaced it. */
let wasmIdentity: tf.KernelConfig | undefined;

/**
 * Makes the wasm backend's `Identity` kernel share its input's buffer (reference-counted, as tfjs's cpu backend
 * does) instead of copying it. tfjs clones every tensor a gradient saves for the backward pass (`Identity`), and
 * on wasm each clone is a full copy: about 0.7 ms per 100×26×26×16 activation, several per layer. Tensors are
 * immutable in tfjs (wasm kernels write to new outputs only; `Reshape` already shares buffers there), so sharing
 * changes no value. Does nothing when the wasm backend's kernels are not registered (yet).
 */
export function shareWasmClones(): void {
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
export function restoreWasmClones(): void {
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
export function installBackpropKernels(active: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>): void {
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
export function restoreBackpropKernels(): void {
  for (const { kernel, backend, original } of replacedKernels.values()) {
    tf.unregisterKernel(kernel, backend);
    if (original !== undefined) tf.registerKernel(original);
  }
  replacedKernels.clear();
}
