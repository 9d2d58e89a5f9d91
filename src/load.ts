/**
 * Loading models from disk without tfjs-node: tfjs `model.json` + weight shards (layers or graph format,
 * detected) and, through the ONNX importer, `.onnx` files; and the gradient-engine policy of tfjs layers models,
 * shared by {@link loadModel} and {@link fromLayersModel} so that the same model gets the same engine either way.
 * @module
 */
import { stat } from 'node:fs/promises';
import { oneLine, quote, readContainedFile, readRegularFile, type FileProblem } from './files.js';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from './tf.js';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ConfigError, ModelLoadError, RobustestError, UnsupportedError, describe } from './errors.js';
import { GRADIENT_ENGINES, type GradientEngine } from './onnx/options.js';
import { maxElementsOf } from './model-options.js';
import { sha256Bytes } from './hash.js';
import { graphAdapter, layersAdapter, type AdapterHooks, type DifferentiableModel, type Model, type ModelOptions } from './model.js';

/** The format of a tfjs `model.json`. */
export type TfjsFormat = 'layers-model' | 'graph-model';

/** Options of {@link loadModel}. */
export interface LoadModelOptions extends ModelOptions {
  /** Force a format instead of detecting it from the file. Default: detected. */
  format?: TfjsFormat | 'onnx';
  /**
   * Which engine computes input-gradients (see {@link GradientEngine}). Default `auto`: onnxruntime-node when it
   * loads and the model converts (`.onnx` files, and layers models through {@link exportLayersModel}), else tfjs.
   */
  engine?: GradientEngine;
  /** Threads of onnxruntime's intra-op pool when it computes gradients. Default: onnxruntime's choice (all cores). */
  threads?: number;
  /**
   * `.onnx` files only: load the model as a query-only model run by onnxruntime-node (logits, no gradients), so
   * that only black-box attacks apply, as to a deployed model. Default `false`.
   */
  queryOnly?: boolean;
  /**
   * The largest input sample, in elements, that a model may declare; a tfjs model is also run once on one zero
   * sample at load, so that a model that cannot run fails here with a {@link ModelLoadError}. For `.onnx` files it
   * also caps what shape-building operators create (see {@link OnnxModelOptions.maxElements}). Default 2^25 =
   * 33,554,432.
   */
  maxElements?: number;
}

/** Options of {@link fromLayersModel}. */
export interface LayersModelOptions extends ModelOptions {
  /**
   * Which engine computes input-gradients (see {@link GradientEngine}). Default `auto`, as for {@link loadModel}:
   * onnxruntime-node's native kernels (the model exported to ONNX in memory by {@link exportLayersModel}) when
   * onnxruntime-node loads and every layer converts, else tfjs. `model.engine` says which was used.
   */
  engine?: GradientEngine;
  /** Threads of onnxruntime's intra-op pool when it computes gradients. Default: onnxruntime's choice (all cores). */
  threads?: number;
}

/** Throws a {@link ConfigError} unless `engine` is one of {@link GRADIENT_ENGINES}. */
function checkEngine(where: string, engine: unknown): asserts engine is GradientEngine {
  if (!(GRADIENT_ENGINES as readonly unknown[]).includes(engine)) {
    throw new ConfigError(`${where}: expected engine to be one of ${GRADIENT_ENGINES.join(', ')}, got ${describe(engine)}`);
  }
}

/**
 * The one engine policy of tfjs layers models ({@link loadModel} and {@link fromLayersModel} both call it): wraps
 * `net` with tfjs ops, then, unless `engine` is `tfjs`, puts the onnxruntime gradient engine behind it (the model
 * exported to ONNX in memory). With `auto`, a model onnxruntime cannot run keeps tfjs gradients (with a
 * `gradient-engine-fallback` warning unless onnxruntime-node is simply not installed). `hooks.onDispose` is called
 * exactly once: by the returned model's `dispose`, or before this throws.
 */
async function layersWithEngine(
  net: LayersModel,
  options: ModelOptions,
  hooks: AdapterHooks,
  engine: GradientEngine,
  threads: number | undefined,
): Promise<DifferentiableModel> {
  checkEngine(options.name ?? net.name, engine);
  let base: DifferentiableModel;
  try {
    base = await layersAdapter(net, options, hooks);
  } catch (e) {
    hooks.onDispose?.(); // the adapter never took ownership; from here on, base.dispose() calls it
    throw e;
  }
  if (engine === 'tfjs') return base;
  const { applyEngine } = await import('./onnx/policy.js');
  const { exportLayersModel } = await import('./onnx/export.js');
  return applyEngine(base, () => exportLayersModel(net, { name: base.name }).bytes, engine, threads !== undefined ? { threads } : {});
}

