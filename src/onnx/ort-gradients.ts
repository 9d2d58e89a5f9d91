/**
 * Input-gradients of ONNX classifiers computed natively by onnxruntime-node: the graph is differentiated into a
 * forward and a backward ONNX graph (`vjp.ts`), and {@link withOnnxRuntimeGradients} puts them behind the model's
 * `valueAndGrad`, so every attack uses them unchanged. `logits` stays the importer's tfjs forward pass.
 * @module
 */
import * as tf from '../tf.js';
import { BackendError, ConfigError, ERROR_REASONS, RobustestError, ShapeError, UnsupportedError, describe } from '../errors.js';
import { WrappedModel, type DifferentiableModel, type LossFn, type ValueAndGrad } from '../model.js';
import { HostPreprocessing } from '../model-options.js';
import { concatBytes, encodeGraphAddition } from './encode.js';
import { findHead, importOnnx } from './import.js';
import type { OnnxGradientOptions } from './options.js';
import { createSession as openSession, firstLine, loadOrt, type OrtModule, type OrtSession, type OrtTensor } from './ort.js';
import type { OnnxDataType, OnnxModel } from './proto.js';
import { decodeModel } from './proto.js';
import { DIFFERENTIABLE_OPS, buildGradientProgram, type GradientProgram, type ProbedShapes } from './vjp/index.js';

export type { OnnxGradientOptions } from './options.js';

const ORT_TYPES: Record<string, OnnxDataType> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  uint16: 'uint16',
  uint32: 'uint32',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
};

const PROBE_BATCHES: readonly [number, number] = [2, 3];

function createSession(ort: OrtModule, bytes: Uint8Array, name: string, what: string, threads: number | undefined): Promise<OrtSession> {
  // No spin-waiting: the forward and backward sessions each own a thread pool, and an idle pool that spins takes a
  // core from the one that is running (measured: 106 → 59 ms per forward+gradient of the shared MNIST CNN, 2 threads).
  return openSession(
    ort,
    bytes,
    { threads, spinning: false },
    (why) => new UnsupportedError(`${name}: expected onnxruntime to load the generated ${what} graph, got ${why}`, ERROR_REASONS.onnxruntimeFailed),
  );
}

/** Runs the model with every intermediate value as an output at two batch sizes, for shapes and dtypes. */
async function probe(ort: OrtModule, bytes: Uint8Array, model: OnnxModel, input: string, inputShape: readonly number[], name: string): Promise<ProbedShapes> {
  const declared = new Set(model.graph.outputs.map((o) => o.name));
  const names = model.graph.nodes.flatMap((n) => n.outputs).filter((o) => o !== '' && !declared.has(o));
  const session = await createSession(ort, concatBytes(bytes, encodeGraphAddition({ outputs: names.map((n) => ({ name: n })) })), name, 'probe', 1);
  try {
    const per = inputShape.reduce((a, b) => a * b, 1);
    const results: Record<string, OrtTensor>[] = [];
    for (const n of PROBE_BATCHES) {
      results.push(await session.run({ [input]: new ort.Tensor('float32', new Float32Array(n * per).fill(0.5), [n, ...inputShape]) }));
    }
    const values = new Map<string, { dtype: OnnxDataType; dims: readonly [readonly number[], readonly number[]] }>();
    values.set(input, {
      dtype: 'float32',
      dims: [
        [PROBE_BATCHES[0], ...inputShape],
        [PROBE_BATCHES[1], ...inputShape],
      ],
    });
    for (const key of Object.keys(results[0]!)) {
      const a = results[0]![key]!;
      const b = results[1]![key];
      values.set(key, { dtype: ORT_TYPES[a.type ?? 'float32'] ?? 'float32', dims: [[...a.dims], [...(b?.dims ?? a.dims)]] });
    }
    return { batches: PROBE_BATCHES, values };
  } catch (e) {
    throw new UnsupportedError(`${name}: expected onnxruntime to run the model on a probe batch, got ${firstLine(e)}`, ERROR_REASONS.onnxruntimeFailed);
  } finally {
    await session.release();
  }
}

class OrtGradientModel extends WrappedModel {
  readonly engine = 'onnxruntime';
  private sessions: [OrtSession, OrtSession] | undefined;
  private readonly host: HostPreprocessing | undefined;

