/**
 * The feature-squeezing detector (Xu, Evans, Qi, "Feature Squeezing: Detecting Adversarial Examples in Deep Neural
 * Networks", NDSS 2018, arXiv:1704.01155): an input is flagged when the model's softmax on it is far (L1) from its
 * softmax on a squeezed copy, the threshold chosen at a false-positive rate on clean data.
 * @module
 */
import * as tf from '../src/tf.js';
import { ConfigError, ShapeError } from '../src/errors.js';
import { checkBatchShape } from '../src/model.js';
import type { Model } from '../src/model-types.js';
import { bitDepth, medianSmoothing, type InputTransform } from './transforms.js';

/** Options of {@link featureSqueezing}. */
export interface FeatureSqueezingConfig {
  /**
   * The squeezers; the score is the largest L1 distance over them (Xu et al.'s joint detector). Default: bit depth 1
   * and 2×2 median smoothing (Xu et al.'s choice for MNIST). Their seeds are 0 (use deterministic squeezers).
   */
  readonly squeezers?: readonly InputTransform[];
  /** Fraction of clean inputs that may be flagged, in [0, 1). Default 0.05. */
  readonly falsePositiveRate?: number;
  /** Inputs per forward pass. Default 100. */
  readonly batchSize?: number;
}

/** The false-positive rate a detector was fitted for, and the one it has on its clean data. */
export interface FalsePositiveRates {
  /** The rate asked for. */
  readonly target: number;
  /** The fraction of the clean inputs it flags (≤ `target`). */
  readonly fitted: number;
}

/** A fitted detector: the threshold on the score, and the functions that score and flag inputs. */
export interface FeatureSqueezingDetector {
  /** Scores above it are flagged as adversarial. */
  readonly threshold: number;
  /** The false-positive rate it was fitted for, and the one it has on the clean data it was fitted on (≤ the first). */
  readonly falsePositiveRate: FalsePositiveRates;
  /** The squeezers' specs, e.g. `['bits:1', 'median:2']`. */
  readonly squeezers: readonly string[];
  /** Per input, the largest L1 distance between the softmax on it and on a squeezed copy (in [0, 2]). */
  score(x: tf.Tensor): Promise<Float32Array>;
  /** Per input, 1 when flagged as adversarial (score > threshold), else 0. */
  detect(x: tf.Tensor): Promise<Uint8Array>;
}

const DEFAULT_SQUEEZERS = (): InputTransform[] => [bitDepth(1), medianSmoothing(2)];

/**
 * Feature-squeezing scores (Xu et al. 2018): per input, `max over squeezers of ‖softmax(f(x)) − softmax(f(s(x)))‖₁`.
 *
 * @param model - the classifier (either kind).
 * @param x - inputs `[N, ...model.inputShape]`; not disposed.
 * @param squeezers - default bit depth 1 and 2×2 median smoothing.
 * @param batchSize - inputs per forward pass, default 100.
 * @returns one score per input, in [0, 2].
 * @throws {@link ShapeError} if `x` does not match the model; {@link ConfigError} for no squeezer.
 * @example
 * ```ts
 * const scores = await squeezingScores(model, x, [bitDepth(4)]);
 * ```
 */
export async function squeezingScores(
  model: Model,
  x: tf.Tensor,
  squeezers: readonly InputTransform[] = DEFAULT_SQUEEZERS(),
  batchSize = 100,
): Promise<Float32Array> {
  const n = checkBatchShape(model.name, model.inputShape, x);
  if (squeezers.length === 0) throw new ConfigError('squeezingScores: expected at least one squeezer, got 0');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`squeezingScores: expected batchSize to be a positive integer, got ${batchSize}`);
  const out = new Float32Array(n);
  const context = { bounds: model.bounds, layout: model.layout, seed: 0 };
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const xb = tf.slice(x, [start, ...model.inputShape.map(() => 0)], [m, ...model.inputShape]);
    let best: tf.Tensor1D | undefined;
    try {
      const raw = await model.logits(xb);
      const p = tf.tidy(() => tf.softmax(raw));
      raw.dispose();
      try {
        for (const s of squeezers) {
          const squeezed = tf.tidy(() => s.apply(xb, context));
          const zs = await model.logits(squeezed);
          squeezed.dispose();
          const prev = best;
          best = tf.tidy(() => {
            const d = tf.sum(tf.abs(tf.sub(p, tf.softmax(zs))), 1) as tf.Tensor1D;
            return (prev ? tf.maximum(prev, d) : d) as tf.Tensor1D;
          });
          zs.dispose();
          prev?.dispose();
        }
        out.set(await best!.data(), start);
      } finally {
        p.dispose();
      }
    } finally {
      tf.dispose([xb, best].filter((t): t is tf.Tensor => t !== undefined));
    }
  }
  return out;
}

