/**
 * The model interface: one typed wrapper around any classifier, carrying its input bounds, layout and
 * preprocessing, so that attacks see one input space (the raw one) and epsilon always means the same thing.
 *
 * Two kinds, told apart by `kind` so misuse is a compile error:
 * - {@link DifferentiableModel}: tfjs ops all the way, gives input-gradients through {@link DifferentiableModel.valueAndGrad}.
 * - {@link QueryModel}: an async `logits` only (onnxruntime sessions, HTTP endpoints); black-box attacks only.
 *
 * This file holds the adapters; the types live in `model-types.ts` and are re-exported from here.
 * @module
 */
import * as tf from './tf.js';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { ConfigError, ShapeError } from './errors.js';
import { sha256Tensors } from './digest.js';
import { autoEnableFastGradients } from './gradients/index.js';
import { checkOptions } from './model-options.js';

export {
  MODEL_WARNING_CODES,
  type Bounds,
  type DefenseInfo,
  type DifferentiableModel,
  type FunctionModelOptions,
  type Layout,
  type LossFn,
  type Model,
  type ModelInfo,
  type ModelOptions,
  type ModelWarning,
  type ModelWarningCode,
  type Preprocessing,
  type QueryModel,
  type ValueAndGrad,
} from './model-types.js';
import {
  MODEL_WARNING_CODES,
  type Bounds,
  type DifferentiableModel,
  type FunctionModelOptions,
  type Layout,
  type LossFn,
  type Model,
  type ModelOptions,
  type ModelWarning,
  type Preprocessing,
  type ValueAndGrad,
} from './model-types.js';

/** Infers a layout from a shape without the batch dimension. */
export function inferLayout(inputShape: readonly number[]): Layout {
  if (inputShape.length !== 3) return 'flat';
  const [a, , c] = inputShape as [number, number, number];
  if ([1, 3, 4].includes(c)) return 'NHWC';
  if ([1, 3, 4].includes(a)) return 'NCHW';
  return 'NHWC';
}

function channelAxisShape(layout: Layout, inputShape: readonly number[], n: number, where: string): number[] {
  const rank = inputShape.length + 1;
  const shape = new Array<number>(rank).fill(1);
  const axis = layout === 'NCHW' ? 1 : rank - 1;
  const channels = layout === 'NCHW' ? inputShape[0]! : inputShape[inputShape.length - 1]!;
  if (n !== 1 && n !== channels) {
    throw new ConfigError(`${where}: expected preprocessing with 1 or ${channels} entries (one per channel), got ${n}`);
  }
  shape[axis] = n;
  return shape;
}

/**
 * The tfjs-backed implementation of {@link DifferentiableModel} behind every adapter.
 * @internal
 */
class TfjsModel implements DifferentiableModel {
  readonly kind = 'differentiable' as const;
  readonly bounds: Bounds;
  readonly numClasses: number;
  readonly inputShape: readonly number[];
  readonly layout: Layout;
  readonly preprocessing?: Preprocessing;
  readonly name: string;
  readonly engine: string;
  readonly warnings: readonly ModelWarning[];
  private readonly net: (x: tf.Tensor) => tf.Tensor;
  private readonly weightTensors: () => tf.Tensor[];
  private readonly owned: tf.Tensor[] = [];
  private readonly onDispose: () => void;
  private readonly fingerprintOverride?: () => Promise<string>;

  constructor(args: {
    net: (x: tf.Tensor) => tf.Tensor;
    weights: () => tf.Tensor[];
    options: ModelOptions & { numClasses: number; inputShape: readonly number[]; name: string };
    engine: string;
    warnings: ModelWarning[];
    onDispose?: () => void;
    fingerprint?: () => Promise<string>;
  }) {
    const o = args.options;
    const bounds: Bounds = o.bounds ?? [0, 1];
    checkOptions(o.name, bounds, o.numClasses, o.inputShape, o.preprocessing);
    this.bounds = [bounds[0], bounds[1]];
    this.numClasses = o.numClasses;
    this.inputShape = [...o.inputShape];
    this.layout = o.layout ?? inferLayout(o.inputShape);
    this.name = o.name;
    this.engine = args.engine;
    this.warnings = args.warnings;
    this.weightTensors = args.weights;
    this.onDispose = args.onDispose ?? (() => undefined);
    if (args.fingerprint) this.fingerprintOverride = args.fingerprint;
    if (o.preprocessing) {
      this.preprocessing = { mean: [...o.preprocessing.mean], std: [...o.preprocessing.std] };
      const shape = channelAxisShape(this.layout, this.inputShape, o.preprocessing.mean.length, o.name);
      const mean = tf.keep(tf.tensor(o.preprocessing.mean as number[], shape, 'float32'));
      const invStd = tf.keep(
        tf.tensor(
          o.preprocessing.std.map((s) => 1 / s),
          shape,
          'float32',
        ),
      );
      this.owned.push(mean, invStd);
      const inner = args.net;
      this.net = (x) => inner(tf.mul(tf.sub(x, mean), invStd));
    } else {
      this.net = args.net;
    }
  }

