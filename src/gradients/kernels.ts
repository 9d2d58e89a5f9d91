/**
 * Gradient kernels written as plain loops over the backend's memory, for the gradients whose op-by-op forms
 * are dominated by elementwise passes (each a full read and write of an activation on tfjs-backend-wasm, whose
 * `Step` and broadcasting binary ops run at 1.5–2 ns per element, against well under 1 ns for one fused loop):
 *
 * - `RobustestMaxPoolGrad`: max-pool input gradient, exactly tfjs-cpu's rule (each window's first maximum in
 *   row-major order gets the window's `dy`; `NaN`s and windows of `−∞` get nothing), any window, stride,
 *   dilation and padding, overlapping windows summed;
 * - `RobustestActivationGrad`: `dy · f′(x)` of `relu`, `relu6` and `leakyRelu`, with tfjs's own masks.
 *
 * They are registered for the `wasm` and `cpu` backends (where tensors are flat float32 arrays in JS-visible
 * memory) on first use; {@link hasLoopKernels} says whether a backend has them. Float32 only.
 * @internal
 * @module
 */
import * as tf from '../tf.js';

/** Backends whose tensor memory the loop kernels can address. */
const LOOP_BACKENDS = ['wasm', 'cpu'] as const;

const MAX_POOL_GRAD = 'RobustestMaxPoolGrad';
const ACTIVATION_GRAD = 'RobustestActivationGrad';

/** The activation of {@link activationGrad}. */
export type LoopActivation = 'relu' | 'relu6' | 'leakyRelu';

interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuLike {
  data: { get(dataId: tf.DataId): { values: Float32Array } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * Runs `fill(out, ...ins)` with the inputs' float32 memory and a zeroed output of `shape`, on the wasm or cpu
 * backend. On wasm the output is allocated first: allocating can grow the heap, which detaches earlier views.
 */
function loop(
  backendName: string,
  backend: unknown,
  shape: number[],
  ins: tf.TensorInfo[],
  fill: (out: Float32Array, ...ins: Float32Array[]) => void,
): tf.TensorInfo {
  if (backendName === 'wasm') {
    const b = backend as WasmLike;
    const out = b.makeOutput(shape, 'float32');
    const o = b.typedArrayFromHeap(out);
    o.fill(0);
    fill(o, ...ins.map((t) => b.typedArrayFromHeap(t)));
    return out;
  }
  const b = backend as CpuLike;
  const o = new Float32Array(shape.reduce((a, d) => a * d, 1));
  fill(o, ...ins.map((t) => b.data.get(t.dataId)!.values));
  return b.makeTensorInfo(shape, 'float32', o);
}

interface MaxPoolGradAttrs {
  filterSize: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode: 'floor' | 'round' | 'ceil' | null;
}

function maxPoolGradLoop(backendName: string) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const x = args.inputs['x']!;
    const dy = args.inputs['dy']!;
    const a = args.attrs as unknown as MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      a.dilations,
      a.pad,
      a.dimRoundingMode ?? undefined,
    );
    const {
      batchSize: n,
      inHeight: h,
      inWidth: w,
      inChannels: c,
      outHeight: oh,
      outWidth: ow,
      strideHeight: sh,
      strideWidth: sw,
      dilationHeight: dh,
      dilationWidth: dw,
    } = info;
    const { effectiveFilterHeight: eh, effectiveFilterWidth: ew, padInfo } = info;
    return loop(backendName, args.backend, [...x.shape], [x, dy], (dx, xs, dys) => {
      const best = new Float32Array(c);
      const pos = new Int32Array(c);
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < oh; i++) {
          const r0 = i * sh - padInfo.top;
          let rMin = r0;
          while (rMin < 0) rMin += dh;
          const rMax = Math.min(h, r0 + eh);
          for (let j = 0; j < ow; j++) {
            const c0 = j * sw - padInfo.left;
            let cMin = c0;
            while (cMin < 0) cMin += dw;
            const cMax = Math.min(w, c0 + ew);
            best.fill(-Infinity);
            pos.fill(-1);
            // Row-major over the window, strict `>`: the first maximum wins, as in tfjs-cpu's maxPoolPositions.
            for (let r = rMin; r < rMax; r += dh) {
              for (let q = cMin; q < cMax; q += dw) {
                const base = ((b * h + r) * w + q) * c;
                for (let k = 0; k < c; k++) {
                  const v = xs![base + k]!;
                  if (v > best[k]!) {
                    best[k] = v;
                    pos[k] = base + k;
                  }
                }
              }
            }
            const d0 = ((b * oh + i) * ow + j) * c;
            for (let k = 0; k < c; k++) {
              const p = pos[k]!;
              if (p >= 0) dx[p] = dx[p]! + dys![d0 + k]!;
            }
          }
        }
      }
    });
  };
}

