/**
 * Convolutions: Conv and ConvTranspose in 1, 2 and 3 spatial dimensions (groups, dilation, padding, auto_pad),
 * with robustest's forward-kernel input-gradients. ONNX tensors stay NCHW; 2-D convolutions run in tfjs as NHWC.
 * Spec: https://onnx.ai/onnx/operators/onnx__Conv.html, https://onnx.ai/onnx/operators/onnx__ConvTranspose.html
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpDef, OpNode } from '../op.js';
import { conv2dInputGrad, depthwiseInputGrad } from '../../gradients/formulas.js';
import { deviceValue, nhwcValue, type Value } from '../value.js';
import { checkSpatial, convGeom, dev, explicitPads, fromNdhwc, fromNhwc, nhwcOf, padArg, toNdhwc, toNhwc, triple, type Pads2 } from './spatial.js';

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

/** Convolution operators by ONNX name. */
export const convOps: Record<string, OpDef> = {
  Conv: { run: convRun },
  ConvTranspose: { run: convTransposeRun },
};
