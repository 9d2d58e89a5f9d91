/**
 * Sanity checks for an evaluation setup, in the spirit of AutoAttack's warnings: outputs that are probabilities
 * rather than logits, gradients that vanish (a sign of gradient masking), a softmax head. Each check reduces on
 * the device and reads a few scalars; findings are returned as {@link Warning} data, never printed.
 * @module
 */
import * as tf from '../src/tf.js';
import { ConfigError, ShapeError, describe } from '../src/errors.js';
import type { DefenseInfo } from '../src/model-types.js';

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
  /** How much it matters ({@link WARNING_SEVERITY}); {@link warning} fills it in from the code. */
  severity?: WarningSeverity;
}

/**
 * How much a warning matters: `severe` when it means the robust accuracy is likely an overestimate (a sign of
 * gradient masking or of an attack that fell short), so the evaluation cannot certify robustness; `info` when it is
 * worth knowing but does not inflate the number.
 */
export type WarningSeverity = 'severe' | 'info';

/**
 * The warning codes robustest itself emits (severity after the dash; see {@link WARNING_SEVERITY}):
 * - `probability-output` — severe: the model outputs probabilities (rows in [0, 1] summing to 1), not logits.
 * - `log-probability-output` — info: the model outputs log-probabilities (log-softmax).
 * - `zero-gradients` — severe: many samples have an all-zero input gradient (a sign of gradient masking).
 * - `non-finite-gradients` — severe: some samples have a NaN or infinite input gradient.
 * - `softmax-head` — info: the model ends in a softmax (removed, so attacks use its input, or kept because it could not be).
 * - `randomized-model` — severe: two forward passes on the same input differ, so results depend on the draw.
 * - `non-monotone-curve` — severe: robust accuracy rises with epsilon somewhere on the curve (an attack fell short).
 * - `no-correct-points` — info: no input is classified correctly, so there is nothing to attack.
 * - `not-converged` — severe: an attack's loss was still rising when it stopped (see `metrics/pitfalls.ts`).
 * - `data-range-mismatch` — severe: the data fills a sliver of the model's bounds (0–1 data with bounds [0, 255],
 *   data divided by 255 twice) or looks like raw [0, 1] data under normalised bounds, so epsilon is in the wrong units.
 * - `iterative-weaker-than-single-step` — severe: an iterative attack (PGD, BIM) survived points a single-step
 *   attack (FGSM, FGM) fooled at the same norm and epsilon.
 * - `black-box-beats-white-box` — severe: a query attack fooled points every gradient attack failed on.
 * - `unbounded-attack-fails` — severe: an attack with the whole input range as its budget left accuracy above chance.
 * - `restarts-matter` — severe: re-running the iterative attacks with more steps and restarts (`thorough`) moved
 *   robust accuracy below its confidence interval.
 * - `transfer-beats-white-box` — severe: adversarial examples made on a surrogate model fooled more points than
 *   the model's own white-box attack.
 * - `non-adaptive-defense` — severe: the model has an input-transform defense (`defend`) that attacks do not see
 *   through: a non-differentiable transform without BPDA, or a random one without EOT (Athalye et al. 2018).
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
  /** Some samples have a NaN or infinite input gradient. */
  nonFiniteGradients: 'non-finite-gradients',
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
  /** The data does not look like it is in the units of the model's bounds. */
  dataRangeMismatch: 'data-range-mismatch',
  /** An iterative attack survived points a single-step attack fooled. */
  iterativeWeakerThanSingleStep: 'iterative-weaker-than-single-step',
  /** A query attack fooled points every gradient attack failed on. */
  blackBoxBeatsWhiteBox: 'black-box-beats-white-box',
  /** An attack with the whole input range as budget left accuracy above chance. */
  unboundedAttackFails: 'unbounded-attack-fails',
  /** More steps and restarts moved robust accuracy below its confidence interval. */
  restartsMatter: 'restarts-matter',
  /** A surrogate's adversarial examples fooled more points than the white-box attack. */
  transferBeatsWhiteBox: 'transfer-beats-white-box',
  /** A defended model is attacked without BPDA or EOT. */
  nonAdaptiveDefense: 'non-adaptive-defense',
} as const;

