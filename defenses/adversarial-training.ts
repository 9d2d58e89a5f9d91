/**
 * Adversarial training of tfjs LayersModels: PGD adversarial training (Madry et al. 2018), TRADES (Zhang et al.
 * 2019), fast FGSM training with a random start (Wong, Rice & Kolter 2020) with its catastrophic-overfitting check,
 * and Gaussian data augmentation (Cohen, Rosenfeld & Kolter 2019) for models meant for randomized smoothing.
 *
 * The attack inside training asks the model for `valueAndGrad` like any attack, through the tfjs engine (whose
 * gradients always follow the current weights) with robustest's fast gradient kernels; the weight update is a plain
 * Adam step on the tfjs variables. Checkpoints are one file written atomically after each epoch; a resumed run ends
 * on the same weights as an uninterrupted one because every random choice is derived from the seed, the epoch and
 * the batch index, and the optimizer's state is stored exactly.
 * @module
 */
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import * as tf from '../src/tf.js';
import { ConfigError, ShapeError, BoundsError, LabelError, UnsupportedError, describe } from '../src/errors.js';
import { fromLayersModel } from '../src/load.js';
import { crossEntropy } from '../src/losses.js';
import { project, signExact } from '../src/norms.js';
import { createRng, deriveSeed } from '../src/rng.js';
import { sha256Bytes } from '../src/hash.js';
import { requireInt, requirePositive } from '../src/validate.js';
import type { Bounds, DifferentiableModel, LossFn } from '../src/model-types.js';
import { Adam } from './training/adam.js';
import { readCheckpoint, writeCheckpoint, type StoredTensor } from './training/checkpoint.js';

const WHERE = 'adversarialTrain';

/**
 * The training methods of {@link adversarialTrain}:
 * - `pgd-at`: Madry et al. 2018 (https://arxiv.org/abs/1706.06083): each batch is replaced by its PGD examples (L∞,
 *   random start, cross-entropy).
 * - `trades`: Zhang et al. 2019 (https://arxiv.org/abs/1901.08573): cross-entropy on the clean batch plus
 *   `beta` × KL(p(x) ‖ p(x′)), x′ found by PGD on that KL term from a start x + 0.001·N(0, 1).
 * - `fgsm-rs`: Wong, Rice & Kolter 2020 (https://arxiv.org/abs/2001.03994): one FGSM step of size `stepSize`
 *   (default 1.25·ε) from a uniform random start in the ball, projected back; watched for catastrophic overfitting.
 * - `gaussian`: Gaussian data augmentation (Cohen, Rosenfeld & Kolter 2019, https://arxiv.org/abs/1902.02918): each
 *   batch plus N(0, σ²) noise (not clipped to the bounds, as randomized smoothing adds it), for models certified by
 *   randomized smoothing.
 * - `clean`: plain training on the clean batch (the baseline, and the reference of the training benchmark).
 */
export type TrainingMethod = 'pgd-at' | 'trades' | 'fgsm-rs' | 'gaussian' | 'clean';

/** Every {@link TrainingMethod}, in documentation order. */
export const TRAINING_METHODS: readonly TrainingMethod[] = Object.freeze(['pgd-at', 'trades', 'fgsm-rs', 'gaussian', 'clean']);

/** A learning rate as a function of training progress in epochs (0 at the start, `epochs` at the end). */
export type LearningRateSchedule = (progress: number) => number;

/** Training (or validation) data: images flattened in the model's input layout, and integer labels. */
export interface TrainingData {
  /** `count × prod(inputShape)` values in the model's raw input space (e.g. pixels in [0, 1]). */
  readonly images: Float32Array;
  /** `count` class indices in `[0, numClasses)`. */
  readonly labels: ArrayLike<number>;
}

/** Statistics of one epoch, passed to {@link AdversarialTrainingConfig.onEpochEnd} and kept in the history. */
export interface EpochStats {
  /** 1-based epoch number. */
  readonly epoch: number;
  /** The ε used by the last batch of the epoch (below the target during `epsilonWarmup`). */
  readonly epsilon: number;
  /** The learning rate of the epoch's last batch. */
  readonly learningRate: number;
  /** Mean training loss over the epoch's batches (the method's outer loss). */
  readonly loss: number;
  /** Accuracy on the inputs the weights were trained on (adversarial for `pgd-at`, `trades`, `fgsm-rs`). */
  readonly trainAccuracy: number;
  /** Clean accuracy on the validation slice (`NaN` without validation). */
  readonly cleanAccuracy: number;
  /** Accuracy on the validation slice under PGD at the target ε (per point, clean and PGD both correct). */
  readonly robustAccuracy: number;
  /** Accuracy on the validation slice under FGSM (no random start) at the target ε. */
  readonly fgsmAccuracy: number;
  /** Wall-clock seconds of the epoch's training (without validation). */
  readonly seconds: number;
}

