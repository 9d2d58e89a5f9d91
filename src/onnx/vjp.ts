/**
 * Reverse-mode differentiation of an ONNX graph into ONNX graphs: from a classifier's graph, a *forward* graph
 * (the model plus the few values the backward pass needs, as extra outputs) and a *backward* graph that maps
 * those values and the gradient of the loss with respect to the logits to the gradient with respect to the
 * input. Both run in onnxruntime (see `ort-gradients.ts`), so the whole input-gradient costs about one forward
 * and one backward pass of native kernels.
 *
 * Each differentiable operator has a vector–Jacobian product written with ONNX operators (Conv → ConvTranspose
 * with the same weights, MaxPool → its `Indices` output and MaxUnpool or ScatterElements, Relu → Where on a
 * saved mask, Gemm/MatMul → products with the weight, Reshape/Flatten/Transpose → their inverses, ...). Static
 * facts the rules need (ranks, non-batch dimensions, which dimensions grow with the batch) come from probing the
 * forward graph at two batch sizes. Only the input-gradient is built: weights are constants.
 *
 * Reference for the operators: https://onnx.ai/onnx/operators/ ; the technique is ordinary reverse-mode
 * automatic differentiation (Griewank & Walther, "Evaluating Derivatives", 2008).
 * @internal
 * @module
 */
import { ERROR_REASONS, UnsupportedError } from '../errors.js';
import { concatBytes, encodeGraphAddition, encodeModel, type AttrSpec, type NodeSpec, type TensorSpec, type ValueInfoSpec } from './encode.js';
import { OpNode } from './op.js';
import { samePads, windowTapCounts } from './geometry.js';
import type { HostTensor, OnnxDataType, OnnxModel, OnnxNode } from './proto.js';

/** The dtype and dims of every value of the forward graph at two probe batch sizes. */
export interface ProbedShapes {
  /** Probe batch sizes, e.g. `[2, 3]`. */
  readonly batches: readonly [number, number];
  /** Per value name: dtype and dims at each probe batch size. */
  readonly values: ReadonlyMap<string, { readonly dtype: OnnxDataType; readonly dims: readonly [readonly number[], readonly number[]] }>;
}

/** A generated pair of graphs for onnxruntime. */
export interface GradientProgram {
  /** The model's bytes with extra nodes and outputs appended. */
  readonly forward: Uint8Array;
  /** The logits' name in the forward graph. */
  readonly logits: string;
  /** Forward values the backward graph takes as inputs (same names in both graphs); the graph input may be one. */
  readonly saved: readonly string[];
  /** The backward graph (a standalone model). */
  readonly backward: Uint8Array;
  /** Backward input: the gradient of the loss with respect to the logits, `[N, classes]`. */
  readonly seed: string;
  /** Backward output: the gradient with respect to the graph input. */
  readonly grad: string;
  /** Number of operators differentiated, by type (for diagnostics). */
  readonly ops: ReadonlyMap<string, number>;
}

/** Operators whose outputs never carry a gradient (shapes, indices, comparisons). */
const NON_DIFFERENTIABLE = new Set([
  'Shape',
  'Size',
  'ArgMax',
  'ArgMin',
  'Equal',
  'Greater',
  'GreaterOrEqual',
  'Less',
  'LessOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'NonZero',
  'ConstantOfShape',
  'Constant',
  'Range',
  'EyeLike',
  'RandomNormalLike',
  'RandomUniformLike',
  'IsNaN',
  'IsInf',
  'Sign',
  'Floor',
  'Ceil',
  'Round',
  'TopK',
]);

const BACKWARD_OPSET = 18;

function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

function isFloat(t: OnnxDataType | undefined): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16';
}

type Attrs = Record<string, AttrSpec>;
const int = (value: number): AttrSpec => ({ kind: 'int', value });
const ints = (value: readonly number[]): AttrSpec => ({ kind: 'ints', value });
const float = (value: number): AttrSpec => ({ kind: 'float', value });

/** Builds the two graphs; one instance per program. */
class Builder {
  private counter = 0;
  readonly bwdNodes: NodeSpec[] = [];
  readonly bwdInits = new Map<string, TensorSpec>();
  readonly fwdNodes: NodeSpec[] = [];
  readonly fwdInits: TensorSpec[] = [];
  readonly saved = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private readonly shapeCache = new Map<string, string>();
  private readonly producers = new Map<string, OnnxNode>();
  private readonly consumerCount = new Map<string, number>();
  /** Gradients a rule sends past its own inputs (to an input of an earlier node), drained by the builder loop. */
  readonly extra: [string, string][] = [];
  readonly opset: number;

