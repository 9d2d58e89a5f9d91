/**
 * Metrics and evaluation: accuracy with Wilson intervals, perturbation norms, sanity checks, and
 * {@link evaluate}, the cascade that turns attacks into a {@link Report}.
 * @module
 */
export { evaluate, type EvaluateData, type EvaluateOptions, type EvaluateProgress, type TensorData } from './evaluate.js';
export { accuracy, argmaxRows, normalQuantile, wilsonInterval } from './accuracy.js';
export { perturbationNorms, summarize, summarizeNorms, L0_THRESHOLD, type PerturbationNorms } from './perturbation.js';
export {
  checkGradients,
  checkOutputs,
  looksLikeLogProbabilities,
  looksLikeProbabilities,
  warning,
  zeroGradientFraction,
  WARNING_CODES,
  type CheckGradientsOptions,
  type CheckOutputsOptions,
  type Warning,
} from './checks.js';
export type { Report, AttackEntry, ClassEntry, CurvePoint, Interval, NormStats, Provenance, ReportWarning, Stat } from '../src/report.js';
