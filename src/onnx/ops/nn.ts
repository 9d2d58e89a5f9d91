/**
 * Neural-network operators: Conv, ConvTranspose, pooling, BatchNormalization, Gemm, MatMul, Softmax, Dropout.
 * ONNX tensors stay NCHW; convolutions and pools run in tfjs as NHWC between two transposes.
 * Spec: https://onnx.ai/onnx/operators/
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpDef, OpNode } from '../op.js';
import { samePads, windowTapCounts } from '../geometry.js';
import { conv2dInputGrad, depthwiseInputGrad, maxPoolInputGradFirst } from '../../gradients/formulas.js';
import { hasLoopKernels } from '../../gradients/kernels.js';
import { deviceValue, gatherAxis, hostValue, nhwcValue, scatterAxis, normAxis, sizeOf, toDevice, toHost, type Value } from '../value.js';

const dev = (n: OpNode, v: Value): tf.Tensor => {
  const t = toDevice(v, n.where);
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
};

/** A rank-4 float value in channels-last layout: its NHWC view when it has one, else a transpose. */
const nhwcOf = (n: OpNode, v: Value): tf.Tensor4D => (v.nhwc ?? tf.transpose(dev(n, v), [0, 2, 3, 1])) as tf.Tensor4D;

/** Begin/end padding of each spatial axis from pads/auto_pad, as ONNX defines for Conv and pools. */
function spatialPads(
  n: OpNode,
  inSizes: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): [number[], number[]] {
  const r = inSizes.length;
  const autoPad = n.str('auto_pad', 'NOTSET');
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const same = samePads(inSizes, kernel, strides, dilations, autoPad === 'SAME_UPPER' ? 'upper' : 'lower');
    return [same.begin, same.end];
  } else if (autoPad === 'NOTSET') {
    const pads = n.ints('pads', new Array<number>(2 * r).fill(0));
    if (pads.length !== 2 * r) n.shapeError(`${2 * r} pads, got ${pads.length}`);
    for (let i = 0; i < r; i++) {
      begin[i] = pads[i]!;
      end[i] = pads[i + r]!;
    }
  } else if (autoPad !== 'VALID') {
    n.unsupported(`auto_pad NOTSET, SAME_UPPER, SAME_LOWER or VALID, got ${autoPad}`);
  }
  return [begin, end];
}

/** Spreads a kernel `[kh, kw, ...]` (spatial axes first) by inserting zeros: dilation as a plain convolution. */
function dilateKernel(k: tf.Tensor, dilations: readonly number[]): tf.Tensor {
  let out = k;
  dilations.forEach((d, axis) => {
    if (d === 1) return;
    const shape = out.shape;
    const size = shape[axis]!;
    const expanded = tf.expandDims(out, axis + 1);
    const padding: [number, number][] = expanded.shape.map(() => [0, 0]);
    padding[axis + 1] = [0, d - 1];
    const spread = tf.reshape(tf.pad(expanded, padding), [...shape.slice(0, axis), size * d, ...shape.slice(axis + 1)]);
    out = tf.slice(
      spread,
      shape.map(() => 0),
      shape.map((s, i) => (i === axis ? (size - 1) * d + 1 : s)),
    );
  });
  return out;
}

/** Padding of the two spatial axes of an NHWC tensor: `[top, bottom, left, right]`. */
type Pads2 = readonly [number, number, number, number];

/** A padding for tfjs: a number when all sides are equal (the kernel pads internally), else explicit. */
function padArg(x: tf.Tensor4D, p: Pads2): [tf.Tensor4D, number | 'valid'] {
  if (p.every((v) => v === p[0])) return [x, p[0] === 0 ? 'valid' : p[0]];
  return [
    tf.pad(x, [
      [0, 0],
      [p[0], p[1]],
      [p[2], p[3]],
      [0, 0],
    ]),
    'valid',
  ];
}

