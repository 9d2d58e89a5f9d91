/**
 * DeepFool, L2 and Linf: the first minimum-norm attack of robustest.
 *
 * Paper: S.-M. Moosavi-Dezfooli, A. Fawzi, P. Frossard, "DeepFool: a simple and accurate method to fool deep
 * neural networks", CVPR 2016, https://arxiv.org/abs/1511.04599.
 * @module
 */
import * as tf from '../src/tf.js';
import { defineAttack, type Attack, type MinimizeContext } from '../src/runner.js';
import { batchNorm, selectSamples, signExact, checkNorm, perSample, type Norm } from '../src/norms.js';
import { logitDifference } from '../src/losses.js';
import { UnsupportedError } from '../src/errors.js';
import { requireInt, requirePositive } from '../src/validate.js';

/** Configuration of {@link deepfool}. Every field is optional. */
export interface DeepfoolConfig {
  /** Threat model: `'l2'` (the paper's main attack) or `'linf'` (its ℓ∞ variant, dual norm ℓ1). Default `'l2'`. */
  norm?: Norm;
  /** Maximum number of linearisation steps; a sample stops as soon as it is misclassified. Default `50`. */
  steps?: number;
  /** Relative overshoot: the adversarial is `x + (1 + overshoot)·r` for the accumulated step `r`. Default `0.02` (the paper's). */
  overshoot?: number;
  /**
   * Number of most likely classes considered (the clean prediction included), clipped to the model's class count;
   * each step costs `candidates − 1` gradient calls. At least 2. Default `10`.
   */
  candidates?: number;
}

interface Settings {
  readonly norm: Norm;
  readonly steps: number;
  readonly overshoot: number;
  readonly candidates: number;
}

/** Added to the distance to the linearised boundary so that a step crosses it (Foolbox uses the same 1e-4). */
const CROSS = 1e-4;
/** Guards the divisions by a gradient norm. */
const TINY = 1e-8;

async function minimize(s: Settings, ctx: MinimizeContext): Promise<tf.Tensor> {
  const { model, x } = ctx;
  if (ctx.targets !== undefined) throw new UnsupportedError('deepfool: expected an untargeted run (DeepFool is untargeted only), got targets');
  const n = x.shape[0]!;
  const candidates = Math.min(s.candidates, model.numClasses);
  // The classes to cross into, per sample: the most likely ones on the clean input, the clean prediction first
  // (for a sample the model classifies correctly, that is its label; the others are already fooled and never move).
  const classes = tf.tidy(() => {
    const top = tf.topk(model.logits(x), candidates, true).indices;
    return Array.from({ length: candidates }, (_, j) => tf.reshape(tf.slice(top, [0, j], [n, 1]), [n]) as tf.Tensor1D);
  });
  const losses = classes.slice(1).map((k) => logitDifference(k, classes[0]!, model.numClasses));
  let adv = tf.clone(x);
  let total = tf.zerosLike(x);
  let done: tf.Tensor1D | undefined;
  try {
    for (let step = 0; step < s.steps; step++) {
      // One bool per step is read to the host: a step costs `candidates − 1` gradient calls, so the read is
      // negligible, and DeepFool usually needs only a few steps, so stopping at once matters.
      const current = adv;
      const [nextDone, allDone] = tf.tidy(() => {
        const d = ctx.isSuccess(model.logits(current));
        return [d, tf.all(d)] as const;
      });
      done?.dispose();
      done = nextDone;
      const finished = (await allDone.data())[0] === 1;
      allDone.dispose();
      if (finished) break;
      // Per sample, the step to the nearest linearised boundary over the candidate classes:
      // distance_k = |f_k| / ‖w_k‖_dual with f_k = z_k − z_ref and w_k its gradient.
      let best: { distance: tf.Tensor1D; step: tf.Tensor } | undefined;
      for (const loss of losses) {
        const { value, grad } = await model.valueAndGrad(current, loss);
        const prev = best;
        best = tf.tidy(() => {
          const f = tf.abs(value);
          const g = tf.reshape(grad, [n, -1]);
          const dual = (s.norm === 'l2' ? tf.sqrt(tf.sum(tf.square(g), 1)) : tf.sum(tf.abs(g), 1)) as tf.Tensor1D;
          const distance = tf.div(f, tf.add(dual, TINY)) as tf.Tensor1D;
          const length = tf.add(distance, CROSS) as tf.Tensor1D;
          // L2: along w / ‖w‖₂; Linf: along sign(w), the direction of unit ℓ∞ norm whose inner product with w is ‖w‖₁.
          const direction = s.norm === 'l2' ? tf.div(grad, perSample(tf.add(batchNorm(grad, 'l2'), TINY) as tf.Tensor1D, grad.rank)) : signExact(grad);
          const stepK = tf.mul(direction, perSample(length, grad.rank));
          if (!prev) return { distance, step: stepK };
          const closer = tf.less(distance, prev.distance) as tf.Tensor1D;
          return { distance: tf.where(closer, distance, prev.distance) as tf.Tensor1D, step: selectSamples(closer, stepK, prev.step) };
        });
        tf.dispose([value, grad]);
        if (prev) tf.dispose([prev.distance, prev.step]);
      }
      const chosen = best!;
      const fooled = done;
      const [prevAdv, prevTotal] = [adv, total];
      [adv, total] = tf.tidy(() => {
        // Samples already misclassified stop moving: neither their iterate nor their accumulated step changes.
        const t = selectSamples(fooled, prevTotal, tf.add(prevTotal, chosen.step));
        const a = selectSamples(fooled, prevAdv, ctx.clip(tf.add(x, tf.mul(t, 1 + s.overshoot))));
        return [a, t] as const;
      });
      tf.dispose([prevAdv, prevTotal, chosen.distance, chosen.step]);
    }
    return adv;
  } catch (e) {
    adv.dispose();
    throw e;
  } finally {
    tf.dispose([...classes, total]);
    done?.dispose();
  }
}

