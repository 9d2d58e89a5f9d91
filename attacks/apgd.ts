/**
 * Auto-PGD (APGD-CE, APGD-DLR) and its targeted form APGD-T, L∞ and L2: projected gradient ascent with momentum
 * and a step size that halves itself at checkpoints, restarting from the best point found, so that no step size
 * has to be tuned.
 *
 * Paper: F. Croce, M. Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", ICML 2020, https://arxiv.org/abs/2003.01690. Reference implementation:
 * `autoattack/autopgd_base.py` of https://github.com/fra31/auto-attack. Where the paper and the reference differ,
 * robustest follows the reference (each difference is named where it is implemented).
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type PerturbContext } from '../src/runner.js';
import { project, randomInBall, selectSamples, steepestDirection, checkNorm, perSample, type Norm } from '../src/norms.js';
import { attackLoss, LOSS_NAMES, LOSSES, type LossName } from '../src/losses.js';
import type { DifferentiableModel, LossFn } from '../src/model.js';
import type { Rng } from '../src/rng.js';
import { ConfigError, UnsupportedError, describe } from '../src/errors.js';
import { requireInt } from '../src/validate.js';

/** Configuration of {@link apgd}. Every field is optional. */
export interface ApgdConfig {
  /** Threat model. Default `'linf'`. */
  norm?: Norm;
  /** Iterations (gradient steps) per run; each run makes `steps + 1` gradient calls. Default `100` (the paper's). */
  steps?: number;
  /**
   * Runs per epsilon, each from a new random start in the ball; per sample the runner keeps a successful run, else
   * the one of highest loss. Default `1` (AutoAttack's standard version).
   */
  restarts?: number;
  /**
   * Loss to maximise: `'ce'` (cross-entropy: APGD-CE), `'dlr'` (Difference of Logits Ratio: APGD-DLR, needs 3
   * classes, 4 in a targeted run) or `'margin'` (Carlini–Wagner margin). Default `'ce'`.
   */
  loss?: LossName;
}

/** Configuration of {@link apgdT}. Every field is optional. */
export interface ApgdTConfig {
  /** Threat model. Default `'linf'`. */
  norm?: Norm;
  /** Iterations per target class and run (each makes `steps + 1` gradient calls). Default `100`. */
  steps?: number;
  /** Runs per epsilon, each over all target classes from new random starts. Default `1`. */
  restarts?: number;
  /**
   * How many target classes to try per sample: the 2nd, 3rd, ... most likely classes on the clean input, clipped
   * to `numClasses − 1`. Default `9` (AutoAttack's).
   */
  targetClasses?: number;
}

/** ρ: at a checkpoint the step size halves when at most this share of the steps since the last one raised the loss. */
const RHO = 0.75;
/** α: weight of the new projected step against the previous move (the paper's momentum). */
const MOMENTUM = 0.75;
/** The initial step size, relative to epsilon. */
const INITIAL_STEP = 2;

/**
 * The iteration counts at which APGD checks whether to halve its step size, `0` first. The paper defines them as
 * `w_j = ⌈p_j · steps⌉` with `p_0 = 0`, `p_1 = 0.22`, `p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)`; the
 * reference implementation computes the same points in integers (first gap `⌊0.22·steps⌋`, each next gap
 * `⌊0.03·steps⌋` shorter, never under `⌊0.06·steps⌋`, all at least 1), which robustest follows: for 100 steps
 * `[0, 22, 41, 57, 70, 80, 87, 93, 99]`. A checkpoint at `steps` itself is kept (it still decides nothing).
 *
 * @param steps - iterations, an integer >= 1.
 * @returns the checkpoints, increasing, from `0` up to at most `steps`.
 * @throws {@link ConfigError} unless `steps` is an integer >= 1.
 * @example
 * ```ts
 * apgdCheckpoints(100); // [0, 22, 41, 57, 70, 80, 87, 93, 99]
 * ```
 */
export function apgdCheckpoints(steps: number): number[] {
  requireInt(steps, 1, 'apgdCheckpoints', 'steps');
  const least = Math.max(Math.floor(0.06 * steps), 1);
  const shrink = Math.max(Math.floor(0.03 * steps), 1);
  const out = [0];
  for (let gap = Math.max(Math.floor(0.22 * steps), 1), at = gap; at <= steps;) {
    out.push(at);
    gap = Math.max(gap - shrink, least);
    at += gap;
  }
  return out;
}

