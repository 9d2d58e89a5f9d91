/**
 * Query-only ONNX models run by onnxruntime-node (an optional peer dependency). {@link loadOnnx}, in
 * `policy.ts`, picks between these and the white-box importer.
 * @module
 */
import { oneLine, quote } from '../files.js';
import { resolve as resolvePath } from 'node:path';
import * as tf from '../tf.js';
import { ConfigError, ModelLoadError, ShapeError, describe } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import { checkBatchShape, MODEL_WARNING_CODES, type ModelWarning, type Bounds, type Layout, type Preprocessing, type QueryModel } from '../model.js';
import { checkOptions, HostPreprocessing, maxElementsOf } from '../model-options.js';
import { concatBytes, encodeGraphAddition } from './encode.js';
import { checkDeclaredSizes, defaultLayout, readModelFile } from './import.js';
import { OpNode } from './op.js';
import type { OnnxRuntimeOptions } from './options.js';
import { createSession, firstLine, loadOrt, type OrtModule, type OrtSession } from './ort.js';
import { decodeModel, type OnnxModel } from './proto.js';

export type { OnnxRuntimeOptions } from './options.js';

/**
 * Adds a graph output named `name` without re-encoding the model: protobuf merges a repeated embedded message
 * field, so appending `ModelProto{graph: GraphProto{output: [ValueInfoProto{name}]}}` to the bytes appends an
 * output and keeps every other byte as it was.
 */
function withExtraOutput(bytes: Uint8Array, name: string): Uint8Array {
  return concatBytes(bytes, encodeGraphAddition({ outputs: [{ name }] }));
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
      message: `${name}: the last node ${quote(node.name)} is a ${node.opType}; onnxruntime returns its input (the pre-${node.opType.toLowerCase()} logits)`,
    },
  };
}

/** The onnxruntime-backed {@link QueryModel}. */
class OrtModel implements QueryModel {
  readonly kind = 'query' as const;
  readonly engine = 'onnxruntime';
  readonly preprocessing?: Preprocessing;
  private session: OrtSession | undefined;

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
    private readonly host: HostPreprocessing | undefined,
  ) {
    this.session = session;
    if (host) this.preprocessing = host.preprocessing;
  }

  async logits(x: tf.Tensor): Promise<tf.Tensor2D> {
    const session = this.session;
    if (!session) throw new ConfigError(`${this.name}: expected a live model, got one that was disposed`);
    const expected = this.inputShape;
    const n = checkBatchShape(this.name, expected, x);
    const per = expected.reduce((a, b) => a * b, 1);
    const all = Float32Array.from(await x.data());
    this.host?.apply(all, x.shape);
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

/**
 * {@link fromOnnxRuntime} on a file's bytes already read (`path` is used for external data), with warnings to add.
 * @internal
 */
export async function fromOnnxRuntimeBytes(bytes: Uint8Array, path: string, options: OnnxRuntimeOptions, extraWarnings: ModelWarning[]): Promise<QueryModel> {
  const model = decodeModel(bytes, options.name ?? 'onnx', 'skip');
  const name = options.name ?? oneLine(model.graph.name || 'onnx-model');
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`${name}: expected batchSize to be a positive integer, got ${describe(batchSize)}`);
  if (model.graph.inputs.length !== 1) {
    throw new ConfigError(`${name}: expected a graph with one input (besides initializers), got ${model.graph.inputs.length}`);
  }
  const input = model.graph.inputs[0]!;
  const dims = input.dims;
  const declared =
    dims && dims.length >= 2 && dims.slice(1).every((d): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d > 0)
      ? (dims.slice(1) as number[])
      : undefined;
  const inputShape = options.inputShape ?? declared;
  if (!inputShape) throw new ConfigError(`${name}: expected the input ${quote(input.name)} to declare its shape [N, ...]; pass inputShape`);
  const bounds: Bounds = options.bounds ?? [0, 1];
  checkOptions(name, bounds, options.numClasses, inputShape, options.preprocessing);
  const maxElements = maxElementsOf(name, options.maxElements);
  checkDeclaredSizes(name, input.name, inputShape, options.numClasses, maxElements);
  const layout = options.layout ?? defaultLayout(inputShape);
  const host = HostPreprocessing.create(name, options.preprocessing, layout, inputShape);
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
  let outputName = model.graph.outputs[0]!.name;
  const source = head ? withExtraOutput(bytes, head.logits) : model.hasExternalData ? resolvePath(path) : bytes;
  const session = await createSession(
    ort,
    source,
    { threads: options.threads },
    (why) => new ModelLoadError(`${name}: expected onnxruntime to load the model, got ${why}`),
  );
  if (head) {
    outputName = head.logits;
    warnings.push(head.warning);
  }
  let numClasses = options.numClasses;
  try {
    if (numClasses === undefined) {
      const od = model.graph.outputs[0]!.dims;
      const last = od?.[od.length - 1];
      if (od?.length === 2 && typeof last === 'number' && last >= 2) numClasses = last;
      else {
        const per = inputShape.reduce((a, b) => a * b, 1);
        let r;
        try {
          r = await session.run({ [input.name]: new ort.Tensor('float32', new Float32Array(per), [1, ...inputShape]) });
        } catch (e) {
          throw new ModelLoadError(`${name}: expected onnxruntime to run the model on one zero input, got ${JSON.stringify(firstLine(e))}`);
        }
        const y = r[outputName];
        numClasses = y ? y.dims.reduce((a, b) => a * b, 1) : 0;
      }
      checkDeclaredSizes(name, input.name, inputShape, numClasses, maxElements);
    }
    if (!Number.isInteger(numClasses) || numClasses < 2)
      throw new ConfigError(`${name}: expected numClasses to be an integer >= 2, got ${describe(numClasses)}`);
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
      host,
    );
  } catch (e) {
    await session.release();
    throw e;
  }
}