/** The forward padding `p` as the explicit padding of a tfjs convolution or pool. */
const explicitPads = (p: Pads2): tf.backend_util.ExplicitPadding => [
  [0, 0],
  [p[0], p[1]],
  [p[2], p[3]],
  [0, 0],
];

type InputGrad = typeof conv2dInputGrad;

/**
 * A 2-D convolution (NHWC, no dilation, padding `p`) run by `forward`, whose input-gradient is robustest's
 * forward-kernel formula `inputGrad` from src/gradients/formulas.ts.
 */
function convWithGrad(
  forward: typeof tf.conv2d | typeof tf.depthwiseConv2d,
  inputGrad: InputGrad,
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: [number, number],
  p: Pads2,
): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xin = args[0] as tf.Tensor4D;
    // Saved, not closed over: the model's tidy disposes the (per-step) filter before the backward pass.
    (args[1] as tf.GradSaveFunc)([filter]);
    const [xp, pad] = padArg(xin, p);
    const value = forward(xp, filter, strides, pad);
    const xShape = xin.shape;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor =>
      inputGrad(xShape, dy as tf.Tensor4D, saved[0] as tf.Tensor4D, { strides, dilations: [1, 1], pad: explicitPads(p) });
    return { value, gradFunc };
  });
  return f(x) as tf.Tensor4D;
}

/**
 * Convolution whose input-gradient is `conv2dInputGrad` (a forward convolution with the flipped filter, in sub-pixel
 * form for strides): the same values as tfjs' Conv2DBackpropInput, and much faster on the wasm backend.
 */
function conv(x: tf.Tensor4D, filter: tf.Tensor4D, strides: [number, number], p: Pads2): tf.Tensor4D {
  return convWithGrad(tf.conv2d, conv2dInputGrad, x, filter, strides, p);
}

/**
 * Depthwise convolution with the input-gradient `depthwiseInputGrad`. tfjs' own gradient uses
 * DepthwiseConv2dNativeBackpropInput, which the wasm backend does not implement.
 */
function depthwise(x: tf.Tensor4D, filter: tf.Tensor4D, strides: [number, number], p: Pads2): tf.Tensor4D {
  return convWithGrad(tf.depthwiseConv2d, depthwiseInputGrad, x, filter, strides, p);
}

interface ConvGeom {
  kernel: number[];
  strides: number[];
  dilations: number[];
  begin: number[];
  end: number[];
}

function convGeom(n: OpNode, inSizes: number[], kernelFromWeights: number[]): ConvGeom {
  const r = inSizes.length;
  const kernel = n.ints('kernel_shape', kernelFromWeights);
  const strides = n.ints('strides', new Array<number>(r).fill(1));
  const dilations = n.ints('dilations', new Array<number>(r).fill(1));
  const [begin, end] = spatialPads(n, inSizes, kernel, strides, dilations);
  return { kernel, strides, dilations, begin, end };
}

/** NCHW (or NCL) → NHWC with a unit H for 1-D. */
function toNhwc(x: tf.Tensor, spatial: number): tf.Tensor4D {
  if (spatial === 1) return tf.transpose(tf.expandDims(x, 2), [0, 2, 3, 1]) as tf.Tensor4D;
  return tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
}

function fromNhwc(y: tf.Tensor4D, spatial: number): tf.Tensor {
  const t = tf.transpose(y, [0, 3, 1, 2]);
  return spatial === 1 ? tf.squeeze(t, [2]) : t;
}

function checkSpatial(n: OpNode, rank: number): number {
  const spatial = rank - 2;
  if (spatial !== 1 && spatial !== 2 && spatial !== 3) n.unsupported(`a 1-D, 2-D or 3-D input (rank 3, 4 or 5), got rank ${rank}`);
  return spatial;
}

