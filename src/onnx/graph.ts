/**
 * The executor of an imported ONNX graph: checks every node against the operator registry at load time,
 * uploads the initializers once, precomputes the nodes whose inputs are all constant, and runs the rest as
 * tfjs ops (or on the host, for shape arithmetic) on each call.
 * @internal
 * @module
 */
import { quote } from '../files.js';
import * as tf from '../tf.js';
import { ERROR_REASONS, ModelLoadError, RobustestError, ShapeError, UnsupportedError } from '../errors.js';
import { DEFAULT_MAX_ELEMENTS } from '../model-options.js';
import { OpNode, type OpDef } from './op.js';
import { OPS } from './ops/index.js';
import type { HostTensor, OnnxModel, OnnxNode } from './proto.js';
import { isFloat, plainValue, sizeOf, toDevice, toHost, type Value } from './value.js';

/** Values with at most this many elements keep a host copy next to their device tensor. */
const HOST_COPY_LIMIT = 4096;

/** Operators whose output must never be precomputed (none of the supported ones is random, but be explicit). */
const NOT_FOLDABLE = new Set(['Dropout']);

interface Step {
  readonly node: OnnxNode;
  readonly op: OpDef;
  readonly opNode: OpNode;
}

/** An unsupported node found at load time. */
export interface UnsupportedNode {
  readonly opType: string;
  readonly domain: string;
  readonly node: string;
  readonly opset: number;
}

/** Lists the nodes whose operator the importer does not implement. */
export function findUnsupported(model: OnnxModel): UnsupportedNode[] {
  const out: UnsupportedNode[] = [];
  for (const node of model.graph.nodes) {
    const opset = model.opsets.get(node.domain) ?? 0;
    if (node.domain !== '' || !Object.hasOwn(OPS, node.opType)) out.push({ opType: node.opType, domain: node.domain, node: node.name, opset });
  }
  return out;
}

function describeUnsupported(list: readonly UnsupportedNode[]): string {
  const seen = new Map<string, UnsupportedNode>();
  for (const u of list) {
    const key = `${u.domain ? `${u.domain}.` : ''}${u.opType}`;
    if (!seen.has(key)) seen.set(key, u);
  }
  return [...seen].map(([k, u]) => `${quote(k)} (node ${quote(u.node)}, opset ${u.opset})`).join(', ');
}

/**
 * Runs one node; an error that is not a {@link RobustestError} (a tfjs shape check, a RangeError from an absurd
 * size) becomes a one-line {@link ShapeError} naming the node.
 */
