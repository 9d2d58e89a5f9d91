/**
 * Gradient rules of network layers (Gemm, MatMul, Conv, ConvTranspose, pools, normalisations, Softmax), mirroring `ops/conv.ts`, `ops/pool.ts`, `ops/nn.ts` and `ops/extra.ts`.
 * @internal
 * @module
 */
import { type AttrSpec } from '../encode.js';
import { samePads, windowTapCounts } from '../geometry.js';
import { Attrs, float, g0, int, ints, prod, where, type Rule, type RuleArgs } from './builder.js';

/** Vector–Jacobian products of this family, by ONNX operator. */
export const nnRules: Record<string, Rule> = {};
const RULES = nnRules;

/** Explicit per-axis begin/end pads of a Conv/Pool node (resolving auto_pad with the probed shapes). */
function explicitPads(a: RuleArgs, inDims: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): number[] {
  const k = kernel.length;
  const autoPad = a.n.str('auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') return a.n.ints('pads', new Array<number>(2 * k).fill(0));
  if (autoPad === 'VALID') return new Array<number>(2 * k).fill(0);
  const { begin, end } = samePads(inDims.slice(0, k), kernel, strides, dilations, autoPad === 'SAME_UPPER' ? 'upper' : 'lower');
  return [...begin, ...end];
}

/**
 * Pads and `output_padding` making a ConvTranspose of `outDims` come back to exactly `inDims`: a window that
 * overhangs the input's end (ceil mode) is cropped by extra end padding, a remainder the strides skipped is
 * restored by output padding.
 */
