/**
 * Element-wise operators: arithmetic with numpy broadcasting, activations, comparisons, Clip, Cast, Where.
 * Spec: https://onnx.ai/onnx/operators/
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import { signExact } from '../../norms.js';
import type { OpDef, OpNode } from '../op.js';
import { dataTypeName, type HostTensor, type OnnxDataType } from '../proto.js';
import { deviceValue, hostBroadcast, hostValue, isFloat, nhwcValue, storeAs, tfDtype, toDevice, toHost, type Value } from '../value.js';

const allHost = (vs: readonly (Value | undefined)[]): boolean => vs.every((v) => !v || v.host !== undefined);

function present(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const vs = inputs.filter((v): v is Value => v !== undefined);
  if (vs.length === 0) n.shapeError('at least one input, got none');
  return vs;
}

/** Device result of an op whose tfjs kernel may need float inputs; casts back to the ONNX type. */
function dev(n: OpNode, x: Value): tf.Tensor {
  return toDevice(x, n.where);
}

/** A unary float activation. */
function unary(fn: (x: tf.Tensor, n: OpNode) => tf.Tensor, host?: (v: number, n: OpNode) => number): OpDef {
  return {
    run(n, inputs) {
      const x = n.input(inputs, 0);
      if (host && x.host && !isFloat(x.dtype)) {
        const h = x.host;
        return [hostValue({ dtype: h.dtype, shape: h.shape, data: h.data.map((v) => storeAs(h.dtype, host(v, n))) })];
      }
      if (x.nhwc) return [nhwcValue(fn(x.nhwc, n), x.dtype)];
      let t = dev(n, x);
      const dt = t.dtype;
      if (dt !== 'float32') t = tf.cast(t, 'float32');
      let y = fn(t, n);
      if (dt !== 'float32' && y.dtype !== dt) y = tf.cast(y, dt);
      return [deviceValue(y, x.dtype)];
    },
  };
}

/**
 * ONNX Sign, exact on every backend ({@link signExact}: tfjs-wasm 4.22's Sign kernel returns 0 for |x| <= 1e-7),
 * with tfjs's zero gradient (the comparisons it is built from have no gradient of their own).
 */