/**
 * DeepFool (Moosavi-Dezfooli et al., CVPR 2016): a minimum-norm attack that, at each step, linearises the model
 * around the current point, finds the nearest of the linearised decision boundaries between the clean prediction
 * and the `candidates − 1` next most likely classes, and steps just across it; the accumulated step is scaled by
 * `1 + overshoot`. L2 steps are along the gradient of the logit difference, Linf steps along its sign (the dual
 * norm, ℓ1, measures the distance). Samples stop once misclassified. Gradients come only from
 * `model.valueAndGrad`, one call per candidate class and step. Untargeted only.
 *
 * Kind `minimum-norm`: one run per batch; the runner then counts a sample as fooled at epsilon when the final
 * (overshot, clipped) adversarial fools the model with a perturbation of norm ≤ epsilon, and reports the norms in
 * `AttackResult.minimalNorms` (`Infinity` where DeepFool never fooled the model).
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Paper: https://arxiv.org/abs/1511.04599.
 *
 * @param config - see {@link DeepfoolConfig}; defaults follow the paper and Foolbox (L2, 50 steps, overshoot 0.02, 10 candidates).
 * @returns an immutable attack; run it with `attack.run(model, x, labels, { epsilons })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `steps: 0`); `run` throws {@link UnsupportedError} when
 *   given `targets` or a query-only model.
 * @example
 * ```ts
 * const result = await deepfool({ norm: 'l2' }).run(model, x, labels, { epsilons: [0.5, 1, 2] });
 * console.log(result.minimalNorms); // per sample: the L2 norm DeepFool needed, Infinity where it failed
 * result.dispose();
 * ```
 */
export function deepfool(config: DeepfoolConfig = {}): Attack {
  const s: Settings = {
    norm: config.norm ?? 'l2',
    steps: config.steps ?? 50,
    overshoot: config.overshoot ?? 0.02,
    candidates: config.candidates ?? 10,
  };
  checkNorm(s.norm, 'deepfool');
  requireInt(s.steps, 1, 'deepfool', 'steps');
  requirePositive(s.overshoot, 'deepfool', 'overshoot', true);
  requireInt(s.candidates, 2, 'deepfool', 'candidates');
  return defineAttack({
    kind: 'minimum-norm',
    name: 'deepfool',
    norm: s.norm,
    config: { ...s },
    // Not used by the steps (they follow logit differences); it is the loss DeepFool linearises, the margin.
    loss: 'margin',
    minimize: (ctx) => minimize(s, ctx),
  });
}
