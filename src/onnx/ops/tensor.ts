/**
 * Shape and data-movement operators (Reshape, Transpose, Slice, Gather, Concat, Pad, ...), constants and
 * reductions. Shape-like integer tensors are computed on the host; float data stays on the device.
 * Spec: https://onnx.ai/onnx/operators/
 * @internal
 * @module
 */
import * as tf from '../../tf.js';
import type { OpDef, OpNode } from '../op.js';
import type { HostTensor } from '../proto.js';
import {
  broadcastShapes,
  deviceValue,
  gatherAxis,
  hostBroadcast,
  hostGather,
  hostTensor,
  hostTranspose,
  hostValue,
  ints,
  nhwcValue,
  normAxis,
  isFloat,
  sizeOf,
  toDevice,
  type Value,
} from '../value.js';

/** A value with a new shape (same data). */
function reshaped(n: OpNode, x: Value, shape: readonly number[]): Value {
  if (sizeOf(shape) !== sizeOf(x.shape)) n.shapeError(`a shape with ${sizeOf(x.shape)} elements, got [${shape.join(', ')}]`);
  if (x.host) return hostValue({ dtype: x.dtype, shape: [...shape], data: x.host.data });
  return deviceValue(tf.reshape(toDevice(x, n.where), [...shape]), x.dtype);
}

function reshapeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const spec = n.opset < 5 ? n.ints('shape', []) : ints(n.input(inputs, 1));
  const allowZero = n.int('allowzero', 0) === 1;
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? (x.shape[i] ?? n.shapeError(`dimension ${i} to copy, got rank ${x.shape.length}`)) : d));
  const unknown = shape.indexOf(-1);
  if (unknown >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== unknown));
    shape[unknown] = known === 0 ? 0 : sizeOf(x.shape) / known;
  }
  n.checkElements(shape, 'a target');
  return [reshaped(n, x, shape)];
}

function flattenRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const r = x.shape.length;
  let axis = n.int('axis', 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) n.shapeError(`axis in [${-r}, ${r}], got ${n.int('axis', 1)}`);
  return [reshaped(n, x, [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis))])];
}

function transposeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const r = x.shape.length;
  const perm = n.ints('perm', [...Array(r).keys()].reverse());
  if (x.host) return [hostValue(hostTranspose(x.host, perm))];
  // NCHW → NHWC of a value already held channels-last: no work.
  if (x.nhwc && perm.join() === '0,2,3,1') return [deviceValue(x.nhwc, x.dtype)];
  // NHWC → NCHW (graphs converted from TensorFlow start with it): the input is the channels-last view.
  if (perm.join() === '0,3,1,2' && isFloat(x.dtype)) return [nhwcValue(toDevice(x, n.where), x.dtype)];
  return [deviceValue(tf.transpose(toDevice(x, n.where), perm), x.dtype)];
}

function axesOf(n: OpNode, inputs: readonly (Value | undefined)[], inputSince: number, index = 1): number[] | undefined {
  if (n.opset >= inputSince) return inputs[index] ? ints(inputs[index]) : undefined;
  return n.ints('axes');
}

function squeezeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const r = x.shape.length;
  const axes = axesOf(n, inputs, 13)?.map((a) => normAxis(a, r, n.where));
  const shape = x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
  if (axes?.some((a) => x.shape[a] !== 1)) n.shapeError(`squeezed axes of size 1, got shape [${x.shape.join(', ')}] and axes [${axes.join(', ')}]`);
  return [reshaped(n, x, shape)];
}

function unsqueezeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const axesIn = axesOf(n, inputs, 13) ?? n.shapeError('axes, got none');
  const r = x.shape.length + axesIn.length;
  const axes = axesIn.map((a) => normAxis(a, r, n.where)).sort((a, b) => a - b);
  const shape = [...x.shape];
  for (const a of axes) shape.splice(a, 0, 1);
  return [reshaped(n, x, shape)];
}

