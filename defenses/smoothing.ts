/**
 * Randomized smoothing (Cohen, Rosenfeld, Kolter, "Certified Adversarial Robustness via Randomized Smoothing", ICML
 * 2019, arXiv:1902.02918): the smoothed classifier `g(x) = argmax_c P(f(x + ε) = c)`, `ε ~ N(0, σ²I)`, and its
 * CERTIFY procedure: a class from `n0` noisy draws, a one-sided Clopper–Pearson lower bound `p̲A` on its probability
 * from `n` more, and the certified L2 radius `σ·Φ⁻¹(p̲A)` (abstain when `p̲A < ½`).
 * @module
 */
import { createRequire } from 'node:module';
import * as tf from '../src/tf.js';
import { ConfigError, ShapeError } from '../src/errors.js';
import { checkBatchShape } from '../src/model.js';
import { deriveSeed } from '../src/rng.js';
import { requireInt } from '../src/validate.js';
import type { Model } from '../src/model-types.js';
import type { Dataset } from '../src/data/types.js';

interface JStat {
  beta: { inv(p: number, a: number, b: number): number };
  normal: { inv(p: number, mean: number, sd: number): number };
}
// jstat (CommonJS, no type declarations): the Beta and normal quantiles; agrees with scipy to ~1e-12.
const { jStat } = createRequire(import.meta.url)('jstat') as { jStat: JStat };

/** Options of {@link certify}. */
export interface CertifyConfig {
  /** Standard deviation of the Gaussian noise, in raw input units; positive. Required. */
  readonly sigma: number;
  /** Noisy draws that select the class. Default 100 (Cohen et al.). */
  readonly n0?: number;
  /** Noisy draws that estimate its probability; at least `n0`. Default 10,000 (Cohen et al. use 100,000). */
  readonly n?: number;
  /** Probability that a certificate is wrong, in (0, 1). Default 0.001. */
  readonly alpha?: number;
  /** Noisy draws per forward pass. Default 500. */
  readonly batchSize?: number;
  /** Seed of the noise; each sample's draws derive from it and the sample's index. Default 0. */
  readonly seed?: number;
  /** Called after each sample with the number done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The certificate of one sample. */
export interface Certificate {
  /** The smoothed classifier's class, or -1 when it abstains. */
  readonly prediction: number;
  /** Certified L2 radius: `g` predicts `prediction` everywhere within it (with probability ≥ 1 − α); 0 on abstain. */
  readonly radius: number;
  /** The Clopper–Pearson lower bound on the top class's probability under noise. */
  readonly pALower: number;
  /** How many of the `n` draws gave the class chosen from the `n0` draws. */
  readonly count: number;
}

/** {@link CertifyConfig} with its defaults filled in. */
export interface ResolvedCertifyConfig {
  /** Noise standard deviation. */
  readonly sigma: number;
  /** Selection draws. */
  readonly n0: number;
  /** Estimation draws. */
  readonly n: number;
  /** Error probability of a certificate. */
  readonly alpha: number;
  /** Draws per forward pass. */
  readonly batchSize: number;
  /** Seed of the noise. */
  readonly seed: number;
}

/** What {@link certify} returns: one certificate per sample, and the configuration that produced them. */
export interface CertifyResult {
  /** One per sample, in order. */
  readonly certificates: readonly Certificate[];
  /** The configuration, defaults filled in. */
  readonly config: ResolvedCertifyConfig;
  /** Wall-clock seconds. */
  readonly seconds: number;
}

/** Inputs for {@link certify}: a loaded dataset or a batch tensor (labels are not needed to certify). */
export type CertifyData = Dataset | CertifyTensors;

/** A batch of inputs for {@link certify}. */
export interface CertifyTensors {
  /** Inputs `[N, ...model.inputShape]`; not disposed. */
  readonly x: tf.Tensor;
}

function resolveConfig(config: CertifyConfig): ResolvedCertifyConfig {
  const where = 'certify';
  const { sigma } = config;
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma <= 0)
    throw new ConfigError(`${where}: expected sigma to be a positive number, got ${String(sigma)}`);
  const n0 = config.n0 ?? 100;
  const n = config.n ?? 10_000;
  const alpha = config.alpha ?? 0.001;
  const batchSize = config.batchSize ?? 500;
  const seed = config.seed ?? 0;
  requireInt(n0, 1, where, 'n0');
  requireInt(n, 1, where, 'n');
  requireInt(batchSize, 1, where, 'batchSize');
  if (n0 > n) throw new ConfigError(`${where}: expected n0 <= n, got n0 = ${n0} > n = ${n}`);
  if (!(alpha > 0 && alpha < 1)) throw new ConfigError(`${where}: expected alpha to be in (0, 1), got ${alpha}`);
  if (!Number.isInteger(seed)) throw new ConfigError(`${where}: expected seed to be an integer, got ${seed}`);
  return { sigma, n0, n, alpha, batchSize, seed };
}