/**
 * Wraps a tfjs `LayersModel` (Sequential or functional) as a {@link DifferentiableModel}, with the same engine
 * policy as {@link loadModel}: with `engine: 'auto'` (the default) its input-gradients come from onnxruntime-node
 * when it is installed and the model exports to ONNX, else from tfjs; `model.engine` says which.
 *
 * The model is called as one graph (`apply` with `training: false`, so dropout is inactive and no batch is cut
 * into chunks). A softmax at its end is removed so that attacks see logits; the model's `warnings` say so (code
 * `softmax-removed`). `logits` always runs in tfjs, whatever the engine.
 *
 * The onnxruntime engine works on a copy of the weights taken here: if `model`'s weights change afterwards
 * (adversarial training, `setWeights`), its gradients would be those of the old weights while `logits` follows the
 * new ones. Wrap the model again after each weight update, or pass `engine: 'tfjs'`, whose gradients always use
 * the current weights.
 *
 * @param model - the user's model; never modified or disposed.
 * @param options - bounds (default `[0, 1]`), preprocessing, name; shape and class count are read from the model;
 *   `engine` (default `auto`) and `threads` for the gradient engine.
 * @throws {@link ConfigError} if the model's input or output shape is unusable, an option is invalid or `engine`
 *   is unknown; {@link UnsupportedError} with `engine: 'onnxruntime'` when that engine cannot be built
 *   (onnxruntime-node missing, a layer it cannot export).
 * @example
 * ```ts
 * import { loadLayersModel } from '@tensorflow/tfjs-layers';
 * const net = await loadLayersModel('file://model/model.json');
 * const model = await fromLayersModel(net, { bounds: [0, 1] });
 * console.log(model.engine); // 'onnxruntime' when onnxruntime-node is installed, else 'tfjs'
 * const tfjsOnly = await fromLayersModel(net, { engine: 'tfjs' });
 * ```
 */
export async function fromLayersModel(model: LayersModel, options: LayersModelOptions = {}): Promise<DifferentiableModel> {
  const { engine = 'auto', threads, ...modelOptions } = options;
  return layersWithEngine(model, modelOptions, {}, engine, threads);
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, int16: 2, int8: 1 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** The largest `model.json` {@link loadModel} reads: 64 MiB (topologies are kilobytes to a few megabytes). */
export const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;

function fileProblem(path: string, what: string): (p: FileProblem) => ModelLoadError {
  return (p) =>
    new ModelLoadError(
      p.notRegular
        ? `${oneLine(path)}: expected a regular ${what} file, got ${p.reason}`
        : p.tooLarge
          ? `${oneLine(path)}: expected a ${what} of at most ${MAX_MODEL_JSON_BYTES} bytes, got ${p.reason}`
          : `${oneLine(path)}: expected a readable ${what}, got ${p.reason}`,
    );
}

/** One group of a checked weights manifest. */
interface CheckedGroup {
  readonly paths: readonly string[];
  readonly weights: tf.io.WeightsManifestEntry[];
  readonly bytes: number;
}

/** Checks a weights manifest's structure and sizes before any shard is read; returns each group's byte count. */
function checkManifest(jsonPath: string, manifest: unknown): CheckedGroup[] {
  const where = `${oneLine(jsonPath)}: weightsManifest`;
  if (!Array.isArray(manifest)) throw new ModelLoadError(`${where}: expected a list of groups, got ${describe(manifest)}`);
  return manifest.map((group: unknown, g) => {
    if (!group || typeof group !== 'object' || Array.isArray(group))
      throw new ModelLoadError(`${where}[${g}]: expected a group object, got ${describe(group)}`);
    const { paths, weights } = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || !paths.every((p): p is string => typeof p === 'string' && p !== '')) {
      throw new ModelLoadError(`${where}[${g}].paths: expected a list of file names, got ${describe(paths)}`);
    }
    if (!Array.isArray(weights)) throw new ModelLoadError(`${where}[${g}].weights: expected a list of weight specs, got ${describe(weights)}`);
    let bytes = 0;
    weights.forEach((w: unknown, i) => {
      const at = `${where}[${g}].weights[${i}]`;
      if (!w || typeof w !== 'object' || Array.isArray(w)) throw new ModelLoadError(`${at}: expected a weight spec object, got ${describe(w)}`);
      const { name, shape, dtype, quantization } = w as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: unknown };
      if (typeof name !== 'string') throw new ModelLoadError(`${at}.name: expected a string, got ${describe(name)}`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw new ModelLoadError(`${at}.shape: expected a list of non-negative integers, got ${describe(shape)}`);
      }
      if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
        throw new ModelLoadError(`${at}.dtype: expected one of ${Object.keys(DTYPE_BYTES).join(', ')}, got ${describe(dtype)}`);
      }
      let per = DTYPE_BYTES[dtype]!;
      if (quantization !== undefined) {
        const q = quantization as { dtype?: unknown } | null;
        if (!q || typeof q !== 'object' || typeof q.dtype !== 'string' || !Object.hasOwn(QUANTIZED_BYTES, q.dtype)) {
          throw new ModelLoadError(
            `${at}.quantization: expected an object with dtype one of ${Object.keys(QUANTIZED_BYTES).join(', ')}, got ${describe(q?.dtype ?? q)}`,
          );
        }
        per = QUANTIZED_BYTES[q.dtype]!;
      }
      bytes += (shape as number[]).reduce((a, b) => a * b, 1) * per;
      if (!Number.isSafeInteger(bytes)) throw new ModelLoadError(`${at}.shape: expected a size that can be stored, got ${describe(shape)}`);
    });
    return { paths, weights: weights as tf.io.WeightsManifestEntry[], bytes };
  });
}

