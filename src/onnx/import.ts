/**
 * The white-box ONNX importer: an `.onnx` classifier becomes a {@link DifferentiableModel} whose logits are
 * computed by tfjs ops, so attacks get exact input-gradients.
 * @module
 */
import { oneLine, openContainedSync, quote, readRegularFile } from '../files.js';
import { dirname, resolve } from 'node:path';
import * as tf from '../tf.js';
import { ConfigError, ModelLoadError, describe } from '../errors.js';
import { sha256Bytes } from '../hash.js';
import { tfjsModel, MODEL_WARNING_CODES, type ModelWarning, type DifferentiableModel, type Layout, type ModelOptions } from '../model.js';
import { GraphExecutor } from './graph.js';
import { OpNode } from './op.js';
import { maxElementsOf } from '../model-options.js';
import { OPS } from './ops/index.js';
import { decodeModel, type ExternalDataReader, type OnnxModel } from './proto.js';
import { deviceValue, isFloat, sizeOf, type Value } from './value.js';

/**
 * Options of {@link importOnnx} and {@link loadOnnxModel}: the shared {@link ModelOptions} plus ONNX specifics.
 */
export interface OnnxModelOptions extends ModelOptions {
  /**
   * Keep a final Softmax/LogSoftmax node. Default `false`: when the graph output is produced by a
   * Softmax or LogSoftmax over the class axis, the model returns that node's input (the logits) and says so in
   * `warnings`.
   */
  keepSoftmax?: boolean;
  /**
   * Directory of the files holding tensors stored outside the .onnx file (ONNX external data). Default: for
   * {@link loadOnnxModel}, the model file's directory; for {@link importOnnx}, none (external data is rejected).
   * Locations must be relative and resolve (symlinks followed) to regular files inside this directory.
   */
  externalDataDir?: string;
  /**
   * The largest tensor, in elements, that the importer creates on a model's say-so: the output of a
   * shape-building operator (Range, ConstantOfShape, Expand, Tile, Pad, Gather), checked before allocating, both
   * when constants are folded at load and at run time; one declared input sample; and the class count. Default
   * 2^25 = 33,554,432 (268 MB as the float64 host copies of folded constants). Raise it for a model that really
   * needs more.
   */
  maxElements?: number;
}

/** The `.onnx` file size {@link loadOnnxModel} and {@link loadOnnx} read at most: 2 GiB, protobuf's own limit. @internal */
export const MAX_ONNX_FILE_BYTES = 2 ** 31 - 1;

/**
 * Reads external tensor data from files under `dir`, recording what it read (for the fingerprint).
 * @internal
 */
export function externalDataReader(dir: string, chunks: Uint8Array[] = []): ExternalDataReader {
  const root = resolve(dir);
  return (location, offset, length, where) => {
    const file = openContainedSync(root, location, (p) =>
      p.outside
        ? new ModelLoadError(`${where}: expected an external data location inside the model's directory, got ${describe(location)} (${p.reason})`)
        : new ModelLoadError(
            p.notRegular
              ? `${where}: expected external data ${describe(location)} to be a regular file, got ${p.reason}`
              : `${where}: expected a readable external data file ${describe(location)}, got ${p.reason}`,
          ),
    );
    try {
      const size = file.size;
      if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
        throw new ModelLoadError(`${where}: expected a non-negative integer offset and length for ${describe(location)}, got ${offset} and ${length}`);
      }
      const n = length ?? size - offset;
      if (n < 0 || offset + n > size) {
        throw new ModelLoadError(`${where}: expected ${length ?? 'the'} bytes at offset ${offset} of ${describe(location)}, got a shorter file`);
      }
      const buf = file.read(offset, n);
      if (buf.length !== n) throw new ModelLoadError(`${where}: expected ${n} bytes at offset ${offset} of ${describe(location)}, got a file that shrank`);
      chunks.push(buf);
      return buf;
    } finally {
      file.close();
    }
  };
}

/**
 * The ONNX operators (default domain) that the importer can run as tfjs ops, sorted by name.
 *
 * Operator semantics follow the ONNX specification for opsets 7 to 22, including the attribute-to-input
 * changes of Clip (11), Slice (10), Pad (11), Squeeze/Unsqueeze (13), ReduceSum (13) and the 2-D coercion of
 * Softmax/LogSoftmax before opset 13. See https://onnx.ai/onnx/operators/ for each operator.
 *
 * @returns operator names such as `Conv`, `Gemm`, `Relu`.
 * @example
 * ```ts
 * if (!listSupportedOps().includes('LSTM')) console.log('use fromOnnxRuntime for recurrent models');
 * ```
 */
export function listSupportedOps(): string[] {
  return Object.keys(OPS).sort();
}

/** @internal */
export interface Head {
  output: string;
  warning?: ModelWarning;
}