/**
 * The one-sided Clopper–Pearson lower confidence bound on a binomial proportion: the `alpha` quantile of
 * Beta(k, n − k + 1); 0 when `k = 0`.
 *
 * @param k - successes, an integer in [0, n].
 * @param n - trials, a positive integer.
 * @param alpha - one-sided error probability, in (0, 1).
 * @throws {@link ConfigError} if an argument is out of range.
 * @example
 * ```ts
 * clopperPearsonLower(1000, 1000, 0.001); // 0.001 ** (1 / 1000) ≈ 0.99312
 * ```
 */
export function clopperPearsonLower(k: number, n: number, alpha: number): number {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`clopperPearsonLower: expected n to be a positive integer, got ${n}`);
  if (!Number.isInteger(k) || k < 0 || k > n) throw new ConfigError(`clopperPearsonLower: expected k to be an integer in [0, ${n}], got ${k}`);
  if (!(alpha > 0 && alpha < 1)) throw new ConfigError(`clopperPearsonLower: expected alpha to be in (0, 1), got ${alpha}`);
  if (k === 0) return 0;
  if (k === n) return alpha ** (1 / n);
  return jStat.beta.inv(alpha, k, n - k + 1);
}

/** Class counts of `f(x + ε)` over `num` draws for one input `[1, ...shape]`. */
async function sampleCounts(model: Model, x1: tf.Tensor, num: number, sigma: number, batchSize: number, seed: number): Promise<Int32Array> {
  const classes = model.numClasses;
  let counts = tf.zeros([classes], 'int32');
  try {
    for (let done = 0, b = 0; done < num; b++) {
      const m = Math.min(batchSize, num - done);
      const noisy = tf.tidy(() => tf.add(x1, tf.randomNormal([m, ...x1.shape.slice(1)], 0, sigma, 'float32', deriveSeed(seed, b))));
      let logits: tf.Tensor2D;
      try {
        logits = await model.logits(noisy);
      } finally {
        noisy.dispose();
      }
      const prev = counts;
      counts = tf.tidy(() => tf.add(prev, tf.cast(tf.sum(tf.oneHot(tf.argMax(logits, 1) as tf.Tensor1D, classes), 0), 'int32')));
      tf.dispose([prev, logits]);
      done += m;
    }
    return Int32Array.from(await counts.data());
  } finally {
    counts.dispose();
  }
}

function argmax(counts: Int32Array): number {
  let best = 0;
  for (let c = 1; c < counts.length; c++) if (counts[c]! > counts[best]!) best = c;
  return best;
}

/**
 * Certifies each input with randomized smoothing (Cohen, Rosenfeld, Kolter, ICML 2019, Algorithm CERTIFY): the class
 * most often predicted under `n0` Gaussian draws, a Clopper–Pearson lower bound `p̲A` on its probability from `n`
 * fresh draws, and the certified L2 radius `σ·Φ⁻¹(p̲A)`; the smoothed classifier abstains (prediction −1, radius 0)
 * when `p̲A < ½`. With probability at least `1 − alpha` per sample, the smoothed classifier's prediction is constant
 * within the radius. Noise is not clipped to the bounds (as in the paper). Works on both model kinds (only `logits` is
 * used). Draws are seeded from the seed and the sample's index, so a certificate does not depend on the batch.
 *
 * @param model - the base classifier (train it with Gaussian noise of the same σ for useful radii).
 * @param data - a dataset, or `{ x }` with `x` of shape `[N, ...model.inputShape]`.
 * @param config - sigma (required), n0 (default 100), n (default 10,000), alpha (default 0.001), batchSize (default
 *   500), seed (default 0).
 * @returns one certificate per input; the caller owns nothing (no tensors).
 * @throws {@link ConfigError} if σ ≤ 0, n0 > n, α outside (0, 1) or another option is invalid; {@link ShapeError} if
 *   the inputs do not match the model.
 * @example
 * ```ts
 * const result = await certify(model, data, { sigma: 0.25, n: 1000 });
 * console.log(certifiedAccuracy(result, data.labels, [0, 0.25, 0.5]));
 * ```
 */