  constructor(
    base: DifferentiableModel,
    private readonly ort: OrtModule,
    forward: OrtSession,
    backward: OrtSession,
    private readonly program: GradientProgram,
    private readonly input: string,
    private readonly batchSize: number,
  ) {
    super(base);
    this.sessions = [forward, backward];
    this.host = HostPreprocessing.create(base.name, base.preprocessing, base.layout, base.inputShape);
  }

  private fail(what: string, e: unknown): never {
    if (e instanceof RobustestError) throw e;
    throw new BackendError(`${this.name}: expected onnxruntime to run the ${what} graph, got ${firstLine(e)}`, ERROR_REASONS.onnxruntimeFailed);
  }

  async valueAndGrad(x: tf.Tensor, loss: LossFn): Promise<ValueAndGrad> {
    const sessions = this.sessions;
    if (!sessions) throw new ConfigError(`${this.name}: expected a live model, got one that was disposed`);
    const [fwd, bwd] = sessions;
    const expected = this.inputShape;
    const n = this.checkInput(x);
    const per = expected.reduce((a, b) => a * b, 1);
    const classes = this.numClasses;
    const host = Float32Array.from(await x.data());
    this.host?.apply(host, x.shape);
    const { program, ort, input } = this;
    // 1. Forward runs: logits and the values the backward graph needs, per chunk.
    const logits = new Float32Array(n * classes);
    const chunks: { start: number; count: number; saved: Record<string, OrtTensor> }[] = [];
    for (let start = 0; start < n; start += this.batchSize) {
      const count = Math.min(this.batchSize, n - start);
      const xin = new ort.Tensor('float32', host.subarray(start * per, (start + count) * per), [count, ...expected]);
      let out: Record<string, OrtTensor>;
      try {
        out = await fwd.run({ [input]: xin });
      } catch (e) {
        this.fail('forward', e);
      }
      const y = out[program.logits];
      if (!y || !(y.data instanceof Float32Array) || y.data.length !== count * classes) {
        throw new ShapeError(
          `${this.name}: expected onnxruntime to return [${count}, ${classes}] float32 logits, got ${y ? `[${y.dims.join(', ')}]` : 'none'}`,
        );
      }
      logits.set(y.data, start * classes);
      const saved: Record<string, OrtTensor> = {};
      for (const s of program.saved) {
        const t = s === input ? xin : out[s];
        if (!t) throw new BackendError(`${this.name}: expected onnxruntime to return the saved value '${s}', got none`);
        saved[s] = t;
      }
      chunks.push({ start, count, saved });
    }
    // 2. The loss and its gradient with respect to the logits, in tfjs (any LossFn works).
    const [value, dLogits] = tf.tidy(() => {
      const z = tf.tensor2d(logits, [n, classes]);
      const r = tf.valueAndGrad((t: tf.Tensor) => loss(t as tf.Tensor2D))(z);
      return [r.value as tf.Tensor1D, r.grad];
    });
    let seed: Float32Array;
    try {
      seed = (await dLogits.data()) as Float32Array;
    } finally {
      dLogits.dispose();
    }
    // 3. Backward runs, then the chain rule through the preprocessing.
    const grad = new Float32Array(n * per);
    try {
      for (const { start, count, saved } of chunks) {
        const feeds: Record<string, OrtTensor> = {
          ...saved,
          [program.seed]: new ort.Tensor('float32', seed.subarray(start * classes, (start + count) * classes), [count, classes]),
        };
        let out: Record<string, OrtTensor>;
        try {
          out = await bwd.run(feeds);
        } catch (e) {
          this.fail('backward', e);
        }
        const g = out[program.grad];
        if (!g || !(g.data instanceof Float32Array) || g.data.length !== count * per) {
          throw new ShapeError(
            `${this.name}: expected onnxruntime to return a float32 gradient of ${count * per} values, got ${g ? `[${g.dims.join(', ')}]` : 'none'}`,
          );
        }
        grad.set(g.data, start * per);
      }
    } catch (e) {
      value.dispose();
      throw e;
    }
    this.host?.backward(grad, x.shape);
    return { value, grad: tf.tensor(grad, x.shape, 'float32') };
  }

  dispose(): void {
    const s = this.sessions;
    this.sessions = undefined;
    this.base.dispose();
    if (s) for (const session of s) void session.release().catch(() => undefined);
  }
}

/**
 * Puts an onnxruntime gradient engine behind `base.valueAndGrad`, for `bytes`, an ONNX graph computing the same
 * function as `base` before its preprocessing (same input layout, logits out). On success the returned model owns
 * `base` (its `dispose` disposes both); on failure `base` is left as it was.
 * @internal
 */