/**
 * Per sample `mask[i] ? a[i] : b[i]` for batches `a`, `b` (like `selectSamples`), as `a·m + b·(1 − m)`: exact for
 * finite values (`v·1 = v`, `v·0 = ±0`), and about ten times cheaper than `tf.where` on the wasm backend, whose
 * select kernel dominates a step otherwise (two selects per step cost 15 ms of CPU against 51 ms for the gradient
 * of the bundled CNN at batch 200; the blend 1.6 ms).
 */
function blend(mask: tf.Tensor1D, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const m = perSample(tf.cast(mask, 'float32') as tf.Tensor1D, a.rank);
  return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m)));
}

/** What one APGD run needs: a batch (possibly a subset of the runner's), its loss, success test and projection. */
interface Run {
  readonly model: DifferentiableModel;
  readonly x: tf.Tensor;
  readonly norm: Norm;
  readonly epsilon: number;
  readonly steps: number;
  readonly loss: LossFn;
  readonly isSuccess: (logits: tf.Tensor2D) => tf.Tensor1D;
  readonly project: (candidate: tf.Tensor) => tf.Tensor;
  readonly rngs: readonly Rng[];
  /** Records the loss of each iterate (the runner's `ctx.trace`, or a copy into the batch's rows); absent: not recorded. */
  readonly trace?: (loss: tf.Tensor1D) => void;
}

/** The per-sample state of one run, all on the device. Fields may share a tensor. */
interface State {
  /** The current iterate and the one before it (for the momentum term). */
  readonly x: tf.Tensor;
  readonly xPrev: tf.Tensor;
  /** The loss gradient at `x`. */
  readonly grad: tf.Tensor;
  /** The highest-loss iterate so far, its gradient and its loss. */
  readonly xBest: tf.Tensor;
  readonly gradBest: tf.Tensor;
  readonly lossBest: tf.Tensor1D;
  /** The loss at `x`. */
  readonly loss: tf.Tensor1D;
  /** Steps since the last checkpoint that raised the loss (float32). */
  readonly increases: tf.Tensor1D;
  /** Step size, per sample. */
  readonly eta: tf.Tensor1D;
  /** Whether the step size was halved at the last checkpoint (bool), and the best loss then. */
  readonly reducedLast: tf.Tensor1D;
  readonly lossBestAtCheck: tf.Tensor1D;
  /** Whether an iterate checked at a checkpoint fooled the model (bool), and the first such iterate. */
  readonly fooled: tf.Tensor1D;
  readonly xFooled: tf.Tensor;
}

function tensorsOf(s: State): Set<tf.Tensor> {
  return new Set(Object.values(s) as tf.Tensor[]);
}

/** The state with `changes` applied; disposes every tensor of `old` that the new state no longer holds. */
function advance(old: State, changes: Partial<State>): State {
  const next = { ...old, ...changes };
  const kept = tensorsOf(next);
  for (const t of tensorsOf(old)) if (!kept.has(t)) t.dispose();
  return next;
}

/**
 * One APGD run (Algorithm 1 of the paper) from a random start: returns, per sample, the first checked iterate that
 * fooled the model, else the iterate of highest loss. Owned by the caller.
 */
