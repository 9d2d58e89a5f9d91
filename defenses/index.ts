/**
 * Defenses: input transforms (JPEG, bit-depth reduction, median smoothing, Gaussian noise, random resize-and-pad,
 * total-variation denoising), `defend` (a defended model with BPDA/EOT gradients for adaptive attacks),
 * randomized-smoothing certification, the feature-squeezing detector, and adversarial training.
 * @module
 */
export {
  bitDepth,
  gaussianNoise,
  medianSmoothing,
  randomResizePad,
  tvDenoise,
  type InputTransform,
  type TransformContext,
  type TvDenoiseConfig,
} from './transforms.js';
export { jpeg } from './jpeg.js';
export { defend, type DefendOptions, type DefendedModel, type DefendedQueryModel, type DefenseParts } from './defend.js';
export { parseDefense, DEFENSE_TRANSFORMS, type DefenseTransformEntry } from './spec.js';
export {
  certify,
  certifiedAccuracy,
  clopperPearsonLower,
  type Certificate,
  type CertifiedAccuracy,
  type CertifyConfig,
  type CertifyData,
  type CertifyResult,
  type CertifyTensors,
  type ResolvedCertifyConfig,
} from './smoothing.js';
export {
  detectionMetrics,
  featureSqueezing,
  squeezingScores,
  type DetectionMetrics,
  type FeatureSqueezingConfig,
  type FeatureSqueezingDetector,
  type FalsePositiveRates,
} from './detector.js';
export {
  adversarialTrain,
  linearSchedule,
  TRAINING_METHODS,
  type AdversarialTrainingConfig,
  type EpochStats,
  type LearningRateSchedule,
  type TrainingData,
  type TrainingMethod,
  type TrainingProgress,
  type TrainingResult,
  type TrainingStop,
  type TrainingWarning,
} from './adversarial-training.js';