/** Reads a group's shards, each resolved inside `dir`, refusing more bytes than the manifest declares before reading them. */
async function readGroup(jsonPath: string, dir: string, group: CheckedGroup): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let read = 0;
  const names = group.paths.map(oneLine).join(', ');
  for (const p of group.paths) {
    const fail = (problem: FileProblem): ModelLoadError =>
      problem.tooLarge
        ? new ModelLoadError(
            `${oneLine(jsonPath)}: expected ${group.bytes} bytes of weights in ${names} for the manifest, got more (oversized or mismatched shard)`,
          )
        : problem.outside
          ? new ModelLoadError(`${oneLine(jsonPath)}: expected weight shard ${quote(p)} inside the model's folder, got ${problem.reason}`)
          : new ModelLoadError(
              problem.notRegular
                ? `${oneLine(join(dir, p))}: expected a regular weight shard file, got ${problem.reason}`
                : `${oneLine(join(dir, p))}: expected a readable weight shard, got ${problem.reason}`,
            );
    const bytes = await readContainedFile(dir, p, fail, { maxBytes: group.bytes - read });
    read += bytes.byteLength;
    out.push(bytes);
  }
  if (read !== group.bytes) {
    throw new ModelLoadError(
      `${oneLine(jsonPath)}: expected ${group.bytes} bytes of weights in ${names} for the manifest, got ${read} (truncated or mismatched shard)`,
    );
  }
  return out;
}

/** Decides whether a parsed model.json describes a layers model or a graph model. */
export function detectTfjsFormat(json: tf.io.ModelJSON, where = 'model.json'): TfjsFormat {
  const declared = (json as { format?: unknown }).format;
  if (declared === 'layers-model' || declared === 'graph-model') return declared;
  const topo = json.modelTopology as Record<string, unknown> | undefined;
  if (topo && typeof topo === 'object') {
    if ('node' in topo) return 'graph-model';
    if ('class_name' in topo || 'model_config' in topo || 'config' in topo) return 'layers-model';
  }
  throw new ModelLoadError(
    `${oneLine(where)}: expected a tfjs model.json with format 'layers-model' or 'graph-model' (or a recognisable modelTopology), got ${declared === undefined ? 'neither' : JSON.stringify(declared)}`,
  );
}

interface LoadedJson {
  json: tf.io.ModelJSON;
  artifacts: tf.io.ModelArtifacts;
  sha256: string;
}