/**
 * The severity of every warning code, in one table: robustest's own ({@link WARNING_CODES}) and the model
 * wrappers' (`MODEL_WARNING_CODES`). A code not in the table (a caller's own) is `info`.
 *
 * `severe`: the robust accuracy is likely an overestimate, so the evaluation is UNRELIABLE (the reports' verdict,
 * the CLI's `--min-robust-accuracy` and `toBeRobust` fail on them unless warnings are allowed). These are the
 * signs of gradient masking (zero or non-finite gradients, probability outputs or a kept softmax, a randomised
 * model, a black-box or transfer attack beating the white-box ones, an iterative attack weaker than a single step,
 * an unbounded attack that does not reach chance) and of attacks that fell short (not converged, restarts that
 * matter, a curve rising with epsilon), plus data in the wrong units (epsilon then means something else).
 *
 * `info`: worth knowing, not inflating the number: log-probability outputs (a per-row shift, harmless to the
 * losses), a softmax head that was removed, no clean-correct point (robust accuracy is then 0, which fails any
 * threshold anyway), and the model wrappers' notes on export approximations, gradient-engine fallbacks and
 * query-only loading.
 *
 * @example
 * ```ts
 * const severe = report.warnings.filter((w) => WARNING_SEVERITY[w.code] === 'severe');
 * ```
 */
export const WARNING_SEVERITY: Readonly<Record<string, WarningSeverity>> = Object.freeze({
  'probability-output': 'severe',
  'log-probability-output': 'info',
  'zero-gradients': 'severe',
  'non-finite-gradients': 'severe',
  'softmax-head': 'info',
  'randomized-model': 'severe',
  'non-monotone-curve': 'severe',
  'no-correct-points': 'info',
  'not-converged': 'severe',
  'data-range-mismatch': 'severe',
  'iterative-weaker-than-single-step': 'severe',
  'black-box-beats-white-box': 'severe',
  'unbounded-attack-fails': 'severe',
  'restarts-matter': 'severe',
  'transfer-beats-white-box': 'severe',
  'non-adaptive-defense': 'severe',
  // The model wrappers' codes (MODEL_WARNING_CODES); softmax-removed is reported as softmax-head.
  'softmax-kept': 'severe',
  'output-not-class-axis': 'info',
  'export-approximation': 'info',
  'gradient-engine-fallback': 'info',
  'query-only': 'info',
});

/**
 * The severity of a warning code from {@link WARNING_SEVERITY}; `info` for a code it does not list.
 *
 * @param code - a warning code.
 * @returns `severe` or `info`.
 * @example
 * ```ts
 * severityOf('zero-gradients'); // 'severe'
 * ```
 */
export function severityOf(code: string): WarningSeverity {
  return Object.prototype.hasOwnProperty.call(WARNING_SEVERITY, code) ? WARNING_SEVERITY[code]! : 'info';
}

/**
 * The warning with its severity filled in from its code when it has none.
 *
 * @param w - a warning.
 * @returns `w` itself when it has a severity, else a copy with `severityOf(w.code)`.
 * @example
 * ```ts
 * withSeverity({ code: 'not-converged', message: '...' }).severity; // 'severe'
 * ```
 */
export function withSeverity<W extends Warning>(w: W): W & Required<Pick<Warning, 'severity'>> {
  return w.severity !== undefined ? (w as W & Required<Pick<Warning, 'severity'>>) : { ...w, severity: severityOf(w.code) };
}

/**
 * The severe ones among `warnings` (a warning without a severity is classified by its code).
 *
 * @param warnings - e.g. `report.warnings`.
 * @returns those whose severity is `severe`, in order.
 * @example
 * ```ts
 * if (severeWarnings(report.warnings).length > 0) console.log('UNRELIABLE');
 * ```
 */
export function severeWarnings<W extends Warning>(warnings: readonly W[]): W[] {
  return warnings.filter((w) => (w.severity ?? severityOf(w.code)) === 'severe');
}

const CODE_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Builds a {@link Warning}.
 *
 * @param code - a kebab-case code (lowercase letters, digits and single dashes), e.g. `softmax-head`.
 * @param message - a non-empty explanation.
 * @returns `{ code, message, severity }`, the severity from {@link WARNING_SEVERITY}.
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
  return { code, message, severity: severityOf(code) };
}