  constructor(
    readonly model: OnnxModel,
    readonly shapes: ProbedShapes,
    readonly input: string,
  ) {
    for (const n of model.graph.nodes) {
      for (const o of n.outputs) this.producers.set(o, n);
      for (const i of n.inputs) this.consumerCount.set(i, (this.consumerCount.get(i) ?? 0) + 1);
    }
    for (const o of model.graph.outputs) this.consumerCount.set(o.name, (this.consumerCount.get(o.name) ?? 0) + 1);
    this.opset = model.opsets.get('') ?? 1;
  }

  private fresh(prefix: string): string {
    return `robustest_vjp::${prefix}${this.counter++}`;
  }

  /** Emits a backward node and returns its outputs' names. */
  op(opType: string, inputs: readonly string[], attributes: Attrs = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh('g'));
    this.bwdNodes.push({ opType, inputs, outputs: outs, attributes, name: this.fresh(`${opType}_`) });
    return outs;
  }

  /** One-output {@link op}. */
  op1(opType: string, inputs: readonly string[], attributes: Attrs = {}): string {
    return this.op(opType, inputs, attributes, 1)[0]!;
  }

  /** Emits a node appended to the forward graph (model opset) and returns its outputs' names. */
  fwdOp(opType: string, inputs: readonly string[], attributes: Attrs = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh('f'));
    this.fwdNodes.push({ opType, inputs, outputs: outs, attributes, name: this.fresh(`fwd_${opType}_`) });
    return outs;
  }

  /** A forward scalar constant appended to the forward graph (one per value). */
  fwdScalar(value: number): string {
    const key = `fwd|${value}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('fc');
    this.fwdInits.push({ name, dtype: 'float32', dims: [], data: [value] });
    this.constCache.set(key, name);
    return name;
  }

  /** A backward constant; small ones (shapes, axes, scalars) are deduplicated. */
  constant(data: readonly number[], dims: readonly number[], dtype: OnnxDataType = 'float32'): string {
    const key = data.length <= 64 ? `${dtype}|${dims.join(',')}|${data.join(',')}` : undefined;
    const hit = key === undefined ? undefined : this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c');
    this.bwdInits.set(name, { name, dtype, dims: [...dims], data });
    if (key !== undefined) this.constCache.set(key, name);
    return name;
  }

  /** Makes a forward value available in the backward graph: an initializer is copied, anything else is saved. */
  ref(name: string): string {
    const init = this.model.graph.initializers.get(name);
    if (init) {
      if (!this.bwdInits.has(name)) this.bwdInits.set(name, { name, dtype: init.dtype, dims: [...init.shape], data: init.data });
      return name;
    }
    this.saved.add(name);
    return name;
  }

  /** A value computed by appended forward nodes, saved for the backward graph. */
  save(name: string): string {
    this.saved.add(name);
    return name;
  }

  /** Values that depend on the graph input through float operations (filled by {@link buildGradientProgram}). */
  readonly activeSet = new Set<string>();

  /** Whether a forward value depends on the graph input. */
  active(name: string): boolean {
    return this.activeSet.has(name);
  }

  /** The node producing a forward value, if any. */
  producer(name: string): OnnxNode | undefined {
    return this.producers.get(name);
  }

  /** How many node inputs (and graph outputs) use a forward value. */
  uses(name: string): number {
    return this.consumerCount.get(name) ?? 0;
  }

  /** The value of a constant forward tensor (an initializer or a Constant node's output), if it is one. */
  constValue(name: string): HostTensor | undefined {
    if (name === '') return undefined;
    const init = this.model.graph.initializers.get(name);
    if (init) return init;
    const p = this.producers.get(name);
    if (!p || p.opType !== 'Constant') return undefined;
    const n = new OpNode(p, this.opset);
    const t = n.tensor('value');
    if (t) return t;
    const f = n.floats('value_floats');
    if (f) return { dtype: 'float32', shape: [f.length], data: Float64Array.from(f) };
    const i = n.ints('value_ints');
    if (i) return { dtype: 'int64', shape: [i.length], data: Float64Array.from(i) };
    if (n.has('value_float')) return { dtype: 'float32', shape: [], data: Float64Array.of(n.float('value_float', 0)) };
    if (n.has('value_int')) return { dtype: 'int64', shape: [], data: Float64Array.of(n.int('value_int', 0)) };
    return undefined;
  }

  /** Probed dims of a value at the first probe batch size. */
  dims(name: string, where: string): readonly number[] {
    const init = this.model.graph.initializers.get(name);
    if (init) return init.shape;
    const v = this.shapes.values.get(name);
    if (!v) throw new UnsupportedError(`${where}: expected the shape of '${name}' to be known from the probe, got none`);
    return v.dims[0];
  }

  /** Which axes of a value grow with the batch (from the two probes). */
  batchAxes(name: string): number[] {
    const v = this.shapes.values.get(name);
    if (!v) return [];
    const [a, b] = v.dims;
    return a.map((d, i) => (d !== b[i] ? i : -1)).filter((i) => i >= 0);
  }

  /**
   * A backward int64 tensor with the run-time shape of a forward value, for `use`: `reshape` may put -1 at the
   * batch axis, `expand` may put 1 there (Expand broadcasts it back), `exact` needs the true size (a static
   * constant when no axis grows with the batch, else a Shape node appended to the forward graph and saved).
   */
  shapeOf(name: string, where: string, use: 'reshape' | 'expand' | 'exact' = 'exact'): string {
    const key = `${use}|${name}`;
    const cached = this.shapeCache.get(key);
    if (cached) return cached;
    const dims = this.dims(name, where);
    const batch = this.batchAxes(name);
    let out: string;
    if (batch.length === 0) out = this.constant(dims, [dims.length], 'int64');
    else if (use === 'reshape' && batch.length === 1 && dims.every((d) => d > 0))
      out = this.constant(
        dims.map((d, i) => (i === batch[0] ? -1 : d)),
        [dims.length],
        'int64',
      );
    else if (use === 'expand')
      out = this.constant(
        dims.map((d, i) => (batch.includes(i) ? 1 : d)),
        [dims.length],
        'int64',
      );
    else out = this.save(this.fwdOp('Shape', [name])[0]!);
    this.shapeCache.set(key, out);
    return out;
  }

  /** Sums `g` (shaped like forward value `out`) down to the shape of forward value `operand` (undoes broadcasting). */
  unbroadcast(g: string, out: string, operand: string, where: string): string {
    const so = this.dims(out, where);
    const sa = this.dims(operand, where);
    const vo = this.shapes.values.get(out)?.dims[1] ?? so;
    const va = this.shapes.values.get(operand)?.dims[1] ?? sa;
    const lead = so.length - sa.length;
    if (lead < 0) throw new UnsupportedError(`${where}: expected an operand of rank ≤ the output's, got ${sa.length} > ${so.length}`);
    const axes: number[] = [];
    for (let i = 0; i < so.length; i++) {
      const ai = i - lead;
      if (ai < 0) axes.push(i);
      else if ((sa[ai] === 1 && so[i] !== 1) || (va[ai] === 1 && vo[i] !== 1)) axes.push(i);
    }
    if (axes.length === 0) return g;
    const summed = this.op1('ReduceSum', [g, this.constant(axes, [axes.length], 'int64')], { keepdims: int(1) });
    return lead > 0 ? this.op1('Reshape', [summed, this.shapeOf(operand, where, 'reshape')]) : summed;
  }

  /** Sums the gradient of a MatMul operand over the batch dimensions it was broadcast along. */
  unbroadcastMatmul(g: string, outRank: number, operand: string, where: string): string {
    const sa = this.dims(operand, where);
    const lead = outRank - sa.length;
    const axes: number[] = [];
    for (let i = 0; i < lead; i++) axes.push(i);
    const va = this.shapes.values.get(operand)?.dims;
    for (let i = lead; i < outRank - 2; i++) if (sa[i - lead] === 1 && (va?.[1][i - lead] ?? 1) === 1) axes.push(i);
    if (axes.length === 0) return g;
    const summed = this.op1('ReduceSum', [g, this.constant(axes, [axes.length], 'int64')], { keepdims: int(1) });
    return lead > 0 ? this.op1('Reshape', [summed, this.shapeOf(operand, where, 'reshape')]) : summed;
  }
}

