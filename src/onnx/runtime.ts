/**
 * Query-only ONNX models run by onnxruntime-node (an optional peer dependency), and {@link loadOnnx}, which
 * picks the white-box importer when it can and onnxruntime otherwise.
 * @module
 */
import { dirname, resolve as resolvePath } from 'node:path';
import * as tf from '../tf.js';
import { ConfigError, ModelLoadError, ShapeError, UnsupportedError, describe } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import {
  checkBatchShape,
  MODEL_WARNING_CODES,
  type ModelWarning,
  type Bounds,
  type DifferentiableModel,
  type Layout,
  type Model,
  type Preprocessing,
  type QueryModel,
} from '../model.js';
import { applyEngine, type GradientEngine } from './ort-gradients.js';
import { findUnsupported } from './graph.js';
import { defaultLayout, importOnnx, readModelFile, type OnnxModelOptions } from './import.js';
import { OpNode } from './op.js';
import { decodeModel, type OnnxModel } from './proto.js';

/** Options of {@link fromOnnxRuntime} and {@link loadOnnx}. */
export interface OnnxRuntimeOptions extends OnnxModelOptions {
  /** Largest number of samples sent to onnxruntime in one `run`; bigger batches are split. Default `64`. */
  batchSize?: number;
  /** Threads of onnxruntime's intra-op pool. Default: onnxruntime's choice (all cores). */
  threads?: number;
  /**
   * For {@link loadOnnx}: which engine computes input-gradients of an importable model. Default `auto`:
   * onnxruntime-node's native kernels through generated gradient graphs ({@link withOnnxRuntimeGradients}) when
   * it loads and every operator has a gradient rule, else the importer's tfjs ops.
   */
  engine?: GradientEngine;
}

/** The parts of onnxruntime-node's API that robustest uses (so that its types are not a compile-time dependency). */
/** @internal */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type?: string;
}
/** @internal */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
/** @internal */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array | string, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32' | 'bool' | 'int64', data: Float32Array | Uint8Array | BigInt64Array, dims: readonly number[]) => OrtTensor;
}

function isOrtModule(m: unknown): m is OrtModule {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  const s = r['InferenceSession'];
  return typeof r['Tensor'] === 'function' && typeof s === 'function' && typeof (s as { create?: unknown }).create === 'function';
}