/** NCDHW → NDHWC with explicit padding of the three spatial axes. */
function toNdhwc(x: tf.Tensor, begin: readonly number[], end: readonly number[], value = 0): tf.Tensor5D {
  const t = tf.transpose(x, [0, 2, 3, 4, 1]) as tf.Tensor5D;
  if (begin.every((b) => b === 0) && end.every((e) => e === 0)) return t;
  return tf.pad(
    t,
    [
      [0, 0],
      [begin[0]!, end[0]!],
      [begin[1]!, end[1]!],
      [begin[2]!, end[2]!],
      [0, 0],
    ],
    value,
  );
}

/** Inserts `s - 1` zeros after every element along `axis` (keeping the last element last). */
function spreadAxis(t: tf.Tensor, axis: number, s: number): tf.Tensor {
  const shape = t.shape;
  const n = shape[axis]!;
  const expanded = tf.expandDims(t, axis + 1);
  const pads: [number, number][] = expanded.shape.map(() => [0, 0]);
  pads[axis + 1] = [0, s - 1];
  const merged = tf.reshape(tf.pad(expanded, pads), [...shape.slice(0, axis), n * s, ...shape.slice(axis + 1)]);
  return tf.slice(
    merged,
    shape.map(() => 0),
    shape.map((d, i) => (i === axis ? (n - 1) * s + 1 : d)),
  );
}

/**
 * 3-D convolution (NDHWC, 'valid', no dilation) with the input-gradient computed as a forward convolution of
 * the spread, padded upstream gradient with the flipped, in/out-swapped kernel: the wasm backend's
 * Conv3DBackpropInputV2 gives wrong values.
 */
function conv3d(x: tf.Tensor5D, filter: tf.Tensor5D, strides: [number, number, number]): tf.Tensor5D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xin = args[0] as tf.Tensor5D;
    (args[1] as tf.GradSaveFunc)([filter]);
    const value = tf.conv3d(xin, filter, strides, 'valid');
    const inSizes = xin.shape.slice(1, 4);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      const filt = saved[0] as tf.Tensor5D;
      const ks = filt.shape.slice(0, 3);
      let g: tf.Tensor = dy;
      strides.forEach((st, a) => {
        if (st > 1) g = spreadAxis(g, a + 1, st);
      });
      const ends = inSizes.map((sz, a) => sz - g.shape[a + 1]!);
      if (ends.some((e) => e < 0))
        g = tf.slice(g, [0, 0, 0, 0, 0], [g.shape[0]!, ...g.shape.slice(1, 4).map((d, a) => d + Math.min(0, ends[a]!)), g.shape[4]!]);
      g = tf.pad(g, [[0, 0], ...ks.map((kk, a) => [kk - 1, Math.max(0, ends[a]!)] as [number, number]), [0, 0]]);
      const flipped = tf.transpose(tf.reverse(filt, [0, 1, 2]), [0, 1, 2, 4, 3]) as tf.Tensor5D;
      return tf.conv3d(g as tf.Tensor5D, flipped, 1, 'valid');
    };
    return { value, gradFunc };
  });
  return f(x) as tf.Tensor5D;
}

const fromNdhwc = (y: tf.Tensor): tf.Tensor => tf.transpose(y, [0, 4, 1, 2, 3]);
const triple = (v: readonly number[]): [number, number, number] => [v[0]!, v[1]!, v[2]!];

/** 3-D Conv (groups by splitting; dilation by a spread kernel). */
function conv3dRun(n: OpNode, x: tf.Tensor, w: tf.Tensor, bias: Value | undefined): Value[] {
  const group = n.int('group', 1);
  const g = convGeom(n, x.shape.slice(2), w.shape.slice(2));
  const xs = toNdhwc(x, g.begin, g.end);
  const k = dilateKernel(tf.transpose(w, [2, 3, 4, 1, 0]), g.dilations) as tf.Tensor5D;
  const strides = triple(g.strides);
  const xg = group === 1 ? [xs] : (tf.split(xs, group, 4) as tf.Tensor5D[]);
  const kg = group === 1 ? [k] : (tf.split(k, group, 4) as tf.Tensor5D[]);
  let y: tf.Tensor = tf.concat(
    xg.map((xi, i) => conv3d(xi, kg[i]!, strides)),
    4,
  );
  if (bias) y = tf.add(y, dev(n, bias));
  return [deviceValue(fromNdhwc(y), 'float32')];
}