function runStep(step: Step, inputs: readonly (Value | undefined)[]): readonly (Value | undefined)[] {
  let outs: readonly (Value | undefined)[];
  try {
    outs = step.op.run(step.opNode, inputs);
  } catch (e) {
    if (e instanceof RobustestError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    const shapes = inputs.map((v) => (v ? `[${v.shape.join(', ')}]` : 'none')).join(', ');
    throw new ShapeError(`${step.opNode.where}: expected inputs it can compute (shapes ${shapes}), got ${JSON.stringify(message.slice(0, 300))}`);
  }
  return outs;
}

/** Runs a decoded ONNX graph with tfjs ops. Dispose it to free the uploaded initializers. */
export class GraphExecutor {
  private readonly consts = new Map<string, Value>();
  private readonly owned: tf.Tensor[] = [];
  private readonly steps: Step[] = [];
  private readonly plans = new Map<string, Step[]>();
  private readonly producers = new Map<string, Step>();

  /**
   * @param model - a decoded model.
   * @param where - prefix of error messages.
   * @throws {@link UnsupportedError} naming every unsupported operator with a node name and the opset.
   */
  /** Names of the graph inputs that a caller feeds. */
  readonly inputNames: readonly string[];

  /**
   * The decoded model is not retained (its float initializers, held as float64 on the host, can be large);
   * what runs is the uploaded constants and the list of steps.
   */
  constructor(model: OnnxModel, where = 'onnx', maxElements: number = DEFAULT_MAX_ELEMENTS) {
    this.inputNames = model.graph.inputs.map((i) => i.name);
    const unsupported = findUnsupported(model);
    if (unsupported.length > 0) {
      throw new UnsupportedError(
        `${where}: expected operators robustest can import (see listSupportedOps()), got unsupported ${describeUnsupported(unsupported)}; fromOnnxRuntime() or loadOnnx() can still query the model`,
        ERROR_REASONS.unsupportedOperator,
      );
    }
    try {
      for (const [name, t] of model.graph.initializers) this.consts.set(name, this.constant(t));
      for (const node of model.graph.nodes) {
        const op = OPS[node.opType]!;
        const opNode = new OpNode(node, model.opsets.get('') ?? 1, maxElements);
        op.check?.(opNode);
        const step = { node, op, opNode };
        const inputs = node.inputs.filter((i) => i !== '');
        if (!NOT_FOLDABLE.has(node.opType) && op.foldable !== false && inputs.every((i) => this.consts.has(i))) {
          this.fold(step);
        } else {
          if (op.prepare) this.prepare(step);
          this.steps.push(step);
          for (const o of node.outputs) if (o !== '') this.producers.set(o, step);
        }
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The node producing a value, if it is computed at run time. */
  producer(name: string): OnnxNode | undefined {
    return this.producers.get(name)?.node;
  }

  /** A constant value (initializer or precomputed), if `name` is one. */
  constantValue(name: string): Value | undefined {
    return this.consts.get(name);
  }

  private constant(t: HostTensor): Value {
    if (!isFloat(t.dtype)) return { dtype: t.dtype, shape: t.shape, host: t };
    const tensor = tf.keep(tf.tensor(Float32Array.from(t.data), [...t.shape], 'float32'));
    this.owned.push(tensor);
    return { dtype: t.dtype, shape: t.shape, tensor, ...(sizeOf(t.shape) <= HOST_COPY_LIMIT ? { host: t } : {}) };
  }

  private fold(step: Step): void {
    const inputs = step.node.inputs.map((i) => (i === '' ? undefined : this.consts.get(i)));
    let outs: readonly (Value | undefined)[] = [];
    const tensors = tf.tidy(() => {
      outs = runStep(step, inputs);
      return outs.flatMap((v) => (v?.tensor ? [v.tensor] : []));
    });
    for (const t of tensors) {
      if (!this.owned.includes(t) && !this.isConstTensor(t)) {
        tf.keep(t);
        this.owned.push(t);
      }
    }
    step.node.outputs.forEach((name, i) => {
      const v = outs[i];
      if (name === '' || !v) return;
      if (v.host && isFloat(v.dtype) && !v.tensor) {
        // A float constant computed on the host: upload it once.
        this.consts.set(name, this.constant(v.host));
      } else if (v.tensor && !v.host && sizeOf(v.shape) <= HOST_COPY_LIMIT) {
        this.consts.set(name, { ...plainValue(v), host: toHost(v) });
      } else {
        this.consts.set(name, plainValue(v));
      }
    });
  }

  private prepare(step: Step): void {
    const constants = step.node.inputs.map((i) => (i === '' ? undefined : this.consts.get(i)));
    const derived = tf.tidy(() => step.op.prepare!(step.opNode, constants) ?? {});
    for (const [k, t] of Object.entries(derived)) {
      tf.keep(t);
      this.owned.push(t);
      step.opNode.prepared.set(k, t);
    }
  }

  private isConstTensor(t: tf.Tensor): boolean {
    for (const v of this.consts.values()) if (v.tensor === t) return true;
    return false;
  }

  private plan(outputs: readonly string[]): Step[] {
    const key = outputs.join('\u0000');
    const cached = this.plans.get(key);
    if (cached) return cached;
    const needed = new Set<Step>();
    const stack = [...outputs];
    while (stack.length > 0) {
      const name = stack.pop()!;
      const s = this.producers.get(name);
      if (!s || needed.has(s)) continue;
      needed.add(s);
      for (const i of s.node.inputs) if (i !== '') stack.push(i);
    }
    const plan = this.steps.filter((s) => needed.has(s));
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Computes `outputs` from the fed inputs. Creates tfjs tensors: call it inside `tf.tidy` (or dispose the
   * device tensors of the returned values yourself).
   * @throws {@link ModelLoadError} when an input is missing.
   */
  run(feeds: ReadonlyMap<string, Value>, outputs: readonly string[]): Value[] {
    const env = new Map<string, Value>(this.consts);
    for (const [k, v] of feeds) env.set(k, v);
    for (const s of this.plan(outputs)) {
      const inputs = s.node.inputs.map((name) => {
        if (name === '') return undefined;
        const v = env.get(name);
        if (!v) throw new ModelLoadError(`${s.opNode.where}: expected input ${quote(name)} to be fed or computed, got none`);
        return v;
      });
      const outs = runStep(s, inputs);
      s.node.outputs.forEach((name, i) => {
        const v = outs[i];
        if (name !== '' && v) env.set(name, v);
      });
    }
    return outputs.map((o) => {
      const v = env.get(o);
      if (!v) throw new ModelLoadError(`onnx: expected output ${quote(o)} to be computed, got none`);
      return v;
    });
  }

  /** Runs and returns device tensors (float outputs as float32). Call inside `tf.tidy`. */
  runTensors(feeds: ReadonlyMap<string, Value>, outputs: readonly string[]): tf.Tensor[] {
    return this.run(feeds, outputs).map((v) => toDevice(v, 'onnx'));
  }

  /** Frees the uploaded initializers and precomputed tensors. */
  dispose(): void {
    for (const t of this.owned) if (!t.isDisposed) t.dispose();
    this.owned.length = 0;
  }
}
