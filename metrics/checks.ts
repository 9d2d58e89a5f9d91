/**
 * Sanity checks for an evaluation setup, in the spirit of AutoAttack's warnings: outputs that are probabilities
 * rather than logits, gradients that vanish (a sign of gradient masking), a softmax head. Each check reduces on
 * the device and reads a few scalars; findings are returned as {@link Warning} data, never printed.
 * @module
 */
import * as tf from '../src/tf.js';
import { ConfigError, ShapeError, describe } from '../src/errors.js';

/**
 * A sanity-check finding, the same shape as a report's `ReportWarning`.
 *
 * @example
 * ```ts
 * const w: Warning = { code: 'zero-gradients', message: '40% of samples have an all-zero input gradient' };
 * ```
 */
export interface Warning {
  /** Stable kebab-case code; see {@link WARNING_CODES} for the ones robustest emits. */
  code: string;
  /** Human-readable explanation and what to do about it. */
  message: string;
}

/**
 * The warning codes robustest itself emits:
 * - `probability-output`: the model outputs probabilities (rows in [0, 1] summing to 1), not logits.
 * - `log-probability-output`: the model outputs log-probabilities (log-softmax).
 * - `zero-gradients`: many samples have an all-zero input gradient (a sign of gradient masking).
 * - `softmax-head`: the model ends in a softmax (removed, so attacks use its input, or kept because it could not be).
 * - `randomized-model`: two forward passes on the same input differ, so results depend on the draw.
 * - `non-monotone-curve`: robust accuracy rises with epsilon somewhere on the curve (an attack fell short).
 * - `no-correct-points`: no input is classified correctly, so there is nothing to attack.
 * - `not-converged`: an attack's loss was still rising when it stopped (see `metrics/pitfalls.ts`).
 *
 * A report's warnings also carry the model's own warnings under their `MODEL_WARNING_CODES` (a removed softmax
 * head is reported as `softmax-head`).
 *
 * @example
 * ```ts
 * if (report.warnings.some((w) => w.code === WARNING_CODES.zeroGradients)) console.log('suspicious');
 * ```
 */
export const WARNING_CODES = {
  /** The model outputs probabilities. */
  probabilityOutput: 'probability-output',
  /** The model outputs log-probabilities. */
  logProbabilityOutput: 'log-probability-output',
  /** Many samples have an all-zero input gradient. */
  zeroGradients: 'zero-gradients',
  /** The model ends in a softmax (removed or not). */
  softmaxHead: 'softmax-head',
  /** Two forward passes on the same input differ. */
  randomizedModel: 'randomized-model',
  /** Robust accuracy rises with epsilon. */
  nonMonotoneCurve: 'non-monotone-curve',
  /** No input is classified correctly. */
  noCorrectPoints: 'no-correct-points',
  /** An attack's loss was still rising when it stopped. */
  notConverged: 'not-converged',
} as const;

const CODE_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Builds a {@link Warning}.
 *
 * @param code - a kebab-case code (lowercase letters, digits and single dashes), e.g. `softmax-head`.
 * @param message - a non-empty explanation.
 * @returns `{ code, message }`.
 * @throws `ConfigError` if `code` is not kebab-case or `message` is empty.
 * @example
 * ```ts
 * warning('softmax-head', 'model ends in a softmax; attacks use its output as logits');
 * ```
 */
export function warning(code: string, message: string): Warning {
  if (typeof code !== 'string' || !CODE_PATTERN.test(code)) {
    throw new ConfigError(`warning: expected code to be kebab-case like "zero-gradients", got ${describe(code)}`);
  }
  if (typeof message !== 'string' || message.length === 0) {
    throw new ConfigError(`warning: expected message to be a non-empty string, got ${describe(message)}`);
  }
  return { code, message };
}

/** Tolerance on each entry being in [0, 1] (probabilities) or <= 0 (log-probabilities). */
const RANGE_TOL = 1e-6;
/** Tolerance on each row's probabilities summing to 1. */
const SUM_TOL = 1e-3;

function checkRank2(where: string, logits: tf.Tensor): void {
  if (logits.rank !== 2) {
    throw new ShapeError(`${where}: expected logits of rank 2 [N, C], got shape [${logits.shape.join(', ')}]`);
  }
}