function activationGradLoop(backendName: string) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const x = args.inputs['x']!;
    const dy = args.inputs['dy']!;
    const { activation, alpha } = args.attrs as unknown as { activation: LoopActivation; alpha: number };
    return loop(backendName, args.backend, [...x.shape], [x, dy], (dx, xs, dys) => {
      const len = dx.length;
      // tfjs's masks: relu step(x) (NaN for NaN), relu6 (x ≤ 6)·step(x), leakyRelu x > 0 ? 1 : alpha.
      if (activation === 'relu') {
        for (let i = 0; i < len; i++) {
          const v = xs![i]!;
          dx[i] = dys![i]! * (v > 0 ? 1 : v !== v ? NaN : 0);
        }
      } else if (activation === 'relu6') {
        for (let i = 0; i < len; i++) {
          const v = xs![i]!;
          dx[i] = dys![i]! * (v > 0 && v <= 6 ? 1 : v !== v ? NaN : 0);
        }
      } else {
        for (let i = 0; i < len; i++) dx[i] = xs![i]! > 0 ? dys![i]! : dys![i]! * alpha;
      }
    });
  };
}

let registered = false;

function register(): void {
  if (registered) return;
  registered = true;
  for (const backendName of LOOP_BACKENDS) {
    if (tf.getKernel(MAX_POOL_GRAD, backendName) === undefined)
      tf.registerKernel({ kernelName: MAX_POOL_GRAD, backendName, kernelFunc: maxPoolGradLoop(backendName) as unknown as tf.KernelFunc });
    if (tf.getKernel(ACTIVATION_GRAD, backendName) === undefined)
      tf.registerKernel({ kernelName: ACTIVATION_GRAD, backendName, kernelFunc: activationGradLoop(backendName) as unknown as tf.KernelFunc });
  }
}

/** Whether the loop kernels can run on `backend` (default: the current one). */
export function hasLoopKernels(backend: string = tf.getBackend()): boolean {
  return (LOOP_BACKENDS as readonly string[]).includes(backend);
}

/**
 * Max-pool input gradient by the loop kernel: `dx[argmax(window)] += dy[window]`, the arg-max being the window's
 * first maximum in row-major order (tfjs-cpu's `MaxPoolGrad` rule). Float32 `x`/`dy`, NHWC.
 */
export function maxPoolGradByLoop(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterSize: [number, number],
  strides: [number, number],
  dilations: [number, number],
  pad: MaxPoolGradAttrs['pad'],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  register();
  const attrs = { filterSize, strides, dilations, pad, dimRoundingMode: dimRoundingMode ?? null } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(MAX_POOL_GRAD, { x, dy } as unknown as tf.NamedTensorMap, attrs) as tf.Tensor4D;
}

/** `dy · f′(x)` for `relu`, `relu6` or `leakyRelu` (slope `alpha` below 0) by the loop kernel. Float32. */
export function activationGradByLoop(x: tf.Tensor, dy: tf.Tensor, activation: LoopActivation, alpha = 0): tf.Tensor {
  register();
  return tf.engine().runKernel(ACTIVATION_GRAD, { x, dy } as unknown as tf.NamedTensorMap, { activation, alpha } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