function hostConcat(ts: readonly HostTensor[], axis: number): HostTensor {
  const first = ts[0]!;
  const outer = sizeOf(first.shape.slice(0, axis));
  const shape = [...first.shape];
  shape[axis] = ts.reduce((s, t) => s + t.shape[axis]!, 0);
  const out = new Float64Array(sizeOf(shape));
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const t of ts) {
      const chunk = sizeOf(t.shape.slice(axis));
      out.set(t.data.subarray(a * chunk, (a + 1) * chunk), o);
      o += chunk;
    }
  }
  return { dtype: first.dtype, shape, data: out };
}

function concatRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const vs = inputs.filter((v): v is Value => v !== undefined);
  if (vs.length === 0) n.shapeError('at least one input, got none');
  const r = vs[0]!.shape.length;
  const axis = normAxis(n.int('axis', n.opset < 4 ? 1 : 0), r, n.where);
  if (vs.every((v) => v.host))
    return [
      hostValue(
        hostConcat(
          vs.map((v) => v.host!),
          axis,
        ),
      ),
    ];
  const ts = vs.filter((v) => sizeOf(v.shape) > 0).map((v) => toDevice(v, n.where));
  if (ts.length === 0)
    return [
      hostValue(
        hostConcat(
          vs.map((v) => ({ dtype: v.dtype, shape: v.shape, data: new Float64Array(0) })),
          axis,
        ),
      ),
    ];
  const dtype = ts[0]!.dtype;
  return [
    deviceValue(
      ts.length === 1
        ? tf.clone(ts[0]!)
        : tf.concat(
            ts.map((t) => (t.dtype === dtype ? t : tf.cast(t, dtype))),
            axis,
          ),
      vs[0]!.dtype,
    ),
  ];
}

/** Index lists of a Slice on each axis (undefined where the axis is untouched). */
function sliceIndices(shape: readonly number[], starts: number[], ends: number[], axes: number[], steps: number[], n: OpNode): (number[] | undefined)[] {
  const out: (number[] | undefined)[] = shape.map(() => undefined);
  axes.forEach((axisIn, i) => {
    const axis = normAxis(axisIn, shape.length, n.where);
    const dim = shape[axis]!;
    const step = steps[i] ?? 1;
    if (step === 0) n.shapeError('non-zero steps, got 0');
    let s = starts[i]!;
    let e = ends[i]!;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    const idx: number[] = [];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
      for (let k = s; k < e; k += step) idx.push(k);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
      for (let k = s; k > e; k += step) idx.push(k);
    }
    out[axis] = idx;
  });
  return out;
}

function sliceRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  let starts: number[];
  let ends: number[];
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (n.opset < 10) {
    starts = n.ints('starts', []);
    ends = n.ints('ends', []);
    axes = n.ints('axes');
  } else {
    starts = ints(n.input(inputs, 1));
    ends = ints(n.input(inputs, 2));
    axes = inputs[3] ? ints(inputs[3]) : undefined;
    steps = inputs[4] ? ints(inputs[4]) : undefined;
  }
  axes ??= starts.map((_, i) => i);
  steps ??= starts.map(() => 1);
  const lists = sliceIndices(x.shape, starts, ends, axes, steps, n);
  if (x.host) {
    let h = x.host;
    lists.forEach((idx, axis) => {
      if (idx) h = hostGather(h, idx, axis);
    });
    return [hostValue(h)];
  }
  let t = toDevice(x, n.where);
  // Contiguous ranges first (one slice), then strided axes by gathering.
  const contiguous = lists.map((idx) => !idx || idx.length === 0 || idx.every((v, i) => i === 0 || v === idx[i - 1]! + 1));
  const begin = lists.map((idx, a) => (idx && contiguous[a] && idx.length > 0 ? idx[0]! : 0));
  const size = lists.map((idx, a) => (idx && contiguous[a] ? idx.length : t.shape[a]!));
  if (size.some((s) => s === 0)) return [hostValue({ dtype: x.dtype, shape: size, data: new Float64Array(0) })];
  if (lists.some((idx, a) => idx && contiguous[a])) t = tf.slice(t, begin, size);
  lists.forEach((idx, axis) => {
    if (idx && !contiguous[axis]) t = gatherAxis(t, idx, axis);
  });
  return [deviceValue(t, x.dtype)];
}

function gatherRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const iv = n.input(inputs, 1);
  const r = x.shape.length;
  const axis = normAxis(n.int('axis', 0), r, n.where);
  const dim = x.shape[axis]!;
  const outShape = [...x.shape.slice(0, axis), ...iv.shape, ...x.shape.slice(axis + 1)];
  n.checkElements(outShape);
  if (!iv.host) {
    let idx = toDevice(iv, n.where);
    idx = tf.where(tf.less(idx, 0), tf.add(idx, dim), idx);
    return [deviceValue(tf.gather(toDevice(x, n.where), idx, axis), x.dtype)];
  }
  const flat = Array.from(iv.host.data, (v) => (v < 0 ? v + dim : v));
  if (flat.some((v) => v < 0 || v >= dim)) n.shapeError(`indices in [${-dim}, ${dim - 1}], got [${Array.from(iv.host.data).slice(0, 8).join(', ')}]`);
  if (x.host) {
    const g = hostGather(x.host, flat, axis);
    return [hostValue({ ...g, shape: outShape })];
  }
  const g = gatherAxis(toDevice(x, n.where), flat, axis);
  return [deviceValue(tf.reshape(g, outShape), x.dtype)];
}

function shapeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const r = x.shape.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(n.int('start', 0));
  const end = clamp(n.int('end', r));
  const dims = x.shape.slice(start, Math.max(start, end));
  return [hostValue(hostTensor('int64', [dims.length], dims))];
}

function constantRun(n: OpNode): Value[] {
  const t = n.tensor('value');
  if (t) return [hostValue(t)];
  if (n.has('value_float')) return [hostValue(hostTensor('float32', [], [n.float('value_float', 0)]))];
  if (n.has('value_int')) return [hostValue(hostTensor('int64', [], [n.int('value_int', 0)]))];
  const fs = n.floats('value_floats');
  if (fs && n.has('value_floats')) return [hostValue(hostTensor('float32', [fs.length], fs))];
  const is = n.ints('value_ints');
  if (is) return [hostValue(hostTensor('int64', [is.length], is))];
  return n.unsupported('a value, value_float(s) or value_int(s) attribute (sparse and string constants are not supported)');
}

function constantOfShapeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const shape = ints(n.input(inputs, 0));
  n.checkElements(shape);
  const v = n.tensor('value');
  const dtype = v?.dtype ?? 'float32';
  const fill = v?.data[0] ?? 0;
  return [hostValue({ dtype, shape, data: new Float64Array(sizeOf(shape)).fill(fill) })];
}

function expandRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const target = ints(n.input(inputs, 1));
  n.checkElements(target, 'a target');
  const shape = broadcastShapes(x.shape, target, n.where);
  n.checkElements(shape);
  if (x.host) {
    const ones: HostTensor = { dtype: x.dtype, shape, data: new Float64Array(sizeOf(shape)) };
    return [hostValue(hostBroadcast([x.host, ones], x.dtype, (a) => a, n.where))];
  }
  const t = toDevice(x, n.where);
  const lifted = t.rank < shape.length ? tf.reshape(t, [...new Array<number>(shape.length - t.rank).fill(1), ...t.shape]) : t;
  return [deviceValue(tf.broadcastTo(lifted, shape), x.dtype)];
}

function reflectIndex(i: number, dim: number, mode: string): number {
  if (mode === 'edge') return Math.min(Math.max(i, 0), dim - 1);
  if (mode === 'wrap') return ((i % dim) + dim) % dim;
  if (dim === 1) return 0;
  let k = i;
  while (k < 0 || k >= dim) k = k < 0 ? -k : 2 * (dim - 1) - k;
  return k;
}

function padRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const r = x.shape.length;
  const mode = n.str('mode', 'constant');
  let pads: number[];
  let value: number;
  if (n.opset < 11) {
    pads = n.ints(n.has('paddings') ? 'paddings' : 'pads', []);
    value = n.float('value', 0);
  } else {
    const raw = ints(n.input(inputs, 1));
    value = inputs[2] && sizeOf(inputs[2].shape) > 0 ? (ints(inputs[2])[0] ?? 0) : 0;
    const axes = inputs[3] ? ints(inputs[3]).map((a) => normAxis(a, r, n.where)) : undefined;
    if (axes) {
      pads = new Array<number>(2 * r).fill(0);
      axes.forEach((a, i) => {
        pads[a] = raw[i]!;
        pads[a + r] = raw[i + axes.length]!;
      });
    } else pads = raw;
  }
  if (pads.length !== 2 * r) n.shapeError(`${2 * r} pads for a rank-${r} input, got ${pads.length}`);
  n.checkElements(
    x.shape.map((d, i) => Math.max(0, d + pads[i]! + pads[i + r]!)),
    'a padded output',
  );
  if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) n.unsupported(`mode constant, reflect, edge or wrap, got ${mode}`);
  let t = toDevice(x, n.where);
  // Negative pads crop first.
  const begin = x.shape.map((_, i) => Math.max(0, -pads[i]!));
  const size = x.shape.map((d, i) => d - begin[i]! - Math.max(0, -pads[i + r]!));
  if (begin.some((b) => b > 0) || size.some((s, i) => s !== x.shape[i])) t = tf.slice(t, begin, size);
  const before = x.shape.map((_, i) => Math.max(0, pads[i]!));
  const after = x.shape.map((_, i) => Math.max(0, pads[i + r]!));
  if (mode === 'constant') {
    if (before.some((p) => p > 0) || after.some((p) => p > 0))
      t = tf.pad(
        t,
        before.map((b, i) => [b, after[i]!] as [number, number]),
        value,
      );
  } else {
    for (let a = 0; a < r; a++) {
      if (before[a] === 0 && after[a] === 0) continue;
      const dim = t.shape[a]!;
      const idx = Array.from({ length: dim + before[a]! + after[a]! }, (_, k) => reflectIndex(k - before[a]!, dim, mode));
      t = gatherAxis(t, idx, a);
    }
  }
  return [deviceValue(t === x.tensor ? tf.clone(t) : t, x.dtype)];
}

type Reducer = (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor;

function reduce(fn: Reducer, axesInputSince = 18): OpDef {
  return {
    run(n, inputs) {
      const xv = n.input(inputs, 0);
      const r = xv.shape.length;
      const given = axesOf(n, inputs, axesInputSince);
      const keep = n.int('keepdims', 1) === 1;
      if ((!given || given.length === 0) && n.int('noop_with_empty_axes', 0) === 1) return [xv];
      const axes = given && given.length > 0 ? given.map((a) => normAxis(a, r, n.where)) : [...Array(r).keys()];
      if (xv.nhwc && axes.length === 2 && axes.includes(2) && axes.includes(3)) {
        // Spatial reduction of a channels-last value: [N, H, W, C] → [N, 1, 1, C] (or [N, C]), same order as NCHW.
        const y = fn(xv.nhwc, [1, 2], keep);
        return [keep ? nhwcValue(y, xv.dtype) : deviceValue(y, xv.dtype)];
      }
      let x = toDevice(xv, n.where);
      const dt = x.dtype;
      if (dt !== 'float32') x = tf.cast(x, 'float32');
      let y = fn(x, axes, keep);
      if (dt !== 'float32') y = tf.cast(y, dt);
      return [deviceValue(y, xv.dtype)];
    },
  };
}

function splitSizes(total: number, parts: number): number[] {
  const size = Math.ceil(total / parts);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(size, total - i * size)));
}

function splitRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const axis = normAxis(n.int('axis', 0), x.shape.length, n.where);
  const parts = n.node.outputs.length;
  const given = n.opset >= 13 ? (inputs[1] ? ints(inputs[1]) : undefined) : n.ints('split');
  const sizes = given ?? splitSizes(x.shape[axis]!, n.int('num_outputs', parts));
  if (sizes.some((v) => !Number.isSafeInteger(v) || v < 0) || sizes.reduce((a, b) => a + b, 0) > x.shape[axis]!) {
    n.shapeError(`split sizes of non-negative integers summing to at most ${x.shape[axis]}, got [${sizes.slice(0, 8).join(', ')}]`);
  }
  let offset = 0;
  return sizes.map((s) => {
    const idx = Array.from({ length: s }, (_, i) => offset + i);
    offset += s;
    if (x.host) return hostValue(hostGather(x.host, idx, axis));
    const t = toDevice(x, n.where);
    const begin = t.shape.map((_, a) => (a === axis ? (idx[0] ?? 0) : 0));
    const size = t.shape.map((d, a) => (a === axis ? s : d));
    return deviceValue(tf.slice(t, begin, size), x.dtype);
  });
}

function tileRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const x = n.input(inputs, 0);
  const reps = ints(n.input(inputs, 1));
  if (reps.length !== x.shape.length) n.shapeError(`${x.shape.length} repeats for a rank-${x.shape.length} input, got ${reps.length}`);
  n.checkElements(reps, 'repeats');
  n.checkElements(
    x.shape.map((d, i) => d * reps[i]!),
    'a tiled output',
  );
  if (x.host) {
    let h = x.host;
    reps.forEach((rep, a) => {
      const dim = h.shape[a]!;
      h = hostGather(
        h,
        Array.from({ length: dim * rep }, (_, k) => k % dim),
        a,
      );
    });
    return [hostValue(h)];
  }
  return [deviceValue(tf.tile(toDevice(x, n.where), reps), x.dtype)];
}

function rangeRun(n: OpNode, inputs: readonly (Value | undefined)[]): Value[] {
  const [start, limit, delta] = [0, 1, 2].map((i) => ints(n.input(inputs, i))[0]!) as [number, number, number];
  if (![start, limit, delta].every(Number.isFinite) || delta === 0) {
    n.shapeError(`finite start, limit and a non-zero delta, got start ${start}, limit ${limit}, delta ${delta}`);
  }
  const count = Math.max(0, Math.ceil((limit - start) / delta));
  n.checkElements([count]);
  const dtype = n.input(inputs, 0).dtype;
  return [
    hostValue(
      hostTensor(
        dtype,
        [count],
        Array.from({ length: count }, (_, i) => start + i * delta),
      ),
    ),
  ];
}

/** Shape, data-movement, constant and reduction operators by ONNX name. */
export const tensorOps: Record<string, OpDef> = {
  Reshape: { run: reshapeRun },
  Flatten: { run: flattenRun },
  Transpose: { run: transposeRun },
  Squeeze: { run: squeezeRun },
  Unsqueeze: { run: unsqueezeRun },
  Concat: { run: concatRun },
  Slice: { run: sliceRun },
  Gather: { run: gatherRun },
  Shape: { run: shapeRun },
  Size: { run: (n, i) => [hostValue(hostTensor('int64', [], [sizeOf(n.input(i, 0).shape)]))] },
  Constant: { run: (n) => constantRun(n) },
  ConstantOfShape: { run: constantOfShapeRun },
  Identity: { run: (n, i) => [n.input(i, 0)] },
  Expand: { run: expandRun },
  Pad: { run: padRun },
  Split: { run: splitRun },
  Tile: { run: tileRun },
  Range: { run: rangeRun },
  ReduceMean: reduce((x, a, k) => tf.mean(x, a, k)),
  ReduceSum: reduce((x, a, k) => tf.sum(x, a, k), 13),
  ReduceMax: reduce((x, a, k) => tf.max(x, a, k)),
  ReduceMin: reduce((x, a, k) => tf.min(x, a, k)),
  ReduceProd: reduce((x, a, k) => tf.prod(x, a, k)),
  ReduceL1: reduce((x, a, k) => tf.sum(tf.abs(x), a, k)),
  ReduceL2: reduce((x, a, k) => tf.sqrt(tf.sum(tf.square(x), a, k))),
  ReduceSumSquare: reduce((x, a, k) => tf.sum(tf.square(x), a, k)),
  ReduceLogSum: reduce((x, a, k) => tf.log(tf.sum(x, a, k))),
  ReduceLogSumExp: reduce((x, a, k) => tf.logSumExp(x, a, k)),
};