/** What a rule receives. */
interface RuleArgs {
  readonly b: Builder;
  readonly node: OnnxNode;
  readonly n: OpNode;
  /** Gradients of the node's outputs (undefined when an output carries none). */
  readonly gOut: readonly (string | undefined)[];
  /** Whether each input needs a gradient. */
  readonly active: readonly boolean[];
  readonly where: string;
}

/** A vector–Jacobian product: gradients for the node's inputs (undefined where none is needed). */
type Rule = (a: RuleArgs) => (string | undefined)[];

function g0(a: RuleArgs): string {
  const g = a.gOut[0];
  if (!g) a.n.unsupported('a gradient for its first output');
  return g;
}

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

/** Gradient of a masked pass-through: `Where(mask, g, 0)`. */
function where(b: Builder, mask: string, g: string): string {
  // g·float(mask): onnxruntime's Where with a broadcast scalar is several times slower than Cast + Mul.
  return b.op1('Mul', [g, b.op1('Cast', [mask], { to: int(1) })]);
}

const RULES: Record<string, Rule> = {};

function identity(a: RuleArgs): (string | undefined)[] {
  return [g0(a)];
}
for (const op of ['Identity', 'Dropout']) RULES[op] = identity;

RULES['Cast'] = (a) => {
  const to = a.n.int('to', 1);
  if (to !== 1) a.n.unsupported('a Cast to float32 on the gradient path');
  return [g0(a)];
};