/** Where training is, passed to {@link AdversarialTrainingConfig.onBatchEnd} after every batch. */
export interface TrainingProgress {
  /** 1-based epoch. */
  readonly epoch: number;
  /** Total epochs of the run. */
  readonly epochs: number;
  /** Batches done in this epoch. */
  readonly batch: number;
  /** Batches per epoch. */
  readonly batches: number;
  /** ε of this batch. */
  readonly epsilon: number;
}

/** A warning raised during training (data, not console output). */
export interface TrainingWarning {
  /** `catastrophic-overfitting`: PGD accuracy collapsed while FGSM accuracy rose (Wong et al. 2020, §5). */
  readonly code: 'catastrophic-overfitting';
  /** Human-readable explanation with the numbers. */
  readonly message: string;
}

/** Configuration of {@link adversarialTrain}; every field is optional. */
export interface AdversarialTrainingConfig {
  /** Training method. Default `'pgd-at'`. */
  readonly method?: TrainingMethod;
  /** L∞ radius of the training attack (and of the robust validation), in raw input units. Default `0.3`. */
  readonly epsilon?: number;
  /** PGD steps of the attack inside `pgd-at` and `trades`. Default `10`. */
  readonly steps?: number;
  /** Step size of the inner attack. Default `2.5·ε/steps` (`pgd-at`, `trades`), `1.25·ε` (`fgsm-rs`). */
  readonly stepSize?: number;
  /** TRADES's weight of the KL term. Default `6` (the paper's MNIST and CIFAR-10 setting). */
  readonly beta?: number;
  /** Standard deviation of the `gaussian` method's noise, in raw input units. Default `0.25`. */
  readonly sigma?: number;
  /** Passes over the training data. Default `10`. */
  readonly epochs?: number;
  /** Images per batch (the last batch of an epoch may be smaller). Default `100`. */
  readonly batchSize?: number;
  /** Adam's learning rate: a number, or a schedule of the progress in epochs (see {@link linearSchedule}). Default `0.001`. */
  readonly learningRate?: number | LearningRateSchedule;
  /** Epochs over which ε grows linearly from 0 to `epsilon`, per batch (may be fractional). Default `0`. */
  readonly epsilonWarmup?: number;
  /**
   * Data on which clean, PGD and FGSM accuracy are measured after each epoch; `false` skips validation (and so the
   * overfitting check). Default: the first 1,000 training images (not held out: it tracks training, not
   * generalisation).
   */
  readonly validation?: TrainingData | false;
  /** PGD steps of the robust validation (step size 2.5·ε/steps, random start). Default `20`. */
  readonly validationSteps?: number;
  /**
   * What to do when PGD validation accuracy falls more than 0.2 below its best while FGSM validation accuracy is
   * at least what it was then (catastrophic overfitting): `stop` restores the best epoch's weights and ends
   * training, `warn` only adds a warning, `off` skips the check. Default `'stop'`.
   */
  readonly onOverfit?: 'stop' | 'warn' | 'off';
  /** Input range; inputs are checked against it and adversarial examples clipped to it. Default `[0, 1]`. */
  readonly bounds?: Bounds;
  /** Seed of every random choice (shuffles, random starts, noise). Default `0`. */
  readonly seed?: number;
  /** Folder where `checkpoint.bin` is written (atomically) after every epoch. Default: no checkpoints. */
  readonly checkpointDir?: string;
  /**
   * Continue from `checkpointDir/checkpoint.bin` when it exists (a fresh start when it does not). The checkpoint
   * must come from the same architecture, seed, data and settings (epochs may grow). Default `false`.
   */
  readonly resume?: boolean;
  /** Called after each epoch (after validation and the checkpoint); awaited. */
  readonly onEpochEnd?: (stats: EpochStats) => void | Promise<void>;
  /** Called after each batch (for progress bars). */
  readonly onBatchEnd?: (progress: TrainingProgress) => void;
  /**
   * Stops training at the next batch boundary when aborted; the result then says `stopped.reason: 'interrupted'`
   * and the checkpoint keeps the last completed epoch.
   */
  readonly signal?: AbortSignal;
}

/** Why {@link adversarialTrain} ended before its last epoch. */
export interface TrainingStop {
  /** The epoch during (`interrupted`) or after (`catastrophic-overfitting`) which training stopped. */
  readonly epoch: number;
  /** `interrupted`: the `signal` was aborted; `catastrophic-overfitting`: see {@link AdversarialTrainingConfig.onOverfit}. */
  readonly reason: 'catastrophic-overfitting' | 'interrupted';
}