const exactSign = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: signExact(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/** `relu(x) + alpha * (exp(min(x, 0) / scale) - 1)`: ELU-type tails without overflow in the unused branch. */
function eluTail(x: tf.Tensor, alpha: number, scale = 1): tf.Tensor {
  const neg = tf.minimum(x, 0);
  const e = tf.sub(tf.exp(scale === 1 ? neg : tf.div(neg, scale)), 1);
  return tf.add(tf.relu(x), tf.mul(e, alpha));
}

/**
 * One operand of a binary op whose other operand is held channels-last, in a form that broadcasts against the
 * NHWC data: the NHWC view itself, a scalar, or a per-channel `[C, 1, 1]`/`[1, C, 1, 1]` vector as `[C]`.
 * Undefined when the pair cannot stay channels-last.
 */
function channelsLastOperand(v: Value, other: Value): tf.Tensor | undefined {
  const target = (other.nhwc ? other : v).shape;
  if (v.nhwc) return v.shape.every((d, i) => d === target[i]) || !other.nhwc ? v.nhwc : undefined;
  const size = v.shape.reduce((a, b) => a * b, 1);
  const t = v.tensor ?? (v.host ? toDevice(v, 'onnx') : undefined);
  if (!t || t.dtype !== 'float32') return undefined;
  if (size === 1) return tf.reshape(t, []);
  const padded = [...new Array<number>(Math.max(0, 4 - v.shape.length)).fill(1), ...v.shape];
  if (padded.length === 4 && padded[0] === 1 && padded[2] === 1 && padded[3] === 1 && padded[1] === target[1]) return tf.reshape(t, [padded[1]!]);
  return undefined;
}

/** Host implementations of binary arithmetic. */
type HostFn = (a: number, b: number, dtype: OnnxDataType) => number;

/**
 * Before opset 7, `broadcast=1` with an `axis` aligned B's dimensions with A's starting at `axis` (not at the
 * end, as numpy does): B gets trailing unit dimensions so that numpy broadcasting gives the old result.
 */
function legacyBroadcast(n: OpNode, a: Value, b: Value): Value {
  if (n.opset >= 7 || n.int('broadcast', 0) !== 1 || !n.has('axis')) return b;
  const axis = n.int('axis', 0) < 0 ? n.int('axis', 0) + a.shape.length : n.int('axis', 0);
  const trailing = a.shape.length - axis - b.shape.length;
  if (trailing <= 0) return b;
  const shape = [...b.shape, ...new Array<number>(trailing).fill(1)];
  if (b.host) return hostValue({ ...b.host, shape });
  return deviceValue(tf.reshape(toDevice(b, n.where), shape), b.dtype);
}

function binary(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, host: HostFn, opts: { out?: 'bool'; floatOnly?: boolean } = {}): OpDef {
  return {
    run(n, inputs) {
      const a = n.input(inputs, 0);
      const b = legacyBroadcast(n, a, n.input(inputs, 1));
      const outType: OnnxDataType = opts.out ?? a.dtype;
      if (a.host && b.host) {
        return [hostValue(hostBroadcast([a.host, b.host], outType, (x, y) => host(x, y, a.dtype), n.where))];
      }
      if (!opts.out && (a.nhwc || b.nhwc) && isFloat(a.dtype)) {
        const la = channelsLastOperand(a, b);
        const lb = channelsLastOperand(b, a);
        if (la && lb) return [nhwcValue(fn(la, lb), outType)];
      }
      let ta = dev(n, a);
      let tb = dev(n, b);
      if (opts.floatOnly && ta.dtype !== 'float32') {
        ta = tf.cast(ta, 'float32');
        tb = tf.cast(tb, 'float32');
        let y = fn(ta, tb);
        if (!isFloat(outType)) y = tf.cast(y, tfDtype(outType, n.where));
        return [deviceValue(y, outType)];
      }
      if (ta.dtype !== tb.dtype) tb = tf.cast(tb, ta.dtype);
      return [deviceValue(fn(ta, tb), outType)];
    },
  };
}

function variadic(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, host: (a: number, b: number) => number, mean = false): OpDef {
  return {
    run(n, inputs) {
      const vs = present(n, inputs);
      const dtype = vs[0]!.dtype;
      if (allHost(vs)) {
        let acc: HostTensor = vs[0]!.host!;
        for (const v of vs.slice(1)) acc = hostBroadcast([acc, v.host!], dtype, host, n.where);
        if (mean) acc = hostBroadcast([acc], dtype, (x) => x / vs.length, n.where);
        return [hostValue(acc)];
      }
      let acc = dev(n, vs[0]!);
      for (const v of vs.slice(1)) acc = fn(acc, dev(n, v));
      if (vs.length === 1 && !mean) acc = tf.clone(acc);
      if (mean) acc = tf.div(acc, vs.length);
      return [deviceValue(acc, dtype)];
    },
  };
}

const truncDiv: HostFn = (a, b, t) => (isFloat(t) ? a / b : b === 0 ? 0 : Math.trunc(a / b));

function cmp(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, host: (a: number, b: number) => boolean): OpDef {
  return binary(fn, (a, b) => (host(a, b) ? 1 : 0), { out: 'bool' });
}

function clipRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  let lo: number;
  let hi: number;
  if (n.opset < 11) {
    lo = n.float('min', -Infinity);
    hi = n.float('max', Infinity);
  } else {
    lo = inputs[1] ? (toHost(inputs[1]).data[0] ?? -Infinity) : -Infinity;
    hi = inputs[2] ? (toHost(inputs[2]).data[0] ?? Infinity) : Infinity;
  }
  if (x.host) {
    const h = x.host;
    const data = h.data.map((v) => storeAs(h.dtype, lo > hi ? hi : Math.min(Math.max(v, lo), hi)));
    return [hostValue({ dtype: h.dtype, shape: h.shape, data })];
  }
  if (x.nhwc && lo <= hi) {
    const c = lo === 0 && hi === 6 ? tf.relu6(x.nhwc) : tf.clipByValue(x.nhwc, Math.max(lo, -3.4028234663852886e38), Math.min(hi, 3.4028234663852886e38));
    return [nhwcValue(c, x.dtype)];
  }
  const t = dev(n, x);
  if (lo > hi) return [deviceValue(tf.fill(t.shape, hi, t.dtype), x.dtype)];
  if (lo === -Infinity && hi === Infinity) return [deviceValue(tf.clone(t), x.dtype)];
  if (lo === 0 && hi === 6 && t.dtype === 'float32') return [deviceValue(tf.relu6(t), x.dtype)];
  return [deviceValue(tf.clipByValue(t, lo, hi), x.dtype)];
}

function castRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const to = dataTypeName(n.int('to', 0));
  if (!to) return n.unsupported(`a known target type, got ${n.int('to', 0)}`);
  if (to === 'string' || to === 'complex64' || to === 'complex128') return n.unsupported(`a numeric target type, got ${to}`);
  if (x.host) {
    const h = x.host;
    return [hostValue({ dtype: to, shape: h.shape, data: h.data.map((v) => storeAs(to, v)) })];
  }
  const t = dev(n, x);
  const target = tfDtype(to, n.where);
  if (target === 'int32' && t.dtype === 'float32') {
    // Truncation toward zero (tfjs' cast does the same, made explicit for every backend).
    return [deviceValue(tf.cast(tf.mul(tf.sign(t), tf.floor(tf.abs(t))), 'int32'), to)];
  }
  return [deviceValue(t.dtype === target ? tf.clone(t) : tf.cast(t, target), to)];
}

function whereRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const c = n.input(inputs, 0);
  const a = n.input(inputs, 1);
  const b = n.input(inputs, 2);
  if (c.host && a.host && b.host) {
    return [hostValue(hostBroadcast([c.host, a.host, b.host], a.dtype, (ci, ai, bi) => (ci ? ai : bi), n.where))];
  }
  let ta = dev(n, a);
  let tb = dev(n, b);
  if (tb.dtype !== ta.dtype) tb = tf.cast(tb, ta.dtype);
  let tc = dev(n, c);
  if (tc.dtype !== 'bool') tc = tf.cast(tc, 'bool');
  if (ta.rank === 0 && tb.rank === 0 && tc.rank === 0) {
    ta = tf.reshape(ta, [1]);
    tb = tf.reshape(tb, [1]);
    return [deviceValue(tf.reshape(tf.where(tf.reshape(tc, [1]), ta, tb), []), a.dtype)];
  }
  return [deviceValue(tf.where(tc, ta, tb), a.dtype)];
}

function powRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const a = n.input(inputs, 0);
  const b = n.input(inputs, 1);
  if (a.host && b.host) return [hostValue(hostBroadcast([a.host, b.host], a.dtype, (x, y) => Math.pow(x, y), n.where))];
  let ta = dev(n, a);
  let tb = dev(n, b);
  if (ta.dtype !== 'float32') ta = tf.cast(ta, 'float32');
  if (tb.dtype !== 'float32') tb = tf.cast(tb, 'float32');
  let y: tf.Tensor;
  const e = b.host && b.host.data.length === 1 ? b.host.data[0] : undefined;
  if (e === 2) y = tf.square(ta);
  else if (e === 1) y = tf.clone(ta);
  else if (e === 0.5) y = tf.sqrt(ta);
  else y = tf.pow(ta, tb);
  if (!isFloat(a.dtype)) y = tf.cast(tf.mul(tf.sign(y), tf.floor(tf.abs(y))), 'int32');
  return [deviceValue(y, a.dtype)];
}

function preluRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = dev(n, n.input(inputs, 0));
  const slope = dev(n, n.input(inputs, 1));
  return [deviceValue(tf.sub(tf.relu(x), tf.mul(slope, tf.relu(tf.neg(x)))), 'float32')];
}

function logical(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, host: (a: boolean, b: boolean) => boolean): OpDef {
  return binary(fn, (a, b) => (host(a !== 0, b !== 0) ? 1 : 0), { out: 'bool' });
}