/** Finds a final Softmax/LogSoftmax over the class axis and returns the name of the value before it. @internal */
export function findHead(model: OnnxModel, name: string, keepSoftmax: boolean): Head {
  const output = model.graph.outputs[0]!.name;
  const node = model.graph.nodes.find((n) => n.outputs.includes(output));
  if (!node || (node.opType !== 'Softmax' && node.opType !== 'LogSoftmax')) return { output };
  const opset = model.opsets.get('') ?? 1;
  const n = new OpNode(node, opset);
  const rank = model.graph.outputs[0]!.dims?.length ?? 2;
  const axis = n.int('axis', opset < 13 ? 1 : -1);
  const classAxis = (axis < 0 ? axis + rank : axis) === rank - 1 || (opset < 13 && axis === 1);
  if (!classAxis)
    return {
      output,
      warning: {
        code: MODEL_WARNING_CODES.outputNotClassAxis,
        message: `${name}: the output ${quote(output)} comes from a ${node.opType} over axis ${axis}, not the class axis; it is used as is`,
      },
    };
  if (keepSoftmax) {
    return {
      output,
      warning: {
        code: MODEL_WARNING_CODES.softmaxKept,
        message: `${name}: the output ${quote(output)} is a ${node.opType} (node ${quote(node.name)}); keepSoftmax is set, so attacks see ${node.opType === 'Softmax' ? 'probabilities' : 'log-probabilities'}, not logits`,
      },
    };
  }
  return {
    output: node.inputs[0]!,
    warning: {
      code: MODEL_WARNING_CODES.softmaxRemoved,
      message: `${name}: the last node ${quote(node.name)} is a ${node.opType}; attacks use its input (the pre-${node.opType.toLowerCase()} logits)`,
    },
  };
}

/**
 * @internal
 * Layout of a graph input: rank-4 inputs are NCHW (the ONNX convention), unless the channel count is clearly
 * last (`[H, W, 1|3|4]` with a first dimension that is not 1, 3 or 4), as in graphs converted from TensorFlow.
 */
export function defaultLayout(inputShape: readonly number[]): Layout {
  if (inputShape.length !== 3) return 'flat';
  const [a, , c] = inputShape as [number, number, number];
  return ![1, 3, 4].includes(a) && [1, 3, 4].includes(c) ? 'NHWC' : 'NCHW';
}

/**
 * Refuses, before anything is allocated, an input sample or a class count larger than `maxElements`.
 * @throws {@link ModelLoadError} naming the input (or output) and the limit.
 * @internal
 */
export function checkDeclaredSizes(name: string, inputName: string, inputShape: readonly number[], numClasses: number | undefined, maxElements: number): void {
  const per = inputShape.reduce((a, b) => a * b, 1);
  if (per > maxElements) {
    throw new ModelLoadError(
      `${name}: expected the input ${quote(inputName)} to hold at most ${maxElements} elements per sample (the maxElements limit; raise it if the model is real), got [${inputShape.join(', ')}] = ${per}`,
    );
  }
  if (numClasses !== undefined && numClasses > maxElements) {
    throw new ModelLoadError(`${name}: expected at most ${maxElements} classes (the maxElements limit), got ${numClasses}`);
  }
}

function staticShape(dims: readonly (number | string | null)[] | undefined): number[] | undefined {
  if (!dims || dims.length < 2) return undefined;
  const rest = dims.slice(1);
  return rest.every((d): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d > 0) ? rest : undefined;
}

/**
 * Imports an ONNX classifier from the bytes of an `.onnx` file.
 *
 * The graph is decoded with the ONNX protobuf schema, every node is checked against {@link listSupportedOps}
 * at load time, initializers are uploaded to the tfjs backend once (freed by `model.dispose()`), and nodes
 * whose inputs are all constant are precomputed. Each `logits` call runs the remaining nodes as tfjs ops
 * inside one `tf.tidy`, so `tf.grad` flows from the logits to the input.
 *
 * Layout: an NCHW graph stays NCHW for the caller (`inputShape` is the graph input's shape without the batch
 * dimension, which may be dynamic; `layout` is `NCHW` for rank-4 inputs, `NHWC` only when the shape is clearly
 * channels-last such as `[224, 224, 3]`); convolutions and pools run as NHWC inside. `numClasses` is read from the output shape, or from a probe forward pass of one zero input.
 * A final Softmax/LogSoftmax is skipped (see {@link OnnxModelOptions.keepSoftmax}) and reported in `warnings`.
 * The model's fingerprint is the SHA-256 of the file's bytes (and of its external data, if any).
 *
 * Spec: https://github.com/onnx/onnx/blob/main/docs/IR.md and https://onnx.ai/onnx/operators/
 *
 * @param bytes - the content of an `.onnx` file (external tensor data is read from `options.externalDataDir`, and
 *   rejected without it).
 * @param options - bounds (default `[0, 1]`), preprocessing, name (default: the graph name, else `onnx-model`),
 *   `inputShape`/`numClasses` when the graph does not declare them, `keepSoftmax` (default `false`).
 * @returns a differentiable model; the caller disposes it.
 * @throws {@link ModelLoadError} for bytes that are not a valid ONNX model (corrupt or truncated).
 * @throws {@link UnsupportedError} naming the operator, node and opset of every unsupported node, or external data.
 * @throws {@link ConfigError} when the graph has more than one input, a non-float input, or undeclared shapes
 *   that the options do not give.
 * @example
 * ```ts
 * const model = importOnnx(new Uint8Array(await readFile('resnet.onnx')), { bounds: [0, 1] });
 * const logits = model.logits(tf.zeros([8, 3, 32, 32]));
 * model.dispose();
 * ```
 */