/** 3-D ConvTranspose: the full transposed convolution, then cropped (or zero-extended) to the output window. */
function convTranspose3dRun(
  n: OpNode,
  x: tf.Tensor,
  w: tf.Tensor,
  bias: Value | undefined,
  full: number[],
  begin: number[],
  outSizes: number[],
  strides: number[],
  dilations: number[],
): Value[] {
  const group = n.int('group', 1);
  const Mg = w.shape[1]!;
  const xs = tf.transpose(x, [0, 2, 3, 4, 1]) as tf.Tensor5D;
  const k = dilateKernel(tf.transpose(w, [2, 3, 4, 1, 0]), dilations) as tf.Tensor5D;
  const N = x.shape[0]!;
  // As a forward convolution (the wasm backend's Conv3DBackpropInputV2 gives wrong values): spread the input by
  // the stride, pad by k - 1, convolve with the spatially flipped kernel whose in/out channels are swapped.
  let xd: tf.Tensor = xs;
  strides.forEach((st, a) => {
    if (st > 1) xd = spreadAxis(xd, a + 1, st);
  });
  const ke = k.shape.slice(0, 3);
  xd = tf.pad(xd, [[0, 0], ...ke.map((kk) => [kk - 1, kk - 1] as [number, number]), [0, 0]]);
  const kf = tf.transpose(tf.reverse(k, [0, 1, 2]), [0, 1, 2, 4, 3]) as tf.Tensor5D;
  const xg = group === 1 ? [xd as tf.Tensor5D] : (tf.split(xd, group, 4) as tf.Tensor5D[]);
  const kg = group === 1 ? [kf] : (tf.split(kf, group, 4) as tf.Tensor5D[]);
  const parts = xg.map((xi, i) => conv3d(xi, kg[i]!, [1, 1, 1]));
  let y: tf.Tensor = parts.length === 1 ? parts[0]! : tf.concat(parts, 4);
  const padBefore = begin.map((b) => Math.max(0, -b));
  const padAfter = begin.map((b, i) => Math.max(0, b + outSizes[i]! - full[i]!));
  if (padBefore.some((p) => p > 0) || padAfter.some((p) => p > 0)) {
    y = tf.pad(y, [[0, 0], ...padBefore.map((b, i) => [b, padAfter[i]!] as [number, number]), [0, 0]]);
  }
  y = tf.slice(y, [0, ...begin.map((b) => Math.max(0, b)), 0], [N, ...outSizes, Mg * group]);
  if (bias) y = tf.add(y, dev(n, bias));
  return [deviceValue(fromNdhwc(y), 'float32')];
}

function padNhwc(x: tf.Tensor4D, begin: number[], end: number[], spatial: number, value = 0): tf.Tensor4D {
  const b = spatial === 1 ? [0, begin[0]!] : begin;
  const e = spatial === 1 ? [0, end[0]!] : end;
  if (b.every((v) => v === 0) && e.every((v) => v === 0)) return x;
  return tf.pad(
    x,
    [
      [0, 0],
      [b[0]!, e[0]!],
      [b[1]!, e[1]!],
      [0, 0],
    ],
    value,
  );
}

function convRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  const wv = n.input(inputs, 1);
  const spatial = checkSpatial(n, xv.shape.length);
  const w = dev(n, wv);
  const group = n.int('group', 1);
  const C = xv.shape[1]!;
  const M = w.shape[0]!;
  if (C % group !== 0 || M % group !== 0 || w.shape[1]! * group !== C) {
    n.shapeError(`input channels ${C} and weights [${w.shape.join(', ')}] consistent with group ${group}`);
  }
  if (spatial === 3) return conv3dRun(n, dev(n, xv), w, inputs[2]);
  const g = convGeom(n, xv.shape.slice(2), w.shape.slice(2));
  if (g.begin.some((p) => p < 0) || g.end.some((p) => p < 0)) n.unsupported('non-negative pads');
  const xs = spatial === 2 ? nhwcOf(n, xv) : toNhwc(dev(n, xv), spatial);
  const p: Pads2 = spatial === 1 ? [0, 0, g.begin[0]!, g.end[0]!] : [g.begin[0]!, g.end[0]!, g.begin[1]!, g.end[1]!];
  const s2: [number, number] = spatial === 1 ? [1, g.strides[0]!] : [g.strides[0]!, g.strides[1]!];
  // Weights [M, C/g, kh, kw] → [kh, kw, C/g, M], dilated explicitly.
  const w4 = spatial === 1 ? tf.expandDims(w, 2) : w;
  const d2 = spatial === 1 ? [1, g.dilations[0]!] : g.dilations;
  const k = dilateKernel(tf.transpose(w4, [2, 3, 1, 0]), d2) as tf.Tensor4D;
  let y: tf.Tensor4D;
  if (group === 1) {
    y = conv(xs, k, s2, p);
  } else if (group === C && w.shape[1] === 1) {
    const [kh, kw] = k.shape;
    y = depthwise(xs, tf.reshape(k, [kh, kw, C, M / C]) as tf.Tensor4D, s2, p);
  } else {
    const xg = tf.split(xs, group, 3) as tf.Tensor4D[];
    const kg = tf.split(k, group, 3) as tf.Tensor4D[];
    y = tf.concat(
      xg.map((xi, i) => conv(xi, kg[i]!, s2, p)),
      3,
    );
  }
  if (inputs[2]) y = tf.add(y, dev(n, inputs[2]));
  return [spatial === 2 ? nhwcValue(y) : deviceValue(fromNhwc(y, spatial), 'float32')];
}

function convTransposeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  const spatial = checkSpatial(n, xv.shape.length);
  const w = dev(n, n.input(inputs, 1));
  const group = n.int('group', 1);
  const C = xv.shape[1]!;
  if (w.shape[0] !== C || C % group !== 0) n.shapeError(`weights [${w.shape.join(', ')}] with ${C} input channels and group ${group}`);
  const Mg = w.shape[1]!;
  const inSizes = xv.shape.slice(2);
  const r = spatial;
  const kernel = n.ints('kernel_shape', w.shape.slice(2));
  const strides = n.ints('strides', new Array<number>(r).fill(1));
  const dilations = n.ints('dilations', new Array<number>(r).fill(1));
  const outPad = n.ints('output_padding', new Array<number>(r).fill(0));
  const outShape = n.ints('output_shape');
  const autoPad = n.str('auto_pad', 'NOTSET');
  const full = inSizes.map((s, i) => (s - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1);
  const begin = new Array<number>(r).fill(0);
  const outSizes = new Array<number>(r).fill(0);
  for (let i = 0; i < r; i++) {
    const ext = full[i]! + outPad[i]!;
    if (outShape) {
      const target = outShape[outShape.length - r + i]!;
      const total = ext - target;
      const half = Math.trunc(total / 2);
      // As onnxruntime and the reference do: the extra (or missing) row goes at the end unless SAME_LOWER.
      begin[i] = autoPad === 'SAME_LOWER' ? total - half : half;
      outSizes[i] = target;
    } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const target = inSizes[i]! * strides[i]!;
      const total = ext - target;
      const half = Math.trunc(total / 2);
      begin[i] = autoPad === 'SAME_UPPER' ? half : total - half;
      outSizes[i] = target;
    } else {
      const pads = autoPad === 'VALID' ? new Array<number>(2 * r).fill(0) : n.ints('pads', new Array<number>(2 * r).fill(0));
      begin[i] = pads[i]!;
      outSizes[i] = ext - pads[i]! - pads[i + r]!;
    }
  }
  if (spatial === 3) return convTranspose3dRun(n, dev(n, xv), w, inputs[2], full, begin, outSizes, strides, dilations);
  const xs = spatial === 2 ? nhwcOf(n, xv) : toNhwc(dev(n, xv), spatial);
  const s2: [number, number] = spatial === 1 ? [1, strides[0]!] : [strides[0]!, strides[1]!];
  const w4 = spatial === 1 ? tf.expandDims(w, 2) : w;
  const d2 = spatial === 1 ? [1, dilations[0]!] : dilations;
  // Weights [C, M/g, kh, kw] → [kh, kw, M/g, C] (tfjs conv2dTranspose filter layout), dilated explicitly.
  const k = dilateKernel(tf.transpose(w4, [2, 3, 1, 0]), d2) as tf.Tensor4D;
  const N = xv.shape[0]!;
  const fullHW: [number, number] = spatial === 1 ? [1, full[0]!] : [full[0]!, full[1]!];
  const xg = group === 1 ? [xs] : (tf.split(xs, group, 3) as tf.Tensor4D[]);
  const kg = group === 1 ? [k] : (tf.split(k, group, 3) as tf.Tensor4D[]);
  const parts = xg.map((xi, i) => tf.conv2dTranspose(xi, kg[i]!, [N, fullHW[0], fullHW[1], Mg], s2, 'valid') as tf.Tensor4D);
  let y: tf.Tensor4D = parts.length === 1 ? parts[0]! : tf.concat(parts, 3);
  // Crop (or zero-extend) the full output to [begin, begin + out) on each spatial axis.
  const b2 = spatial === 1 ? [0, begin[0]!] : begin;
  const o2 = spatial === 1 ? [1, outSizes[0]!] : outSizes;
  const padBefore = b2.map((b) => Math.max(0, -b));
  const padAfter = b2.map((b, i) => Math.max(0, b + o2[i]! - y.shape[i + 1]!));
  if (padBefore.some((p) => p > 0) || padAfter.some((p) => p > 0)) {
    y = tf.pad(y, [
      [0, 0],
      [padBefore[0]!, padAfter[0]!],
      [padBefore[1]!, padAfter[1]!],
      [0, 0],
    ]);
  }
  y = tf.slice(y, [0, Math.max(0, b2[0]!), Math.max(0, b2[1]!), 0], [N, o2[0]!, o2[1]!, Mg * group]);
  if (inputs[2]) y = tf.add(y, dev(n, inputs[2]));
  return [spatial === 2 ? nhwcValue(y) : deviceValue(fromNhwc(y, spatial), 'float32')];
}

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

function batchNormRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  if (n.int('training_mode', 0) === 1) n.unsupported('inference mode (training_mode=1 is not supported)');
  if (n.node.outputs.filter((o) => o !== '').length > 1) n.unsupported('one output (inference mode)');
  const xv = n.input(inputs, 0);
  const eps = n.float('epsilon', 1e-5);
  if (xv.nhwc) {
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => dev(n, n.input(inputs, i)));
    const a = tf.mul(scale!, tf.rsqrt(tf.add(variance!, eps)));
    const b = tf.sub(bias!, tf.mul(mean!, a));
    return [nhwcValue(tf.add(tf.mul(xv.nhwc, a), b))];
  }
  const x = dev(n, xv);
  const shape = x.shape.map((d, i) => (i === 1 ? d : 1));
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => tf.reshape(dev(n, n.input(inputs, i)), shape));
  const a = tf.mul(scale!, tf.rsqrt(tf.add(variance!, eps)));
  const b = tf.sub(bias!, tf.mul(mean!, a));
  return [deviceValue(tf.add(tf.mul(x, a), b), 'float32')];
}