/** Element-wise operators by ONNX name. */
export const elementwiseOps: Record<string, OpDef> = {
  Add: binary(tf.add, (a, b) => a + b),
  Sub: binary(tf.sub, (a, b) => a - b),
  Mul: binary(tf.mul, (a, b) => a * b),
  Div: {
    run(n, inputs) {
      const a = n.input(inputs, 0);
      if (isFloat(a.dtype) || (a.host && inputs[1]?.host)) return binary(tf.div, truncDiv).run(n, inputs);
      return binary(tf.div, truncDiv, { floatOnly: true }).run(n, inputs);
    },
  },
  Pow: { run: powRun },
  Max: variadic(tf.maximum, Math.max),
  Min: variadic(tf.minimum, Math.min),
  Sum: variadic(tf.add, (a, b) => a + b),
  Mean: variadic(tf.add, (a, b) => a + b, true),
  Equal: cmp(tf.equal, (a, b) => a === b),
  Less: cmp(tf.less, (a, b) => a < b),
  LessOrEqual: cmp(tf.lessEqual, (a, b) => a <= b),
  Greater: cmp(tf.greater, (a, b) => a > b),
  GreaterOrEqual: cmp(tf.greaterEqual, (a, b) => a >= b),
  And: logical(tf.logicalAnd, (a, b) => a && b),
  Or: logical(tf.logicalOr, (a, b) => a || b),
  Xor: logical(tf.logicalXor, (a, b) => a !== b),
  Not: {
    run(n, inputs) {
      const x = n.input(inputs, 0);
      if (x.host) return [hostValue({ ...x.host, data: x.host.data.map((v) => (v ? 0 : 1)) })];
      return [deviceValue(tf.logicalNot(dev(n, x)), 'bool')];
    },
  },
  Relu: unary((x) => tf.relu(x)),
  LeakyRelu: unary((x, n) => tf.leakyRelu(x, n.float('alpha', 0.01))),
  PRelu: { run: preluRun },
  Elu: unary((x, n) => {
    const alpha = n.float('alpha', 1);
    return alpha === 1 ? tf.elu(x) : eluTail(x, alpha);
  }),
  Celu: unary((x, n) => {
    const alpha = n.float('alpha', 1);
    return eluTail(x, alpha, alpha);
  }),
  Selu: unary((x, n) => tf.mul(eluTail(x, n.float('alpha', 1.67326319217681884765625)), n.float('gamma', 1.05070102214813232421875))),
  Sigmoid: unary((x) => tf.sigmoid(x)),
  Tanh: unary((x) => tf.tanh(x)),
  HardSigmoid: unary((x, n) => tf.clipByValue(tf.add(tf.mul(x, n.float('alpha', 0.2)), n.float('beta', 0.5)), 0, 1)),
  HardSwish: unary((x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1))),
  Softplus: unary((x) => tf.softplus(x)),
  Softsign: unary((x) => tf.div(x, tf.add(tf.abs(x), 1))),
  // x·step(x − alpha): tfjs has a (zero) gradient for Step but none for Greater, which cannot be on the tape.
  ThresholdedRelu: unary((x, n) => tf.mul(x, tf.step(tf.sub(x, n.float('alpha', 1))))),
  Exp: unary((x) => tf.exp(x)),
  Log: unary((x) => tf.log(x)),
  Sqrt: unary((x) => tf.sqrt(x)),
  Erf: unary((x) => tf.erf(x)),
  Reciprocal: unary((x) => tf.reciprocal(x)),
  Neg: unary(
    (x) => tf.neg(x),
    (v) => -v,
  ),
  Abs: unary(
    (x) => tf.abs(x),
    (v) => Math.abs(v),
  ),
  Sign: unary(
    (x) => exactSign(x),
    (v) => Math.sign(v),
  ),
  Floor: unary((x) => tf.floor(x)),
  Ceil: unary((x) => tf.ceil(x)),
  Sin: unary((x) => tf.sin(x)),
  Cos: unary((x) => tf.cos(x)),
  Clip: { run: clipRun },
  Cast: { run: castRun },
  Where: { run: whereRun },
};