/** What {@link adversarialTrain} returns. The model's weights are trained in place. */
export interface TrainingResult {
  /** Every completed epoch, those of a resumed checkpoint included. */
  readonly history: readonly EpochStats[];
  /** Epochs trained by this call. */
  readonly epochsRun: number;
  /** Why training ended before `epochs`, if it did. */
  readonly stopped?: TrainingStop;
  /** Warnings raised (see {@link TrainingWarning}). */
  readonly warnings: readonly TrainingWarning[];
  /** Wall-clock seconds of this call. */
  readonly seconds: number;
}

/**
 * A piecewise-linear schedule through `[progress, value]` points (NumPy's `interp`: constant beyond the ends), e.g.
 * the one-cycle learning rate of Wong et al. 2020: `linearSchedule([[0, 0], [4, 0.005], [10, 0]])`.
 *
 * @param points - at least one point, progress strictly increasing, values finite and ≥ 0.
 * @throws {@link ConfigError} for an empty list, decreasing progress or a negative value.
 * @example
 * ```ts
 * import { linearSchedule } from 'robustest/defenses';
 * const lr = linearSchedule([[0, 0], [2, 0.005], [5, 0]]);
 * lr(1); // 0.0025
 * ```
 */
export function linearSchedule(points: readonly (readonly [number, number])[]): LearningRateSchedule {
  if (!Array.isArray(points) || points.length === 0)
    throw new ConfigError(`linearSchedule: expected at least one [progress, value] point, got ${describe(points)}`);
  points.forEach(([p, v], i) => {
    if (!Number.isFinite(p) || (i > 0 && p <= points[i - 1]![0]))
      throw new ConfigError(`linearSchedule: expected increasing finite progress values, got ${describe(p)} at point ${i}`);
    requirePositive(v, 'linearSchedule', `value ${i}`, true);
  });
  const pts = points.map(([p, v]) => [p, v] as const);
  return (t: number) => {
    if (t <= pts[0]![0]) return pts[0]![1];
    for (let i = 1; i < pts.length; i++) {
      const [p1, v1] = pts[i]!;
      if (t <= p1) {
        const [p0, v0] = pts[i - 1]!;
        return v0 + ((v1 - v0) * (t - p0)) / (p1 - p0);
      }
    }
    return pts[pts.length - 1]![1];
  };
}

interface Settings {
  readonly method: TrainingMethod;
  readonly epsilon: number;
  readonly steps: number;
  readonly stepSize: number;
  readonly beta: number;
  readonly sigma: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: LearningRateSchedule;
  readonly learningRateKey: number | 'schedule';
  readonly epsilonWarmup: number;
  readonly validationSteps: number;
  readonly onOverfit: 'stop' | 'warn' | 'off';
  readonly bounds: Bounds;
  readonly seed: number;
}

function settingsOf(config: AdversarialTrainingConfig): Settings {
  if (config === null || typeof config !== 'object') throw new ConfigError(`${WHERE}: expected a configuration object, got ${describe(config)}`);
  const method = config.method ?? 'pgd-at';
  if (!TRAINING_METHODS.includes(method))
    throw new ConfigError(`${WHERE}: expected method to be one of ${TRAINING_METHODS.join(', ')}, got ${describe(method)}`);
  const epsilon = requirePositive(config.epsilon ?? 0.3, WHERE, 'epsilon', true);
  const steps = requireInt(config.steps ?? 10, 1, WHERE, 'steps');
  const defaultStep = method === 'fgsm-rs' ? 1.25 * epsilon : (2.5 * epsilon) / steps;
  const stepSize = requirePositive(config.stepSize ?? defaultStep, WHERE, 'stepSize', true);
  const beta = requirePositive(config.beta ?? 6, WHERE, 'beta', true);
  const sigma = requirePositive(config.sigma ?? 0.25, WHERE, 'sigma', true);
  const epochs = requireInt(config.epochs ?? 10, 1, WHERE, 'epochs');
  const batchSize = requireInt(config.batchSize ?? 100, 1, WHERE, 'batchSize');
  const lr = config.learningRate ?? 0.001;
  if (typeof lr !== 'function') requirePositive(lr, WHERE, 'learningRate');
  const epsilonWarmup = requirePositive(config.epsilonWarmup ?? 0, WHERE, 'epsilonWarmup', true);
  const validationSteps = requireInt(config.validationSteps ?? 20, 1, WHERE, 'validationSteps');
  const onOverfit = config.onOverfit ?? 'stop';
  if (!['stop', 'warn', 'off'].includes(onOverfit)) throw new ConfigError(`${WHERE}: expected onOverfit to be stop, warn or off, got ${describe(onOverfit)}`);
  const bounds = config.bounds ?? [0, 1];
  if (!Array.isArray(bounds) || bounds.length !== 2 || !bounds.every(Number.isFinite) || !(bounds[0] < bounds[1])) {
    throw new ConfigError(`${WHERE}: expected bounds to be [lower, upper] with lower < upper, got ${describe(bounds)}`);
  }
  const seed = config.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ConfigError(`${WHERE}: expected seed to be an integer, got ${describe(seed)}`);
  if (config.resume === true && config.checkpointDir === undefined) throw new ConfigError(`${WHERE}: expected checkpointDir with resume, got none`);
  return {
    method,
    epsilon,
    steps,
    stepSize,
    beta,
    sigma,
    epochs,
    batchSize,
    learningRate: typeof lr === 'function' ? lr : () => lr,
    learningRateKey: typeof lr === 'function' ? 'schedule' : lr,
    epsilonWarmup,
    validationSteps,
    onOverfit,
    bounds: [bounds[0], bounds[1]],
    seed,
  };
}