/** Imports onnxruntime-node (an optional peer). @internal */
export async function loadOrt(): Promise<OrtModule> {
  const spec = 'onnxruntime-node';
  let mod: unknown;
  try {
    mod = await import(spec);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new UnsupportedError(`onnxruntime: expected the optional peer dependency onnxruntime-node to load (npm install onnxruntime-node), got ${why}`);
  }
  const m = mod as { default?: unknown };
  if (isOrtModule(mod)) return mod;
  if (isOrtModule(m.default)) return m.default;
  throw new UnsupportedError('onnxruntime: expected onnxruntime-node to export InferenceSession and Tensor, got a module without them');
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  const head = [(field << 3) | 2, ...varint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/**
 * Adds a graph output named `name` without re-encoding the model: protobuf merges a repeated embedded message
 * field, so appending `ModelProto{graph: GraphProto{output: [ValueInfoProto{name}]}}` to the bytes appends an
 * output and keeps every other byte as it was.
 */
function withExtraOutput(bytes: Uint8Array, name: string): Uint8Array {
  const extra = lengthDelimited(7, lengthDelimited(12, lengthDelimited(1, new TextEncoder().encode(name))));
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes, 0);
  out.set(extra, bytes.length);
  return out;
}

/** A final Softmax/LogSoftmax over the class axis: the name of its input, and the warning to give. */
function softmaxHead(model: OnnxModel, name: string): { logits: string; warning: ModelWarning } | undefined {
  const output = model.graph.outputs[0]!.name;
  const node = model.graph.nodes.find((n) => n.outputs.includes(output));
  if (!node || node.domain !== '' || (node.opType !== 'Softmax' && node.opType !== 'LogSoftmax')) return undefined;
  const opset = model.opsets.get('') ?? 1;
  const rank = model.graph.outputs[0]!.dims?.length ?? 2;
  const axis = new OpNode(node, opset).int('axis', opset < 13 ? 1 : -1);
  if ((axis < 0 ? axis + rank : axis) !== rank - 1 && !(opset < 13 && axis === 1)) return undefined;
  return {
    logits: node.inputs[0]!,
    warning: {
      code: MODEL_WARNING_CODES.softmaxRemoved,
      message: `${name}: the last node '${node.name}' is a ${node.opType}; onnxruntime returns its input (the pre-${node.opType.toLowerCase()} logits)`,
    },
  };
}

/** The onnxruntime-backed {@link QueryModel}. */
class OrtModel implements QueryModel {
  readonly kind = 'query' as const;
  readonly engine = 'onnxruntime';
  readonly preprocessing?: Preprocessing;
  private session: OrtSession | undefined;
  private readonly mean?: number[];
  private readonly invStd?: number[];

  constructor(
    private readonly ort: OrtModule,
    session: OrtSession,
    private readonly inputName: string,
    private readonly outputName: string,
    readonly bounds: Bounds,
    readonly numClasses: number,
    readonly inputShape: readonly number[],
    readonly layout: Layout,
    readonly name: string,
    readonly warnings: readonly ModelWarning[],
    private readonly batchSize: number,
    private readonly hash: string,
    preprocessing: Preprocessing | undefined,
  ) {
    this.session = session;
    if (preprocessing) {
      this.preprocessing = { mean: [...preprocessing.mean], std: [...preprocessing.std] };
      this.mean = [...preprocessing.mean];
      this.invStd = preprocessing.std.map((s) => 1 / s);
    }
  }

  /** Normalises a host copy of the batch in place: channel axis 1 for NCHW, the last axis otherwise. */
  private normalise(data: Float32Array, shape: readonly number[]): void {
    if (!this.mean || !this.invStd) return;
    const n = this.mean.length;
    const inner = this.layout === 'NCHW' ? shape.slice(2).reduce((a, b) => a * b, 1) : 1;
    const channels = this.layout === 'NCHW' ? shape[1]! : shape[shape.length - 1]!;
    for (let i = 0; i < data.length; i++) {
      const c = n === 1 ? 0 : Math.floor(i / inner) % channels;
      data[i] = (data[i]! - this.mean[c]!) * this.invStd[c]!;
    }
  }

  async logits(x: tf.Tensor): Promise<tf.Tensor2D> {
    const session = this.session;
    if (!session) throw new ConfigError(`${this.name}: expected a live model, got one that was disposed`);
    const expected = this.inputShape;
    const n = checkBatchShape(this.name, expected, x);
    const per = expected.reduce((a, b) => a * b, 1);
    const all = Float32Array.from(await x.data());
    this.normalise(all, x.shape);
    const out = new Float32Array(n * this.numClasses);
    for (let start = 0; start < n; start += this.batchSize) {
      const count = Math.min(this.batchSize, n - start);
      const chunk = all.subarray(start * per, (start + count) * per);
      const feeds = { [this.inputName]: new this.ort.Tensor('float32', chunk, [count, ...expected]) };
      const result = await session.run(feeds);
      const y = result[this.outputName];
      const data = y?.data;
      if (!y || !(data instanceof Float32Array) || data.length !== count * this.numClasses) {
        throw new ShapeError(
          `${this.name}: expected onnxruntime to return [${count}, ${this.numClasses}] float32 logits, got ${y ? `[${y.dims.join(', ')}]` : 'no output'}`,
        );
      }
      out.set(data, start * this.numClasses);
    }
    return tf.tensor2d(out, [n, this.numClasses]);
  }

  fingerprint(): Promise<string> {
    return Promise.resolve(this.hash);
  }

  dispose(): void {
    const s = this.session;
    this.session = undefined;
    if (s) void s.release().catch(() => undefined);
  }
}

/**
 * Wraps an `.onnx` classifier as a query-only {@link QueryModel} run by onnxruntime-node (CPU), for models
 * with operators that the importer lacks. Black-box attacks only; for gradients use {@link loadOnnxModel}.
 *
 * Batches are split into runs of at most `batchSize` samples; preprocessing is applied on the host before
 * each run. A final Softmax/LogSoftmax is bypassed by adding its input as an extra graph output (see
 * {@link OnnxModelOptions.keepSoftmax}). The session is released by `dispose()`.
 * onnxruntime-node is an optional peer dependency, imported on first use.
 *
 * Spec: https://onnxruntime.ai/docs/api/js/
 *
 * @param path - path of the `.onnx` file.
 * @param options - bounds (default `[0, 1]`), preprocessing, name, `inputShape`/`numClasses` when the graph
 *   does not declare them, `batchSize` (default 64), `threads` (default: onnxruntime's), `keepSoftmax` (default false).
 * @returns a query model; the caller disposes it.
 * @throws {@link UnsupportedError} when onnxruntime-node cannot be loaded.
 * @throws {@link ModelLoadError} when the file cannot be read or onnxruntime rejects it.
 * @throws {@link ConfigError} for a graph with several inputs, undeclared shapes not given in options, or invalid options.
 * @example
 * ```ts
 * const model = await fromOnnxRuntime('models/lstm-classifier.onnx', { bounds: [0, 1], batchSize: 32 });
 * const logits = await model.logits(x);
 * model.dispose();
 * ```
 */
export async function fromOnnxRuntime(path: string, options: OnnxRuntimeOptions = {}): Promise<QueryModel> {
  const bytes = await readModelFile(path);
  return fromOnnxRuntimeBytes(bytes, path, options, []);
}

async function fromOnnxRuntimeBytes(bytes: Uint8Array, path: string, options: OnnxRuntimeOptions, extraWarnings: ModelWarning[]): Promise<QueryModel> {
  const model = decodeModel(bytes, options.name ?? 'onnx', 'skip');
  const name = options.name ?? (model.graph.name || 'onnx-model');
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`${name}: expected batchSize to be a positive integer, got ${describe(batchSize)}`);
  if (model.graph.inputs.length !== 1) {
    throw new ConfigError(`${name}: expected a graph with one input (besides initializers), got ${model.graph.inputs.length}`);
  }
  const input = model.graph.inputs[0]!;
  const dims = input.dims;
  const declared =
    dims && dims.length >= 2 && dims.slice(1).every((d): d is number => typeof d === 'number' && d > 0) ? (dims.slice(1) as number[]) : undefined;
  const inputShape = options.inputShape ?? declared;
  if (!inputShape) throw new ConfigError(`${name}: expected the input '${input.name}' to declare its shape [N, ...]; pass inputShape`);
  const warnings = [...extraWarnings];
  let head = options.keepSoftmax ? undefined : softmaxHead(model, name);
  if (head && model.hasExternalData) {
    // onnxruntime resolves external data only when it loads the model from its file, which cannot be amended.
    warnings.push({
      code: MODEL_WARNING_CODES.softmaxKept,
      message: `${name}: the last node is a Softmax/LogSoftmax, kept because the model stores tensors as external data`,
    });
    head = undefined;
  }
  const ort = await loadOrt();
  const sessionOptions: Record<string, unknown> = { graphOptimizationLevel: 'all' };
  if (options.threads !== undefined) sessionOptions['intraOpNumThreads'] = options.threads;
  let session: OrtSession;
  let outputName = model.graph.outputs[0]!.name;
  try {
    if (head) {
      session = await ort.InferenceSession.create(withExtraOutput(bytes, head.logits), sessionOptions);
      outputName = head.logits;
      warnings.push(head.warning);
    } else if (model.hasExternalData) {
      session = await ort.InferenceSession.create(resolvePath(path), sessionOptions);
    } else {
      session = await ort.InferenceSession.create(bytes, sessionOptions);
    }
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ModelLoadError(`${name}: expected onnxruntime to load the model, got ${why}`);
  }
  let numClasses = options.numClasses;
  try {
    if (numClasses === undefined) {
      const od = model.graph.outputs[0]!.dims;
      const last = od?.[od.length - 1];
      if (od?.length === 2 && typeof last === 'number' && last >= 2) numClasses = last;
      else {
        const per = inputShape.reduce((a, b) => a * b, 1);
        const r = await session.run({ [input.name]: new ort.Tensor('float32', new Float32Array(per), [1, ...inputShape]) });
        const y = r[outputName];
        numClasses = y ? y.dims.reduce((a, b) => a * b, 1) : 0;
      }
    }
    if (!Number.isInteger(numClasses) || numClasses < 2)
      throw new ConfigError(`${name}: expected numClasses to be an integer >= 2, got ${describe(numClasses)}`);
    const bounds: Bounds = options.bounds ?? [0, 1];
    if (!(bounds[0] < bounds[1])) throw new ConfigError(`${name}: expected bounds to be [lower, upper] with lower < upper, got ${describe(bounds)}`);
    const layout = options.layout ?? defaultLayout(inputShape);
    return new OrtModel(
      ort,
      session,
      input.name,
      outputName,
      [bounds[0], bounds[1]],
      numClasses,
      inputShape,
      layout,
      name,
      warnings,
      batchSize,
      sha256Bytes([bytes]),
      options.preprocessing,
    );
  } catch (e) {
    await session.release();
    throw e;
  }
}