/**
 * Fits the feature-squeezing detector (Xu, Evans, Qi, NDSS 2018) on clean inputs: the threshold is the smallest
 * clean score such that at most `falsePositiveRate` of the clean inputs score above it.
 *
 * @param model - the classifier.
 * @param clean - clean inputs `[N, ...model.inputShape]` (not the ones you evaluate on); not disposed.
 * @param config - squeezers (default bits:1 and median:2), falsePositiveRate (default 0.05), batchSize (default 100).
 * @returns the fitted detector (holds no tensors).
 * @throws {@link ConfigError} if the rate is outside [0, 1) or there are no clean inputs; {@link ShapeError} if the
 *   inputs do not match the model.
 * @example
 * ```ts
 * const detector = await featureSqueezing(model, clean, { falsePositiveRate: 0.05 });
 * const flagged = await detector.detect(adv); // 1 = adversarial
 * ```
 */
export async function featureSqueezing(model: Model, clean: tf.Tensor, config: FeatureSqueezingConfig = {}): Promise<FeatureSqueezingDetector> {
  const target = config.falsePositiveRate ?? 0.05;
  if (!(target >= 0 && target < 1)) throw new ConfigError(`featureSqueezing: expected falsePositiveRate to be in [0, 1), got ${target}`);
  const squeezers = [...(config.squeezers ?? DEFAULT_SQUEEZERS())];
  const batchSize = config.batchSize ?? 100;
  const scores = await squeezingScores(model, clean, squeezers, batchSize);
  if (scores.length === 0) throw new ConfigError('featureSqueezing: expected at least one clean input, got 0');
  const sorted = Float32Array.from(scores).sort();
  const allowed = Math.floor(target * sorted.length);
  const threshold = sorted[sorted.length - 1 - allowed]!;
  const fitted = scores.filter((s) => s > threshold).length / scores.length;
  const score = (x: tf.Tensor) => squeezingScores(model, x, squeezers, batchSize);
  return Object.freeze({
    threshold,
    falsePositiveRate: Object.freeze({ target, fitted }),
    squeezers: Object.freeze(squeezers.map((s) => s.spec)),
    score,
    detect: async (x: tf.Tensor) => Uint8Array.from(await score(x), (s) => (s > threshold ? 1 : 0)),
  });
}

/** How well scores separate clean from adversarial inputs. */
export interface DetectionMetrics {
  /** Fraction of adversarial inputs flagged (score > threshold): the true-positive rate. */
  readonly detectionRate: number;
  /** Fraction of clean inputs flagged. */
  readonly falsePositiveRate: number;
  /** Area under the ROC curve: P(adversarial score > clean score) + ½·P(equal) (Mann–Whitney). */
  readonly rocAuc: number;
}

/**
 * Detection rate, false-positive rate and ROC AUC of a score on clean against adversarial inputs.
 *
 * @param clean - scores of clean inputs.
 * @param adversarial - scores of adversarial inputs (e.g. only those that fool the model, as Xu et al. report).
 * @param threshold - scores above it are flagged.
 * @throws {@link ShapeError} if either list is empty.
 * @example
 * ```ts
 * const detector = await featureSqueezing(model, clean);
 * const m = detectionMetrics(await detector.score(x), await detector.score(adv), detector.threshold);
 * console.log(`detected ${(100 * m.detectionRate).toFixed(1)}%, ROC AUC ${m.rocAuc.toFixed(3)}`);
 * ```
 */
export function detectionMetrics(clean: ArrayLike<number>, adversarial: ArrayLike<number>, threshold: number): DetectionMetrics {
  if (clean.length === 0 || adversarial.length === 0) {
    throw new ShapeError(`detectionMetrics: expected clean and adversarial scores, got ${clean.length} and ${adversarial.length}`);
  }
  const c = Float64Array.from(clean).sort();
  const a = Array.from(adversarial);
  // Mann–Whitney: for each adversarial score, clean scores below it count 1 and equal ones ½ (binary searches).
  const below = (v: number, strict: boolean): number => {
    let [lo, hi] = [0, c.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? c[mid]! < v : c[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let wins = 0;
  for (const v of a) {
    const lt = below(v, true);
    wins += lt + (below(v, false) - lt) / 2;
  }
  return {
    detectionRate: a.filter((v) => v > threshold).length / a.length,
    falsePositiveRate: c.filter((v) => v > threshold).length / c.length,
    rocAuc: wins / (a.length * c.length),
  };
}