RULES['Relu'] = (a) => {
  const { b, node } = a;
  const mask = b.save(b.fwdOp('Greater', [node.outputs[0]!, b.fwdScalar(0)])[0]!);
  return [where(b, mask, g0(a))];
};

RULES['LeakyRelu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 0.01);
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  return [b.op1('Where', [mask, g, b.op1('Mul', [g, b.constant([alpha], [])])])];
};

RULES['PRelu'] = (a) => {
  const { b, node } = a;
  if (a.active[1]) a.n.unsupported('a constant slope');
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const scaled = b.unbroadcast(b.op1('Mul', [g, b.ref(node.inputs[1]!)]), node.outputs[0]!, node.outputs[0]!, a.where);
  return [b.op1('Where', [mask, g, scaled])];
};

RULES['Clip'] = (a) => {
  const { b, node } = a;
  if (b.opset >= 11 && (a.active[1] || a.active[2])) a.n.unsupported('constant bounds');
  // tfjs's clipByValue passes the gradient where lo <= x <= hi, i.e. exactly where clip(x) == x: one comparison.
  const mask = b.save(b.fwdOp('Equal', [node.inputs[0]!, node.outputs[0]!])[0]!);
  return [where(b, mask, g0(a)), undefined, undefined];
};

RULES['Sigmoid'] = (a) => {
  const { b, node } = a;
  const y = b.ref(node.outputs[0]!);
  return [b.op1('Mul', [g0(a), b.op1('Mul', [y, b.op1('Sub', [b.constant([1], []), y])])])];
};

RULES['Tanh'] = (a) => {
  const { b, node } = a;
  const y = b.ref(node.outputs[0]!);
  return [b.op1('Mul', [g0(a), b.op1('Sub', [b.constant([1], []), b.op1('Mul', [y, y])])])];
};

