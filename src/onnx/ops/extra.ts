/**
 * Further operators found in classifiers: normalisations (LayerNormalization, InstanceNormalization, LRN),
 * Gelu, DepthToSpace/SpaceToDepth, ArgMax/ArgMin, Hardmax, CumSum, GatherElements, Trilu, Mod, CastLike,
 * IsNaN/IsInf, Round and the trigonometric/hyperbolic functions.
 * Spec: https://onnx.ai/onnx/operators/
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import { OpNode, type OpDef } from '../op.js';
import { dataTypeCode } from '../proto.js';
import { hostBroadcast, deviceValue, gatherAxis, hostValue, isFloat, normAxis, sizeOf, stridesOf, toDevice, toHost, type Value } from '../value.js';
import { elementwiseOps } from './elementwise.js';

const float = (n: OpNode, v: Value): tf.Tensor => {
  const t = toDevice(v, n.where);
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
};

function unaryFloat(fn: (x: tf.Tensor) => tf.Tensor): OpDef {
  return { run: (n, inputs) => [deviceValue(fn(float(n, n.input(inputs, 0))), n.input(inputs, 0).dtype)] };
}

function layerNormRun(n: OpNode, inputs: readonly (Value | undefined)[]): (Value | undefined)[] {
  const x = float(n, n.input(inputs, 0));
  const r = x.rank;
  const axis = normAxis(n.int('axis', -1), r, n.where);
  const axes = [...Array(r).keys()].slice(axis);
  const eps = n.float('epsilon', 1e-5);
  const { mean, variance } = tf.moments(x, axes, true);
  const inv = tf.rsqrt(tf.add(variance, eps));
  let y = tf.mul(tf.sub(x, mean), inv);
  y = tf.mul(y, float(n, n.input(inputs, 1)));
  if (inputs[2]) y = tf.add(y, float(n, inputs[2]));
  return [deviceValue(y, 'float32'), deviceValue(mean, 'float32'), deviceValue(inv, 'float32')];
}

function instanceNormRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = float(n, n.input(inputs, 0));
  const axes = [...Array(x.rank).keys()].slice(2);
  const shape = x.shape.map((d, i) => (i === 1 ? d : 1));
  const { mean, variance } = tf.moments(x, axes, true);
  const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, n.float('epsilon', 1e-5))));
  const scale = tf.reshape(float(n, n.input(inputs, 1)), shape);
  const bias = tf.reshape(float(n, n.input(inputs, 2)), shape);
  return [deviceValue(tf.add(tf.mul(y, scale), bias), 'float32')];
}

function lrnRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = float(n, n.input(inputs, 0));
  const size = n.int('size', 1);
  const alpha = n.float('alpha', 1e-4);
  const beta = n.float('beta', 0.75);
  const bias = n.float('bias', 1);
  const C = x.shape[1]!;
  const before = Math.floor((size - 1) / 2);
  const after = Math.ceil((size - 1) / 2);
  const pads: [number, number][] = x.shape.map((_, i) => (i === 1 ? [before, after] : [0, 0]));
  const sq = tf.pad(tf.square(x), pads);
  let sum: tf.Tensor | undefined;
  for (let k = 0; k < size; k++) {
    const part = tf.slice(
      sq,
      x.shape.map((_, i) => (i === 1 ? k : 0)),
      x.shape.map((d, i) => (i === 1 ? C : d)),
    );
    sum = sum ? tf.add(sum, part) : part;
  }
  return [deviceValue(tf.div(x, tf.pow(tf.add(tf.mul(sum!, alpha / size), bias), beta)), 'float32')];
}

function geluRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = float(n, n.input(inputs, 0));
  const approx = n.str('approximate', 'none');
  if (approx === 'tanh') {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return [deviceValue(tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)), 'float32')];
  }
  return [deviceValue(tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)), 'float32')];
}

function depthToSpaceRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  const x = toDevice(xv, n.where);
  const b = n.int('blocksize', 0);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (x.rank !== 4 || b < 1 || C % (b * b) !== 0)
    n.shapeError(`a rank-4 input with channels divisible by blocksize², got [${x.shape.join(', ')}] and blocksize ${b}`);
  const c = C / (b * b);
  const crd = n.str('mode', 'DCR') === 'CRD';
  const t = crd ? tf.transpose(tf.reshape(x, [N, c, b, b, H, W]), [0, 1, 4, 2, 5, 3]) : tf.transpose(tf.reshape(x, [N, b, b, c, H, W]), [0, 3, 4, 1, 5, 2]);
  return [deviceValue(tf.reshape(t, [N, c, H * b, W * b]), xv.dtype)];
}

function spaceToDepthRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  const x = toDevice(xv, n.where);
  const b = n.int('blocksize', 0);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (x.rank !== 4 || b < 1 || H % b !== 0 || W % b !== 0)
    n.shapeError(`a rank-4 input with H and W divisible by blocksize, got [${x.shape.join(', ')}] and blocksize ${b}`);
  const t = tf.transpose(tf.reshape(x, [N, C, H / b, b, W / b, b]), [0, 3, 5, 1, 2, 4]);
  return [deviceValue(tf.reshape(t, [N, C * b * b, H / b, W / b]), xv.dtype)];
}

function argRun(max: boolean) {
  return (n: OpNode, inputs: readonly (Value | undefined)[]): Value[] => {
    const x = float(n, n.input(inputs, 0));
    const axis = normAxis(n.int('axis', 0), x.rank, n.where);
    const last = n.int('select_last_index', 0) === 1;
    const src = max ? x : tf.neg(x);
    let idx = tf.argMax(last ? tf.reverse(src, axis) : src, axis);
    if (last) idx = tf.sub(tf.scalar(x.shape[axis]! - 1, 'int32'), idx);
    if (n.int('keepdims', 1) === 1) idx = tf.expandDims(idx, axis);
    return [deviceValue(idx, 'int64')];
  };
}

function hardmaxRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = float(n, n.input(inputs, 0));
  const r = x.rank;
  const hard = (t: tf.Tensor): tf.Tensor => tf.cast(tf.oneHot(tf.argMax(t, t.rank - 1), t.shape[t.rank - 1]!), 'float32');
  if (n.opset < 13) {
    const axis = normAxis(n.int('axis', 1), r, n.where);
    return [deviceValue(tf.reshape(hard(tf.reshape(x, [sizeOf(x.shape.slice(0, axis)), -1])), x.shape), 'float32')];
  }
  const axis = normAxis(n.int('axis', -1), r, n.where);
  if (axis === r - 1) return [deviceValue(hard(x), 'float32')];
  const perm = [...Array(r).keys()];
  perm[axis] = r - 1;
  perm[r - 1] = axis;
  return [deviceValue(tf.transpose(hard(tf.transpose(x, perm)), perm), 'float32')];
}

function cumSumRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  let x = toDevice(xv, n.where);
  const axis = normAxis(toHost(n.input(inputs, 1)).data[0] ?? 0, x.rank, n.where);
  const dt = x.dtype;
  if (dt === 'bool') x = tf.cast(x, 'int32');
  return [deviceValue(tf.cumsum(x, axis, n.int('exclusive', 0) === 1, n.int('reverse', 0) === 1), xv.dtype)];
}

function gatherElementsRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  const iv = toHost(n.input(inputs, 1));
  const r = xv.shape.length;
  const axis = normAxis(n.int('axis', 0), r, n.where);
  const dim = xv.shape[axis]!;
  const inStrides = stridesOf(xv.shape);
  const idxStrides = stridesOf(iv.shape);
  const flat = new Array<number>(iv.data.length);
  for (let k = 0; k < iv.data.length; k++) {
    let rem = k;
    let off = 0;
    for (let a = 0; a < r; a++) {
      const q = Math.floor(rem / idxStrides[a]!);
      rem -= q * idxStrides[a]!;
      let coord = q;
      if (a === axis) {
        coord = iv.data[k]!;
        if (coord < 0) coord += dim;
        if (coord < 0 || coord >= dim) n.shapeError(`indices in [${-dim}, ${dim - 1}], got ${iv.data[k]}`);
      }
      off += coord * inStrides[a]!;
    }
    flat[k] = off;
  }
  if (xv.host) {
    const h = xv.host;
    return [hostValue({ dtype: h.dtype, shape: iv.shape, data: Float64Array.from(flat, (o) => h.data[o]!) })];
  }
  const x = toDevice(xv, n.where);
  return [deviceValue(tf.reshape(gatherAxis(tf.reshape(x, [-1]), flat, 0), [...iv.shape]), xv.dtype)];
}

function triluRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const xv = n.input(inputs, 0);
  const k = inputs[1] ? (toHost(inputs[1]).data[0] ?? 0) : 0;
  const upper = n.int('upper', 1) === 1;
  const [rows, cols] = xv.shape.slice(-2) as [number, number];
  const mask = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mask[i * cols + j] = upper ? (j - i >= k ? 1 : 0) : j - i <= k ? 1 : 0;
  if (xv.host) {
    const m = { dtype: xv.dtype, shape: [rows, cols], data: mask };
    return [hostValue(hostBroadcast([xv.host, m], xv.dtype, (a, b) => a * b, n.where))];
  }
  const x = toDevice(xv, n.where);
  const mt = tf.tensor(x.dtype === 'float32' ? Float32Array.from(mask) : Int32Array.from(mask), [rows, cols], x.dtype === 'float32' ? 'float32' : 'int32');
  return [deviceValue(x.dtype === 'bool' ? tf.logicalAnd(x, tf.cast(mt, 'bool')) : tf.mul(x, mt), xv.dtype)];
}

function modRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const a = n.input(inputs, 0);
  const b = n.input(inputs, 1);
  const fmod = n.int('fmod', 0) === 1;
  if (a.host && b.host) {
    const f = fmod
      ? (x: number, y: number) => x % y
      : (x: number, y: number) => {
          const m = x % y;
          return m !== 0 && m < 0 !== y < 0 ? m + y : m;
        };
    return [hostValue(hostBroadcast([a.host, b.host], a.dtype, (x, y) => (y === 0 ? (isFloat(a.dtype) ? NaN : 0) : f(x, y)), n.where))];
  }
  const x = float(n, a);
  const y = float(n, b);
  const q = tf.div(x, y);
  const whole = fmod ? tf.mul(tf.sign(q), tf.floor(tf.abs(q))) : tf.floor(q);
  let r = tf.sub(x, tf.mul(whole, y));
  if (!isFloat(a.dtype)) r = tf.cast(tf.round(r), 'int32');
  return [deviceValue(r, a.dtype)];
}

function isInfRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = float(n, n.input(inputs, 0));
  const pos = n.int('detect_positive', 1) === 1;
  const neg = n.int('detect_negative', 1) === 1;
  let y: tf.Tensor;
  if (pos && neg) y = tf.isInf(x);
  else if (pos) y = tf.equal(x, Infinity);
  else if (neg) y = tf.equal(x, -Infinity);
  else y = tf.zerosLike(tf.cast(x, 'bool'));
  return [deviceValue(y, 'bool')];
}

/** Further operators by ONNX name. */
export const extraOps: Record<string, OpDef> = {
  LayerNormalization: { run: layerNormRun },
  InstanceNormalization: { run: instanceNormRun },
  LRN: { run: lrnRun },
  Gelu: { run: geluRun },
  DepthToSpace: { run: depthToSpaceRun },
  SpaceToDepth: { run: spaceToDepthRun },
  ArgMax: { run: argRun(true) },
  ArgMin: { run: argRun(false) },
  Hardmax: { run: hardmaxRun },
  CumSum: { run: cumSumRun },
  GatherElements: { run: gatherElementsRun },
  Trilu: { run: triluRun },
  Mod: { run: modRun },
  CastLike: {
    run: (n, inputs) => {
      const to = dataTypeCode(n.input(inputs, 1).dtype);
      const node = { ...n.node, attributes: new Map([['to', { kind: 'int' as const, value: to }]]) };
      return elementwiseOps['Cast']!.run(new OpNode(node, n.opset), [inputs[0]]);
    },
  },
  IsNaN: { run: (n, inputs) => [deviceValue(tf.isNaN(float(n, n.input(inputs, 0))), 'bool')] },
  IsInf: { run: isInfRun },
  Round: unaryFloat((x) => tf.round(x)),
  Tan: unaryFloat((x) => tf.tan(x)),
  Asin: unaryFloat((x) => tf.asin(x)),
  Acos: unaryFloat((x) => tf.acos(x)),
  Atan: unaryFloat((x) => tf.atan(x)),
  Sinh: unaryFloat((x) => tf.sinh(x)),
  Cosh: unaryFloat((x) => tf.cosh(x)),
  Asinh: unaryFloat((x) => tf.asinh(x)),
  Acosh: unaryFloat((x) => tf.acosh(x)),
  Atanh: unaryFloat((x) => tf.atanh(x)),
};
