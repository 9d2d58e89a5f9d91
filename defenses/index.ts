/**
 * Defenses: input transforms (JPEG, bit-depth reduction, median smoothing, Gaussian noise, random resize-and-pad,
 * total-variation denoising), `defend` (a defended model with BPDA/EOT gradients for adaptive attacks),
 * randomized-smoothing certification, the feature-squeezing detector, and adversarial training.
 * @module
 */
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
  type TrainingWarning,
} from './adversarial-training.js';
