/**
 * Resize (and the deprecated Upsample): nearest, linear and cubic interpolation, separable per axis, built from
 * gathers with host-computed indices and weighted sums, so it is exact to the spec's coordinate transforms and
 * differentiable on every backend.
 * Spec: https://onnx.ai/onnx/operators/onnx__Resize.html
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpDef, OpNode } from '../op.js';
import { deviceValue, gatherAxis, sizeOf, toDevice, toHost, type Value } from '../value.js';

interface Taps {
  /** For each tap, the input index of every output position. */
  readonly index: number[][];
  /** For each tap, the weight of every output position. */
  readonly weight: number[][];
  /** Output positions that take the extrapolation value (tf_crop_and_resize). */
  readonly outside: boolean[];
}

function cubicWeights(t: number, a: number): number[] {
  const w = (x: number): number => {
    const ax = Math.abs(x);
    if (ax <= 1) return (a + 2) * ax ** 3 - (a + 3) * ax ** 2 + 1;
    if (ax < 2) return a * ax ** 3 - 5 * a * ax ** 2 + 8 * a * ax - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

function axisTaps(n: OpNode, inSize: number, outSize: number, scale: number, roi: [number, number], mode: string): Taps {
  const ctm = n.str('coordinate_transformation_mode', n.opset < 11 ? 'asymmetric' : 'half_pixel');
  const nearestMode = n.str('nearest_mode', n.opset < 11 ? 'floor' : 'round_prefer_floor');
  const a = n.float('cubic_coeff_a', -0.75);
  const exclude = n.int('exclude_outside', 0) === 1;
  const taps = mode === 'nearest' ? 1 : mode === 'linear' ? 2 : 4;
  const index = Array.from({ length: taps }, () => new Array<number>(outSize).fill(0));
  const weight = Array.from({ length: taps }, () => new Array<number>(outSize).fill(0));
  const outside = new Array<boolean>(outSize).fill(false);
  for (let o = 0; o < outSize; o++) {
    let x: number;
    switch (ctm) {
      case 'half_pixel':
        x = (o + 0.5) / scale - 0.5;
        break;
      case 'pytorch_half_pixel':
        x = outSize > 1 ? (o + 0.5) / scale - 0.5 : 0;
        break;
      case 'align_corners': {
        // The spec's length_resized is input length × scale, before flooring to the output size.
        const resized = inSize * scale;
        x = resized === 1 || outSize === 1 ? 0 : (o * (inSize - 1)) / (resized - 1);
        break;
      }
      case 'asymmetric':
        x = o / scale;
        break;
      case 'tf_half_pixel_for_nn':
        x = (o + 0.5) / scale;
        break;
      case 'half_pixel_symmetric': {
        const adj = outSize / (scale * inSize);
        const center = inSize / 2;
        const offset = center * (1 - adj);
        x = offset + (o + 0.5) / scale - 0.5;
        break;
      }
      case 'tf_crop_and_resize':
        x = outSize > 1 ? roi[0] * (inSize - 1) + (o * (roi[1] - roi[0]) * (inSize - 1)) / (outSize - 1) : 0.5 * (roi[0] + roi[1]) * (inSize - 1);
        if (x < 0 || x > inSize - 1) outside[o] = true;
        break;
      default:
        return n.unsupported(`a known coordinate_transformation_mode, got ${ctm}`);
    }
    const clampI = (i: number): number => Math.min(Math.max(i, 0), inSize - 1);
    if (mode === 'nearest') {
      let i: number;
      switch (nearestMode) {
        case 'round_prefer_floor':
          i = x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
          break;
        case 'round_prefer_ceil':
          i = Math.round(x);
          break;
        case 'floor':
          i = Math.floor(x);
          break;
        case 'ceil':
          i = Math.ceil(x);
          break;
        default:
          return n.unsupported(`a known nearest_mode, got ${nearestMode}`);
      }
      index[0]![o] = clampI(i);
      weight[0]![o] = 1;
    } else if (mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), inSize - 1);
      const i0 = Math.floor(xc);
      const t = xc - i0;
      index[0]![o] = clampI(i0);
      index[1]![o] = clampI(i0 + 1);
      weight[0]![o] = 1 - t;
      weight[1]![o] = t;
    } else {
      const i0 = Math.floor(x);
      const ws = cubicWeights(x - i0, a);
      let total = 0;
      for (let k = 0; k < 4; k++) {
        const i = i0 - 1 + k;
        const inside = i >= 0 && i < inSize;
        const wk = exclude && !inside ? 0 : ws[k]!;
        index[k]![o] = clampI(i);
        weight[k]![o] = wk;
        total += wk;
      }
      if (exclude && total !== 0) for (let k = 0; k < 4; k++) weight[k]![o] = weight[k]![o]! / total;
    }
  }
  return { index, weight, outside };
}