export async function attachOnnxRuntimeGradients(
  base: DifferentiableModel,
  bytes: Uint8Array,
  options: { batchSize?: number; threads?: number; keepSoftmax?: boolean },
): Promise<DifferentiableModel> {
  const batchSize = options.batchSize ?? 128;
  const name = base.name;
  const sessions: OrtSession[] = [];
  try {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new ConfigError(`${name}: expected batchSize to be a positive integer, got ${describe(batchSize)}`);
    if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
      throw new ConfigError(`${name}: expected threads to be a positive integer, got ${describe(options.threads)}`);
    }
    const model = decodeModel(bytes, name, 'skip');
    if (model.hasExternalData) {
      throw new UnsupportedError(
        `${name}: expected tensors stored inside the .onnx file for the onnxruntime gradient engine, got external data`,
        ERROR_REASONS.externalData,
      );
    }
    if (model.graph.inputs.length !== 1) throw new ConfigError(`${name}: expected a graph with one input, got ${model.graph.inputs.length}`);
    const ort = await loadOrt();
    const input = model.graph.inputs[0]!.name;
    const logits = findHead(model, name, options.keepSoftmax ?? false).output;
    const shapes = await probe(ort, bytes, model, input, base.inputShape, name);
    const program = buildGradientProgram(bytes, model, input, logits, shapes);
    sessions.push(await createSession(ort, program.forward, name, 'forward', options.threads));
    sessions.push(await createSession(ort, program.backward, name, 'backward', options.threads));
    return new OrtGradientModel(base, ort, sessions[0]!, sessions[1]!, program, input, batchSize);
  } catch (e) {
    for (const s of sessions) await s.release().catch(() => undefined);
    throw e;
  }
}

/**
 * Imports an ONNX classifier (as {@link importOnnx}) and computes its input-gradients natively in onnxruntime-node:
 * the graph is differentiated into a forward graph (the model plus the values the backward pass needs, such as
 * ReLU masks and MaxPool indices) and a backward graph (ConvTranspose for Conv, MaxUnpool for MaxPool, products
 * with the weights for Gemm/MatMul, inverse reshapes and transposes, ...), generated automatically from the graph,
 * never written per model. `valueAndGrad` runs the forward graph, evaluates the loss on the logits in tfjs (so
 * any {@link LossFn} works), and runs the backward graph; `logits` stays the importer's tfjs forward pass.
 * Gradients equal the importer's to float tolerance (about 1e-6 relative on the shared test models).
 *
 * {@link loadOnnx} and {@link loadModel} use it by default (`engine: 'auto'`) when onnxruntime-node loads; the
 * CLI's `--engine` chooses too.
 *
 * @param bytes - the `.onnx` file's content (external data is not supported here).
 * @param options - as {@link importOnnx}, plus `batchSize` (default 128) and `threads` (default: onnxruntime's).
 * @returns a differentiable model with `engine: 'onnxruntime'`; the caller disposes it.
 * @throws {@link UnsupportedError} when onnxruntime-node cannot load, an operator on the gradient path has no
 *   gradient rule, or the model stores tensors as external data.
 * @throws {@link ModelLoadError} / {@link ConfigError} as {@link importOnnx}.
 * @example
 * ```ts
 * const model = await withOnnxRuntimeGradients(new Uint8Array(await readFile('cnn.onnx')), { bounds: [0, 1] });
 * const { value, grad } = await model.valueAndGrad(x, crossEntropy(labels, 10));
 * ```
 */
export async function withOnnxRuntimeGradients(bytes: Uint8Array, options: OnnxGradientOptions = {}): Promise<DifferentiableModel> {
  const { batchSize, threads, ...importOptions } = options;
  const base = importOnnx(bytes, importOptions);
  try {
    return await attachOnnxRuntimeGradients(base, bytes, {
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(options.keepSoftmax !== undefined ? { keepSoftmax: options.keepSoftmax } : {}),
    });
  } catch (e) {
    base.dispose();
    throw e;
  }
}

/**
 * The ONNX operators whose input-gradient the onnxruntime engine can generate (shape and comparison operators,
 * which carry no gradient, are accepted anywhere too).
 * @example
 * ```ts
 * listGradientOps().includes('Conv'); // true
 * ```
 */
export function listGradientOps(): string[] {
  return [...DIFFERENTIABLE_OPS];
}