  logits(x: tf.Tensor): tf.Tensor2D {
    checkBatchShape(this.name, this.inputShape, x);
    return tf.tidy(() => {
      const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      const out = this.net(input);
      const n = x.shape[0]!;
      if (out.size !== n * this.numClasses) {
        throw new ShapeError(`${this.name}: expected the model to output [${n}, ${this.numClasses}] logits, got [${out.shape.join(', ')}]`);
      }
      return (out.rank === 2 ? out : tf.reshape(out, [n, this.numClasses])) as tf.Tensor2D;
    });
  }

  async valueAndGrad(x: tf.Tensor, loss: LossFn): Promise<ValueAndGrad> {
    autoEnableFastGradients();
    return tf.tidy(() => {
      const f = (xi: tf.Tensor): tf.Tensor => loss(this.logits(xi));
      const { value, grad } = tf.valueAndGrad(f)(x);
      return { value: value as tf.Tensor1D, grad };
    });
  }

  async fingerprint(): Promise<string> {
    if (this.fingerprintOverride) return this.fingerprintOverride();
    const ws = this.weightTensors();
    if (ws.length === 0) return 'unknown:no-weights-declared';
    return sha256Tensors(ws);
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
    this.onDispose();
  }
}

function outputWidth(shape: readonly (number | null)[], where: string): number {
  const last = shape[shape.length - 1];
  if (typeof last !== 'number' || last < 2) {
    throw new ConfigError(
      `${where}: expected a model output of shape [N, numClasses] with numClasses >= 2, got [${shape.map((d) => d ?? 'N').join(', ')}]; pass numClasses explicitly (CLI: --num-classes)`,
    );
  }
  return last;
}

function shapeWithoutBatch(shape: readonly (number | null)[] | undefined, where: string): number[] {
  if (!shape || shape.length < 2 || shape.slice(1).some((d) => typeof d !== 'number')) {
    throw new ConfigError(
      `${where}: expected a model input of shape [N, ...] with known dimensions, got ${shape ? `[${shape.map((d) => d ?? 'N').join(', ')}]` : 'none'}; pass inputShape explicitly (CLI: --input-shape)`,
    );
  }
  return shape.slice(1) as number[];
}

interface SoftmaxHead {
  logitsModel: LayersModel;
  warning: ModelWarning;
  dispose: () => void;
}

/**
 * Finds a softmax at the end of a LayersModel and returns a model of the same weights that stops before it.
 * A final `Activation('softmax')`/`Softmax` layer is cut off; a layer with `activation: 'softmax'` is rebuilt
 * with a linear activation and the same weights.
 */
async function stripSoftmax(model: LayersModel, tfl: typeof import('@tensorflow/tfjs-layers')): Promise<SoftmaxHead | undefined> {
  if (model.outputs.length !== 1) return undefined;
  const last = model.layers[model.layers.length - 1];
  if (!last) return undefined;
  const cfg = last.getConfig() as Record<string, unknown>;
  const cls = last.getClassName();
  const isSoftmaxLayer = cls === 'Softmax' || (cls === 'Activation' && cfg['activation'] === 'softmax');
  if (isSoftmaxLayer) {
    const logitsModel = tfl.model({ inputs: model.inputs, outputs: last.input as import('@tensorflow/tfjs-layers').SymbolicTensor });
    return {
      logitsModel,
      warning: {
        code: MODEL_WARNING_CODES.softmaxRemoved,
        message: `${model.name}: the last layer '${last.name}' is a softmax; attacks use its input (the pre-softmax logits)`,
      },
      dispose: () => undefined,
    };
  }
  if (cfg['activation'] !== 'softmax') return undefined;
  const ctor = last.constructor as unknown as {
    fromConfig: (c: unknown, config: Record<string, unknown>) => import('@tensorflow/tfjs-layers').layers.Layer;
  };
  const clone = ctor.fromConfig(ctor, { ...cfg, activation: 'linear', name: `${last.name}_logits` });
  const out = clone.apply(last.input as import('@tensorflow/tfjs-layers').SymbolicTensor) as import('@tensorflow/tfjs-layers').SymbolicTensor;
  clone.setWeights(last.getWeights());
  const logitsModel = tfl.model({ inputs: model.inputs, outputs: out });
  return {
    logitsModel,
    warning: {
      code: MODEL_WARNING_CODES.softmaxRemoved,
      message: `${model.name}: the last layer '${last.name}' has a softmax activation; attacks use the pre-softmax logits of a copy with a linear activation`,
    },
    dispose: () => clone.dispose(),
  };
}

