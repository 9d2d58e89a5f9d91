/**
 * Gradient rules of shape, indexing and reduction operators (Reshape, Transpose, Concat, Split, Pad, Slice, Gather, Tile, DepthToSpace, reductions), mirroring `ops/tensor.ts`.
 * @internal
 * @module
 */
import { g0, int, ints, prod, where, type Rule, type RuleArgs } from './builder.js';

/** Vector–Jacobian products of this family, by ONNX operator. */
export const tensorRules: Record<string, Rule> = {};
const RULES = tensorRules;

for (const op of ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']) {
  RULES[op] = (a) => [a.b.op1('Reshape', [g0(a), a.b.shapeOf(a.node.inputs[0]!, a.where, 'reshape')])];
}

RULES['Transpose'] = (a) => {
  const rank = a.b.dims(a.node.inputs[0]!, a.where).length;
  const perm = a.n.ints(
    'perm',
    Array.from({ length: rank }, (_, i) => rank - 1 - i),
  );
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => (inv[p] = i));
  return [a.b.op1('Transpose', [g0(a)], { perm: ints(inv) })];
};

function reduceAxes(a: RuleArgs, rank: number, attrForm: boolean): number[] {
  let axes: number[] | undefined;
  if (attrForm) axes = a.n.ints('axes');
  else if (a.node.inputs[1]) {
    if (a.active[1]) a.n.unsupported('constant axes');
    const t = a.b.constValue(a.node.inputs[1]);
    if (!t) a.n.unsupported('constant axes (an initializer or Constant)');
    axes = [...t.data];
  }
  if (!axes || axes.length === 0) {
    if (!attrForm && a.n.int('noop_with_empty_axes', 0) === 1) return [];
    return Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((x) => (x < 0 ? x + rank : x)).sort((p, q) => p - q);
}

function reduceRule(mean: boolean, attrUntil: number): Rule {
  return (a) => {
    const { b, node } = a;
    const X = node.inputs[0]!;
    const xd = b.dims(X, a.where);
    const axes = reduceAxes(a, xd.length, b.opset < attrUntil);
    if (axes.length === 0) return [g0(a), undefined];
    let g = g0(a);
    if (a.n.int('keepdims', 1) === 0) g = b.op1('Unsqueeze', [g, b.constant(axes, [axes.length], 'int64')]);
    let out = b.op1('Expand', [g, b.shapeOf(X, a.where, 'expand')]);
    if (mean) {
      if (axes.some((ax) => b.batchAxes(X).includes(ax))) a.n.unsupported('a mean over non-batch axes');
      out = b.op1('Mul', [out, b.constant([1 / prod(axes.map((ax) => xd[ax]!))], [])]);
    }
    return [out, undefined];
  };
}
RULES['ReduceMean'] = reduceRule(true, 18);
RULES['ReduceSum'] = reduceRule(false, 13);

RULES['Concat'] = (a) => {
  const { b, node } = a;
  const out = node.outputs[0]!;
  const rank = b.dims(out, a.where).length;
  const axis0 = a.n.int('axis', 0);
  const axis = axis0 < 0 ? axis0 + rank : axis0;
  if (b.batchAxes(out).includes(axis)) a.n.unsupported('a concatenation along a non-batch axis');
  const g = g0(a);
  let start = 0;
  return node.inputs.map((i, k) => {
    const size = b.dims(i, a.where)[axis]!;
    const s = start;
    start += size;
    if (!a.active[k]) return undefined;
    return b.op1('Slice', [g, b.constant([s], [1], 'int64'), b.constant([s + size], [1], 'int64'), b.constant([axis], [1], 'int64')]);
  });
};

RULES['Split'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const rank = b.dims(X, a.where).length;
  const axis0 = a.n.int('axis', 0);
  const axis = axis0 < 0 ? axis0 + rank : axis0;
  if (b.batchAxes(X).includes(axis)) a.n.unsupported('a split along a non-batch axis');
  const parts = node.outputs.map((o, k) => {
    const g = a.gOut[k];
    if (g) return g;
    return b.op1('ConstantOfShape', [b.shapeOf(o, a.where)], { value: { kind: 'tensor', value: { dtype: 'float32', dims: [1], data: [0] } } });
  });
  return [b.op1('Concat', parts, { axis: int(axis) }), undefined];
};

RULES['Pad'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const mode = a.n.str('mode', 'constant');
  if (mode !== 'constant') a.n.unsupported(`constant padding, got mode ${mode}`);
  let pads: number[] | undefined;
  if (b.opset < 11) pads = a.n.ints('pads');
  else {
    const t = b.constValue(node.inputs[1] ?? '');
    pads = t ? [...t.data] : undefined;
    if (node.inputs[3]) a.n.unsupported('padding of every axis (no axes input)');
  }
  if (!pads || pads.some((p) => p < 0)) return a.n.unsupported('constant, non-negative pads');
  const r = xd.length;
  const batch = b.batchAxes(X);
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < r; i++) {
    if (pads[i] === 0 && pads[i + r] === 0) continue;
    if (batch.includes(i)) a.n.unsupported('no padding of the batch axis');
    axes.push(i);
    starts.push(pads[i]!);
    ends.push(pads[i]! + xd[i]!);
  }
  const g = g0(a);
  if (axes.length === 0) return [g];
  const c = (v: number[]): string => b.constant(v, [v.length], 'int64');
  return [b.op1('Slice', [g, c(starts), c(ends), c(axes)])];
};