export async function certify(model: Model, data: CertifyData, config: CertifyConfig): Promise<CertifyResult> {
  const cfg = resolveConfig(config);
  const t0 = performance.now();
  const isTensor = 'x' in data;
  const count = isTensor ? checkBatchShape(model.name, model.inputShape, data.x) : data.count;
  if (!isTensor) {
    const shape = data.shape;
    if (shape.length !== model.inputShape.length || shape.some((d, i) => d !== model.inputShape[i])) {
      throw new ShapeError(`certify: expected inputs of shape [${model.inputShape.join(', ')}], got [${data.shape.join(', ')}]`);
    }
  }
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const certificates: Certificate[] = [];
  for (let i = 0; i < count; i++) {
    const x1 = isTensor
      ? tf.slice(data.x, [i, ...model.inputShape.map(() => 0)], [1, ...model.inputShape])
      : tf.tensor(data.images.subarray(i * size, (i + 1) * size), [1, ...model.inputShape], 'float32');
    try {
      const selection = await sampleCounts(model, x1, cfg.n0, cfg.sigma, cfg.batchSize, deriveSeed(cfg.seed, i, 0));
      const cA = argmax(selection);
      const estimation = await sampleCounts(model, x1, cfg.n, cfg.sigma, cfg.batchSize, deriveSeed(cfg.seed, i, 1));
      const k = estimation[cA]!;
      const pALower = clopperPearsonLower(k, cfg.n, cfg.alpha);
      certificates.push(
        pALower < 0.5
          ? { prediction: -1, radius: 0, pALower, count: k }
          : { prediction: cA, radius: cfg.sigma * jStat.normal.inv(pALower, 0, 1), pALower, count: k },
      );
    } finally {
      x1.dispose();
    }
    config.onProgress?.(i + 1, count);
  }
  return { certificates, config: cfg, seconds: (performance.now() - t0) / 1000 };
}

/** Certified accuracy at one radius. */
export interface CertifiedAccuracy {
  /** The L2 radius. */
  readonly radius: number;
  /** Fraction of inputs whose smoothed prediction is the label with a certified radius ≥ `radius`. */
  readonly accuracy: number;
  /** How many inputs that is. */
  readonly count: number;
}

/**
 * Certified accuracy at each radius (Cohen et al. 2019, Table 1): the fraction of inputs the smoothed classifier gets
 * right (not abstaining) with a certified radius at least that radius. At radius 0 it is the smoothed classifier's
 * accuracy.
 *
 * @param result - from {@link certify}.
 * @param labels - one label per input.
 * @param radii - non-negative radii.
 * @throws {@link ShapeError} if the label count differs from the certificates'; {@link ConfigError} for a negative
 *   or non-finite radius.
 * @example
 * ```ts
 * const curve = certifiedAccuracy(await certify(model, data, { sigma: 0.5 }), data.labels, [0, 0.5, 1]);
 * ```
 */
export function certifiedAccuracy(result: CertifyResult, labels: ArrayLike<number>, radii: readonly number[]): CertifiedAccuracy[] {
  const certs = result.certificates;
  if (labels.length !== certs.length) throw new ShapeError(`certifiedAccuracy: expected ${certs.length} labels (one per certificate), got ${labels.length}`);
  return radii.map((radius) => {
    if (!Number.isFinite(radius) || radius < 0) throw new ConfigError(`certifiedAccuracy: expected radii to be non-negative numbers, got ${radius}`);
    const count = certs.filter((c, i) => c.prediction === labels[i] && c.radius >= radius).length;
    return { radius, accuracy: certs.length === 0 ? 0 : count / certs.length, count };
  });
}