/**
 * `x @ W` for a constant weight held in both layouts: `kn` ([K, N]) for the forward product and `nk` ([N, K])
 * for the input-gradient `dy @ nk`, so that neither product needs a transposed operand (the wasm backend's
 * matrix product is an order of magnitude slower with a transposed right operand).
 */
function dense(x: tf.Tensor2D, kn: tf.Tensor2D, nk: tf.Tensor2D): tf.Tensor2D {
  // kn and nk are prepared constants of the graph (kept until the model is disposed): closed over rather than
  // saved, so that the product's right operand is the same tensor every step (a saved tensor is a new clone each
  // step, and the wasm backend re-packs the weights of a matrix product for every new right operand).
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor2D;
    return { value: tf.matMul(xi, kn), gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, nk) };
  });
  return f(x) as tf.Tensor2D;
}

/** Both layouts of a constant 2-D weight (see {@link dense}). */
function weightLayouts(w: Value | undefined, transposed: boolean): Record<string, tf.Tensor> | undefined {
  if (!w?.tensor || w.tensor.rank !== 2 || w.tensor.dtype !== 'float32') return undefined;
  const t = tf.transpose(w.tensor);
  return transposed ? { kn: t, nk: tf.clone(w.tensor) } : { kn: tf.clone(w.tensor), nk: t };
}

function gemmRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const a = dev(n, n.input(inputs, 0));
  const b = dev(n, n.input(inputs, 1));
  if (a.rank !== 2 || b.rank !== 2) n.shapeError(`2-D A and B, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  const alpha = n.float('alpha', 1);
  const beta = n.float('beta', 1);
  const kn = n.prepared.get('kn');
  const nk = n.prepared.get('nk');
  let y: tf.Tensor =
    kn && nk && n.int('transA', 0) === 0
      ? dense(a as tf.Tensor2D, kn as tf.Tensor2D, nk as tf.Tensor2D)
      : tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, n.int('transA', 0) === 1, n.int('transB', 0) === 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  const c = inputs[2];
  if (c !== undefined && sizeOf(c.shape) > 0) {
    const ct = dev(n, c);
    y = tf.add(y, beta === 1 ? ct : tf.mul(ct, beta));
  }
  return [deviceValue(y, 'float32')];
}

function matMulRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const av = n.input(inputs, 0);
  const bv = n.input(inputs, 1);
  let a = dev(n, av);
  let b = dev(n, bv);
  const aVec = a.rank === 1;
  const bVec = b.rank === 1;
  if (aVec) a = tf.expandDims(a, 0);
  if (bVec) b = tf.expandDims(b, 1);
  // numpy semantics: broadcast the batch dimensions explicitly.
  const ba = a.shape.slice(0, -2);
  const bb = b.shape.slice(0, -2);
  if (ba.length !== bb.length || ba.some((d, i) => d !== bb[i])) {
    const r = Math.max(ba.length, bb.length);
    const batch: number[] = [];
    for (let i = 0; i < r; i++) {
      const x = ba[ba.length - r + i] ?? 1;
      const y = bb[bb.length - r + i] ?? 1;
      if (x !== y && x !== 1 && y !== 1) n.shapeError(`broadcastable batch dimensions, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
      batch.push(Math.max(x, y));
    }
    if (bb.length === 0 && ba.length > 0) {
      // [..., M, K] x [K, N]: fold the batch into M.
      const M = a.shape[a.rank - 2]!;
      const K = a.shape[a.rank - 1]!;
      const kn = n.prepared.get('kn');
      const nk = n.prepared.get('nk');
      const a2 = tf.reshape(a, [-1, K]) as tf.Tensor2D;
      const y2 = kn && nk ? dense(a2, kn as tf.Tensor2D, nk as tf.Tensor2D) : tf.matMul(a2, b as tf.Tensor2D);
      let y = tf.reshape(y2, [...ba, M, b.shape[1]!]);
      if (aVec) y = tf.squeeze(y, [y.rank - 2]);
      if (bVec) y = tf.squeeze(y, [y.rank - 1]);
      return [deviceValue(y, 'float32')];
    }
    a = tf.broadcastTo(tf.reshape(a, [...new Array<number>(r - ba.length).fill(1), ...a.shape]), [...batch, ...a.shape.slice(-2)]);
    b = tf.broadcastTo(tf.reshape(b, [...new Array<number>(r - bb.length).fill(1), ...b.shape]), [...batch, ...b.shape.slice(-2)]);
  }
  const kn = n.prepared.get('kn');
  const nk = n.prepared.get('nk');
  let y: tf.Tensor = kn && nk && a.rank === 2 ? dense(a as tf.Tensor2D, kn as tf.Tensor2D, nk as tf.Tensor2D) : tf.matMul(a, b);
  if (aVec) y = tf.squeeze(y, [y.rank - 2]);
  if (bVec) y = tf.squeeze(y, [y.rank - 1]);
  return [deviceValue(y, 'float32')];
}

