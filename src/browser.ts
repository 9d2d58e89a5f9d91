/**
 * robustest in the browser: the core without anything from Node.
 *
 * Bundlers pick this module for `import ... from 'robustest'` through the `browser` condition of the package's
 * `exports` (esbuild with `platform: 'browser'`, Vite, webpack). It holds the model wrappers, every attack, the
 * runner, `evaluate` with its checks, the matchers' engine, the report renderings (Markdown, text, HTML with its SVG
 * curves, JUnit) and report comparison. What needs Node
 * stays out: loading models and data from files (`loadModel`, `loadData`, sharp), onnxruntime-node, worker threads,
 * report validation against the schema file, PNG encoding of a report's examples (`renderExampleImages`, sharp), and
 * the atomic file writers. Load a model with tfjs
 * (`tf.loadLayersModel(url)` or `tf.loadGraphModel(url)`) and wrap it with {@link fromLayersModel} or
 * `fromGraphModel`; pick a backend with `tf.setBackend` (webgl, wasm, or cpu), as tfjs itself does.
 *
 * @example
 * ```ts
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { fromLayersModel, pgd } from 'robustest';
 * const model = await fromLayersModel(await tfl.loadLayersModel('/models/mnist/model.json'));
 * const result = await pgd({ steps: 20 }).run(model, x, labels, { epsilons: [0.1] });
 * console.log(result.results[0]!.predictions);
 * result.dispose();
 * ```
 * @module
 */
import { layersAdapter } from './model.js';
import { UnsupportedError } from './errors.js';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { DifferentiableModel } from './model-types.js';
import type { LayersModelOptions } from './load.js';

export * from './errors.js';
export {
  fromGraphModel,
  fromFunction,
  inferLayout,
  isDifferentiable,
  MODEL_WARNING_CODES,
  type Bounds,
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
} from './model.js';
export { createRng, deriveSeed, normalPerSample, randomTargets, sampleRngs, uniformPerSample, type Rng } from './rng.js';
export {
  batchNorm,
  checkNorm,
  isZeroRadius,
  perSample,
  project,
  randomInBall,
  selectSamples,
  signExact,
  steepestDirection,
  NORMS,
  type Norm,
} from './norms.js';
export {
  attackLoss,
  crossEntropy,
  describeLoss,
  logitDifference,
  marginLoss,
  targetedLoss,
  LOSSES,
  LOSS_NAMES,
  type LossDescription,
  type LossName,
  type LossSpec,
} from './losses.js';
export { checkEpsilons, checkInputs, checkLabels, type LabelsLike } from './validate.js';
export { sha256Tensors } from './digest.js';
export {
  enableFastGradients,
  disableFastGradients,
  fastGradientsActive,
  fastGradientsEnabled,
  FAST_GRADIENT_KERNELS,
  FAST_GRADIENT_TABLE,
  FAST_GRADIENTS_ENV,
  type FastGradientKernel,
  type FastGradientOptions,
} from './gradients/index.js';
export { REPORT_VERSION } from './version.js';
export type { AttackEntry, ClassEntry, CurvePoint, Interval, MinimalNormStats, NormStats, Provenance, Report, ReportWarning, Stat } from './report.js';
export { renderMarkdown, renderText, reportVerdict, type Verdict } from './report-markdown.js';
export { renderHtml, type ExampleImages, type HtmlOptions } from './report-html.js';
export { renderJunit, type JunitOptions } from './report-junit.js';
export { niceTicks, renderCurveSvg, reportCurveSeries, type CurveSeries, type CurveSeriesPoint, type CurveSvgOptions } from './report-svg.js';
export { WARNING_EXPLANATIONS } from './report-format.js';
export {
  compareReports,
  encodePointOutcomes,
  renderComparisonHtml,
  renderComparisonMarkdown,
  renderComparisonText,
  reportOutcomes,
  type ClassChange,
  type CompareOptions,
  type ComparedSide,
  type ComparedValue,
  type Comparison,
  type EncodedPointOutcomes,
  type PointOutcomes,
  type RobustPoints,
} from './compare.js';
export { mcnemarExact } from './stats.js';
export * from '../attacks/index.js';
export * from '../metrics/index.js';
export {
  checkRobustAccuracy,
  checkRobustness,
  robustMatchers,
  type MatcherOutcome,
  type RobustAccuracyExpectation,
  type RobustMatchers,
  type RobustnessExpectation,
  type RobustnessVerdict,
} from './testing.js';

/**
 * Wraps a tfjs `LayersModel` as a {@link DifferentiableModel}, in the browser. The same adapter as Node's
 * `fromLayersModel` (one graph call with `training: false`, a final softmax removed with a warning), with
 * input-gradients always computed by tfjs on the active backend: onnxruntime-node does not exist here, so
 * `engine: 'auto'` (the default) means `tfjs`.
 *
 * @param model - the user's model; never modified or disposed.
 * @param options - bounds (default `[0, 1]`), preprocessing, name; `engine` `auto` or `tfjs` (`threads` is ignored).
 * @returns the wrapped model; `model.engine` is `tfjs`.
 * @throws {@link UnsupportedError} for `engine: 'onnxruntime'`; {@link ConfigError} if the model's input or output
 *   shape is unusable or an option is invalid.
 * @example
 * ```ts
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { fromLayersModel } from 'robustest';
 * const model = await fromLayersModel(await tfl.loadLayersModel('/mnist-cnn/model.json'), { bounds: [0, 1] });
 * ```
 */
export async function fromLayersModel(model: LayersModel, options: LayersModelOptions = {}): Promise<DifferentiableModel> {
  const { engine = 'auto', threads: _threads, ...modelOptions } = options;
  if (engine === 'onnxruntime') {
    throw new UnsupportedError(
      `${options.name ?? model.name}: expected engine 'auto' or 'tfjs' in the browser, got 'onnxruntime' (onnxruntime-node runs in Node only)`,
    );
  }
  return layersAdapter(model, modelOptions, {});
}