/** What kind of thing `value` is, for the error that refuses a non-LayersModel. */
function modelKind(value: unknown): string {
  if (value === null || typeof value !== 'object') return describe(value);
  const v = value as Record<string, unknown>;
  if (v['kind'] === 'query') return 'a robustest QueryModel (logits only)';
  if (v['kind'] === 'differentiable') return `a robustest DifferentiableModel (engine ${String(v['engine'])}; pass the LayersModel it wraps)`;
  if (typeof v['executeAsync'] === 'function') return 'a tfjs GraphModel (its weights are constants)';
  return `an object of class ${(value as object).constructor?.name ?? 'unknown'}`;
}

function checkLayersModel(value: unknown): asserts value is LayersModel {
  const v = value as Record<string, unknown> | null;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    typeof v['apply'] === 'function' &&
    typeof v['getWeights'] === 'function' &&
    typeof v['setWeights'] === 'function' &&
    Array.isArray(v['trainableWeights']) &&
    Array.isArray(v['layers']);
  if (!ok) {
    throw new UnsupportedError(
      `${WHERE}: expected a tfjs LayersModel (Sequential or functional, from @tensorflow/tfjs-layers; graph models, ONNX and query models cannot be trained), got ${modelKind(value)}`,
    );
  }
}

function checkData(data: TrainingData, inputShape: readonly number[], numClasses: number, bounds: Bounds, what: string): number {
  if (
    data === null ||
    typeof data !== 'object' ||
    !(data.images instanceof Float32Array) ||
    data.labels === undefined ||
    typeof data.labels.length !== 'number'
  ) {
    throw new ConfigError(`${WHERE}: expected ${what} to be { images: Float32Array, labels }, got ${describe(data)}`);
  }
  const size = inputShape.reduce((a, b) => a * b, 1);
  const n = data.labels.length;
  if (n === 0 || data.images.length !== n * size) {
    throw new ShapeError(
      `${WHERE}: expected ${what}.images to hold ${n} × ${size} values (labels × [${inputShape.join(', ')}]), got ${data.images.length}${n === 0 ? ' with no labels' : ''}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const l = data.labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= numClasses)
      throw new LabelError(`${WHERE}: expected ${what}.labels to be integers in [0, ${numClasses}), got ${describe(l)} at index ${i}`);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.images.length; i++) {
    const v = data.images[i]!;
    if (!(v >= lo)) lo = Number.isNaN(v) ? NaN : v;
    if (!(v <= hi)) hi = Number.isNaN(v) ? NaN : v;
    if (Number.isNaN(v)) break;
  }
  if (!(lo >= bounds[0] && hi <= bounds[1]))
    throw new BoundsError(`${WHERE}: expected ${what}.images within bounds [${bounds[0]}, ${bounds[1]}], got values in [${lo}, ${hi}]`);
  return n;
}

/** A batch gathered from the data by index: inputs and labels as tensors (the caller disposes). */
function gather(data: TrainingData, indices: readonly number[], inputShape: readonly number[]): { x: tf.Tensor; y: tf.Tensor1D } {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const buf = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  indices.forEach((k, r) => {
    buf.set(data.images.subarray(k * size, (k + 1) * size), r * size);
    labels[r] = data.labels[k]!;
  });
  return { x: tf.tensor(buf, [indices.length, ...inputShape]), y: tf.tensor1d(labels, 'int32') };
}

/** Per-sample KL(p ‖ softmax(logits)) with p fixed: TRADES's inner loss. */
function klFrom(p: tf.Tensor2D): LossFn {
  return (logits) => tf.tidy(() => tf.sum(tf.mul(p, tf.sub(tf.log(tf.maximum(p, 1e-12)), tf.logSoftmax(logits))), 1) as tf.Tensor1D);
}

/** L∞ PGD on `loss` from `start` (owned by this function); returns the adversarial batch (the caller disposes). */
async function linfAscent(
  model: DifferentiableModel,
  x: tf.Tensor,
  start: tf.Tensor,
  loss: LossFn,
  steps: number,
  stepSize: number,
  epsilon: number,
  bounds: Bounds,
): Promise<tf.Tensor> {
  let adv = start;
  for (let s = 0; s < steps; s++) {
    const { value, grad } = await model.valueAndGrad(adv, loss);
    const next = tf.tidy(() => project(x, tf.add(adv, tf.mul(signExact(grad), stepSize)), epsilon, 'linf', bounds));
    tf.dispose([value, grad, adv]);
    adv = next;
  }
  return adv;
}

function uniformStart(x: tf.Tensor, epsilon: number, bounds: Bounds, seed: number): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -epsilon, epsilon, 'float32', seed)), bounds[0], bounds[1]));
}

/** The inputs a method trains on for one batch (the caller disposes); `x` is not disposed. */
async function trainingInputs(s: Settings, model: DifferentiableModel, x: tf.Tensor, y: tf.Tensor1D, epsilon: number, seed: number): Promise<tf.Tensor> {
  switch (s.method) {
    case 'clean':
      return tf.clone(x);
    case 'gaussian':
      return tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, s.sigma, 'float32', seed)));
    case 'fgsm-rs': {
      const loss = crossEntropy(y, model.numClasses);
      return linfAscent(model, x, uniformStart(x, epsilon, s.bounds, seed), loss, 1, s.stepSize, epsilon, s.bounds);
    }
    case 'pgd-at': {
      const loss = crossEntropy(y, model.numClasses);
      return linfAscent(model, x, uniformStart(x, epsilon, s.bounds, seed), loss, s.steps, s.stepSize, epsilon, s.bounds);
    }
    case 'trades': {
      const p = tf.tidy(() => tf.softmax(model.logits(x)));
      const start = tf.tidy(() => project(x, tf.add(x, tf.randomNormal(x.shape, 0, 0.001, 'float32', seed)), epsilon, 'linf', s.bounds));
      try {
        return await linfAscent(model, x, start, klFrom(p), s.steps, s.stepSize, epsilon, s.bounds);
      } finally {
        p.dispose();
      }
    }
  }
}

/** The outer (weight) loss of a method, as a scalar, with the logits the accuracy is counted on. */
function outerLoss(
  s: Settings,
  net: LayersModel,
  x: tf.Tensor,
  xTrain: tf.Tensor,
  y: tf.Tensor1D,
  numClasses: number,
): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const oneHot = tf.oneHot(y, numClasses);
  const logits = net.apply(xTrain, { training: true }) as tf.Tensor2D;
  if (s.method !== 'trades') return { loss: tf.losses.softmaxCrossEntropy(oneHot, logits), logits };
  const clean = net.apply(x, { training: true }) as tf.Tensor2D;
  const p = tf.softmax(clean);
  const kl = tf.mean(tf.sum(tf.mul(p, tf.sub(tf.logSoftmax(clean), tf.logSoftmax(logits))), 1));
  return { loss: tf.add(tf.losses.softmaxCrossEntropy(oneHot, clean), tf.mul(kl, s.beta)) as tf.Scalar, logits };
}

/** Clean, PGD and FGSM accuracy on the validation data at the target ε. */
async function validate(
  s: Settings,
  model: DifferentiableModel,
  data: TrainingData,
  inputShape: readonly number[],
): Promise<{ clean: number; robust: number; fgsm: number }> {
  const n = data.labels.length;
  let clean = 0;
  let robust = 0;
  let fgsm = 0;
  for (let start = 0, b = 0; start < n; start += s.batchSize, b++) {
    const idx = Array.from({ length: Math.min(s.batchSize, n - start) }, (_, i) => start + i);
    const { x, y } = gather(data, idx, inputShape);
    const loss = crossEntropy(y, model.numClasses);
    const stepSize = (2.5 * s.epsilon) / s.validationSteps;
    const pgdAdv = await linfAscent(
      model,
      x,
      uniformStart(x, s.epsilon, s.bounds, deriveSeed(s.seed, 2, b)),
      loss,
      s.validationSteps,
      stepSize,
      s.epsilon,
      s.bounds,
    );
    const fgsmAdv = await linfAscent(model, x, tf.clone(x), loss, 1, s.epsilon, s.epsilon, s.bounds);
    const counts = tf.tidy(() => {
      const ok = (t: tf.Tensor): tf.Tensor => tf.equal(tf.argMax(model.logits(t), 1), y);
      const c = ok(x);
      return tf.stack([
        tf.sum(tf.cast(c, 'int32')),
        tf.sum(tf.cast(tf.logicalAnd(c, ok(pgdAdv)), 'int32')),
        tf.sum(tf.cast(tf.logicalAnd(c, ok(fgsmAdv)), 'int32')),
      ]);
    });
    const [c, r, f] = await counts.data();
    tf.dispose([x, y, pgdAdv, fgsmAdv, counts]);
    clean += c!;
    robust += r!;
    fgsm += f!;
  }
  return { clean: clean / n, robust: robust / n, fgsm: fgsm / n };
}

/** The checkpoint header. */
interface Header {
  readonly format: 'robustest-training-checkpoint';
  readonly version: 1;
  readonly epoch: number;
  readonly seed: number;
  readonly architecture: string;
  readonly settings: Record<string, unknown>;
  readonly data: string;
  readonly adamSteps: number;
  readonly history: EpochStats[];
  readonly best: { epoch: number; robust: number; fgsm: number } | null;
  readonly stopped: TrainingStop | null;
  readonly warnings: TrainingWarning[];
  readonly tensors: StoredTensor[];
}

/** Layer classes and weight shapes: what must match between a checkpoint and the model it resumes. */
function architectureOf(net: LayersModel): string {
  return JSON.stringify({ layers: net.layers.map((l) => l.getClassName()), weights: net.weights.map((w) => w.shape) });
}

/** The settings that determine the weights (epochs excluded: a finished run may be extended). */
function settingsKey(s: Settings): Record<string, unknown> {
  return {
    method: s.method,
    epsilon: s.epsilon,
    steps: s.steps,
    stepSize: s.stepSize,
    beta: s.beta,
    sigma: s.sigma,
    batchSize: s.batchSize,
    learningRate: s.learningRateKey,
    epsilonWarmup: s.epsilonWarmup,
    bounds: [...s.bounds],
    backend: tf.getBackend(),
  };
}

function dataKey(data: TrainingData): string {
  const labels = Float32Array.from(data.labels);
  return sha256Bytes([new Uint8Array(data.images.buffer, data.images.byteOffset, data.images.byteLength), new Uint8Array(labels.buffer)]);
}

async function readArrays(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of tensors) out.push((await t.data()) as Float32Array);
  return out;
}

/**
 * Trains a tfjs LayersModel in place to resist L∞ attacks (or Gaussian noise): PGD adversarial training
 * (Madry et al. 2018, https://arxiv.org/abs/1706.06083), TRADES (Zhang et al. 2019, https://arxiv.org/abs/1901.08573),
 * fast FGSM training with a random start (Wong, Rice & Kolter 2020, https://arxiv.org/abs/2001.03994) or Gaussian
 * data augmentation (Cohen et al. 2019, https://arxiv.org/abs/1902.02918); see {@link TrainingMethod}.
 *
 * Each epoch shuffles the data (seeded), and for each batch builds the method's training inputs with the model's
 * own `valueAndGrad` (tfjs engine, current weights), then takes one Adam step (β₁ 0.9, β₂ 0.999, ε 1e-7) on the
 * method's loss with the model in training mode. After each epoch it measures clean, PGD and FGSM accuracy on the
 * validation data, checks for catastrophic overfitting, and writes `checkpointDir/checkpoint.bin` atomically.
 * The same seed on the same backend gives bit-identical weights, whether or not the run was interrupted and
 * resumed. The model's output must be logits (no softmax layer).
 *
 * @param model - the tfjs LayersModel to train (its weights change in place; it is never disposed).
 * @param data - the training data; see {@link TrainingData}.
 * @param config - see {@link AdversarialTrainingConfig}; defaults: `pgd-at`, ε 0.3, 10 steps, 10 epochs, batch 100,
 *   learning rate 0.001, seed 0.
 * @returns the per-epoch history, warnings and why training stopped early, if it did.
 * @throws {@link UnsupportedError} for anything but a LayersModel (graph model, ONNX or query model) or a softmax
 *   output; {@link ConfigError} for an invalid option, or with `resume` a checkpoint of another architecture, seed,
 *   data set or setting (the message names the option); {@link ShapeError}, {@link LabelError} or
 *   {@link BoundsError} for data that does not fit the model; {@link OutputError} when a checkpoint cannot be written.
 * @example
 * ```ts
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { adversarialTrain } from 'robustest/defenses';
 *
 * const net = tfl.sequential({
 *   layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 10 })],
 * });
 * const images = new Float32Array(200 * 784).fill(0.5);
 * const labels = Array.from({ length: 200 }, (_, i) => i % 10);
 * const result = await adversarialTrain(net, { images, labels }, { method: 'fgsm-rs', epsilon: 0.1, epochs: 1, seed: 1 });
 * console.log(result.history[0]?.robustAccuracy);
 * ```
 */
export async function adversarialTrain(model: LayersModel, data: TrainingData, config: AdversarialTrainingConfig = {}): Promise<TrainingResult> {
  const t0 = performance.now();
  checkLayersModel(model);
  const s = settingsOf(config);
  const wrapped = await fromLayersModel(model, { engine: 'tfjs', bounds: s.bounds, name: model.name });
  try {
    if (wrapped.warnings.some((w) => w.code === 'softmax-removed')) {
      throw new UnsupportedError(
        `${WHERE}: expected a model whose output is logits (a linear last layer), got a softmax output in '${model.layers[model.layers.length - 1]!.name}'`,
      );
    }
    const { inputShape, numClasses } = wrapped;
    const n = checkData(data, inputShape, numClasses, s.bounds, 'data');
    const validation = config.validation === false ? undefined : (config.validation ?? sliceData(data, Math.min(1000, n), inputShape));
    if (validation !== undefined) checkData(validation, inputShape, numClasses, s.bounds, 'validation');
    return await run(s, config, model, wrapped, data, n, validation, t0);
  } finally {
    wrapped.dispose();
  }
}

function sliceData(data: TrainingData, count: number, inputShape: readonly number[]): TrainingData {
  const size = inputShape.reduce((a, b) => a * b, 1);
  return { images: data.images.subarray(0, count * size), labels: Array.from({ length: count }, (_, i) => data.labels[i]!) };
}

async function run(
  s: Settings,
  config: AdversarialTrainingConfig,
  net: LayersModel,
  model: DifferentiableModel,
  data: TrainingData,
  n: number,
  validation: TrainingData | undefined,
  t0: number,
): Promise<TrainingResult> {
  const { inputShape, numClasses } = model;
  const variables = net.trainableWeights.map((w) => w.read() as tf.Variable);
  const adam = new Adam(variables);
  try {
    const batches = Math.ceil(n / s.batchSize);
    const checkpoint = config.checkpointDir === undefined ? undefined : join(config.checkpointDir, 'checkpoint.bin');
    const architecture = architectureOf(net);
    const dataHash = checkpoint === undefined ? '' : dataKey(data);
    let history: EpochStats[] = [];
    let warnings: TrainingWarning[] = [];
    let best: Header['best'] = null;
    let bestWeights: Float32Array[] | undefined;
    let first = 1;
    if (config.resume === true && checkpoint !== undefined) {
      const saved = await readCheckpoint<Header>(checkpoint);
      if (saved !== undefined) {
        const h = saved.header;
        if (h.format !== 'robustest-training-checkpoint' || h.version !== 1)
          throw new ConfigError(
            `resume: expected a version-1 robustest training checkpoint in ${checkpoint}, got ${describe(h.format)} ${describe(h.version)}`,
          );
        if (h.architecture !== architecture)
          throw new ConfigError(`resume: expected a checkpoint of this model's architecture in ${checkpoint}, got one of another model`);
        if (h.seed !== s.seed) throw new ConfigError(`seed: expected the checkpoint's seed ${h.seed} to resume ${checkpoint}, got ${s.seed}`);
        const key = settingsKey(s);
        for (const [k, v] of Object.entries(key)) {
          if (JSON.stringify(h.settings[k]) !== JSON.stringify(v))
            throw new ConfigError(`${k}: expected the checkpoint's ${JSON.stringify(h.settings[k])} to resume ${checkpoint}, got ${JSON.stringify(v)}`);
        }
        if (h.data !== dataHash) throw new ConfigError(`data: expected the training data of the checkpoint in ${checkpoint}, got other data (SHA-256 differs)`);
        const weightCount = net.weights.length;
        const weights = saved.arrays.slice(0, weightCount);
        tf.tidy(() => net.setWeights(weights.map((a, i) => tf.tensor(a, net.weights[i]!.shape as number[]))));
        adam.restore(
          saved.arrays.slice(weightCount, weightCount + 2 * variables.length).map((a, i) => tf.tensor(a, variables[i % variables.length]!.shape)),
          h.adamSteps,
        );
        bestWeights = h.best === null ? undefined : saved.arrays.slice(weightCount + 2 * variables.length);
        history = [...h.history];
        warnings = [...h.warnings];
        best = h.best;
        first = h.epoch + 1;
        if (h.stopped !== null) return { history, epochsRun: 0, stopped: h.stopped, warnings, seconds: (performance.now() - t0) / 1000 };
      }
    }
    let epochsRun = 0;
    for (let epoch = first; epoch <= s.epochs; epoch++) {
      const rng = createRng(deriveSeed(s.seed, 1, epoch));
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const tEpoch = performance.now();
      let sums = tf.zeros([2]);
      let epsilon = s.epsilon;
      let lr = s.learningRate(epoch - 1);
      for (let b = 0; b < batches; b++) {
        if (config.signal?.aborted === true) {
          sums.dispose();
          return { history, epochsRun, stopped: { epoch, reason: 'interrupted' }, warnings, seconds: (performance.now() - t0) / 1000 };
        }
        const step = (epoch - 1) * batches + b;
        epsilon = s.epsilonWarmup > 0 ? s.epsilon * Math.min(1, (step + 1) / (s.epsilonWarmup * batches)) : s.epsilon;
        lr = s.learningRate(epoch - 1 + b / batches);
        const { x, y } = gather(data, order.slice(b * s.batchSize, (b + 1) * s.batchSize), inputShape);
        const xTrain = await trainingInputs(s, model, x, y, epsilon, deriveSeed(s.seed, 0, epoch, b));
        // variableGrads disposes what its function creates but the loss, so the correct count is kept explicitly.
        let correct: tf.Tensor | undefined;
        const { grads, stats } = tf.tidy(() => {
          const r = tf.variableGrads(() => {
            const o = outerLoss(s, net, x, xTrain, y, numClasses);
            correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(o.logits, 1), y), 'float32')));
            return o.loss;
          }, variables);
          const batchStats = tf.stack([tf.mul(r.value, y.shape[0]), correct!]);
          return { grads: variables.map((v) => r.grads[v.name]!), stats: tf.add(sums, batchStats) };
        });
        adam.apply(grads, lr);
        tf.dispose([x, y, xTrain, sums, correct!, ...grads]);
        sums = stats;
        config.onBatchEnd?.({ epoch, epochs: s.epochs, batch: b + 1, batches, epsilon });
      }
      const [lossSum, correct] = await sums.data();
      sums.dispose();
      const seconds = (performance.now() - tEpoch) / 1000;
      const v = validation === undefined ? { clean: NaN, robust: NaN, fgsm: NaN } : await validate(s, model, validation, inputShape);
      const stats: EpochStats = {
        epoch,
        epsilon,
        learningRate: lr,
        loss: lossSum! / n,
        trainAccuracy: correct! / n,
        cleanAccuracy: v.clean,
        robustAccuracy: v.robust,
        fgsmAccuracy: v.fgsm,
        seconds,
      };
      history.push(stats);
      epochsRun++;
      let stopped: TrainingResult['stopped'];
      const weightTensors = net.getWeights();
      let weights = await readArrays(weightTensors);
      if (validation !== undefined && s.onOverfit !== 'off') {
        if (best !== null && v.robust < best.robust - 0.2 && v.fgsm >= best.fgsm) {
          warnings.push({
            code: 'catastrophic-overfitting',
            message: `epoch ${epoch}: PGD validation accuracy fell to ${(100 * v.robust).toFixed(1)}% from ${(100 * best.robust).toFixed(1)}% (epoch ${best.epoch}) while FGSM accuracy rose to ${(100 * v.fgsm).toFixed(1)}% (catastrophic overfitting, Wong et al. 2020)${s.onOverfit === 'stop' ? `; restored epoch ${best.epoch}'s weights and stopped` : ''}`,
          });
          if (s.onOverfit === 'stop' && bestWeights !== undefined) {
            const restore = bestWeights;
            tf.tidy(() => net.setWeights(restore.map((a, i) => tf.tensor(a, net.weights[i]!.shape as number[]))));
            weights = restore;
            stopped = { epoch, reason: 'catastrophic-overfitting' };
          }
        }
        if (best === null || v.robust >= best.robust) {
          best = { epoch, robust: v.robust, fgsm: v.fgsm };
          bestWeights = weights;
        }
      }
      if (checkpoint !== undefined) {
        const tensors: StoredTensor[] = [
          ...net.weights.map((w) => ({ name: `weights/${w.originalName}`, shape: w.shape as number[] })),
          ...variables.map((w) => ({ name: `adam-m/${w.name}`, shape: w.shape })),
          ...variables.map((w) => ({ name: `adam-v/${w.name}`, shape: w.shape })),
          ...(bestWeights === undefined ? [] : net.weights.map((w) => ({ name: `best/${w.originalName}`, shape: w.shape as number[] }))),
        ];
        const header: Header = {
          format: 'robustest-training-checkpoint',
          version: 1,
          epoch,
          seed: s.seed,
          architecture,
          settings: settingsKey(s),
          data: dataHash,
          adamSteps: adam.t,
          history,
          best,
          stopped: stopped ?? null,
          warnings,
          tensors,
        };
        await writeCheckpoint(checkpoint, header, [...weights, ...(await readArrays(adam.moments())), ...(bestWeights ?? [])]);
      }
      await config.onEpochEnd?.(stats);
      if (stopped !== undefined) return { history, epochsRun, stopped, warnings, seconds: (performance.now() - t0) / 1000 };
    }
    return { history, epochsRun, warnings, seconds: (performance.now() - t0) / 1000 };
  } finally {
    adam.dispose();
  }
}
