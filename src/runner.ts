/**
 * The shared attack runner. It owns everything every attack would otherwise repeat: input and label checks, the
 * epsilon loop, restarts with a per-sample best, the final projection onto the epsilon ball and the bounds,
 * success from the criterion (untargeted or targeted), norms, and memory hygiene. An attack supplies only its
 * inner loop, {@link AttackCore.perturb}.
 * @module
 */
import * as tf from './tf.js';
import type { DifferentiableModel, LossFn, Model } from './model.js';
import { project, batchNorm, isZeroRadius, selectSamples, type Norm } from './norms.js';
import { attackLoss, type LossName } from './losses.js';
import { deriveSeed } from './rng.js';
import { ConfigError, LabelError, UnsupportedError, describe } from './errors.js';
import { checkEpsilons, checkInputs, checkLabels, requireInt, type LabelsLike } from './validate.js';

/** Options of one {@link Attack.run} call. */
export interface RunOptions {
  /** Radii to attack at, in raw input units of `norm`. One result per epsilon, in this order. */
  epsilons: readonly number[];
  /** Target classes, one per input: makes the attack targeted (success = predicted class equals target). Default: untargeted. */
  targets?: LabelsLike;
  /** Seed of every random choice. Default `0`. The same seed on the same backend gives bit-identical results. */
  seed?: number;
  /** Called after each restart of each epsilon (progress reporting). */
  onProgress?: (event: ProgressEvent) => void;
}

/** Progress of a run, passed to {@link RunOptions.onProgress}. */
export interface ProgressEvent {
  /** Attack name. */
  readonly attack: string;
  /** Index of the epsilon being attacked. */
  readonly epsilonIndex: number;
  /** Restart just finished (0-based). */
  readonly restart: number;
  /** Number of epsilons. */
  readonly epsilons: number;
  /** Number of restarts. */
  readonly restarts: number;
}

/** The outcome at one epsilon. `adversarial` is owned by the caller (dispose it, or call {@link AttackResult.dispose}). */
export interface EpsilonResult {
  /** The radius. */
  readonly epsilon: number;
  /** Adversarial inputs, same shape as the clean batch, inside the epsilon ball and the bounds. */
  readonly adversarial: tf.Tensor;
  /** Per sample: true when `adversarial` fools the model (misclassified, or classified as the target). */
  readonly success: boolean[];
  /** Per sample: the model's predicted class on `adversarial`. */
  readonly predictions: Int32Array;
  /** Per sample: L2 norm of the perturbation. */
  readonly l2: Float32Array;
  /** Per sample: Linf norm of the perturbation. */
  readonly linf: Float32Array;
}

/** What {@link Attack.run} returns: one {@link EpsilonResult} per epsilon. */
export interface AttackResult {
  /** Attack name. */
  readonly attack: string;
  /** Threat model. */
  readonly norm: Norm;
  /** Whether the run was targeted. */
  readonly targeted: boolean;
  /** One result per epsilon, in the order given. */
  readonly results: EpsilonResult[];
  /** Disposes every adversarial tensor of this result. */
  dispose(): void;
}

/**
 * An attack: an immutable value built by a factory (`pgd({...})`), usable on many models and batches.
 */
export interface Attack {
  /** Short name, e.g. `pgd`. */
  readonly name: string;
  /** Threat model. */
  readonly norm: Norm;
  /** The full configuration with defaults filled in (recorded in reports). */
  readonly config: Readonly<Record<string, unknown>>;
  /** What the attack needs from the model. */
  readonly requires: 'gradients' | 'queries';
  /**
   * Attacks a batch at every epsilon of `options.epsilons`.
   *
   * @param model - a differentiable model (a query model for black-box attacks).
   * @param x - clean inputs `[N, ...model.inputShape]` within `model.bounds`; not disposed.
   * @param labels - true labels, one per input.
   * @param options - epsilons, targets, seed.
   * @returns one result per epsilon; the caller owns the adversarial tensors.
   * @throws {@link ShapeError}, {@link BoundsError}, {@link NonFiniteError}, {@link LabelError}, {@link ConfigError},
   *   {@link UnsupportedError} (a gradient attack given a query-only model).
   */
  run(model: Model, x: tf.Tensor, labels: LabelsLike, options: RunOptions): Promise<AttackResult>;
}