async function ascend(r: Run): Promise<tf.Tensor> {
  const { model, x, norm, epsilon } = r;
  const n = x.shape[0]!;
  const checkpoints = apgdCheckpoints(r.steps);
  const start = tf.tidy(() => r.project(tf.add(x, randomInBall(x.shape, epsilon, norm, r.rngs))));
  let first: { value: tf.Tensor1D; grad: tf.Tensor };
  try {
    first = await model.valueAndGrad(start, r.loss);
  } catch (e) {
    start.dispose();
    throw e;
  }
  r.trace?.(first.value);
  let st: State = {
    x: start,
    xPrev: start,
    grad: first.grad,
    xBest: start,
    gradBest: first.grad,
    lossBest: first.value,
    loss: first.value,
    increases: tf.zeros([n]),
    eta: tf.fill([n], INITIAL_STEP * epsilon),
    // As in the reference, the "no improvement since an unchanged step size" condition cannot fire at the first checkpoint.
    reducedLast: tf.ones([n], 'bool'),
    lossBestAtCheck: first.value,
    fooled: tf.zeros([n], 'bool'),
    xFooled: start,
  };
  try {
    let next = 1;
    for (let i = 0; i < r.steps; i++) {
      const cur = st;
      // The first step has no momentum (α = 1): x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1})),
      // z = P(x_k + η·direction(∇)).
      const alpha = i === 0 ? 1 : MOMENTUM;
      const moved = tf.tidy(() => {
        const z = r.project(tf.add(cur.x, tf.mul(steepestDirection(cur.grad, norm), perSample(cur.eta, x.rank))));
        if (alpha === 1) return z;
        return r.project(tf.add(cur.x, tf.add(tf.mul(tf.sub(z, cur.x), alpha), tf.mul(tf.sub(cur.x, cur.xPrev), 1 - alpha))));
      });
      let vg: { value: tf.Tensor1D; grad: tf.Tensor };
      try {
        vg = await model.valueAndGrad(moved, r.loss);
      } catch (e) {
        moved.dispose();
        throw e;
      }
      r.trace?.(vg.value);
      const { value, grad } = vg;
      st = advance(
        cur,
        tf.tidy(() => {
          // Strictly higher, as in the reference: ties keep the earlier point.
          const improved = tf.greater(value, cur.lossBest) as tf.Tensor1D;
          return {
            x: moved,
            xPrev: cur.x,
            grad,
            loss: value,
            xBest: blend(improved, moved, cur.xBest),
            gradBest: blend(improved, grad, cur.gradBest),
            lossBest: tf.where(improved, value, cur.lossBest) as tf.Tensor1D,
            // The paper's count: steps whose loss exceeds the previous iterate's (after a restart from the best
            // point, the previous iterate's loss is still the one before the restart, as in the reference).
            increases: tf.add(cur.increases, tf.cast(tf.greater(value, cur.loss), 'float32')) as tf.Tensor1D,
          };
        }),
      );
      if (i + 1 !== checkpoints[next]) continue;
      const since = checkpoints[next]! - checkpoints[next - 1]!;
      next++;
      const at = st;
      st = advance(
        at,
        tf.tidy(() => {
          // Condition 1: at most ρ of the steps since the last checkpoint raised the loss (the reference's `<=`;
          // the paper writes `<`). Condition 2: the step size was not halved then and the best loss has not risen since.
          const oscillating = tf.lessEqual(at.increases, RHO * since);
          const stalled = tf.logicalAnd(tf.logicalNot(at.reducedLast), tf.greaterEqual(at.lossBestAtCheck, at.lossBest));
          const reduce = tf.logicalOr(oscillating, stalled) as tf.Tensor1D;
          const fooledNow = tf.logicalAnd(r.isSuccess(model.logits(at.x)), tf.logicalNot(at.fooled)) as tf.Tensor1D;
          return {
            // Halve the step size and continue from the best point, with its gradient.
            eta: tf.where(reduce, tf.div(at.eta, 2), at.eta) as tf.Tensor1D,
            x: blend(reduce, at.xBest, at.x),
            grad: blend(reduce, at.gradBest, at.grad),
            reducedLast: reduce,
            lossBestAtCheck: at.lossBest,
            increases: tf.zerosLike(at.increases) as tf.Tensor1D,
            fooled: tf.logicalOr(at.fooled, fooledNow) as tf.Tensor1D,
            xFooled: blend(fooledNow, at.x, at.xFooled),
          };
        }),
      );
      // One bool read per checkpoint: stop when every sample is fooled.
      const all = tf.all(st.fooled);
      const done = (await all.data())[0] === 1;
      all.dispose();
      if (done) break;
    }
    const out = st;
    return tf.tidy(() => blend(out.fooled, out.xFooled, out.xBest));
  } finally {
    tf.dispose([...tensorsOf(st)]);
  }
}

/** Validates the norm, steps and restarts every APGD factory takes. */
function checkCommon(where: string, norm: unknown, steps: unknown, restarts: unknown): void {
  checkNorm(norm, where);
  requireInt(steps, 1, where, 'steps');
  requireInt(restarts, 1, where, 'restarts');
}

