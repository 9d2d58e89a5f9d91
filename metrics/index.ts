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
export {
  blackBoxBeatsWhiteBoxChecks,
  isIterativeAttack,
  isSingleStepAttack,
  evaluationChecks,
  iterativeWeakerChecks,
  notConvergedChecks,
  restartsMatterChecks,
  transferChecks,
  unboundedAttackChecks,
  BLACK_BOX_BEATS_WHITE_BOX_SHARE,
  ITERATIVE_WEAKER_MIN_POINTS,
  ITERATIVE_WEAKER_SHARE,
  NOT_CONVERGED_MEDIAN_RISE,
  NOT_CONVERGED_NEVER_FOOLED,
} from './pitfalls.js';
export type { SupplementaryRun } from './records.js';
export {
  chunkRanges,
  evaluateRange,
  mergeParts,
  mergePartialReports,
  partialReport,
  runHeader,
  shardRange,
  PARTS_FORMAT,
  type AttackSpec,
  type EvaluationPart,
  type MergeContext,
  type PartCell,
  type PartialReport,
  type PartRun,
  type PointRange,
  type RunConfig,
  type RunHeader,
} from './parts.js';
export {
  checkSurrogate,
  isUnboundedSample,
  strongerAttack,
  supplementaryRuns,
  UNBOUNDED_POINTS,
  type AttackPhase,
  type SupplementaryOptions,
} from './supplementary.js';
export { accuracy, argmaxRows, normalQuantile, wilsonInterval } from './accuracy.js';
export { collectExamples, MAX_EXAMPLES } from './examples.js';
export { perturbationNorms, summarize, summarizeNorms, L0_THRESHOLD, type PerturbationNorms } from './perturbation.js';
export {
  checkDataRange,
  checkDefense,
  checkGradients,
  checkOutputs,
  looksLikeLogProbabilities,
  looksLikeProbabilities,
  nonFiniteGradientFraction,
  severeWarnings,
  severityOf,
  warning,
  withSeverity,
  zeroGradientFraction,
  DATA_RANGE_SLIVER,
  WARNING_CODES,
  WARNING_SEVERITY,
  type CheckDataRangeOptions,
  type CheckGradientsOptions,
  type CheckOutputsOptions,
  type Warning,
  type WarningSeverity,
} from './checks.js';
export type { Report, AttackEntry, ClassEntry, CurvePoint, Interval, MinimalNormStats, NormStats, Provenance, ReportWarning, Stat } from '../src/report.js';