/** What {@link AttackCore.perturb} receives for one epsilon and one restart. */
export interface PerturbContext {
  /** The model. */
  readonly model: DifferentiableModel;
  /** Clean inputs (owned by the runner: do not dispose). */
  readonly x: tf.Tensor;
  /** The radius. */
  readonly epsilon: number;
  /** The loss to maximise (already targeted or untargeted). */
  readonly loss: LossFn;
  /** Per-sample success of logits `[N]` (bool), under the run's criterion. Call inside a tidy. */
  readonly isSuccess: (logits: tf.Tensor2D) => tf.Tensor1D;
  /** Projects a candidate onto the epsilon ball around `x` and into the bounds. Call inside a tidy. */
  readonly project: (candidate: tf.Tensor) => tf.Tensor;
  /** Integer seed for this epsilon and restart; use `seed`, `seed + 1`, ... for several random ops. */
  readonly seed: number;
  /** Restart index (0-based). */
  readonly restart: number;
}

/** The part of an attack that differs between attacks: its inner loop. */
export interface AttackCore {
  /** Attack name. */
  readonly name: string;
  /** Threat model. */
  readonly norm: Norm;
  /** Full configuration with defaults. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Loss to maximise. */
  readonly loss: LossName;
  /** Number of runs per epsilon; the runner keeps the per-sample best. */
  readonly restarts: number;
  /**
   * Returns a candidate adversarial batch for one epsilon and restart (owned by the runner afterwards). The runner
   * projects it once more, so small numerical overshoot is harmless.
   */
  perturb(ctx: PerturbContext): Promise<tf.Tensor>;
}

function successFn(labels: tf.Tensor1D, targets: tf.Tensor1D | undefined): (logits: tf.Tensor2D) => tf.Tensor1D {
  return (logits) => {
    const pred = tf.argMax(logits, 1);
    return (targets ? tf.equal(pred, targets) : tf.notEqual(pred, labels)) as tf.Tensor1D;
  };
}

/**
 * Builds an {@link Attack} from its core: the shared runner supplies `run`.
 *
 * @param core - name, norm, config, loss, restarts and the inner loop.
 * @returns an immutable attack value.
 * @throws {@link ConfigError} if `restarts` is not a positive integer.
 * @example
 * ```ts
 * const noise = defineAttack({ name: 'noise', norm: 'linf', config: {}, loss: 'ce', restarts: 1,
 *   perturb: async (ctx) => tf.tidy(() => ctx.project(tf.add(ctx.x, tf.randomUniform(ctx.x.shape, -ctx.epsilon, ctx.epsilon, 'float32', ctx.seed)))) });
 * ```
 */
export function defineAttack(core: AttackCore): Attack {
  requireInt(core.restarts, 1, core.name, 'restarts');
  const config = Object.freeze({ ...core.config });
  return Object.freeze({
    name: core.name,
    norm: core.norm,
    config,
    requires: 'gradients' as const,
    run: (model: Model, x: tf.Tensor, labels: LabelsLike, options: RunOptions) => runAttack(core, model, x, labels, options),
  });
}