RULES['Exp'] = (a) => [a.b.op1('Mul', [g0(a), a.b.ref(a.node.outputs[0]!)])];
RULES['Log'] = (a) => [a.b.op1('Div', [g0(a), a.b.ref(a.node.inputs[0]!)])];
RULES['Sqrt'] = (a) => [a.b.op1('Div', [g0(a), a.b.op1('Mul', [a.b.ref(a.node.outputs[0]!), a.b.constant([2], [])])])];
RULES['Neg'] = (a) => [a.b.op1('Neg', [g0(a)])];
RULES['Abs'] = (a) => [a.b.op1('Mul', [g0(a), a.b.op1('Sign', [a.b.ref(a.node.inputs[0]!)])])];
RULES['Reciprocal'] = (a) => {
  const y = a.b.ref(a.node.outputs[0]!);
  return [a.b.op1('Neg', [a.b.op1('Mul', [g0(a), a.b.op1('Mul', [y, y])])])];
};
RULES['Softplus'] = (a) => [a.b.op1('Mul', [g0(a), a.b.op1('Sigmoid', [a.b.ref(a.node.inputs[0]!)])])];
RULES['Erf'] = (a) => {
  const { b } = a;
  const x = b.ref(a.node.inputs[0]!);
  const e = b.op1('Exp', [b.op1('Neg', [b.op1('Mul', [x, x])])]);
  return [b.op1('Mul', [g0(a), b.op1('Mul', [e, b.constant([2 / Math.sqrt(Math.PI)], [])])])];
};
RULES['Elu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 1);
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const neg = b.op1('Mul', [g, b.op1('Add', [b.ref(node.outputs[0]!), b.constant([alpha], [])])]);
  return [b.op1('Where', [mask, g, neg])];
};
RULES['HardSigmoid'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 0.2);
  const beta = a.n.float('beta', 0.5);
  const x = node.inputs[0]!;
  const lin = b.fwdOp('Add', [b.fwdOp('Mul', [x, b.fwdScalar(alpha)])[0]!, b.fwdScalar(beta)])[0]!;
  const mask = b.fwdOp('And', [b.fwdOp('Greater', [lin, b.fwdScalar(0)])[0]!, b.fwdOp('Less', [lin, b.fwdScalar(1)])[0]!])[0]!;
  return [where(b, b.save(mask), b.op1('Mul', [g0(a), b.constant([alpha], [])]))];
};
RULES['Pow'] = (a) => {
  const { b, node } = a;
  if (a.active[1]) a.n.unsupported('a constant exponent');
  const x = b.ref(node.inputs[0]!);
  const p = b.ref(node.inputs[1]!);
  const d = b.op1('Mul', [p, b.op1('Pow', [x, b.op1('Sub', [p, b.constant([1], [])])])]);
  return [b.unbroadcast(b.op1('Mul', [g0(a), d]), node.outputs[0]!, node.inputs[0]!, a.where)];
};

RULES['Add'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  return node.inputs.map((i, k) => (a.active[k] ? b.unbroadcast(g, node.outputs[0]!, i, a.where) : undefined));
};
RULES['Sum'] = RULES['Add'];
RULES['Sub'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  return [
    a.active[0] ? b.unbroadcast(g, node.outputs[0]!, node.inputs[0]!, a.where) : undefined,
    a.active[1] ? b.unbroadcast(b.op1('Neg', [g]), node.outputs[0]!, node.inputs[1]!, a.where) : undefined,
  ];
};
RULES['Mul'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const [x, y] = node.inputs as [string, string];
  return [
    a.active[0] ? b.unbroadcast(b.op1('Mul', [g, b.ref(y)]), node.outputs[0]!, x, a.where) : undefined,
    a.active[1] ? b.unbroadcast(b.op1('Mul', [g, b.ref(x)]), node.outputs[0]!, y, a.where) : undefined,
  ];
};
RULES['Div'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const [x, y] = node.inputs as [string, string];
  return [
    a.active[0] ? b.unbroadcast(b.op1('Div', [g, b.ref(y)]), node.outputs[0]!, x, a.where) : undefined,
    a.active[1] ? b.unbroadcast(b.op1('Neg', [b.op1('Div', [b.op1('Mul', [g, b.ref(node.outputs[0]!)]), b.ref(y)])]), node.outputs[0]!, y, a.where) : undefined,
  ];
};
RULES['Where'] = (a) => {
  const { b, node } = a;
  const g = g0(a);
  const cond = b.ref(node.inputs[0]!);
  const zero = b.constant([0], []);
  return [
    undefined,
    a.active[1] ? b.unbroadcast(b.op1('Where', [cond, g, zero]), node.outputs[0]!, node.inputs[1]!, a.where) : undefined,
    a.active[2] ? b.unbroadcast(b.op1('Where', [cond, zero, g]), node.outputs[0]!, node.inputs[2]!, a.where) : undefined,
  ];
};
RULES['Expand'] = (a) => [a.b.unbroadcast(g0(a), a.node.outputs[0]!, a.node.inputs[0]!, a.where)];

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