/** Hooks for adapters that own the wrapped model (loadModel). @internal */
export interface AdapterHooks {
  /** Provenance hash to use instead of hashing the weights. */
  fingerprint?: () => Promise<string>;
  /** Called by `dispose()`, e.g. to dispose a model the adapter loaded itself. */
  onDispose?: () => void;
  /** Extra warnings. */
  warnings?: ModelWarning[];
}

/** The tfjs layers adapter behind `fromLayersModel` and `loadModel` (which add the engine policy), with hooks. @internal */
export async function layersAdapter(model: LayersModel, options: ModelOptions, hooks: AdapterHooks): Promise<DifferentiableModel> {
  const tfl = await import('@tensorflow/tfjs-layers');
  const name = options.name ?? model.name ?? 'model';
  if (model.inputs.length !== 1) {
    throw new ConfigError(`${name}: expected a model with one input, got ${model.inputs.length}`);
  }
  const inputShape = options.inputShape ?? shapeWithoutBatch(model.inputs[0]!.shape, name);
  const numClasses = options.numClasses ?? outputWidth(model.outputs[0]!.shape, name);
  const head = await stripSoftmax(model, tfl);
  const net = head?.logitsModel ?? model;
  try {
    return new TfjsModel({
      net: (x) => net.apply(x, { training: false }) as tf.Tensor,
      weights: () => model.weights.map((w) => w.read()),
      options: { ...options, inputShape, numClasses, name },
      engine: 'tfjs',
      warnings: [...(hooks.warnings ?? []), ...(head ? [head.warning] : [])],
      onDispose: () => {
        head?.dispose();
        hooks.onDispose?.();
      },
      ...(hooks.fingerprint ? { fingerprint: hooks.fingerprint } : {}),
    });
  } catch (e) {
    head?.dispose(); // an invalid option: free the rebuilt head; the caller still owns `model`
    throw e;
  }
}

/**
 * Wraps a tfjs `GraphModel` (a converted TensorFlow SavedModel or frozen graph) as a {@link DifferentiableModel}.
 * The graph runs with `execute`, so gradients flow through its ops (graphs with control flow cannot be
 * differentiated by tfjs).
 *
 * Graphs from older converters often declare no output signature and end in a `Softmax` node. When the graph's
 * output node is a `Softmax` or `LogSoftmax` (possibly behind `Identity` nodes), the graph is executed up to that
 * node's input, so attacks see the pre-softmax logits, and the model's `warnings` say so (code
 * `softmax-removed`, see {@link MODEL_WARNING_CODES}). When the output shape is not declared, `numClasses` is
 * read from one forward pass on a single all-zero input.
 *
 * @param model - the user's model; never modified or disposed.
 * @param options - bounds (default `[0, 1]`), preprocessing, name (default `graph-model`); `inputShape` when the
 *   graph's input placeholder does not give it; `numClasses` to skip the forward pass that infers it.
 * @throws {@link ConfigError} if the input shape is unknown and not given, the graph cannot run on that shape,
 *   it outputs fewer than 2 scores per input, or an option is invalid.
 * @example
 * ```ts
 * import { loadGraphModel } from '@tensorflow/tfjs-converter';
 * const model = fromGraphModel(await loadGraphModel('file://web_model/model.json'), { bounds: [0, 255] });
 * model.warnings.some((w) => w.code === MODEL_WARNING_CODES.softmaxRemoved); // true if it ended in a softmax
 * ```
 */
export function fromGraphModel(model: GraphModel, options: ModelOptions = {}): DifferentiableModel {
  return graphAdapter(model, options, {});
}

