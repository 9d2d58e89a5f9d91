/**
 * robustest: adversarial-robustness testing for TensorFlow.js and ONNX classifiers.
 *
 * The root module holds the core (model interface and adapters, loading, data, backend, errors, reports) and
 * re-exports the attacks, defenses and metrics for convenience; `robustest/attacks`, `robustest/defenses`,
 * `robustest/metrics` and `robustest/testing` give the same symbols by area.
 *
 * @example
 * ```ts
 * import { loadModel, loadData, evaluate, fgsm, pgd, renderText } from 'robustest';
 * const model = await loadModel('assets/mnist-cnn/model.json');
 * const data = await loadData('images-idx3-ubyte', { labels: 'labels-idx1-ubyte', inputShape: model.inputShape });
 * const report = await evaluate(model, data, { attacks: [fgsm(), pgd()], epsilons: [0.1, 0.3] });
 * console.log(renderText(report));
 * ```
 * @module
 */
export * from './errors.js';
export * from './write.js';
export {
  fromGraphModel,
  fromFunction,
  inferLayout,
  isDifferentiable,
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
} from './model.js';
export { loadModel, loadLayersModelFile, fromLayersModel, detectTfjsFormat, type LayersModelOptions, type LoadModelOptions, type TfjsFormat } from './load.js';
export { initBackend, type BackendInfo, type BackendName } from './backend.js';
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
export { parallelModel, DEFAULT_SHARD_SIZE, type ParallelModel, type ParallelModelOptions, type ParallelModelSource } from './parallel/index.js';
export { checkEpsilons, checkInputs, checkLabels, checkModel, checkRadius, countLimit, maxRadius, COUNT_LIMITS, type LabelsLike } from './validate.js';
export { sha256Bytes, sha256Tensors } from './hash.js';
export { packageAssets, libraryVersion } from './package-info.js';
export * from './data/index.js';
export * from './onnx/index.js';
export * from './remote/index.js';
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
export * from './report.js';
export { renderMarkdown, renderText, reportVerdict, type Verdict } from './report-markdown.js';
export { renderHtml, type ExampleImages, type HtmlOptions } from './report-html.js';
export { renderJunit, type JunitOptions } from './report-junit.js';
export { niceTicks, renderCurveSvg, reportCurveSeries, type CurveSeries, type CurveSeriesPoint, type CurveSvgOptions } from './report-svg.js';
export { amplifyPerturbation, renderExampleImages } from './report-images.js';
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
export * from '../defenses/index.js';
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
export {
  checkThresholds,
  configSchema,
  defineConfig,
  findConfigFile,
  loadConfig,
  thresholdFailures,
  validateConfig,
  CONFIG_FILES,
  type AttackConfig,
  type DataConfig,
  type EpsilonsConfig,
  type LoadedConfig,
  type ModelConfig,
  type OutputsConfig,
  type RobustestConfig,
  type ThresholdRule,
  type ThresholdsConfig,
} from './config.js';