RULES['Selu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 1.67326319217681884765625);
  const gamma = a.n.float('gamma', 1.05070102214813232421875);
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const neg = b.op1('Mul', [g, b.op1('Add', [b.ref(node.outputs[0]!), b.constant([alpha * gamma], [])])]);
  return [b.op1('Where', [mask, b.op1('Mul', [g, b.constant([gamma], [])]), neg])];
};
RULES['Celu'] = (a) => {
  const { b, node } = a;
  const alpha = a.n.float('alpha', 1);
  const x = node.inputs[0]!;
  const mask = b.save(b.fwdOp('Greater', [x, b.fwdScalar(0)])[0]!);
  const g = g0(a);
  const neg = b.op1('Mul', [g, b.op1('Exp', [b.op1('Div', [b.ref(x), b.constant([alpha], [])])])]);
  return [b.op1('Where', [mask, g, neg])];
};
RULES['ThresholdedRelu'] = (a) => {
  const { b, node } = a;
  const mask = b.save(b.fwdOp('Greater', [node.inputs[0]!, b.fwdScalar(a.n.float('alpha', 1))])[0]!);
  return [where(b, mask, g0(a))];
};
RULES['Softsign'] = (a) => {
  const { b } = a;
  const d = b.op1('Add', [b.constant([1], []), b.op1('Abs', [b.ref(a.node.inputs[0]!)])]);
  return [b.op1('Div', [g0(a), b.op1('Mul', [d, d])])];
};
RULES['HardSwish'] = (a) => {
  // y = x·clip(x/6 + 1/2, 0, 1): slope 0 below −3, 1 above 3, (2x + 3)/6 between.
  const { b, node } = a;
  const x = node.inputs[0]!;
  const hi = b.save(b.fwdOp('Greater', [x, b.fwdScalar(3)])[0]!);
  const mid = b.save(b.fwdOp('Not', [b.fwdOp('Less', [x, b.fwdScalar(-3)])[0]!])[0]!);
  const g = g0(a);
  const slope = b.op1('Add', [b.op1('Mul', [b.ref(x), b.constant([1 / 3], [])]), b.constant([0.5], [])]);
  const inner = b.op1('Where', [hi, g, b.op1('Mul', [g, slope])]);
  return [where(b, mid, inner)];
};
RULES['Gelu'] = (a) => {
  const { b, node } = a;
  const x = b.ref(node.inputs[0]!);
  const g = g0(a);
  if (a.n.str('approximate', 'none') === 'tanh') {
    // y = x/2·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³): y' = (1 + t)/2 + x/2·(1 − t²)·√(2/π)(1 + 3·0.044715x²).
    const c = Math.sqrt(2 / Math.PI);
    const x2 = b.op1('Mul', [x, x]);
    const u = b.op1('Mul', [b.op1('Mul', [x, b.op1('Add', [b.constant([1], []), b.op1('Mul', [x2, b.constant([0.044715], [])])])]), b.constant([c], [])]);
    const t = b.op1('Tanh', [u]);
    const du = b.op1('Mul', [b.op1('Add', [b.constant([1], []), b.op1('Mul', [x2, b.constant([3 * 0.044715], [])])]), b.constant([c], [])]);
    const left = b.op1('Mul', [b.op1('Add', [b.constant([1], []), t]), b.constant([0.5], [])]);
    const right = b.op1('Mul', [b.op1('Mul', [b.op1('Mul', [x, b.constant([0.5], [])]), b.op1('Sub', [b.constant([1], []), b.op1('Mul', [t, t])])]), du]);
    return [b.op1('Mul', [g, b.op1('Add', [left, right])])];
  }
  // y = x·Φ(x): y' = Φ(x) + x·φ(x).
  const cdf = b.op1('Mul', [b.op1('Add', [b.constant([1], []), b.op1('Erf', [b.op1('Mul', [x, b.constant([Math.SQRT1_2], [])])])]), b.constant([0.5], [])]);
  const pdf = b.op1('Mul', [b.op1('Exp', [b.op1('Mul', [b.op1('Mul', [x, x]), b.constant([-0.5], [])])]), b.constant([1 / Math.sqrt(2 * Math.PI)], [])]);
  return [b.op1('Mul', [g, b.op1('Add', [cdf, b.op1('Mul', [x, pdf])])])];
};

/** Max/Min of several inputs: the gradient goes to the first input that attains the result (tfjs's tie rule). */
function extremumRule(a: RuleArgs): (string | undefined)[] {
  const { b, node } = a;
  const y = node.outputs[0]!;
  const g = g0(a);
  let taken: string | undefined;
  return node.inputs.map((x, k) => {
    const eq = b.fwdOp('Equal', [x, y])[0]!;
    const mask = taken ? b.fwdOp('And', [eq, b.fwdOp('Not', [taken])[0]!])[0]! : eq;
    taken = taken ? b.fwdOp('Or', [taken, eq])[0]! : eq;
    if (!a.active[k]) return undefined;
    return b.unbroadcast(where(b, b.save(mask), g), y, x, a.where);
  });
}
RULES['Max'] = extremumRule;
RULES['Min'] = extremumRule;
RULES['Mean'] = (a) => {
  const { b, node } = a;
  const g = b.op1('Mul', [g0(a), b.constant([1 / node.inputs.length], [])]);
  return node.inputs.map((x, k) => (a.active[k] ? b.unbroadcast(g, node.outputs[0]!, x, a.where) : undefined));
};

