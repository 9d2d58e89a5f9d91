/**
 * Values flowing through an imported ONNX graph: a tensor on the host (small integer "shape" tensors, constants)
 * and/or on the tfjs device (activations), with its ONNX element type, plus the helpers that move and
 * reshape them.
 * @internal
 * @module
 */
import * as tf from '../tf.js';
import { ShapeError, UnsupportedError } from '../errors.js';
import type { HostTensor, OnnxDataType } from './proto.js';

/**
 * A value of the graph. At least one of `host` and `tensor` is set; constants carry both.
 * `dtype` is the ONNX element type (tfjs stores int64 as int32 and every float type as float32).
 */
export interface Value {
  readonly dtype: OnnxDataType;
  readonly shape: readonly number[];
  readonly host?: HostTensor;
  readonly tensor?: tf.Tensor;
  /**
   * The same rank-4 data in channels-last layout (`[N, H, W, C]` for the NCHW `shape`), set by convolutions and
   * the layout-agnostic ops after them, so that chains of NHWC kernels need no transposes in between. A value
   * made by {@link nhwcValue} computes its NCHW `tensor` only when an op asks for it.
   */
  readonly nhwc?: tf.Tensor;
}

/**
 * A float value held channels-last. Its NCHW `tensor` is derived on first access (inside the caller's tidy) and
 * then reused; ops that understand {@link Value.nhwc} never trigger it.
 */
export function nhwcValue(nhwc: tf.Tensor, dtype: OnnxDataType = 'float32'): Value {
  const [N, H, W, C] = nhwc.shape as [number, number, number, number];
  let nchw: tf.Tensor | undefined;
  return {
    dtype,
    shape: [N, C, H, W],
    nhwc,
    get tensor(): tf.Tensor {
      nchw ??= H === 1 && W === 1 ? tf.reshape(nhwc, [N, C, 1, 1]) : tf.transpose(nhwc, [0, 3, 1, 2]);
      return nchw;
    },
  };
}

/** A value without its channels-last view (for values kept beyond the tidy that made them). */
export function plainValue(v: Value): Value {
  return { dtype: v.dtype, shape: v.shape, ...(v.host ? { host: v.host } : {}), ...(v.tensor ? { tensor: v.tensor } : {}) };
}

/** Float element types (stored as float32 on the device). */
export function isFloat(t: OnnxDataType): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16';
}