async function runAttack(core: AttackCore, model: Model, x: tf.Tensor, labels: LabelsLike, options: RunOptions): Promise<AttackResult> {
  const where = core.name;
  if (model.kind !== 'differentiable') {
    throw new UnsupportedError(`${where}: expected a differentiable model (gradient attack), got a query-only model '${model.name}'; use a black-box attack`);
  }
  if (!options || typeof options !== 'object') throw new ConfigError(`${where}: expected run options with epsilons, got ${describe(options)}`);
  const epsilons = checkEpsilons(options.epsilons, where);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new ConfigError(`${where}: expected seed to be a finite number, got ${describe(seed)}`);
  await checkInputs(model, x, where);
  const n = x.shape[0]!;
  const y = await checkLabels(labels, n, model.numClasses, `${where} labels`);
  const t = options.targets === undefined ? undefined : await checkLabels(options.targets, n, model.numClasses, `${where} targets`);
  if (t) {
    const same = t.findIndex((v, i) => v === y[i]);
    if (same >= 0)
      throw new LabelError(`${where} targets: expected every target to differ from its label, got target ${t[same]} equal to the label at index ${same}`);
  }
  const labelT = tf.tensor1d(y, 'int32');
  const targetT = t ? tf.tensor1d(t, 'int32') : undefined;
  const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  const loss = attackLoss(core.loss, labelT, model.numClasses, targetT);
  const isSuccess = successFn(labelT, targetT);
  const results: EpsilonResult[] = [];
  try {
    for (let ei = 0; ei < epsilons.length; ei++) {
      const epsilon = epsilons[ei]!;
      const proj = (c: tf.Tensor): tf.Tensor => project(xf, c, epsilon, core.norm, model.bounds);
      const isZero = isZeroRadius(epsilon);
      // Per sample, the best candidate over restarts: a success first, then the higher loss. Its predicted
      // class is kept alongside so that the result needs no further forward pass.
      let best: { x: tf.Tensor; success: tf.Tensor1D; loss: tf.Tensor1D; pred: tf.Tensor1D } | undefined;
      const restarts = isZero ? 1 : core.restarts;
      for (let r = 0; r < restarts; r++) {
        let candidate: tf.Tensor;
        if (isZero) {
          candidate = tf.clone(xf);
        } else {
          const raw = await core.perturb({ model, x: xf, epsilon, loss, isSuccess, project: proj, seed: deriveSeed(seed, ei, r), restart: r });
          candidate = tf.tidy(() => proj(raw));
          raw.dispose();
        }
        const logits = await model.logits(candidate);
        const [success, lossV, pred] = tf.tidy(() => [isSuccess(logits), loss(logits), tf.argMax(logits, 1) as tf.Tensor1D] as const);
        logits.dispose();
        const current = { x: candidate, success, loss: lossV, pred };
        if (!best) {
          best = current;
        } else {
          const prev = best;
          best = tf.tidy(() => {
            const better = tf.logicalOr(
              tf.logicalAnd(current.success, tf.logicalNot(prev.success)),
              tf.logicalAnd(tf.equal(current.success, prev.success), tf.greater(current.loss, prev.loss)),
            ) as tf.Tensor1D;
            return {
              x: selectSamples(better, current.x, prev.x),
              success: tf.logicalOr(prev.success, current.success) as tf.Tensor1D,
              loss: tf.where(better, current.loss, prev.loss) as tf.Tensor1D,
              pred: tf.where(better, current.pred, prev.pred) as tf.Tensor1D,
            };
          });
          tf.dispose([prev.x, prev.success, prev.loss, prev.pred, current.x, current.success, current.loss, current.pred]);
        }
        options.onProgress?.({ attack: core.name, epsilonIndex: ei, restart: r, epsilons: epsilons.length, restarts });
        if (r + 1 < restarts) {
          const all = tf.tidy(() => tf.all(best!.success));
          const done = (await all.data())[0] === 1;
          all.dispose();
          if (done) break;
        }
      }
      const { x: adversarial, success: bestSuccess, loss: bestLoss, pred: bestPred } = best!;
      const summary = tf.tidy(() => {
        const delta = tf.sub(adversarial, xf);
        return tf.stack([tf.cast(bestSuccess, 'float32'), tf.cast(bestPred, 'float32'), batchNorm(delta, 'l2'), batchNorm(delta, 'linf')]);
      });
      const host = await summary.data();
      tf.dispose([summary, bestSuccess, bestLoss, bestPred]);
      results.push({
        epsilon,
        adversarial,
        success: Array.from(host.subarray(0, n), (v) => v === 1),
        predictions: Int32Array.from(host.subarray(n, 2 * n)),
        l2: Float32Array.from(host.subarray(2 * n, 3 * n)),
        linf: Float32Array.from(host.subarray(3 * n, 4 * n)),
      });
    }
  } catch (e) {
    tf.dispose(results.map((r) => r.adversarial));
    throw e;
  } finally {
    labelT.dispose();
    targetT?.dispose();
    if (xf !== x) xf.dispose();
  }
  return {
    attack: core.name,
    norm: core.norm,
    targeted: t !== undefined,
    results,
    dispose: () => tf.dispose(results.map((r) => r.adversarial)),
  };
}