RULES['GlobalMaxPool'] = (a) => {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const spatial = b.dims(X, a.where).slice(2);
  // A MaxPool over the whole plane gives the index of the (first) maximum; MaxUnpool puts the gradient there.
  const idx = b.save(b.fwdOp('MaxPool', [X], { kernel_shape: ints(spatial) }, 2)[1]!);
  return [b.op1('MaxUnpool', [g0(a), idx, b.shapeOf(X, a.where)], { kernel_shape: ints(spatial) })];
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

function resizeScales(a: RuleArgs): number[] {
  const { b, node } = a;
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const yd = b.dims(node.outputs[0]!, a.where);
  return xd.map((d, i) => yd[i]! / d);
}
/** Nearest-neighbour upsampling by integer factors (UpSampling2D): each input feeds a block; its gradient is the block's sum. */
function upsampleRule(a: RuleArgs): (string | undefined)[] {
  const { b, node } = a;
  const mode = a.n.str('mode', 'nearest');
  if (mode !== 'nearest') a.n.unsupported(`nearest mode, got ${mode}`);
  // Integer upsampling replicates pixels for half-pixel centres rounded to nearest, and for asymmetric floor.
  const coord = a.b.opset < 11 ? 'asymmetric' : a.n.str('coordinate_transformation_mode', 'half_pixel');
  const rounding = a.b.opset < 11 ? 'floor' : a.n.str('nearest_mode', 'round_prefer_floor');
  const replicates =
    ((coord === 'half_pixel' || coord === 'pytorch_half_pixel') && rounding.startsWith('round')) || (coord === 'asymmetric' && rounding === 'floor');
  if (!replicates) a.n.unsupported(`a coordinate transformation that replicates pixels, got ${coord} with ${rounding}`);
  const scales = resizeScales(a);
  if (scales.some((s) => !Number.isInteger(s) || s < 1)) a.n.unsupported(`integer upsampling factors, got ${scales.join(', ')}`);
  const X = node.inputs[0]!;
  const xd = b.dims(X, a.where);
  const batch = b.batchAxes(X);
  const view: number[] = [];
  xd.forEach((d, i) => view.push(batch.includes(i) ? -1 : d, scales[i]!));
  const shaped = b.op1('Reshape', [g0(a), b.constant(view, [view.length], 'int64')]);
  const axes = xd.map((_, i) => 2 * i + 1);
  return [b.op1('ReduceSum', [shaped, b.constant(axes, [axes.length], 'int64')], { keepdims: int(0) }), ...node.inputs.slice(1).map(() => undefined)];
}
RULES['Resize'] = upsampleRule;
RULES['Upsample'] = upsampleRule;

/** Operators that {@link buildGradientProgram} can differentiate (besides the non-differentiable ones). */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(RULES).sort();

/**
 * Builds the forward and backward graphs for the input-gradient of `logits` with respect to `input`.
 *
 * @param bytes - the model's `.onnx` bytes (extended, not re-encoded, for the forward graph).
 * @param model - the same model decoded.
 * @param shapes - every value's dtype and dims at two batch sizes (see `ort-gradients.ts`).
 * @throws {@link UnsupportedError} naming the first operator on the gradient path without a rule.
 */
export function buildGradientProgram(bytes: Uint8Array, model: OnnxModel, input: string, logits: string, shapes: ProbedShapes): GradientProgram {
  const b = new Builder(model, shapes, input);
  const nodes = model.graph.nodes;
  const opset = b.opset;
  if (opset < 7) throw new UnsupportedError(`onnx gradients: expected a model of opset ≥ 7, got ${opset}`);
  // Values that depend on the input through float operations.
  const active = b.activeSet;
  active.add(input);
  for (const node of nodes) {
    if (node.domain !== '' || NON_DIFFERENTIABLE.has(node.opType)) continue;
    if (!node.inputs.some((i) => active.has(i))) continue;
    for (const o of node.outputs) {
      if (o === '') continue;
      if (isFloat(shapes.values.get(o)?.dtype)) active.add(o);
    }
  }
  if (!active.has(logits))
    throw new UnsupportedError(`onnx gradients: expected the output '${logits}' to depend on the input '${input}', got a graph where it does not`);
  const seed = 'robustest_vjp::dlogits';
  const contributions = new Map<string, string[]>([[logits, [seed]]]);
  const total = (name: string): string | undefined => {
    const cs = contributions.get(name);
    if (!cs || cs.length === 0) return undefined;
    if (cs.length === 1) return cs[0];
    const s = b.op1('Sum', cs);
    contributions.set(name, [s]);
    return s;
  };
  const counts = new Map<string, number>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.outputs.some((o) => contributions.has(o))) continue;
    const act = node.inputs.map((x) => x !== '' && active.has(x));
    if (!act.some(Boolean)) continue;
    const n = new OpNode(node, opset);
    if (node.domain !== '') n.unsupported(`an operator of the default domain, got domain '${node.domain}'`);
    const rule = RULES[node.opType];
    if (!rule)
      throw new UnsupportedError(
        `${n.where}: expected an operator with an input-gradient rule (${DIFFERENTIABLE_OPS.join(', ')}), got ${node.opType}`,
        ERROR_REASONS.noGradientRule,
      );
    const gOut = node.outputs.map((o) => total(o));
    const gIn = rule({ b, node, n, gOut, active: act, where: n.where });
    const add = (x: string, g: string): void => {
      const list = contributions.get(x) ?? [];
      list.push(g);
      contributions.set(x, list);
    };
    node.inputs.forEach((x, k) => {
      const g = gIn[k];
      if (g && act[k]) add(x, g);
    });
    for (const [x, g] of b.extra.splice(0)) add(x, g);
    counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  }
  const gradName = 'robustest_vjp::grad_input';
  const gIn = total(input);
  if (gIn) b.bwdNodes.push({ opType: 'Identity', inputs: [gIn], outputs: [gradName], name: 'robustest_vjp::grad' });
  else {
    b.bwdNodes.push({
      opType: 'ConstantOfShape',
      inputs: [b.shapeOf(input, 'onnx gradients')],
      outputs: [gradName],
      name: 'robustest_vjp::grad',
      attributes: { value: { kind: 'tensor', value: { dtype: 'float32', dims: [1], data: [0] } } },
    });
  }
  // Keep only the backward nodes the gradient uses (a rule may emit values that end up unused).
  const used = new Set<string>([gradName]);
  const bwdNodes = [...b.bwdNodes];
  for (let i = bwdNodes.length - 1; i >= 0; i--) {
    const nd = bwdNodes[i]!;
    if (nd.outputs.some((o) => used.has(o))) nd.inputs.forEach((x) => used.add(x));
    else bwdNodes.splice(i, 1);
  }
  const saved = [...b.saved].filter((s) => used.has(s));
  const inits = [...b.bwdInits.values()].filter((t) => used.has(t.name!));
  const declared = new Set(model.graph.outputs.map((o) => o.name));
  const extraOutputs: ValueInfoSpec[] = [logits, ...saved]
    .filter((s, i, all) => s !== input && !declared.has(s) && all.indexOf(s) === i)
    .map((name) => ({ name }));
  const forward = concatBytes(bytes, encodeGraphAddition({ nodes: b.fwdNodes, initializers: b.fwdInits, outputs: extraOutputs }));
  const dtypeOf = (name: string): OnnxDataType => {
    if (name === input) return 'float32';
    const fwd = b.fwdNodes.find((nd) => nd.outputs.includes(name));
    if (fwd) {
      if (fwd.opType === 'Shape' || fwd.opType === 'MaxPool') return 'int64';
      if (['Greater', 'Less', 'Not', 'And', 'Or', 'Equal'].includes(fwd.opType)) return 'bool';
    }
    return shapes.values.get(name)?.dtype ?? 'float32';
  };
  const backward = encodeModel({
    opsets: { '': BACKWARD_OPSET },
    graph: {
      name: 'robustest_input_gradient',
      nodes: bwdNodes,
      initializers: inits,
      inputs: [
        ...saved.map((name) => ({ name, dtype: dtypeOf(name) })),
        { name: seed, dtype: 'float32' as const, dims: ['N', shapes.values.get(logits)?.dims[0][1] ?? null] },
      ],
      outputs: [{ name: gradName, dtype: 'float32' }],
    },
  });
  return { forward, logits, saved, backward, seed, grad: gradName, ops: counts };
}