/** Reads a small tensor, disposes it, returns its values. */
async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

/**
 * Whether a batch of model outputs looks like probabilities (a softmax output) rather than logits: every entry
 * in `[0, 1]` within `1e-6`, and every row summing to 1 within `1e-3`.
 *
 * Reduces on the device and reads three scalars. Logits happen to pass this test only by coincidence, so a
 * `true` is a strong hint that losses are being computed on saturated probabilities.
 *
 * @param logits - model outputs `[N, C]`; not disposed.
 * @returns `true` if every row looks like a probability vector; `false` for an empty batch or any non-finite entry.
 * @throws `ShapeError` if `logits` is not rank 2.
 * @example
 * ```ts
 * await looksLikeProbabilities(tf.softmax(logits)); // true
 * await looksLikeProbabilities(logits);             // false (usually)
 * ```
 */
export async function looksLikeProbabilities(logits: tf.Tensor2D): Promise<boolean> {
  checkRank2('looksLikeProbabilities', logits);
  if (logits.size === 0) return false;
  const v = await readAndDispose(
    tf.tidy(() => {
      const x = tf.cast(logits, 'float32');
      const rowSumError = tf.max(tf.abs(tf.sub(tf.sum(x, 1), 1)));
      return tf.stack([tf.min(x), tf.max(x), rowSumError]);
    }),
  );
  const [lo, hi, sumErr] = v as unknown as [number, number, number];
  return lo >= -RANGE_TOL && hi <= 1 + RANGE_TOL && sumErr <= SUM_TOL;
}

/**
 * Whether a batch of model outputs looks like log-probabilities (a log-softmax output): every entry `<= 0`
 * (within `1e-6`) and, for every row, the exponentials summing to 1 within `1e-3`.
 *
 * @param logits - model outputs `[N, C]`; not disposed.
 * @returns `true` if every row looks like a log-probability vector; `false` for an empty batch or any
 * non-finite sum.
 * @throws `ShapeError` if `logits` is not rank 2.
 * @example
 * ```ts
 * await looksLikeLogProbabilities(tf.logSoftmax(logits)); // true
 * ```
 */
export async function looksLikeLogProbabilities(logits: tf.Tensor2D): Promise<boolean> {
  checkRank2('looksLikeLogProbabilities', logits);
  if (logits.size === 0) return false;
  const v = await readAndDispose(
    tf.tidy(() => {
      const x = tf.cast(logits, 'float32');
      const rowSumError = tf.max(tf.abs(tf.sub(tf.sum(tf.exp(x), 1), 1)));
      return tf.stack([tf.max(x), rowSumError]);
    }),
  );
  const [hi, sumErr] = v as unknown as [number, number];
  return hi <= RANGE_TOL && sumErr <= SUM_TOL;
}

/**
 * Fraction of samples whose input gradient is exactly zero everywhere.
 *
 * A few such samples are normal (a saturated ReLU network far from the boundary); many are a classic sign of
 * gradient masking (a non-differentiable preprocessing step, a hard threshold, saturated probabilities), which
 * makes gradient attacks report inflated robustness. A sample with a NaN gradient is not counted as zero.
 *
 * @param grad - input gradient `[N, ...]` (the `grad` of `valueAndGrad`); not disposed.
 * @returns a fraction in `[0, 1]`; `0` for an empty batch, and `1` when the samples have no components.
 * @throws `ShapeError` if `grad` is a scalar.
 * @example
 * ```ts
 * const { value, grad } = await model.valueAndGrad(x, loss);
 * const zero = await zeroGradientFraction(grad);
 * tf.dispose([value, grad]);
 * ```
 */
export async function zeroGradientFraction(grad: tf.Tensor): Promise<number> {
  if (grad.rank < 1) {
    throw new ShapeError(`zeroGradientFraction: expected a batch of rank >= 1 [N, ...], got a scalar`);
  }
  const n = grad.shape[0] ?? 0;
  if (n === 0) return 0;
  const perSample = grad.size / n;
  if (perSample === 0) return 1;
  const v = await readAndDispose(
    tf.tidy(() => {
      const absMax = tf.max(tf.abs(tf.reshape(tf.cast(grad, 'float32'), [n, perSample])), 1);
      return tf.mean(tf.cast(tf.equal(absMax, 0), 'float32'));
    }),
  );
  return v[0] ?? 0;
}

