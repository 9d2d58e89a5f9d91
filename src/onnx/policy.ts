/**
 * The load policy of ONNX models: which engine a model gets. {@link loadOnnx} picks the white-box importer when it
 * can and onnxruntime's query-only model otherwise; {@link applyEngine} puts the onnxruntime gradient engine
 * behind an importable (or exported) model when asked or when `auto` allows it.
 * @module
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { BackendError, ConfigError, ERROR_REASONS, UnsupportedError, describe } from '../errors.js';
import { oneLine } from '../files.js';
import { MODEL_WARNING_CODES, type DifferentiableModel, type Model, type ModelWarning } from '../model.js';
import { findUnsupported } from './graph.js';
import { importOnnx, readModelFile } from './import.js';
import { GRADIENT_ENGINES, type GradientEngine, type OnnxRuntimeOptions } from './options.js';
import { attachOnnxRuntimeGradients } from './ort-gradients.js';
import { decodeModel } from './proto.js';
import { fromOnnxRuntimeBytes } from './runtime.js';

export { GRADIENT_ENGINES, type GradientEngine } from './options.js';

/**
 * Applies an engine choice to a tfjs-computed model: returns `base` for `tfjs`, else tries to attach the
 * onnxruntime engine to the graph `bytes()` gives. With `auto`, an {@link UnsupportedError} or
 * {@link BackendError} keeps `base` and, unless onnxruntime-node is simply not installed (reason
 * `onnxruntime-missing`, see {@link ERROR_REASONS}), adds a warning with code `gradient-engine-fallback` saying
 * why; with `onnxruntime` it disposes `base` and throws. Other errors dispose `base` and are thrown.
 * @throws {@link ConfigError} for an unknown engine; with `onnxruntime`, whatever building the engine threw.
 * @example
 * ```ts
 * const bytes = new Uint8Array(await readFile('cnn.onnx'));
 * const model = await applyEngine(importOnnx(bytes), () => bytes, 'auto');
 * if (model.warnings.some((w) => w.code === MODEL_WARNING_CODES.gradientEngineFallback)) console.log('tfjs gradients');
 * ```
 * @internal
 */
export async function applyEngine(
  base: DifferentiableModel,
  bytes: () => Uint8Array,
  engine: GradientEngine,
  options: { batchSize?: number; threads?: number; keepSoftmax?: boolean } = {},
): Promise<DifferentiableModel> {
  if (!GRADIENT_ENGINES.includes(engine)) {
    base.dispose();
    throw new ConfigError(`${base.name}: expected engine to be one of ${GRADIENT_ENGINES.join(', ')}, got ${describe(engine)}`);
  }
  if (engine === 'tfjs') return base;
  try {
    return await attachOnnxRuntimeGradients(base, bytes(), options);
  } catch (e) {
    if (engine === 'onnxruntime' || !(e instanceof UnsupportedError || e instanceof BackendError)) {
      base.dispose();
      throw e;
    }
    // onnxruntime-node not installed is the ordinary case for `auto`: no warning. Anything else is worth one.
    if (e.reason !== ERROR_REASONS.onnxruntimeMissing && Array.isArray(base.warnings)) {
      (base.warnings as ModelWarning[]).push({
        code: MODEL_WARNING_CODES.gradientEngineFallback,
        message: `${base.name}: gradients computed by tfjs, not onnxruntime: ${e.message}`,
      });
    }
    return base;
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
 * @param options - as for {@link importOnnx} and {@link fromOnnxRuntime}, plus `engine` (default `auto`) and
 *   `queryOnly` (default `false`: `true` skips the importer and gives the query-only onnxruntime model).
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
  const name = options.name ?? oneLine(model.graph.name || 'onnx-model');
  const unsupported = findUnsupported(model);
  let why = '';
  if (options.queryOnly === true) {
    why = 'queryOnly was asked for';
  } else if (unsupported.length === 0) {
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
