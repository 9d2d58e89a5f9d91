/**
 * Metrics and evaluation: accuracy with Wilson intervals, perturbation norms, sanity checks, and
 * {@link evaluate}, the cascade that turns attacks into a {@link Report}.
 * @module
 */
export {
  attackPhase,
  buildReport,
  cleanPass,
  evaluate,
  modelProvenance,
  planEvaluation,
  robustMask,
  OUTCOME,
  type AttackCell,
  type EpsilonSpec,
  type EvaluateData,
  type EvaluateOptions,
  type EvaluateProgress,
  type EvaluationHooks,
  type EvaluationPlan,
  type EvaluationState,
  type ReportContext,
  type TensorData,
} from './evaluate.js';
export { evaluationChecks, notConvergedChecks, NOT_CONVERGED_MEDIAN_RISE } from './pitfalls.js';
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
export type { Report, AttackEntry, ClassEntry, CurvePoint, Interval, MinimalNormStats, NormStats, Provenance, ReportWarning, Stat } from '../src/report.js';