function resizeRun(n: OpNode, inputs: readonly (Value | undefined)[], upsample: boolean): Value[] {
  const xv = n.input(inputs, 0);
  const r = xv.shape.length;
  const mode = n.str('mode', 'nearest');
  if (!['nearest', 'linear', 'bilinear', 'cubic'].includes(mode)) n.unsupported(`mode nearest, linear or cubic, got ${mode}`);
  if (n.int('antialias', 0) === 1) n.unsupported('antialias=0 (antialiased resizing is not supported)');
  if (n.has('keep_aspect_ratio_policy') && n.str('keep_aspect_ratio_policy', 'stretch') !== 'stretch') n.unsupported('keep_aspect_ratio_policy stretch');
  const m = mode === 'bilinear' ? 'linear' : mode;
  const present = (v: Value | undefined): v is Value => v !== undefined && sizeOf(v.shape) > 0;
  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  let roi: number[] | undefined;
  if (upsample && n.opset < 9) scales = n.floats('scales');
  else if (upsample || n.opset < 11) scales = present(inputs[1]) ? Array.from(toHost(inputs[1]).data) : undefined;
  else {
    roi = present(inputs[1]) ? Array.from(toHost(inputs[1]).data) : undefined;
    scales = present(inputs[2]) ? Array.from(toHost(inputs[2]).data) : undefined;
    sizes = present(inputs[3]) ? Array.from(toHost(inputs[3]).data) : undefined;
  }
  const axes = n.ints('axes', [...Array(r).keys()]).map((a) => (a < 0 ? a + r : a));
  const fullScales = new Array<number>(r).fill(1);
  const fullSizes = [...xv.shape];
  const fullRoi: [number, number][] = xv.shape.map(() => [0, 1]);
  if (roi) axes.forEach((a, i) => (fullRoi[a] = [roi[i]!, roi[i + axes.length]!]));
  if (sizes) {
    axes.forEach((a, i) => {
      fullSizes[a] = sizes[i]!;
      fullScales[a] = sizes[i]! / xv.shape[a]!;
    });
  } else if (scales) {
    axes.forEach((a, i) => {
      fullScales[a] = scales[i]!;
      const span = n.str('coordinate_transformation_mode', '') === 'tf_crop_and_resize' ? fullRoi[a]![1] - fullRoi[a]![0] : 1;
      fullSizes[a] = Math.floor(xv.shape[a]! * span * scales[i]!);
    });
  } else n.shapeError('scales or sizes, got neither');
  const extrapolation = n.float('extrapolation_value', 0);
  let t = toDevice(xv, n.where);
  const dt = t.dtype;
  if (dt !== 'float32') t = tf.cast(t, 'float32');
  for (let a = 0; a < r; a++) {
    const inSize = xv.shape[a]!;
    const outSize = fullSizes[a]!;
    if (outSize === inSize && fullScales[a] === 1 && fullRoi[a]![0] === 0 && fullRoi[a]![1] === 1 && m !== 'cubic') continue;
    const taps = axisTaps(n, inSize, outSize, fullScales[a]!, fullRoi[a]!, m);
    const shape = t.shape.map((_, i) => (i === a ? outSize : 1));
    let acc: tf.Tensor | undefined;
    taps.index.forEach((idx, k) => {
      const g = gatherAxis(t, idx, a);
      const w = taps.weight[k]!;
      const term = w.every((v) => v === 1) ? g : tf.mul(g, tf.tensor(Float32Array.from(w), shape));
      acc = acc ? tf.add(acc, term) : term;
    });
    let y = acc!;
    if (taps.outside.some((o) => o)) {
      const inside = tf.tensor(
        Float32Array.from(taps.outside, (o) => (o ? 0 : 1)),
        shape,
      );
      y = tf.add(tf.mul(y, inside), tf.mul(tf.sub(1, inside), extrapolation));
    }
    t = y;
  }
  if (t === xv.tensor) t = tf.clone(t);
  if (dt !== 'float32') t = tf.cast(tf.round(t), dt);
  return [deviceValue(t, xv.dtype)];
}

/** Resize operators by ONNX name. */
export const resizeOps: Record<string, OpDef> = {
  Resize: { run: (n, i) => resizeRun(n, i, false) },
  Upsample: { run: (n, i) => resizeRun(n, i, true) },
};