/** Why a loss needs more classes than a model has, for the error message. */
function classReason(loss: LossName, targeted: boolean): string {
  if (loss !== 'dlr') return '';
  return targeted
    ? ' (targeted DLR divides by z_π1 − (z_π3 + z_π4)/2, which needs a fourth-largest logit)'
    : ' (DLR divides by z_π1 − z_π3, which needs a third-largest logit)';
}

/**
 * The attack with a check, before the runner's, that the model has enough classes for the loss: one line naming
 * the attack and why (the runner's own check would name only the loss).
 */
function withClassCheck(attack: Attack, loss: LossName, forceTargeted: boolean): Attack {
  return Object.freeze({
    ...attack,
    run: (model, x, labels, options) => {
      const c = (model as { numClasses?: unknown } | undefined)?.numClasses;
      const targeted = forceTargeted || (options as { targets?: unknown } | undefined)?.targets !== undefined;
      const min = targeted ? LOSSES[loss].minClassesTargeted : LOSSES[loss].minClasses;
      if (typeof c === 'number' && c < min) {
        const what = forceTargeted ? `APGD-T's targeted ${loss.toUpperCase()} loss` : `the ${loss} loss${targeted ? ' in a targeted run' : ''}`;
        return Promise.reject(
          new ConfigError(`${attack.name}: expected a model with at least ${min} classes for ${what}${classReason(loss, targeted)}, got ${c}`),
        );
      }
      return attack.run(model, x, labels, options);
    },
  } satisfies Attack);
}

/**
 * APGD (Croce & Hein, ICML 2020): PGD whose step size needs no tuning. From a random start in the ball it steps
 * along the sign of the gradient (L∞) or the normalised gradient (L2) with momentum α = 0.75, starting with a step
 * of 2ε; at checkpoints (22%, 41%, 57%, ... of the iterations, see {@link apgdCheckpoints}) it halves a sample's
 * step size and restarts it from its best point when at most ρ = 75% of the steps since the last checkpoint raised
 * the loss, or when its step size and best loss are both unchanged since then. Per sample it returns the first
 * iterate seen to fool the model (checked at each checkpoint, a forward pass), else the iterate of highest loss;
 * it stops when every sample is fooled. With `loss: 'ce'` it is APGD-CE, with `'dlr'` APGD-DLR.
 *
 * Untargeted, or targeted when `run` gets `targets` (the loss's targeted form). Gradients come only from
 * `model.valueAndGrad` (`steps + 1` calls per run); the loss of every iterate is traced for the convergence check.
 * Where it differs from the reference: the random start is `randomInBall`'s (L∞: uniform in the cube; L2: a random
 * direction at radius ε/10), where the reference scales a uniform L∞ draw to the boundary and puts the L2 start on
 * the sphere. The start hardly matters to APGD, its first step of 2ε moving far past it: on the bundled MNIST CNN
 * (first 200 test images, 100 steps, seeds 0 and 1) robust accuracy was 1.0–1.5% at L2 ε = 2 and 54.0% at ε = 1
 * from a start uniform in the ball, against 1.5% and 54.0% without a random start and 1.5% and 53.5–55.5% with a
 * radius uniform in [0, ε]; on the shared trained CNN at L2 ε = 2, 9.0% from the uniform start and 8.5–9.0% from ε/10.
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Paper: https://arxiv.org/abs/2003.01690.
 *
 * @param config - see {@link ApgdConfig}; defaults follow the paper (100 iterations, 1 restart, cross-entropy).
 * @returns an immutable attack named `apgd-ce`, `apgd-dlr` or `apgd-margin` after its loss.
 * @throws {@link ConfigError} for an invalid field (e.g. `steps: 0`); `run` throws a {@link ConfigError} when the
 *   model has fewer classes than the loss needs (DLR: 3, targeted DLR: 4).
 * @example
 * ```ts
 * const attack = apgd({ loss: 'dlr', norm: 'linf' });
 * const result = await attack.run(model, x, labels, { epsilons: [0.1, 0.3], seed: 0 });
 * console.log(result.results.map((r) => r.success.filter(Boolean).length));
 * result.dispose();
 * ```
 */