/**
 * Loads an `.onnx` classifier the best available way: the white-box importer ({@link importOnnx}, a
 * {@link DifferentiableModel} with exact gradients) when every operator is supported, otherwise a query-only
 * onnxruntime model ({@link fromOnnxRuntime}) with a warning that names the unsupported operators. An importable
 * model's input-gradients come from the engine `options.engine` names (default `auto`: onnxruntime's native
 * kernels via {@link withOnnxRuntimeGradients} when onnxruntime-node loads, else the importer's tfjs ops).
 *
 * @param path - path of the `.onnx` file.
 * @param options - as for {@link importOnnx} and {@link fromOnnxRuntime}, plus `engine` (default `auto`).
 * @returns a model of either kind; check `model.kind` (or {@link isDifferentiable}) before a white-box attack,
 *   and `model.engine` for what computes it.
 * @throws {@link ModelLoadError} for an unreadable or invalid file.
 * @throws {@link UnsupportedError} when the importer cannot take the model and onnxruntime-node cannot load, or
 *   `engine: 'onnxruntime'` and the gradient engine cannot be built.
 * @throws {@link ConfigError} as {@link importOnnx}, or for an unknown `engine`.
 * @example
 * ```ts
 * const model = await loadOnnx('classifier.onnx');
 * if (model.kind === 'query') console.warn(model.warnings.join('\n'));
 * ```
 */