/** The parts of a tfjs-converter graph node that {@link graphHead} reads. */
interface GraphNodeView {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly GraphNodeView[];
}

function isGraphNode(v: unknown): v is GraphNodeView {
  const n = v as Partial<GraphNodeView> | null;
  return typeof n === 'object' && n !== null && typeof n.name === 'string' && typeof n.op === 'string' && Array.isArray(n.inputs);
}

/** The graph's single output node, read from the executor tfjs-converter builds (not public API: undefined if absent). */
function graphOutputNode(model: GraphModel): GraphNodeView | undefined {
  const graph = (model as unknown as { executor?: { graph?: { outputs?: unknown } } }).executor?.graph;
  const outputs = graph?.outputs;
  if (!Array.isArray(outputs) || outputs.length !== 1 || !isGraphNode(outputs[0])) return undefined;
  return outputs[0];
}

/** A final softmax found in a graph: the node to execute instead of the output, and the warning saying so. */
interface GraphHead {
  /** Name of the softmax's input node (the logits), passed to `execute`. */
  readonly logitsNode: string;
  readonly warning: ModelWarning;
}

/**
 * Finds a `Softmax`/`LogSoftmax` node at the end of a graph (possibly behind `Identity` nodes, as newer converters
 * emit) and returns its input, the logits. TensorFlow's softmax is over the last axis, the class axis.
 */
function graphHead(model: GraphModel, name: string): GraphHead | undefined {
  let node = graphOutputNode(model);
  for (let hops = 0; node && node.op === 'Identity' && hops < 8; hops++) node = node.inputs[0];
  if (!node || (node.op !== 'Softmax' && node.op !== 'LogSoftmax')) return undefined;
  const input = node.inputs[0];
  if (!input || input.op === 'Placeholder') return undefined;
  return {
    logitsNode: input.name,
    warning: {
      code: MODEL_WARNING_CODES.softmaxRemoved,
      message: `${name}: the graph's output node '${node.name}' is a ${node.op}; attacks use its input '${input.name}' (the pre-softmax logits)`,
    },
  };
}

/**
 * The class count of a graph whose output shape is not declared: the size of the output of one forward pass on a
 * single all-zero input.
 */