export function importOnnx(bytes: Uint8Array, options: OnnxModelOptions = {}): DifferentiableModel {
  const chunks: Uint8Array[] = [];
  const external = options.externalDataDir !== undefined ? externalDataReader(options.externalDataDir, chunks) : 'reject';
  const model = decodeModel(bytes, options.name ?? 'onnx', external);
  const name = options.name ?? oneLine(model.graph.name || 'onnx-model');
  const inputs = model.graph.inputs;
  if (inputs.length !== 1) {
    throw new ConfigError(`${name}: expected a graph with one input (besides initializers), got ${inputs.length}: ${describe(inputs.map((i) => i.name))}`);
  }
  const input = inputs[0]!;
  if (input.dtype !== undefined && !isFloat(input.dtype)) {
    throw new ConfigError(`${name}: expected a float input, got ${quote(input.name)} of type ${input.dtype}`);
  }
  const maxElements = maxElementsOf(name, options.maxElements);
  const exec = new GraphExecutor(model, name, maxElements);
  try {
    const inputShape = options.inputShape ?? staticShape(input.dims);
    if (!inputShape) {
      throw new ConfigError(
        `${name}: expected the input ${quote(input.name)} to declare its shape [N, ...] with positive dimensions, got ${input.dims ? `[${input.dims.map((d) => (typeof d === 'string' ? quote(d) : (d ?? '?'))).join(', ')}]` : 'none'}; pass inputShape`,
      );
    }
    if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new ConfigError(`${name}: expected inputShape to be a list of positive integers (without the batch dimension), got ${describe(inputShape)}`);
    }
    checkDeclaredSizes(name, input.name, inputShape, options.numClasses, maxElements);
    const head = findHead(model, name, options.keepSoftmax ?? false);
    const warnings: ModelWarning[] = head.warning ? [head.warning] : [];
    const run = (x: tf.Tensor): tf.Tensor => {
      const feeds = new Map<string, Value>([[input.name, deviceValue(x, input.dtype ?? 'float32')]]);
      return exec.runTensors(feeds, [head.output])[0]!;
    };
    let numClasses = options.numClasses;
    if (numClasses === undefined) {
      const dims = model.graph.outputs[0]!.dims;
      const last = dims?.[dims.length - 1];
      if (typeof last === 'number' && last >= 2 && dims!.length === 2) {
        numClasses = last;
        checkDeclaredSizes(name, input.name, inputShape, numClasses, maxElements);
      } else {
        // Probe: one zero input.
        numClasses = tf.tidy(() => {
          const out = run(tf.zeros([1, ...inputShape]));
          return sizeOf(out.shape);
        });
        checkDeclaredSizes(name, input.name, inputShape, numClasses, maxElements);
      }
    }
    const layout: Layout = options.layout ?? defaultLayout(inputShape);
    const fingerprint = sha256Bytes([bytes, ...chunks]);
    return tfjsModel({
      net: run,
      weights: () => [],
      options: { ...options, name, inputShape, numClasses, layout },
      engine: 'onnx-import',
      warnings,
      onDispose: () => exec.dispose(),
      fingerprint: () => Promise.resolve(fingerprint),
    });
  } catch (e) {
    exec.dispose();
    throw e;
  }
}

/**
 * Loads an `.onnx` file and imports it with {@link importOnnx}; tensors stored as ONNX external data are read
 * from files beside it.
 *
 * @param path - path of the `.onnx` file.
 * @param options - as for {@link importOnnx}; `name` defaults to the graph name.
 * @returns a differentiable model; the caller disposes it.
 * @throws {@link ModelLoadError} when the file cannot be read or is not a valid ONNX model.
 * @throws {@link UnsupportedError} for unsupported operators (see {@link listSupportedOps}) or external data.
 * @throws {@link ConfigError} as {@link importOnnx}.
 * @example
 * ```ts
 * const model = await loadOnnxModel('models/mnist.onnx', { bounds: [0, 1] });
 * console.log(model.numClasses, model.inputShape, model.warnings);
 * ```
 */
export async function loadOnnxModel(path: string, options: OnnxModelOptions = {}): Promise<DifferentiableModel> {
  return importOnnx(await readModelFile(path), { ...options, externalDataDir: options.externalDataDir ?? dirname(resolve(path)) });
}

/** Reads a model file, turning file-system errors into {@link ModelLoadError}. @internal */
export async function readModelFile(path: string): Promise<Uint8Array> {
  return readRegularFile(path, (p) => new ModelLoadError(`onnx: expected a readable .onnx file at ${describe(path)}, got ${p.reason}`), {
    maxBytes: MAX_ONNX_FILE_BYTES,
  });
}