function softmaxOp(log: boolean): OpDef {
  return {
    run(n, inputs) {
      const x = dev(n, n.input(inputs, 0));
      const r = x.rank;
      const f = (t: tf.Tensor): tf.Tensor => (log ? tf.logSoftmax(t) : tf.softmax(t));
      if (n.opset < 13) {
        // Before opset 13: coerce to 2-D [prod(dims[:axis]), prod(dims[axis:])] and normalise each row.
        const axis = normAxis(n.int('axis', 1), r, n.where);
        const rows = sizeOf(x.shape.slice(0, axis));
        return [deviceValue(tf.reshape(f(tf.reshape(x, [rows, -1])), x.shape), 'float32')];
      }
      const axis = normAxis(n.int('axis', -1), r, n.where);
      if (axis === r - 1) return [deviceValue(f(x), 'float32')];
      const perm = [...Array(r).keys()];
      perm[axis] = r - 1;
      perm[r - 1] = axis;
      return [deviceValue(tf.transpose(f(tf.transpose(x, perm)), perm), 'float32')];
    },
  };
}

function dropoutRun(n: OpNode, inputs: readonly (Value | undefined)[]): (Value | undefined)[] {
  const x = n.input(inputs, 0);
  const training = n.opset >= 12 && inputs[2] ? toHost(inputs[2]).data[0] !== 0 : false;
  const ratio = n.opset >= 12 ? (inputs[1] ? (toHost(inputs[1]).data[0] ?? 0.5) : 0.5) : n.float('ratio', 0.5);
  if (training && ratio > 0) n.unsupported('inference mode (a random Dropout in training mode cannot be attacked deterministically)');
  const out = x;
  const wantMask = n.node.outputs.length > 1 && n.node.outputs[1] !== '';
  if (!wantMask) return [out];
  return [out, hostValue({ dtype: 'bool', shape: x.shape, data: new Float64Array(sizeOf(x.shape)).fill(1) })];
}

/** Neural-network operators by ONNX name. */
export const nnOps: Record<string, OpDef> = {
  Conv: { run: convRun },
  ConvTranspose: { run: convTransposeRun },
  MaxPool: { run: (n, i) => poolRun(n, i, 'max') },
  AveragePool: { run: (n, i) => poolRun(n, i, 'avg') },
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
  BatchNormalization: {
    run: batchNormRun,
    check: (n) => void (n.int('training_mode', 0) === 1 && n.unsupported('inference mode (training_mode=1 is not supported)')),
  },
  Gemm: { run: gemmRun, prepare: (n, c) => weightLayouts(c[1], n.int('transB', 0) === 1) },
  MatMul: { run: matMulRun, prepare: (_n, c) => weightLayouts(c[1], false) },
  Softmax: softmaxOp(false),
  LogSoftmax: softmaxOp(true),
  Dropout: { run: dropoutRun },
};