/** The tfjs dtype that stores an ONNX element type. */
export function tfDtype(t: OnnxDataType, where: string): 'float32' | 'int32' | 'bool' {
  if (isFloat(t)) return 'float32';
  if (t === 'bool') return 'bool';
  if (t === 'string' || t === 'complex64' || t === 'complex128') throw new UnsupportedError(`${where}: expected a numeric tensor, got element type ${t}`);
  return 'int32';
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A value held on the host. */
export function hostValue(t: HostTensor): Value {
  return { dtype: t.dtype, shape: t.shape, host: t };
}

/** A value held on the device. */
export function deviceValue(tensor: tf.Tensor, dtype: OnnxDataType): Value {
  return { dtype, shape: tensor.shape, tensor };
}

/** A host tensor from plain numbers. */
export function hostTensor(dtype: OnnxDataType, shape: readonly number[], data: ArrayLike<number>): HostTensor {
  return { dtype, shape: [...shape], data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

const WRAP: Partial<Record<OnnxDataType, [bits: number, signed: boolean]>> = {
  uint8: [8, false],
  int8: [8, true],
  uint16: [16, false],
  int16: [16, true],
  uint32: [32, false],
  int32: [32, true],
};

/** Rounds a float result to what `dtype` stores (float32 rounding, integer truncation and wrap-around, 0/1). */
export function storeAs(dtype: OnnxDataType, v: number): number {
  switch (dtype) {
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return Math.fround(v);
    case 'float64':
      return v;
    case 'bool':
      return v ? 1 : 0;
    case 'int64':
    case 'uint64':
      return Number.isFinite(v) ? Math.trunc(v) : 0;
    default: {
      const w = WRAP[dtype];
      if (!w || !Number.isFinite(v)) return 0;
      const [bits, signed] = w;
      const m = 2 ** bits;
      let r = Math.trunc(v) % m;
      if (r < 0) r += m;
      if (signed && r >= m / 2) r -= m;
      return r;
    }
  }
}

/** Reads a value to the host (a device read only when the value has no host copy). */
export function toHost(v: Value): HostTensor {
  if (v.host) return v.host;
  const t = v.tensor!;
  return { dtype: v.dtype, shape: t.shape, data: Float64Array.from(t.dataSync()) };
}

/** The device tensor of a value; host values are uploaded (inside the caller's tidy). */
export function toDevice(v: Value, where: string): tf.Tensor {
  if (v.tensor) return v.tensor;
  const h = v.host!;
  const dtype = tfDtype(h.dtype, where);
  const data = dtype === 'float32' ? Float32Array.from(h.data) : dtype === 'int32' ? Int32Array.from(h.data) : Uint8Array.from(h.data);
  return tf.tensor(data, [...h.shape], dtype);
}

/** Host integers of a value (shape-like inputs: axes, pads, sizes). */
export function ints(v: Value): number[] {
  return Array.from(toHost(v).data);
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number, where: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new ShapeError(`${where}: expected an axis in [${-rank}, ${rank - 1}], got ${axis}`);
  }
  return a;
}

/** The numpy broadcast of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], where: string): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${where}: expected shapes that broadcast, got [${a.join(', ')}] and [${b.join(', ')}]`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Element-wise map over broadcast host tensors. */
export function hostBroadcast(inputs: readonly HostTensor[], dtype: OnnxDataType, fn: (...xs: number[]) => number, where: string): HostTensor {
  const shape = inputs.reduce<number[]>((s, t) => broadcastShapes(s, t.shape, where), []);
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  const r = shape.length;
  const outStrides = stridesOf(shape);
  const inStrides = inputs.map((t) => {
    const st = stridesOf(t.shape);
    return shape.map((_, i) => {
      const j = i - (r - t.shape.length);
      return j < 0 || t.shape[j] === 1 ? 0 : st[j]!;
    });
  });
  const args = new Array<number>(inputs.length);
  for (let k = 0; k < n; k++) {
    for (let t = 0; t < inputs.length; t++) {
      let off = 0;
      let rem = k;
      const s = inStrides[t]!;
      for (let i = 0; i < r; i++) {
        const q = Math.floor(rem / outStrides[i]!);
        rem -= q * outStrides[i]!;
        off += q * s[i]!;
      }
      args[t] = inputs[t]!.data[off]!;
    }
    out[k] = storeAs(dtype, fn(...args));
  }
  return { dtype, shape, data: out };
}

/** Gathers along one axis of a host tensor. */
export function hostGather(t: HostTensor, indices: readonly number[], axis: number): HostTensor {
  const outer = sizeOf(t.shape.slice(0, axis));
  const dim = t.shape[axis]!;
  const inner = sizeOf(t.shape.slice(axis + 1));
  const out = new Float64Array(outer * indices.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const idx of indices) {
      const base = (a * dim + idx) * inner;
      for (let i = 0; i < inner; i++) out[o++] = t.data[base + i]!;
    }
  }
  const shape = [...t.shape];
  shape[axis] = indices.length;
  return { dtype: t.dtype, shape, data: out };
}

/** Transposes a host tensor. */
export function hostTranspose(t: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => t.shape[p]!);
  const inStrides = stridesOf(t.shape);
  const outStrides = stridesOf(shape);
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let rem = k;
    let off = 0;
    for (let i = 0; i < shape.length; i++) {
      const q = Math.floor(rem / outStrides[i]!);
      rem -= q * outStrides[i]!;
      off += q * inStrides[perm[i]!]!;
    }
    out[k] = t.data[off]!;
  }
  return { dtype: t.dtype, shape, data: out };
}

/**
 * Gather along one axis with constant (host) indices, with a backward pass built from a one-hot matrix product,
 * so that it is differentiable on every backend (tfjs' own gather gradient needs UnsortedSegmentSum, which the
 * wasm backend lacks).
 */
export function gatherAxis(x: tf.Tensor, indices: readonly number[], axis: number): tf.Tensor {
  const n = x.shape[axis]!;
  if (indices.length === n && indices.every((v, i) => v === i)) return x;
  const idx = tf.tensor1d(Int32Array.from(indices), 'int32');
  if (x.dtype !== 'float32') return tf.gather(x, idx, axis);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor;
    const value = tf.gather(xi, idx, axis);
    return { value, gradFunc: (dy: tf.Tensor): tf.Tensor => scatterAxis(dy, indices, axis, n) };
  });
  return f(x);
}

/**
 * The adjoint of {@link gatherAxis}: sums the slices of `dy` along `axis` into an axis of length `n` at
 * `indices`, as a product with a one-hot matrix (no UnsortedSegmentSum kernel needed).
 */
export function scatterAxis(dy: tf.Tensor, indices: readonly number[], axis: number, n: number): tf.Tensor {
  const rank = dy.rank;
  const perm = [...Array(rank).keys()].filter((i) => i !== axis).concat([axis]);
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => (inv[p] = i));
  const moved = tf.transpose(dy, perm);
  const flat = tf.reshape(moved, [-1, indices.length]);
  const oneHot = new Float32Array(indices.length * n);
  indices.forEach((v, i) => (oneHot[i * n + v] = 1));
  const scattered = tf.matMul(flat, tf.tensor2d(oneHot, [indices.length, n]));
  const back = tf.reshape(scattered, [...moved.shape.slice(0, -1), n]);
  return tf.transpose(back, inv);
}
