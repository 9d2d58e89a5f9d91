/**
 * Pooling: MaxPool and AveragePool in 1, 2 and 3 spatial dimensions (padding, auto_pad, ceil mode, dilation,
 * count_include_pad), GlobalAveragePool and GlobalMaxPool. Spec: https://onnx.ai/onnx/operators/onnx__MaxPool.html
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpDef, OpNode } from '../op.js';
import { windowTapCounts } from '../geometry.js';
import { maxPoolInputGradFirst } from '../../gradients/formulas.js';
import { hasLoopKernels } from '../../gradients/kernels.js';
import { deviceValue, gatherAxis, nhwcValue, scatterAxis, type Value } from '../value.js';
import { checkSpatial, dev, fromNdhwc, fromNhwc, nhwcOf, padNhwc, spatialPads, toNdhwc, toNhwc, triple, type ConvGeom } from './spatial.js';

/** Window start positions `o * stride + t * dilation`, output-major. */
function windowIndices(out: number, k: number, stride: number, dilation: number): number[] {
  const idx: number[] = [];
  for (let o = 0; o < out; o++) for (let t = 0; t < k; t++) idx.push(o * stride + t * dilation);
  return idx;
}

/**
 * Max pooling (NHWC, 'valid', on an already padded input) whose gradient goes to the first maximum of each
 * window in row-major order, as PyTorch and onnxruntime do. tfjs kernels break ties differently per backend,
 * which matters after a ReLU (many equal zeros). Dilation is supported by gathering the window taps.
 */
function maxPoolFirst(x: tf.Tensor4D, k: [number, number], s: [number, number], d: [number, number], out: [number, number]): tf.Tensor4D {
  const [N, H, W, C] = x.shape;
  const [kh, kw] = k;
  const [Ho, Wo] = out;
  const tiled = s[0] === kh && s[1] === kw && d[0] === 1 && d[1] === 1;
  const rows = windowIndices(Ho, kh, s[0], d[0]);
  const cols = windowIndices(Wo, kw, s[1], d[1]);
  /** [N, Ho, Wo, C, kh*kw]: the taps of every window; non-overlapping windows are a reshape, others a gather. */
  const windows = (t: tf.Tensor): tf.Tensor => {
    const p = tiled ? tf.slice(t, [0, 0, 0, 0], [N, Ho * kh, Wo * kw, C]) : tf.gather(tf.gather(t, rows, 1), cols, 2);
    return tf.reshape(tf.transpose(tf.reshape(p, [N, Ho, kh, Wo, kw, C]), [0, 1, 3, 5, 2, 4]), [N, Ho, Wo, C, kh * kw]);
  };
  // robustest's max-pool gradient (maxPoolInputGradFirst in src/gradients/formulas.ts, the same rule: the first
  // maximum in row-major order) wherever it has an exact form: tiling windows that cover the output exactly,
  // and any windows on the wasm and cpu backends (a loop kernel). `valid` on the padded input, so that the
  // window positions are those of tfjs's pool with dilation (`tf.pool`).
  const natural = [Math.floor((H - (kh - 1) * d[0] - 1) / s[0]) + 1, Math.floor((W - (kw - 1) * d[1] - 1) / s[1]) + 1];
  if (x.dtype === 'float32' && natural[0] === Ho && natural[1] === Wo && (tiled || hasLoopKernels())) {
    const ft = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const xi = args[0] as tf.Tensor4D;
      const value: tf.Tensor4D = d[0] === 1 && d[1] === 1 ? tf.maxPool(xi, k, s, 'valid') : (tf.max(windows(xi), 4) as tf.Tensor4D);
      (args[1] as tf.GradSaveFunc)([xi, value]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor =>
        maxPoolInputGradFirst(saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, dy as tf.Tensor4D, k, s, d, 'valid');
      return { value, gradFunc };
    });
    return ft(x) as tf.Tensor4D;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    (args[1] as tf.GradSaveFunc)([xi]);
    let value: tf.Tensor4D;
    if (d[0] === 1 && d[1] === 1) {
      value = tf.maxPool(xi, k, s, 'valid');
      if (value.shape[1] !== Ho || value.shape[2] !== Wo) value = tf.slice(value, [0, 0, 0, 0], [N, Ho, Wo, C]);
    } else {
      value = tf.max(windows(xi), 4) as tf.Tensor4D;
    }
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      // One-hot of the first maximum (int32 one-hot, then cast: the wasm OneHot kernel ignores a float32 dtype).
      const first = tf.cast(tf.oneHot(tf.argMax(windows(saved[0]!), 4), kh * kw), 'float32');
      const g = tf.mul(first, tf.expandDims(dy, 4));
      const spread = tf.reshape(tf.transpose(tf.reshape(g, [N, Ho, Wo, C, kh, kw]), [0, 1, 4, 2, 5, 3]), [N, Ho * kh, Wo * kw, C]);
      if (tiled)
        return tf.pad(spread, [
          [0, 0],
          [0, H - Ho * kh],
          [0, W - Wo * kw],
          [0, 0],
        ]);
      return scatterAxis(scatterAxis(spread, cols, 2, W), rows, 1, H);
    };
    return { value, gradFunc };
  });
  return f(x) as tf.Tensor4D;
}