/** Options of {@link checkOutputs}. */
export interface CheckOutputsOptions {
  /** Name used in the messages. Default `'model'`. */
  name?: string;
}

/**
 * Runs the output checks on a batch of model outputs and returns the findings as warnings:
 * `probability-output` if {@link looksLikeProbabilities}, else `log-probability-output` if
 * {@link looksLikeLogProbabilities}.
 *
 * @param logits - model outputs `[N, C]` on clean inputs; not disposed.
 * @param options - see {@link CheckOutputsOptions}.
 * @returns zero or one warning.
 * @throws `ShapeError` if `logits` is not rank 2.
 * @example
 * ```ts
 * const warnings = await checkOutputs(model.logits(xBatch), { name: model.name });
 * ```
 */
export async function checkOutputs(logits: tf.Tensor2D, options: CheckOutputsOptions = {}): Promise<Warning[]> {
  const name = options.name ?? 'model';
  if (await looksLikeProbabilities(logits)) {
    return [
      warning(
        WARNING_CODES.probabilityOutput,
        `${name}: outputs look like probabilities (every row in [0, 1] summing to 1), not logits. Losses on ` +
          'probabilities saturate, so gradient attacks can underestimate vulnerability; give robustest the ' +
          'pre-softmax logits.',
      ),
    ];
  }
  if (await looksLikeLogProbabilities(logits)) {
    return [
      warning(
        WARNING_CODES.logProbabilityOutput,
        `${name}: outputs look like log-probabilities (every row <= 0 with exponentials summing to 1). ` +
          'Log-softmax only shifts each row, so cross-entropy, margin and DLR losses are unaffected; check that ' +
          'no further softmax is applied downstream, and prefer the pre-softmax logits where available.',
      ),
    ];
  }
  return [];
}

/** Options of {@link checkGradients}. */
export interface CheckGradientsOptions {
  /** Warn when more than this fraction of samples has an all-zero gradient, in `[0, 1]`. Default `0.1`. */
  threshold?: number;
  /** Name used in the messages. Default `'model'`. */
  name?: string;
}

/**
 * Runs the gradient check and returns a `zero-gradients` warning when more than `threshold` of the samples
 * have an all-zero input gradient.
 *
 * @param grad - input gradient `[N, ...]`; not disposed.
 * @param options - see {@link CheckGradientsOptions}.
 * @returns zero or one warning.
 * @throws `ConfigError` if `threshold` is not in `[0, 1]`.
 * @throws `ShapeError` if `grad` is a scalar.
 * @example
 * ```ts
 * const { value, grad } = await model.valueAndGrad(x, loss);
 * warnings.push(...(await checkGradients(grad, { name: model.name })));
 * tf.dispose([value, grad]);
 * ```
 */
export async function checkGradients(grad: tf.Tensor, options: CheckGradientsOptions = {}): Promise<Warning[]> {
  const threshold = options.threshold ?? 0.1;
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw new ConfigError(`checkGradients: expected threshold to be a number in [0, 1], got ${describe(threshold)}`);
  }
  const name = options.name ?? 'model';
  const fraction = await zeroGradientFraction(grad);
  if (fraction <= threshold) return [];
  return [
    warning(
      WARNING_CODES.zeroGradients,
      `${name}: ${(fraction * 100).toFixed(1)}% of samples have an all-zero input gradient, a common sign of ` +
        'gradient masking (non-differentiable preprocessing, hard thresholds, saturated outputs). Gradient ' +
        'attacks then overstate robustness; cross-check with the gradient-free random-search attack and with pgd ' +
        'using more steps and random restarts.',
    ),
  ];
}

/**
 * The `softmax-head` warning, for model wrappers that find a final softmax they cannot remove.
 *
 * @param name - model name used in the message.
 * @returns the warning.
 * @example
 * ```ts
 * warnings.push(softmaxHeadWarning(model.name));
 * ```
 */
export function softmaxHeadWarning(name: string): Warning {
  return warning(
    WARNING_CODES.softmaxHead,
    `${name}: the model ends in a softmax that could not be removed, so attacks see probabilities instead of ` +
      'logits; losses saturate and gradient attacks can underestimate vulnerability.',
  );
}