/**
 * Warns (`non-adaptive-defense`) when a model's input-transform defense (its `defense`, set by `defend`) is not
 * attacked adaptively: a non-differentiable transform whose gradient is taken as is (zero) instead of with BPDA, or a
 * random transform without EOT (Athalye, Carlini, Wagner, ICML 2018). Such robust accuracy measures the gradient
 * masking, not the defense.
 *
 * @param model - anything with a `name` and an optional `defense`.
 * @returns zero or one warning.
 * @example
 * ```ts
 * const warnings = checkDefense(model); // [] for an undefended model
 * ```
 */
export function checkDefense(model: { readonly name: string; readonly defense?: DefenseInfo }): Warning[] {
  const d = model.defense;
  if (!d || d.adaptive) return [];
  const why: string[] = [];
  if (d.nonDifferentiable && d.gradient !== 'bpda') why.push('its non-differentiable transforms get their own (zero) gradient, not BPDA');
  if (d.random && d.eotSamples < 2) why.push(`its random transforms are drawn once per gradient instead of averaged over draws (EOT)`);
  return [
    warning(
      WARNING_CODES.nonAdaptiveDefense,
      `${model.name}: the defense ${d.transforms.join(',')} is evaluated non-adaptively: ${why.join('; ')}, so robust accuracy measures gradient masking (Athalye et al. 2018); use gradient 'bpda' and eotSamples > 1 (CLI: drop --no-adaptive)`,
    ),
  ];
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

/**
 * Fraction of samples whose input gradient has a NaN or infinite component.
 *
 * A non-finite gradient breaks every gradient attack on that sample (a sign step of NaN moves nowhere, or poisons
 * the iterate): a numerically unstable layer (a log or square root at 0, a division), or a defence that masks
 * gradients.
 *
 * @param grad - input gradient `[N, ...]`; not disposed.
 * @returns a fraction in `[0, 1]`; `0` for an empty batch or samples with no components.
 * @throws `ShapeError` if `grad` is a scalar.
 * @example
 * ```ts
 * const { value, grad } = await model.valueAndGrad(x, loss);
 * const bad = await nonFiniteGradientFraction(grad);
 * tf.dispose([value, grad]);
 * ```
 */
export async function nonFiniteGradientFraction(grad: tf.Tensor): Promise<number> {
  if (grad.rank < 1) {
    throw new ShapeError(`nonFiniteGradientFraction: expected a batch of rank >= 1 [N, ...], got a scalar`);
  }
  const n = grad.shape[0] ?? 0;
  if (n === 0 || grad.size === 0) return 0;
  const perSample = grad.size / n;
  const v = await readAndDispose(
    tf.tidy(() => {
      const g = tf.reshape(tf.cast(grad, 'float32'), [n, perSample]);
      const bad = tf.cast(tf.logicalOr(tf.isNaN(g), tf.isInf(g)), 'float32');
      return tf.mean(tf.cast(tf.greater(tf.max(bad, 1), 0), 'float32'));
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
  /**
   * Warn when more than this fraction of samples has a NaN or infinite gradient component, in `[0, 1]`. Default
   * `0`: a single one is reported, since it breaks every gradient attack on that sample.
   */
  nonFiniteThreshold?: number;
  /** Name used in the messages. Default `'model'`. */
  name?: string;
}

/**
 * Runs the gradient checks: a `zero-gradients` warning when more than `threshold` of the samples have an
 * all-zero input gradient, and a `non-finite-gradients` warning when more than `nonFiniteThreshold` of them have
 * a NaN or infinite component (a sample with a non-finite gradient is never counted as zero).
 *
 * @param grad - input gradient `[N, ...]`; not disposed.
 * @param options - see {@link CheckGradientsOptions}.
 * @returns zero, one or two warnings.
 * @throws `ConfigError` if `threshold` or `nonFiniteThreshold` is not in `[0, 1]`.
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
  const nonFiniteThreshold = options.nonFiniteThreshold ?? 0;
  if (typeof nonFiniteThreshold !== 'number' || !(nonFiniteThreshold >= 0 && nonFiniteThreshold <= 1)) {
    throw new ConfigError(`checkGradients: expected nonFiniteThreshold to be a number in [0, 1], got ${describe(nonFiniteThreshold)}`);
  }
  const name = options.name ?? 'model';
  const out: Warning[] = [];
  const fraction = await zeroGradientFraction(grad);
  if (fraction > threshold) {
    out.push(
      warning(
        WARNING_CODES.zeroGradients,
        `${name}: ${(fraction * 100).toFixed(1)}% of samples have an all-zero input gradient, a common sign of ` +
          'gradient masking (non-differentiable preprocessing, hard thresholds, saturated outputs). Gradient ' +
          'attacks then overstate robustness; cross-check with the gradient-free random-search attack and with pgd ' +
          'using more steps and random restarts.',
      ),
    );
  }
  const nonFinite = await nonFiniteGradientFraction(grad);
  if (nonFinite > nonFiniteThreshold) {
    out.push(
      warning(
        WARNING_CODES.nonFiniteGradients,
        `${name}: ${(nonFinite * 100).toFixed(1)}% of samples have a NaN or infinite input gradient, so gradient ` +
          'attacks cannot move them and overstate robustness (a log or square root at 0, a division by a vanishing ' +
          'value, or a defence that breaks gradients). Make the model numerically stable (add an epsilon inside ' +
          'the log or root), and cross-check with the gradient-free random-search attack.',
      ),
    );
  }
  return out;
}

/** Options of {@link checkDataRange}. */
export interface CheckDataRangeOptions {
  /** Name used in the messages. Default `'model'`. */
  name?: string;
}

/**
 * The data fills at most this share of the bounds' width for the `data-range-mismatch` check: 0–1 data under
 * bounds [0, 255] fills 0.4%, data divided by 255 twice 0.4%; real data sets fill most of their range (MNIST and
 * CIFAR-10 test images 100%).
 */
export const DATA_RANGE_SLIVER = 0.05;

/**
 * Whether a batch of inputs looks like it is in other units than the model's bounds (data outside the bounds is
 * already refused by the clean pass, so 0–255 data under bounds [0, 1] never gets here). Returns a
 * `data-range-mismatch` warning when:
 * - the data spans at most {@link DATA_RANGE_SLIVER} of the bounds' width (and more than nothing): 0–1 data under
 *   bounds [0, 255], or data scaled twice; epsilon, in the bounds' units, is then far larger than meant;
 * - or the bounds look normalised (lower bound below 0, width at least 1.5) while every value lies in [0, 1]: raw
 *   pixels under bounds meant for normalised inputs.
 *
 * Reduces on the device and reads two scalars.
 *
 * @param x - a batch of inputs `[N, ...]`; not disposed.
 * @param bounds - the model's `[lower, upper]` bounds.
 * @param options - see {@link CheckDataRangeOptions}.
 * @returns zero or one warning.
 * @example
 * ```ts
 * const warnings = await checkDataRange(xBatch, model.bounds, { name: model.name });
 * ```
 */
export async function checkDataRange(x: tf.Tensor, bounds: readonly [number, number], options: CheckDataRangeOptions = {}): Promise<Warning[]> {
  if (x.size === 0) return [];
  const name = options.name ?? 'model';
  const [lo, hi] = bounds;
  const v = await readAndDispose(tf.tidy(() => tf.stack([tf.min(x), tf.max(x)])));
  const [min, max] = [v[0]!, v[1]!];
  const width = hi - lo;
  const span = max - min;
  const fmt = (t: number): string => String(Number(t.toPrecision(4)));
  if (span > 0 && span <= DATA_RANGE_SLIVER * width) {
    return [
      warning(
        WARNING_CODES.dataRangeMismatch,
        `${name}: the data spans [${fmt(min)}, ${fmt(max)}], only ${((100 * span) / width).toFixed(1)}% of the model's bounds [${lo}, ${hi}]: ` +
          'it looks scaled for other bounds (0–1 data under bounds [0, 255], or data divided by 255 twice), and epsilon, ' +
          "measured in the bounds' units, is then far larger than meant. Scale the data into the bounds the model was trained on, " +
          'or declare the bounds the data is in (--bounds).',
      ),
    ];
  }
  if (lo < 0 && width >= 1.5 && min >= 0 && max <= 1) {
    return [
      warning(
        WARNING_CODES.dataRangeMismatch,
        `${name}: the bounds [${lo}, ${hi}] look normalised, but every input lies in [0, 1] (here [${fmt(min)}, ${fmt(max)}]): ` +
          'raw pixels given to a model that expects normalised inputs, or bounds that do not match the data. Give the model ' +
          'raw data with bounds [0, 1] and its normalisation as preprocessing (--mean/--std), so epsilon is in pixel units.',
      ),
    ];
  }
  return [];
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