export async function loadOnnx(path: string, options: OnnxRuntimeOptions = {}): Promise<Model> {
  const bytes = await readModelFile(path);
  const model = decodeModel(bytes, options.name ?? 'onnx', 'skip');
  const name = options.name ?? (model.graph.name || 'onnx-model');
  const unsupported = findUnsupported(model);
  let why = '';
  if (unsupported.length === 0) {
    let base: DifferentiableModel | undefined;
    try {
      base = importOnnx(bytes, { ...options, externalDataDir: options.externalDataDir ?? dirname(resolvePath(path)) });
    } catch (e) {
      if (!(e instanceof UnsupportedError)) throw e;
      why = e.message;
    }
    if (base) {
      const engine = options.engine ?? 'auto';
      // External data lives beside the file; the generated graphs would need it inline.
      return applyEngine(base, () => bytes, model.hasExternalData && engine === 'auto' ? 'tfjs' : engine, {
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.keepSoftmax !== undefined ? { keepSoftmax: options.keepSoftmax } : {}),
      });
    }
  } else {
    const ops = [...new Set(unsupported.map((u) => (u.domain ? `${u.domain}.` : '') + u.opType))];
    why = `operator${ops.length > 1 ? 's' : ''} ${ops.join(', ')} ${ops.length > 1 ? 'are' : 'is'} not supported by the importer`;
  }
  return fromOnnxRuntimeBytes(bytes, path, options, [
    {
      code: MODEL_WARNING_CODES.queryOnly,
      message: `${name}: ${why}; using onnxruntime (query-only: gradients unavailable, black-box attacks only)`,
    },
  ]);
}