RULES['Slice'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const r = xd.length;
  let starts: number[];
  let ends: number[];
  let axes: number[];
  let steps: number[];
  if (b.opset < 10) {
    starts = a.n.ints('starts', []);
    ends = a.n.ints('ends', []);
    axes = a.n.ints(
      'axes',
      starts.map((_, i) => i),
    );
    steps = starts.map(() => 1);
  } else {
    const get = (i: number): number[] | undefined => {
      const name = node.inputs[i];
      if (!name) return undefined;
      const t = b.constValue(name);
      if (!t) return a.n.unsupported('constant starts, ends, axes and steps');
      return [...t.data];
    };
    starts = get(1) ?? [];
    ends = get(2) ?? [];
    axes = get(3) ?? starts.map((_, i) => i);
    steps = get(4) ?? starts.map(() => 1);
  }
  if (steps.some((s) => s !== 1)) a.n.unsupported('steps of 1');
  const pads = new Array<number>(2 * r).fill(0);
  const batch = b.batchAxes(X);
  axes.forEach((ax0, i) => {
    const ax = ax0 < 0 ? ax0 + r : ax0;
    const dim = xd[ax]!;
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(starts[i]!);
    const e = Math.max(clamp(ends[i]!), s);
    if ((s !== 0 || e !== dim) && batch.includes(ax)) a.n.unsupported('no slicing of the batch axis');
    pads[ax] = s;
    pads[ax + r] = dim - e;
  });
  const g = g0(a);
  if (pads.every((p) => p === 0)) return [g];
  return [b.op1('Pad', [g, b.constant(pads, [2 * r], 'int64')], { mode: { kind: 'string', value: 'constant' } })];
};

function extremumReduceRule(attrUntil: number): Rule {
  return (a) => {
    const { b, node } = a;
    const X = node.inputs[0]!;
    const xd = b.dims(X, a.where);
    const axes = reduceAxes(a, xd.length, b.opset < attrUntil);
    let g = g0(a);
    let y = b.ref(node.outputs[0]!);
    if (a.n.int('keepdims', 1) === 0 && axes.length > 0) {
      const ax = b.constant(axes, [axes.length], 'int64');
      g = b.op1('Unsqueeze', [g, ax]);
      y = b.op1('Unsqueeze', [y, ax]);
    }
    // tfjs gives the gradient to every element equal to the extremum.
    const mask = b.op1('Equal', [b.ref(X), y]);
    return [where(b, mask, b.op1('Expand', [g, b.shapeOf(X, a.where, 'expand')])), undefined];
  };
}
RULES['ReduceMax'] = extremumReduceRule(18);
RULES['ReduceMin'] = extremumReduceRule(18);

RULES['Gather'] = (a) => {
  const { b, node } = a;
  if (a.active[1]) a.n.unsupported('integer indices');
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const r = xd.length;
  const axis0 = a.n.int('axis', 0);
  const axis = axis0 < 0 ? axis0 + r : axis0;
  if (b.batchAxes(X).includes(axis)) a.n.unsupported('gathering along a non-batch axis');
  const t = b.constValue(node.inputs[1]!);
  if (!t) return a.n.unsupported('constant indices (an initializer or Constant)');
  const idx = [...t.data].map((i) => (i < 0 ? i + xd[axis]! : i));
  const q = t.shape.length;
  // Move the gathered axis (and the index dims in g) to the front, scatter-add rows, move back.
  const permX = [axis, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis)];
  const gRank = r - 1 + q;
  const permG = [...Array.from({ length: q }, (_, i) => axis + i), ...Array.from({ length: gRank }, (_, i) => i).filter((i) => i < axis || i >= axis + q)];
  const gT = b.op1('Transpose', [g0(a)], { perm: ints(permG) });
  const indices = b.constant(idx, [...t.shape, 1], 'int64');
  const zeros = b.op1('ConstantOfShape', [b.op1('Shape', [b.op1('Transpose', [b.ref(X)], { perm: ints(permX) })])], {
    value: { kind: 'tensor', value: { dtype: 'float32', dims: [1], data: [0] } },
  });
  const scattered = b.op1('ScatterND', [zeros, indices, gT], { reduction: { kind: 'string', value: 'add' } });
  const inv = new Array<number>(r);
  permX.forEach((p, i) => (inv[p] = i));
  return [b.op1('Transpose', [scattered], { perm: ints(inv) }), undefined];
};

RULES['Tile'] = (a) => {
  const { b, node } = a;
  if (a.active[1]) a.n.unsupported('constant repeats');
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const t = b.constValue(node.inputs[1]!);
  if (!t) return a.n.unsupported('constant repeats (an initializer or Constant)');
  const reps = [...t.data];
  const batch = b.batchAxes(X);
  // g viewed as [r0, d0, r1, d1, ...], summed over the r axes.
  const view: number[] = [];
  reps.forEach((rep, i) => view.push(rep, batch.includes(i) ? -1 : xd[i]!));
  if (batch.some((i) => reps[i] !== 1)) a.n.unsupported('no tiling along the batch axis');
  const shaped = b.op1('Reshape', [g0(a), b.constant(view, [view.length], 'int64')]);
  const axes = reps.map((_, i) => 2 * i);
  return [b.op1('ReduceSum', [shaped, b.constant(axes, [axes.length], 'int64')], { keepdims: int(0) }), undefined];
};

RULES['DepthToSpace'] = (a) => {
  if (a.n.str('mode', 'DCR') !== 'DCR') a.n.unsupported("mode 'DCR' (the inverse of SpaceToDepth)");
  return [a.b.op1('SpaceToDepth', [g0(a)], { blocksize: int(a.n.int('blocksize', 1)) })];
};
RULES['SpaceToDepth'] = (a) => [a.b.op1('DepthToSpace', [g0(a)], { blocksize: int(a.n.int('blocksize', 1)), mode: { kind: 'string', value: 'DCR' } })];
