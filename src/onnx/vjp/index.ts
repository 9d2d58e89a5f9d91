/**
 * Reverse-mode differentiation of an ONNX graph into ONNX graphs: from a classifier's graph, a *forward* graph
 * (the model plus the few values the backward pass needs, as extra outputs) and a *backward* graph that maps
 * those values and the gradient of the loss with respect to the logits to the gradient with respect to the
 * input. Both run in onnxruntime (see `../ort-gradients.ts`), so the whole input-gradient costs about one forward
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
import { ERROR_REASONS, UnsupportedError } from '../../errors.js';
import { concatBytes, encodeGraphAddition, encodeModel, type ValueInfoSpec } from '../encode.js';
import { OpNode } from '../op.js';
import type { OnnxDataType, OnnxModel } from '../proto.js';
import { BACKWARD_OPSET, Builder, NON_DIFFERENTIABLE, isFloat, type GradientProgram, type ProbedShapes, type Rule } from './builder.js';
import { elementwiseRules } from './elementwise.js';
import { nnRules } from './nn.js';
import { resizeRules } from './resize.js';
import { tensorRules } from './tensor.js';

export type { GradientProgram, ProbedShapes } from './builder.js';

/** Every gradient rule, by ONNX operator. */
const RULES: Readonly<Record<string, Rule>> = { ...elementwiseRules, ...nnRules, ...tensorRules, ...resizeRules };

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