function probeNumClasses(net: (x: tf.Tensor) => tf.Tensor, inputShape: readonly number[], name: string): number {
  let shape: number[];
  try {
    const out = tf.tidy(() => net(tf.zeros([1, ...inputShape], 'float32')));
    shape = out.shape;
    out.dispose();
  } catch (e) {
    throw new ConfigError(
      `${name}: expected the graph to run on one input of shape [1, ${inputShape.join(', ')}] to infer numClasses, got ${(e as Error).message.split('\n')[0]}; pass inputShape or numClasses explicitly (CLI: --input-shape, --num-classes)`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size < 2) {
    throw new ConfigError(
      `${name}: expected the graph to output at least 2 class scores per input, got shape [${shape.join(', ')}] for one input; pass numClasses explicitly (CLI: --num-classes)`,
    );
  }
  return size;
}

/** {@link fromGraphModel} with hooks. @internal */
export function graphAdapter(model: GraphModel, options: ModelOptions, hooks: AdapterHooks): DifferentiableModel {
  const name = options.name ?? 'graph-model';
  if (model.inputs.length !== 1) {
    throw new ConfigError(`${name}: expected a graph with one input, got ${model.inputs.length}`);
  }
  if (model.outputs.length !== 1) {
    throw new ConfigError(`${name}: expected a graph with one output (the class scores), got ${model.outputs.length}: ${model.outputNodes.join(', ')}`);
  }
  const inputShape =
    options.inputShape ??
    shapeWithoutBatch(
      model.inputs[0]!.shape?.map((d) => (d < 0 ? null : d)),
      name,
    );
  const head = graphHead(model, name);
  const net = head ? (x: tf.Tensor) => model.execute(x, head.logitsNode) as tf.Tensor : (x: tf.Tensor) => model.execute(x) as tf.Tensor;
  const declared = model.outputs[0]?.shape?.map((d) => (d < 0 ? null : d)) ?? [];
  const declaredWidth = declared[declared.length - 1];
  const numClasses = options.numClasses ?? (typeof declaredWidth === 'number' && declaredWidth >= 2 ? declaredWidth : probeNumClasses(net, inputShape, name));
  return new TfjsModel({
    net,
    weights: () =>
      Object.keys(model.weights)
        .sort()
        .flatMap((k) => model.weights[k] ?? []),
    options: { ...options, inputShape, numClasses, name },
    engine: 'tfjs',
    warnings: [...(hooks.warnings ?? []), ...(head ? [head.warning] : [])],
    ...(hooks.onDispose ? { onDispose: hooks.onDispose } : {}),
    ...(hooks.fingerprint ? { fingerprint: hooks.fingerprint } : {}),
  });
}

/**
 * Wraps a plain function of tfjs ops `x => logits` as a {@link DifferentiableModel}.
 *
 * @param fn - maps a float32 batch `[N, ...inputShape]` (after preprocessing) to `[N, numClasses]` logits, with tfjs ops only.
 * @param options - `numClasses` and `inputShape` are required; `weights` are hashed for provenance.
 * @throws {@link ConfigError} if an option is invalid; {@link ShapeError} at call time if the output has the wrong size.
 * @example
 * ```ts
 * const w = tf.randomNormal([4, 3]);
 * const model = fromFunction((x) => tf.matMul(x as tf.Tensor2D, w), { numClasses: 3, inputShape: [4], weights: [w] });
 * ```
 */
export function fromFunction(fn: (x: tf.Tensor) => tf.Tensor, options: FunctionModelOptions): DifferentiableModel {
  const weights = options.weights ?? [];
  return new TfjsModel({
    net: fn,
    weights: () => [...weights],
    options: { ...options, name: options.name ?? 'function' },
    engine: 'tfjs',
    warnings: [],
  });
}

/**
 * Builds a {@link DifferentiableModel} around any tfjs network function with extra provenance and clean-up hooks.
 * For adapters (the ONNX importer) rather than end users.
 * @internal
 */
export function tfjsModel(args: {
  net: (x: tf.Tensor) => tf.Tensor;
  weights: () => tf.Tensor[];
  options: ModelOptions & { numClasses: number; inputShape: readonly number[]; name: string };
  engine: string;
  warnings: ModelWarning[];
  onDispose?: () => void;
  fingerprint?: () => Promise<string>;
}): DifferentiableModel {
  return new TfjsModel(args);
}

/**
 * Throws a {@link ShapeError} unless `x` is a batch `[N, ...inputShape]` of the model `name`; returns N.
 * @internal
 */
export function checkBatchShape(name: string, inputShape: readonly number[], x: tf.Tensor): number {
  if (x.rank !== inputShape.length + 1 || inputShape.some((d, i) => x.shape[i + 1] !== d)) {
    throw new ShapeError(`${name}: expected input of shape [N, ${inputShape.join(', ')}], got [${x.shape.join(', ')}]`);
  }
  return x.shape[0]!;
}

/**
 * A {@link DifferentiableModel} that wraps another one: the same description, `logits` and fingerprint, a
 * different `valueAndGrad` (a native gradient engine, a worker pool). For adapters, not end users.
 * @internal
 */
export abstract class WrappedModel implements DifferentiableModel {
  readonly kind = 'differentiable' as const;
  readonly bounds: Bounds;
  readonly numClasses: number;
  readonly inputShape: readonly number[];
  readonly layout: Layout;
  readonly preprocessing?: Preprocessing;
  readonly name: string;
  abstract readonly engine: string;
  readonly warnings: readonly ModelWarning[];

  constructor(protected readonly base: DifferentiableModel) {
    this.bounds = base.bounds;
    this.numClasses = base.numClasses;
    this.inputShape = base.inputShape;
    this.layout = base.layout;
    if (base.preprocessing) this.preprocessing = base.preprocessing;
    this.name = base.name;
    this.warnings = base.warnings;
  }

  logits(x: tf.Tensor): tf.Tensor2D {
    return this.base.logits(x);
  }

  /** Throws a {@link ShapeError} unless `x` is `[N, ...inputShape]`; returns N. */
  protected checkInput(x: tf.Tensor): number {
    return checkBatchShape(this.name, this.inputShape, x);
  }

  abstract valueAndGrad(x: tf.Tensor, loss: LossFn): Promise<ValueAndGrad>;

  fingerprint(): Promise<string> {
    return this.base.fingerprint();
  }

  abstract dispose(): void;
}

/** True when `model` can give input-gradients. */
export function isDifferentiable(model: Model): model is DifferentiableModel {
  return model.kind === 'differentiable';
}