/** Output sizes and the end padding a pool needs so that 'valid' pooling in tfjs gives them. */
function poolGeom(n: OpNode, inSizes: number[]): ConvGeom & { out: number[]; extra: number[] } {
  const kernel = n.ints('kernel_shape');
  if (!kernel || kernel.length !== inSizes.length) return n.shapeError(`kernel_shape with ${inSizes.length} entries, got ${kernel ? kernel.length : 'none'}`);
  const r = inSizes.length;
  const strides = n.ints('strides', new Array<number>(r).fill(1));
  const dilations = n.ints('dilations', new Array<number>(r).fill(1));
  const [begin, end] = spatialPads(n, inSizes, kernel, strides, dilations);
  const ceil = n.int('ceil_mode', 0) === 1;
  const autoPad = n.str('auto_pad', 'NOTSET');
  const out: number[] = [];
  const extra: number[] = [];
  for (let i = 0; i < r; i++) {
    const keff = (kernel[i]! - 1) * dilations[i]! + 1;
    const padded = inSizes[i]! + begin[i]! + end[i]!;
    let o: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') o = Math.ceil(inSizes[i]! / strides[i]!);
    else {
      const q = (padded - keff) / strides[i]!;
      o = (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
      // The last window must start inside the input or the begin padding.
      if (ceil && (o - 1) * strides[i]! >= inSizes[i]! + begin[i]!) o -= 1;
    }
    out.push(o);
    extra.push(Math.max(0, (o - 1) * strides[i]! + keff - padded));
  }
  return { kernel, strides, dilations, begin, end, out, extra };
}

function poolRun(n: OpNode, inputs: readonly (Value | undefined)[], type: 'max' | 'avg'): Value[] {
  const xv = n.input(inputs, 0);
  if (n.node.outputs.length > 1 && n.node.outputs[1] !== '') n.unsupported('no Indices output (MaxPool with argmax is not supported)');
  const spatial = checkSpatial(n, xv.shape.length);
  const inSizes = xv.shape.slice(2);
  const g = poolGeom(n, inSizes);
  const ends = g.end.map((e, i) => e + g.extra[i]!);
  if (spatial === 3) return pool3d(n, dev(n, xv), g, ends, type);
  const xin = spatial === 2 ? nhwcOf(n, xv) : toNhwc(dev(n, xv), spatial);
  const xs = padNhwc(xin, g.begin, ends, spatial, type === 'max' ? -3.4028234663852886e38 : 0);
  const k2: [number, number] = spatial === 1 ? [1, g.kernel[0]!] : [g.kernel[0]!, g.kernel[1]!];
  const s2: [number, number] = spatial === 1 ? [1, g.strides[0]!] : [g.strides[0]!, g.strides[1]!];
  const d2: [number, number] = spatial === 1 ? [1, g.dilations[0]!] : [g.dilations[0]!, g.dilations[1]!];
  const o2: [number, number] = spatial === 1 ? [1, g.out[0]!] : [g.out[0]!, g.out[1]!];
  let y: tf.Tensor4D;
  if (type === 'max') {
    y = maxPoolFirst(xs, k2, s2, d2, o2);
  } else if (d2[0] === 1 && d2[1] === 1) {
    y = tf.avgPool(xs, k2, s2, 'valid');
  } else {
    // Dilated average pooling: stride-1 dilated pool, then keep every stride-th window.
    const p = tf.pool(xs, k2, 'avg', 'valid', d2, 1) as tf.Tensor4D;
    const rows = Array.from({ length: o2[0] }, (_, i) => i * s2[0]);
    const cols = Array.from({ length: o2[1] }, (_, i) => i * s2[1]);
    y = gatherAxis(gatherAxis(p, rows, 1), cols, 2) as tf.Tensor4D;
  }
  if (type === 'avg') {
    // tfjs divides by the window size; ONNX divides by the taps inside the input (count_include_pad=0) or
    // inside input plus explicit pads (1), never counting the extra ceil_mode padding.
    const include = n.int('count_include_pad', 0) === 1;
    const counts = [0, 1].map((i) => (spatial === 1 && i === 0 ? [1] : tapCounts(g, inSizes[spatial === 1 ? 0 : i]!, spatial === 1 ? 0 : i, include)));
    const K = k2[0] * k2[1];
    const [ch, cw] = counts as [number[], number[]];
    if (ch.some((c) => c !== k2[0]) || cw.some((c) => c !== k2[1])) {
      const scale = new Float32Array(ch.length * cw.length);
      ch.forEach((a, i) => cw.forEach((b, j) => (scale[i * cw.length + j] = a * b > 0 ? K / (a * b) : 0)));
      y = tf.mul(y, tf.tensor4d(scale, [1, ch.length, cw.length, 1]));
    }
  }
  return [spatial === 2 ? nhwcValue(y) : deviceValue(fromNhwc(y, spatial), 'float32')];
}

/** Per-axis count of window taps inside the counted region (see poolRun). */
function tapCounts(g: ConvGeom & { out: number[] }, inSize: number, a: number, include: boolean): number[] {
  return windowTapCounts(inSize, g.out[a]!, g.kernel[a]!, g.strides[a]!, g.dilations[a]!, g.begin[a]!, g.end[a]!, include);
}

/** 3-D MaxPool/AveragePool (no dilation). */
function pool3d(n: OpNode, x: tf.Tensor, g: ConvGeom & { out: number[]; extra: number[] }, ends: number[], type: 'max' | 'avg'): Value[] {
  if (g.dilations.some((d) => d !== 1)) n.unsupported('no dilation for 3-D pooling');
  const xs = toNdhwc(x, g.begin, ends, type === 'max' ? -3.4028234663852886e38 : 0);
  const k = triple(g.kernel);
  const st = triple(g.strides);
  let y: tf.Tensor;
  if (type === 'max') {
    // 2-D max pooling of every depth slice, then the maximum over each depth window (the wasm backend's
    // MaxPool3D starts from the smallest positive float, so negative inputs come out wrong).
    const [N, D, H, W, C] = xs.shape;
    const hw = maxPoolFirst(tf.reshape(xs, [N * D, H, W, C]) as tf.Tensor4D, [k[1], k[2]], [st[1], st[2]], [1, 1], [g.out[1]!, g.out[2]!]);
    const planes = tf.reshape(hw, [N, D, hw.shape[1], hw.shape[2], C]);
    const Do = g.out[0]!;
    let acc: tf.Tensor | undefined;
    for (let t = 0; t < k[0]; t++) {
      const rows = gatherAxis(
        planes,
        Array.from({ length: Do }, (_, o) => o * st[0] + t),
        1,
      );
      acc = acc ? tf.maximum(acc, rows) : rows;
    }
    y = acc!;
  } else {
    y = tf.avgPool3d(xs, k, st, 'valid');
  }
  if (y.shape.slice(1, 4).some((d, i) => d !== g.out[i])) y = tf.slice(y, [0, 0, 0, 0, 0], [y.shape[0]!, ...g.out, y.shape[4]!]);
  if (type === 'avg') {
    const include = n.int('count_include_pad', 0) === 1;
    const inSizes = x.shape.slice(2);
    const [c0, c1, c2] = [0, 1, 2].map((a) => tapCounts(g, inSizes[a]!, a, include)) as [number[], number[], number[]];
    const K = k[0] * k[1] * k[2];
    const scale = new Float32Array(c0.length * c1.length * c2.length);
    let i = 0;
    for (const a of c0) for (const b of c1) for (const c of c2) scale[i++] = a * b * c > 0 ? K / (a * b * c) : 0;
    y = tf.mul(y, tf.tensor(scale, [1, c0.length, c1.length, c2.length, 1]));
  }
  return [deviceValue(fromNdhwc(y), 'float32')];
}

function globalPool(type: 'max' | 'avg'): OpDef {
  return {
    run(n, inputs) {
      const xv = n.input(inputs, 0);
      if (xv.nhwc) return [nhwcValue(type === 'max' ? tf.max(xv.nhwc, [1, 2], true) : tf.mean(xv.nhwc, [1, 2], true))];
      const x = dev(n, xv);
      const axes = [...Array(x.rank).keys()].slice(2);
      return [deviceValue(type === 'max' ? tf.max(x, axes, true) : tf.mean(x, axes, true), 'float32')];
    },
  };
}

/** Pooling operators by ONNX name. */
export const poolOps: Record<string, OpDef> = {
  MaxPool: { run: (n, i) => poolRun(n, i, 'max') },
  AveragePool: { run: (n, i) => poolRun(n, i, 'avg') },
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
};
