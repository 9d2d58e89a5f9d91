/**
 * Neural-network operators besides convolutions (`conv.ts`) and pools (`pool.ts`): BatchNormalization, Gemm,
 * MatMul, Softmax, LogSoftmax, Dropout.
 * Spec: https://onnx.ai/onnx/operators/
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpDef, OpNode } from '../op.js';
import { deviceValue, hostValue, nhwcValue, normAxis, sizeOf, toHost, type Value } from '../value.js';
import { dev } from './spatial.js';

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