async function readTfjsArtifacts(jsonPath: string): Promise<LoadedJson> {
  const text = await readRegularFile(jsonPath, fileProblem(jsonPath, 'model.json'), { maxBytes: MAX_MODEL_JSON_BYTES });
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(new TextDecoder().decode(text)) as tf.io.ModelJSON;
  } catch (e) {
    throw new ModelLoadError(`${oneLine(jsonPath)}: expected valid JSON, got ${oneLine((e as Error).message)}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json) || !json.modelTopology || typeof json.modelTopology !== 'object') {
    throw new ModelLoadError(
      `${oneLine(jsonPath)}: expected a tfjs model.json with a modelTopology object, got ${json === null ? 'null' : typeof json === 'object' ? 'an object without one' : typeof json}`,
    );
  }
  const dir = dirname(jsonPath);
  const parts: Uint8Array[] = [text];
  const groups = json.weightsManifest == null ? undefined : checkManifest(jsonPath, json.weightsManifest);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await tf.io.getModelArtifactsForJSON(json, async () => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of groups ?? []) {
        for (const bytes of await readGroup(jsonPath, dir, group)) {
          parts.push(bytes);
          buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        }
        specs.push(...group.weights);
      }
      return [specs, tf.io.concatenateArrayBuffers(buffers)];
    });
  } catch (e) {
    if (e instanceof RobustestError) throw e;
    throw new ModelLoadError(`${oneLine(jsonPath)}: expected a tfjs model.json tfjs can read, got ${foreign(e)}`);
  }
  return { json, artifacts, sha256: sha256Bytes(parts) };
}

/** A foreign error's message, quoted on one line and cut to 300 characters. */
function foreign(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return JSON.stringify(message.length > 300 ? `${message.slice(0, 300)}…` : message);
}

async function resolveModelPath(path: string): Promise<string> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw new ModelLoadError(`${oneLine(path)}: expected a model file or directory, got ${(e as NodeJS.ErrnoException).code ?? oneLine((e as Error).message)}`);
  }
  return s.isDirectory() ? join(path, 'model.json') : path;
}

/**
 * Loads a model from disk into a {@link Model}.
 *
 * - A tfjs `model.json` (or a directory holding one) with its weight shards: the format is detected
 *   (`layers-model` → {@link fromLayersModel}, `graph-model` → {@link fromGraphModel}); needs no tfjs-node.
 *   A graph from an older converter (no output signature, a final `Softmax` node) works as is: the class count
 *   comes from one forward pass and attacks use the softmax's input; pass `inputShape` when its input placeholder
 *   has no known dimensions.
 * - A `.onnx` file: imported into tfjs ops by the ONNX importer when every operator is supported (white-box),
 *   else served by onnxruntime-node as a query-only model with a warning.
 * - Input-gradients: with `engine: 'auto'` (the default), `.onnx` files and layers models get them from
 *   onnxruntime-node's native kernels (generated gradient graphs; layers models are exported to ONNX in memory)
 *   when it is installed and the model converts, else from tfjs; `model.engine` says which.
 *
 * The model's `fingerprint()` is the SHA-256 of the files read. `dispose()` frees the loaded model.
 *
 * @param path - a `model.json`, a directory containing one, or a `.onnx` file.
 * @param options - bounds (default `[0, 1]`), preprocessing, name; `format` to skip detection; `engine`
 *   (default `auto`) and `threads` for the gradient engine.
 * @throws {@link ModelLoadError} for a missing, unreadable or corrupt file (bad JSON, missing or truncated shard);
 *   {@link UnsupportedError} for an ONNX model that neither path can run, or `engine: 'onnxruntime'` when that
 *   engine cannot be built (onnxruntime-node missing, a layer or operator it cannot convert, a graph model);
 *   {@link ConfigError} for an unknown `engine`.
 * @example
 * ```ts
 * const model = await loadModel('assets/mnist-cnn/model.json', { bounds: [0, 1] });
 * ```
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  const file = await resolveModelPath(resolve(path));
  const { format, engine = 'auto', threads, queryOnly = false, maxElements, ...modelOptions } = options;
  checkEngine(file, engine);
  if (format !== undefined && !(FORMATS as readonly unknown[]).includes(format)) {
    throw new ConfigError(`loadModel: expected format to be one of ${FORMATS.join(', ')}, got ${describe(format)}`);
  }
  const limit = maxElementsOf('loadModel', maxElements);
  if (typeof queryOnly !== 'boolean') throw new ConfigError(`loadModel: expected queryOnly to be a boolean, got ${describe(queryOnly)}`);
  const engineOptions = threads !== undefined ? { threads } : {};
  if (format === 'onnx' || (format === undefined && file.toLowerCase().endsWith('.onnx'))) {
    return loadOnnxFile(file, {
      ...modelOptions,
      ...engineOptions,
      engine,
      queryOnly,
      maxElements: limit,
      name: modelOptions.name ?? oneLine(basename(file).replace(/\.onnx$/i, '')),
    });
  }
  if (queryOnly) throw new ConfigError(`loadModel: expected an .onnx file for queryOnly (it runs the model in onnxruntime-node), got ${basename(file)}`);
  const { json, artifacts, sha256 } = await readTfjsArtifacts(file);
  const kind = format ?? detectTfjsFormat(json, file);
  const fingerprint = async (): Promise<string> => sha256;
  const name = modelOptions.name ?? oneLine((file.endsWith('model.json') ? dirname(file).split(/[\\/]/).pop() : undefined) ?? 'model');
  try {
    if (kind === 'layers-model') {
      const tfl = await import('@tensorflow/tfjs-layers');
      const net = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
      return await probe(await layersWithEngine(net, { ...modelOptions, name }, { fingerprint, onDispose: () => net.dispose() }, engine, threads), file, limit);
    }
    if (engine === 'onnxruntime') {
      throw new UnsupportedError(
        `${file}: expected a layers model or an .onnx file for the onnxruntime engine, got a tfjs graph model (use engine 'tfjs' or 'auto')`,
      );
    }
    const tfc = await import('@tensorflow/tfjs-converter');
    const net = await tfc.loadGraphModel(tf.io.fromMemory(artifacts));
    let model: Model;
    try {
      model = graphAdapter(net, { ...modelOptions, name }, { fingerprint, onDispose: () => net.dispose() });
    } catch (e) {
      net.dispose(); // the adapter never took ownership
      throw e;
    }
    return await probe(model, file, limit);
  } catch (e) {
    if (e instanceof RobustestError) throw e;
    throw new ModelLoadError(`${oneLine(file)}: expected a loadable tfjs ${kind}, got ${foreign(e)}`);
  }
}

/**
 * Loads a tfjs layers-model file as a trainable `LayersModel` (for {@link adversarialTrain} and `robustest train`),
 * with the same file checks as {@link loadModel}: weight shards must lie inside the model's folder and match the
 * manifest.
 *
 * @param path - a `model.json` of format `layers-model`, or a directory containing one.
 * @returns the model; the caller disposes it.
 * @throws {@link ModelLoadError} for a missing, unreadable or corrupt file; {@link UnsupportedError} for a graph
 *   model or an `.onnx` file (their weights are constants, so they cannot be trained).
 * @example
 * ```ts
 * import { loadLayersModelFile } from 'robustest';
 * const net = await loadLayersModelFile('assets/mnist-cnn/model.json');
 * console.log(net.countParams()); // 30762
 * net.dispose();
 * ```
 */
export async function loadLayersModelFile(path: string): Promise<LayersModel> {
  const file = await resolveModelPath(resolve(path));
  if (file.toLowerCase().endsWith('.onnx')) {
    throw new UnsupportedError(`${file}: expected a tfjs layers model.json (graph models and ONNX files cannot be trained), got an .onnx file`);
  }
  const { json, artifacts } = await readTfjsArtifacts(file);
  const kind = detectTfjsFormat(json, file);
  if (kind !== 'layers-model') {
    throw new UnsupportedError(`${file}: expected a tfjs layers model.json (graph models and ONNX files cannot be trained), got a ${kind}`);
  }
  const tfl = await import('@tensorflow/tfjs-layers');
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new ModelLoadError(`${file}: expected a loadable tfjs layers model, got ${JSON.stringify(e instanceof Error ? e.message.slice(0, 300) : String(e))}`);
  }
}

const FORMATS = ['layers-model', 'graph-model', 'onnx'] as const;

/**
 * Refuses a model that declares an input sample over `maxElements`, and runs it once on one zero sample so that a
 * model that cannot run (a layer dtype tfjs rejects, weights of the wrong shape for an op) fails at load with a
 * {@link ModelLoadError} rather than on the first attack step. Disposes the model when it throws.
 */
async function probe(model: Model, file: string, maxElements: number): Promise<Model> {
  try {
    const per = model.inputShape.reduce((a, b) => a * b, 1);
    if (per > maxElements) {
      throw new ModelLoadError(
        `${oneLine(file)}: expected an input of at most ${maxElements} elements per sample (the maxElements limit; raise it if the model is real), got [${model.inputShape.join(', ')}] = ${per}`,
      );
    }
    const x = tf.zeros([1, ...model.inputShape]);
    try {
      const y = await model.logits(x);
      y.dispose();
    } finally {
      x.dispose();
    }
    return model;
  } catch (e) {
    model.dispose();
    if (e instanceof RobustestError) throw e;
    throw new ModelLoadError(`${oneLine(file)}: expected a model that runs on one zero input of shape [1, ${model.inputShape.join(', ')}], got ${foreign(e)}`);
  }
}

async function loadOnnxFile(
  file: string,
  options: ModelOptions & { engine: GradientEngine; threads?: number; queryOnly: boolean; maxElements: number },
): Promise<Model> {
  const { loadOnnx } = await import('./onnx/index.js');
  return loadOnnx(file, options);
}