export function apgd(config: ApgdConfig = {}): Attack {
  const s = {
    norm: config.norm ?? 'linf',
    steps: config.steps ?? 100,
    restarts: config.restarts ?? 1,
    loss: config.loss ?? 'ce',
  };
  checkCommon('apgd', s.norm, s.steps, s.restarts);
  if (!LOSS_NAMES.includes(s.loss)) throw new ConfigError(`apgd: expected loss to be one of ${LOSS_NAMES.join(', ')}, got ${describe(s.loss)}`);
  const attack = defineAttack({
    kind: 'fixed-epsilon',
    name: `apgd-${s.loss}`,
    norm: s.norm,
    config: { ...s },
    loss: s.loss,
    restarts: s.restarts,
    perturb: (ctx: PerturbContext) =>
      ascend({
        model: ctx.model,
        x: ctx.x,
        norm: s.norm,
        epsilon: ctx.epsilon,
        steps: s.steps,
        loss: ctx.loss,
        isSuccess: ctx.isSuccess,
        project: ctx.project,
        rngs: ctx.rngs,
        trace: ctx.trace,
      }),
  });
  return withClassCheck(attack, s.loss, false);
}

interface TSettings {
  readonly norm: Norm;
  readonly steps: number;
  readonly restarts: number;
  readonly targetClasses: number;
}

/** APGD-T's inner loop: one targeted-DLR APGD run per target rank, each on the samples not yet fooled. */
async function perturbTargeted(s: TSettings, ctx: PerturbContext): Promise<tf.Tensor> {
  if (ctx.targets !== undefined) {
    throw new UnsupportedError(
      "apgd-t: expected an untargeted run (APGD-T picks its own targets, the most likely classes), got targets; use apgd({ loss: 'dlr' }) with targets",
    );
  }
  const { model, x, labels, epsilon } = ctx;
  const n = x.shape[0]!;
  const c = model.numClasses;
  const k = Math.min(s.targetClasses, c - 1);
  // Target ranks 2..k+1 of the clean logits, and which samples the clean input already fools.
  const [ranked, cleanFooled] = tf.tidy(() => {
    const logits = model.logits(x);
    return [tf.topk(logits, k + 1, true).indices, ctx.isSuccess(logits)] as const;
  });
  // Per sample: the kept candidate (the first that fooled the model, else the one of highest untargeted loss), whether it fools, and its loss.
  let kept = tf.clone(x);
  let fooled: tf.Tensor1D = cleanFooled;
  let keptLoss = tf.tidy(() => tf.fill([n], -Infinity) as tf.Tensor1D);
  try {
    for (let rank = 2; rank <= k + 1; rank++) {
      const mask = await fooled.data();
      const active = Array.from({ length: n }, (_, i) => i).filter((i) => mask[i] !== 1);
      if (active.length === 0) break;
      const idx = tf.tensor1d(active, 'int32');
      // Back from the subset to the batch: row `pos[i]` of the subset is sample `i` where `attacked[i]`.
      const pos = new Int32Array(n);
      active.forEach((i, j) => (pos[i] = j));
      const back = tf.tensor1d(pos, 'int32');
      const attacked = tf.tensor1d(
        Array.from({ length: n }, (_, i) => mask[i] !== 1),
        'bool',
      );
      const [xs, ys, ts] = tf.tidy(() => [
        tf.gather(x, idx),
        tf.gather(labels, idx) as tf.Tensor1D,
        tf.reshape(tf.slice(tf.gather(ranked, idx), [0, rank - 1], [-1, 1]), [-1]) as tf.Tensor1D,
      ]);
      try {
        const lastRank = rank === k + 1;
        // Only the last target's run is traced (its losses, 0 for samples already fooled): the convergence check
        // reads the trajectory of the points that survive every target.
        const trace = lastRank
          ? (v: tf.Tensor1D): void => {
              const full = tf.tidy(() => tf.where(attacked, tf.gather(v, back), tf.zeros([n])) as tf.Tensor1D);
              ctx.trace(full);
              full.dispose();
            }
          : undefined;
        const candidate = await ascend({
          model,
          x: xs,
          norm: s.norm,
          epsilon,
          steps: s.steps,
          loss: attackLoss('dlr', ys, c, ts),
          isSuccess: (logits) => tf.notEqual(tf.argMax(logits, 1), ys) as tf.Tensor1D,
          project: (cand) => project(xs, cand, epsilon, s.norm, model.bounds),
          rngs: active.map((i) => ctx.rngs[i]!),
          ...(trace ? { trace } : {}),
        });
        const [prevKept, prevFooled, prevLoss] = [kept, fooled, keptLoss];
        [kept, fooled, keptLoss] = tf.tidy(() => {
          // Back to the whole batch: samples not attacked this round keep their candidate.
          const full = selectSamples(attacked, tf.gather(candidate, back), prevKept);
          const logits = model.logits(full);
          const success = tf.logicalAnd(ctx.isSuccess(logits), attacked);
          const loss = ctx.loss(logits);
          // A new success, or (for samples still robust) a higher untargeted loss, replaces the kept candidate.
          const take = tf.logicalAnd(attacked, tf.logicalOr(success, tf.greater(loss, prevLoss))) as tf.Tensor1D;
          return [
            selectSamples(take, full, prevKept),
            tf.logicalOr(prevFooled, success) as tf.Tensor1D,
            tf.where(take, loss, prevLoss) as tf.Tensor1D,
          ] as const;
        });
        tf.dispose([candidate, prevKept, prevFooled, prevLoss]);
      } finally {
        tf.dispose([idx, back, attacked, xs, ys, ts]);
      }
    }
    return kept;
  } catch (e) {
    kept.dispose();
    throw e;
  } finally {
    tf.dispose([ranked, fooled, keptLoss]);
  }
}

