/**
 * The graph builder of the gradient generator: the forward graph (the model plus saved values) and the backward
 * graph under construction, shape facts from the probe, and the types every rule file shares.
 * @internal
 * @module
 */
import { UnsupportedError } from '../../errors.js';
import { type AttrSpec, type NodeSpec, type TensorSpec } from '../encode.js';
import { OpNode } from '../op.js';
import type { HostTensor, OnnxDataType, OnnxModel, OnnxNode } from '../proto.js';

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
export const NON_DIFFERENTIABLE = new Set([
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

export const BACKWARD_OPSET = 18;

export function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

export function isFloat(t: OnnxDataType | undefined): boolean {
  return t === 'float32' || t === 'float64' || t === 'float16' || t === 'bfloat16';
}

export type Attrs = Record<string, AttrSpec>;
export const int = (value: number): AttrSpec => ({ kind: 'int', value });
export const ints = (value: readonly number[]): AttrSpec => ({ kind: 'ints', value });
export const float = (value: number): AttrSpec => ({ kind: 'float', value });

/** Builds the two graphs; one instance per program. */
export class Builder {
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
export interface RuleArgs {
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
export type Rule = (a: RuleArgs) => (string | undefined)[];

export function g0(a: RuleArgs): string {
  const g = a.gOut[0];
  if (!g) a.n.unsupported('a gradient for its first output');
  return g;
}

/** Gradient of a masked pass-through: `Where(mask, g, 0)`. */
export function where(b: Builder, mask: string, g: string): string {
  // g·float(mask): onnxruntime's Where with a broadcast scalar is several times slower than Cast + Mul.
  return b.op1('Mul', [g, b.op1('Cast', [mask], { to: int(1) })]);
}