function transposeGeometry(
  a: RuleArgs,
  inDims: readonly number[],
  outDims: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
  pads: readonly number[],
): { pads: number[]; outputPadding: number[] } {
  const k = kernel.length;
  const p = [...pads];
  const outputPadding = inDims.map((inp, i) => {
    const full = (outDims[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - p[i]! - p[i + k]!;
    let op = inp - full;
    if (op < 0) {
      p[i + k] = p[i + k]! - op;
      op = 0;
    }
    if (op >= Math.max(strides[i]!, dilations[i]!))
      a.n.unsupported(`a geometry whose transpose restores the input size, got input ${inp} from ${outDims[i]} (output padding ${op})`);
    return op;
  });
  return { pads: p, outputPadding };
}

RULES['Gemm'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const alpha = a.n.float('alpha', 1);
  const beta = a.n.float('beta', 1);
  const tA = a.n.int('transA', 0);
  const tB = a.n.int('transB', 0);
  const [A, B, C] = node.inputs as [string, string, string | undefined];
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  // Y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A and B' likewise.
  if (a.active[0]) {
    out[0] = tA
      ? b.op1('Gemm', [b.ref(B), g], { alpha: float(alpha), transA: int(tB), transB: int(1) })
      : b.op1('Gemm', [g, b.ref(B)], { alpha: float(alpha), transB: int(tB ? 0 : 1) });
  }
  if (a.active[1]) {
    out[1] = tB
      ? b.op1('Gemm', [g, b.ref(A)], { alpha: float(alpha), transA: int(1), transB: int(tA) })
      : b.op1('Gemm', [b.ref(A), g], { alpha: float(alpha), transA: int(tA ? 0 : 1) });
  }
  if (C && a.active[2]) {
    const scaled = beta === 1 ? g : b.op1('Mul', [g, b.constant([beta], [])]);
    out[2] = b.unbroadcast(scaled, node.outputs[0]!, C, a.where);
  }
  return out;
};

RULES['MatMul'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const [A, B] = node.inputs as [string, string];
  const ra = b.dims(A, a.where).length;
  const rb = b.dims(B, a.where).length;
  if (ra < 2 || rb < 2) a.n.unsupported('operands of rank ≥ 2');
  const swap = (r: number): AttrSpec => ints([...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
  const go = b.dims(node.outputs[0]!, a.where).length;
  return [
    a.active[0] ? b.unbroadcastMatmul(b.op1('MatMul', [g, b.op1('Transpose', [b.ref(B)], { perm: swap(rb) })]), go, A, a.where) : undefined,
    a.active[1] ? b.unbroadcastMatmul(b.op1('MatMul', [b.op1('Transpose', [b.ref(A)], { perm: swap(ra) }), g]), go, B, a.where) : undefined,
  ];
};

RULES['Conv'] = (a) => {
  const { b, node } = a;
  if (a.active[1] || a.active[2]) a.n.unsupported('constant weights and bias');
  const [X, W] = node.inputs as [string, string];
  const xd = b.dims(X, a.where);
  const yd = b.dims(node.outputs[0]!, a.where);
  const wd = b.dims(W, a.where);
  const k = xd.length - 2;
  const kernel = a.n.ints('kernel_shape', wd.slice(2));
  const strides = a.n.ints('strides', new Array<number>(k).fill(1));
  const dilations = a.n.ints('dilations', new Array<number>(k).fill(1));
  const pads = explicitPads(a, xd.slice(2), kernel, strides, dilations);
  const group = a.n.int('group', 1);
  const weight = b.constValue(W);
  const reach = kernel.map((kk, i) => (kk - 1) * dilations[i]!);
  if (weight && strides.every((st) => st === 1) && pads.every((p, i) => p <= reach[i % k]!)) {
    // Stride 1: the input-gradient is a forward Conv of g with the spatially flipped, in/out-swapped kernel, padded
    // by (k − 1)·d − p; onnxruntime's Conv (NCHWc kernels) is several times faster than its ConvTranspose.
    const flipped = b.constant(flipSwapKernel(weight.data, wd, group), [xd[1]!, wd[0]! / group, ...wd.slice(2)]);
    const attrs: Attrs = {
      kernel_shape: ints(kernel),
      dilations: ints(dilations),
      group: int(group),
      pads: ints(pads.map((p, i) => reach[i % k]! - p)),
    };
    return [b.op1('Conv', [g0(a), flipped], attrs), undefined, undefined];
  }
  const geo = transposeGeometry(a, xd.slice(2), yd.slice(2), kernel, strides, dilations, pads);
  const outPad = geo.outputPadding;
  const attrs: Attrs = {
    kernel_shape: ints(kernel),
    strides: ints(strides),
    dilations: ints(dilations),
    pads: ints(geo.pads),
    group: int(group),
  };
  if (outPad.some((p) => p > 0)) attrs['output_padding'] = ints(outPad);
  return [b.op1('ConvTranspose', [g0(a), b.ref(W)], attrs), undefined, undefined];
};

/**
 * A Conv weight `[M, C/g, k1, ..., kn]` turned into the weight of its transpose as a Conv: `[C, M/g, k1, ..., kn]`,
 * output and input channels swapped within each group and every spatial axis reversed.
 */
function flipSwapKernel(data: ArrayLike<number>, dims: readonly number[], group: number): number[] {
  const [m, cg, ...ks] = dims as [number, number, ...number[]];
  const mg = m / group;
  const area = prod(ks);
  const out = new Array<number>(data.length);
  for (let gi = 0; gi < group; gi++) {
    for (let mo = 0; mo < mg; mo++) {
      for (let ci = 0; ci < cg; ci++) {
        const src = ((gi * mg + mo) * cg + ci) * area;
        const dst = ((gi * cg + ci) * mg + mo) * area;
        for (let t = 0; t < area; t++) out[dst + area - 1 - t] = data[src + t]!;
      }
    }
  }
  return out;
}

RULES['ConvTranspose'] = (a) => {
  const { b, node } = a;
  if (a.active[1] || a.active[2]) a.n.unsupported('constant weights and bias');
  if (a.n.has('output_shape') || a.n.str('auto_pad', 'NOTSET') !== 'NOTSET') a.n.unsupported('explicit pads (no output_shape or auto_pad)');
  const [X, W] = node.inputs as [string, string];
  const k = b.dims(X, a.where).length - 2;
  const wd = b.dims(W, a.where);
  const attrs: Attrs = {
    kernel_shape: ints(a.n.ints('kernel_shape', wd.slice(2))),
    strides: ints(a.n.ints('strides', new Array<number>(k).fill(1))),
    dilations: ints(a.n.ints('dilations', new Array<number>(k).fill(1))),
    pads: ints(a.n.ints('pads', new Array<number>(2 * k).fill(0))),
    group: int(a.n.int('group', 1)),
  };
  return [b.op1('Conv', [g0(a), b.ref(W)], attrs), undefined, undefined];
};

RULES['MaxPool'] = (a) => {
  const { b, node } = a;
  if (a.n.int('storage_order', 0) !== 0) a.n.unsupported('row-major storage_order 0');
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const k = xd.length - 2;
  const kernel = a.n.ints('kernel_shape', []);
  const strides = a.n.ints('strides', new Array<number>(k).fill(1));
  const dilations = a.n.ints('dilations', new Array<number>(k).fill(1));
  // A second MaxPool with the same attributes gives the flat indices of each window's (first) maximum.
  const attrs: Attrs = {};
  for (const [key, v] of node.attributes) if (v.kind !== 'other' && v.kind !== 'tensor') attrs[key] = v as AttrSpec;
  const idx = b.save(b.fwdOp('MaxPool', [X], attrs, 2)[1]!);
  let g = g0(a);
  const shape = b.shapeOf(X, a.where);
  // Relu → MaxPool (used by nothing else): the gradient reaches only each window's maximum, where relu's mask is
  // (pooled > 0); masking the small pooled gradient and skipping relu's full-size mask gives the same values.
  const relu = b.producer(X);
  let target: string | undefined;
  if (relu && relu.opType === 'Relu' && relu.domain === '' && b.uses(X) === 1 && b.active(relu.inputs[0]!)) {
    g = where(b, b.save(b.fwdOp('Greater', [node.outputs[0]!, b.fwdScalar(0)])[0]!), g);
    target = relu.inputs[0]!;
  }
  const send = (gx: string): (string | undefined)[] => {
    if (!target) return [gx];
    b.extra.push([target, gx]);
    return [undefined];
  };
  // MaxUnpool places each value at its index (fast) but checks the size with its own formula: use it only for
  // unpadded, floor-mode, non-overlapping windows; ScatterElements with 'add' handles every other geometry.
  const overlapping = kernel.some((kk, i) => (kk - 1) * dilations[i]! + 1 > strides[i]!);
  const padded = a.n.ints('pads', []).some((p) => p !== 0) || a.n.str('auto_pad', 'NOTSET') !== 'NOTSET' || a.n.int('ceil_mode', 0) !== 0;
  if (!overlapping && !padded) {
    return send(b.op1('MaxUnpool', [g, idx, shape], { kernel_shape: ints(kernel), strides: ints(strides) }));
  }
  const flat = b.constant([-1], [1], 'int64');
  const zeros = b.op1('Reshape', [b.op1('ConstantOfShape', [shape], { value: { kind: 'tensor', value: { dtype: 'float32', dims: [1], data: [0] } } }), flat]);
  const scattered = b.op1('ScatterElements', [zeros, b.op1('Reshape', [idx, flat]), b.op1('Reshape', [g, flat])], {
    axis: int(0),
    reduction: { kind: 'string', value: 'add' },
  });
  return send(b.op1('Reshape', [scattered, shape]));
};

RULES['AveragePool'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const yd = b.dims(node.outputs[0]!, a.where);
  const k = xd.length - 2;
  if (k !== 1 && k !== 2) a.n.unsupported('1-D or 2-D pooling');
  const kernel = a.n.ints('kernel_shape', []);
  const strides = a.n.ints('strides', new Array<number>(k).fill(1));
  const dilations = a.n.ints('dilations', new Array<number>(k).fill(1));
  const pads = explicitPads(a, xd.slice(2), kernel, strides, dilations);
  const includePad = a.n.int('count_include_pad', 0) === 1;
  // Divisor of each output position (windows clipped to the input, or to the padded input).
  const counts = (axis: number): number[] =>
    windowTapCounts(xd[2 + axis]!, yd[2 + axis]!, kernel[axis]!, strides[axis]!, dilations[axis]!, pads[axis]!, pads[axis + k]!, includePad);
  const per = counts(0);
  const per2 = k === 2 ? counts(1) : [1];
  const scale: number[] = [];
  for (const c0 of per) for (const c1 of per2) scale.push(1 / (c0 * c1));
  const scaled = b.op1('Mul', [g0(a), b.constant(scale, yd.slice(2))]);
  const channels = xd[1]!;
  const ones = b.constant(new Array<number>(channels * prod(kernel)).fill(1), [channels, 1, ...kernel]);
  const geo = transposeGeometry(a, xd.slice(2), yd.slice(2), kernel, strides, dilations, pads);
  const outPad = geo.outputPadding;
  const attrs: Attrs = { kernel_shape: ints(kernel), strides: ints(strides), dilations: ints(dilations), pads: ints(geo.pads), group: int(channels) };
  if (outPad.some((p) => p > 0)) attrs['output_padding'] = ints(outPad);
  return [b.op1('ConvTranspose', [scaled, ones], attrs)];
};

RULES['GlobalAveragePool'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const area = prod(b.dims(X, a.where).slice(2));
  return [b.op1('Mul', [b.op1('Expand', [g0(a), b.shapeOf(X, a.where, 'expand')]), b.constant([1 / area], [])])];
};

RULES['BatchNormalization'] = (a) => {
  const { b, node } = a;
  if (a.n.int('training_mode', 0) !== 0 || node.outputs.length > 1) a.n.unsupported('inference mode');
  if (a.active.slice(1).some(Boolean)) a.n.unsupported('constant scale, bias, mean and variance');
  const rank = b.dims(node.inputs[0]!, a.where).length;
  const eps = a.n.float('epsilon', 1e-5);
  const k = b.op1('Div', [b.ref(node.inputs[1]!), b.op1('Sqrt', [b.op1('Add', [b.ref(node.inputs[4]!), b.constant([eps], [])])])]);
  const shaped = b.op1('Reshape', [k, b.constant([-1, ...new Array<number>(Math.max(0, rank - 2)).fill(1)], [Math.max(1, rank - 1)], 'int64')]);
  return [b.op1('Mul', [g0(a), shaped]), undefined, undefined, undefined, undefined];
};

function softmaxAxis(a: RuleArgs): number {
  const rank = a.b.dims(a.node.inputs[0]!, a.where).length;
  const axis = a.n.int('axis', a.b.opset < 13 ? 1 : -1);
  const ax = axis < 0 ? axis + rank : axis;
  if (a.b.opset < 13 && ax !== rank - 1) a.n.unsupported('the last axis (opset < 13 flattens from the axis on)');
  return ax;
}
RULES['Softmax'] = (a) => {
  const { b, node } = a;
  const ax = softmaxAxis(a);
  const y = b.ref(node.outputs[0]!);
  const g = g0(a);
  const s = b.op1('ReduceSum', [b.op1('Mul', [g, y]), b.constant([ax], [1], 'int64')], { keepdims: int(1) });
  return [b.op1('Mul', [y, b.op1('Sub', [g, s])])];
};
RULES['LogSoftmax'] = (a) => {
  const { b, node } = a;
  const ax = softmaxAxis(a);
  const p = b.op1('Exp', [b.ref(node.outputs[0]!)]);
  const g = g0(a);
  const s = b.op1('ReduceSum', [g, b.constant([ax], [1], 'int64')], { keepdims: int(1) });
  return [b.op1('Sub', [g, b.op1('Mul', [p, s])])];
};

RULES['GlobalMaxPool'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const spatial = b.dims(X, a.where).slice(2);
  // A MaxPool over the whole plane gives the index of the (first) maximum; MaxUnpool puts the gradient there.
  const idx = b.save(b.fwdOp('MaxPool', [X], { kernel_shape: ints(spatial) }, 2)[1]!);
  return [b.op1('MaxUnpool', [g0(a), idx, b.shapeOf(X, a.where)], { kernel_shape: ints(spatial) })];
};

/**
 * Normalisation over `axes` with scale (LayerNormalization, InstanceNormalization): with x̂ = (x − μ)/σ and
 * ĝ = g·scale, the input-gradient is (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/σ. μ and σ are recomputed from the saved input.
 */
function normalisationGrad(a: RuleArgs, axes: number[], scaleShape: string | undefined): string {
  const { b, node } = a;
  const eps = a.n.float('epsilon', 1e-5);
  const ax = b.constant(axes, [axes.length], 'int64');
  const x = b.ref(node.inputs[0]!);
  const mean = (v: string): string => b.op1('ReduceMean', [v, ax], { keepdims: int(1) });
  const xc = b.op1('Sub', [x, mean(x)]);
  const inv = b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [mean(b.op1('Mul', [xc, xc])), b.constant([eps], [])])])]);
  const xhat = b.op1('Mul', [xc, inv]);
  let scale = b.ref(node.inputs[1]!);
  if (scaleShape) scale = b.op1('Reshape', [scale, scaleShape]);
  const gh = b.op1('Mul', [g0(a), scale]);
  const inner = b.op1('Sub', [b.op1('Sub', [gh, mean(gh)]), b.op1('Mul', [xhat, mean(b.op1('Mul', [gh, xhat]))])]);
  return b.op1('Mul', [inner, inv]);
}
RULES['LayerNormalization'] = (a) => {
  const { b, node } = a;
  if (a.active.slice(1).some(Boolean)) a.n.unsupported('constant scale and bias');
  if (node.outputs.length > 1 && node.outputs.slice(1).some((o) => o !== '')) a.n.unsupported('no Mean/InvStdDev outputs in use');
  const rank = b.dims(node.inputs[0]!, a.where).length;
  const axis0 = a.n.int('axis', -1);
  const axis = axis0 < 0 ? axis0 + rank : axis0;
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  if (axes.some((x) => b.batchAxes(node.inputs[0]!).includes(x))) a.n.unsupported('normalisation over non-batch axes');
  return [normalisationGrad(a, axes, undefined), undefined, undefined];
};
RULES['InstanceNormalization'] = (a) => {
  const { b, node } = a;
  if (a.active.slice(1).some(Boolean)) a.n.unsupported('constant scale and bias');
  const rank = b.dims(node.inputs[0]!, a.where).length;
  const axes = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  const shape = b.constant([-1, ...new Array<number>(rank - 2).fill(1)], [rank - 1], 'int64');
  return [normalisationGrad(a, axes, shape), undefined, undefined];
};