/**
 * APGD-T (Croce & Hein, ICML 2020): APGD ({@link apgd}) on the targeted DLR loss
 * `(z_t − z_y) / (z_π1 − (z_π3 + z_π4)/2)`, run once per target class `t`: for each sample, the 2nd, 3rd, ...,
 * `(targetClasses + 1)`-th most likely class on the clean input. Each target's run attacks only the samples no
 * earlier target fooled, and per sample the first success is kept (else the candidate of highest untargeted DLR
 * loss). As in AutoAttack, it is untargeted from the runner's point of view (success is misclassification), so it
 * refuses `targets`; for a targeted DLR attack towards given classes use `apgd({ loss: 'dlr' })` with targets.
 * Each run costs `steps + 1` gradient calls on the samples still robust; only the last target's run is traced for
 * the convergence check.
 *
 * Needs at least 4 classes (the targeted DLR's denominator needs a fourth-largest logit).
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Paper: https://arxiv.org/abs/2003.01690.
 *
 * @param config - see {@link ApgdTConfig}; defaults follow AutoAttack (100 iterations, 9 target classes, 1 restart).
 * @returns an immutable attack named `apgd-t`.
 * @throws {@link ConfigError} for an invalid field; `run` throws a {@link ConfigError} for a model with fewer than 4
 *   classes, and an {@link UnsupportedError} when given `targets`.
 * @example
 * ```ts
 * const result = await apgdT({ norm: 'linf' }).run(model, x, labels, { epsilons: [0.1], seed: 0 });
 * console.log(result.results[0]!.success.filter(Boolean).length);
 * result.dispose();
 * ```
 */
export function apgdT(config: ApgdTConfig = {}): Attack {
  const s: TSettings = {
    norm: config.norm ?? 'linf',
    steps: config.steps ?? 100,
    restarts: config.restarts ?? 1,
    targetClasses: config.targetClasses ?? 9,
  };
  checkCommon('apgd-t', s.norm, s.steps, s.restarts);
  requireInt(s.targetClasses, 1, 'apgd-t', 'targetClasses');
  const attack = defineAttack({
    kind: 'fixed-epsilon',
    name: 'apgd-t',
    norm: s.norm,
    config: { ...s },
    // The runner's loss (for choosing between restarts and for the kept candidate): the untargeted DLR.
    loss: 'dlr',
    restarts: s.restarts,
    perturb: (ctx) => perturbTargeted(s, ctx),
  });
  return withClassCheck(attack, 'dlr', true);
}
