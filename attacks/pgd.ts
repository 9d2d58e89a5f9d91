/**
 * Projected Gradient Descent (PGD), Linf and L2.
 *
 * Paper: A. Madry, A. Makelov, L. Schmidt, D. Tsipras, A. Vladu, "Towards Deep Learning Models Resistant to
 * Adversarial Attacks", ICLR 2018, https://arxiv.org/abs/1706.06083.
 * @module
 */
import type { Attack } from '../src/runner.js';
import type { Norm } from '../src/norms.js';
import type { LossName } from '../src/losses.js';
import { iterativeAttack } from './iterative.js';

/** Configuration of {@link pgd}. Every field is optional. */
export interface PgdConfig {
  /** Threat model. Default `'linf'`. */
  norm?: Norm;
  /** Gradient steps. Default `40` (Madry et al.). */
  steps?: number;
  /** Absolute step size in raw input units; overrides `relStepSize`. Default: unset. */
  stepSize?: number;
  /** Step size relative to epsilon. Default `2.5 / steps` (Madry et al.), i.e. `2.5·ε/steps`. */
  relStepSize?: number;
  /**
   * Start from a random point of the ball (`randomInBall`): uniform in the cube for L∞; for L2 a uniformly random
   * direction at radius ε/10, since a start uniform in the L2 ball lies at ≈ ε in high dimension and measurably
   * weakens PGD-L2 (see `randomInBall`). Default `true`.
   */
  randomStart?: boolean;
  /** Independent runs per epsilon; per sample the runner keeps a successful run, else the highest loss. Default `1`. */
  restarts?: number;
  /** Stop moving a sample once it is adversarial (checked every `checkEvery` steps), and the whole batch once all are. Default `false`. */
  earlyStop?: boolean;
  /** How many steps between early-stop checks (each reads one small tensor to the host). Default `5`. */
  checkEvery?: number;
  /** Loss to maximise: cross-entropy `'ce'` or the Carlini–Wagner margin `'margin'`. Default `'ce'`. */
  loss?: LossName;
}

/**
 * Projected Gradient Descent: from a random start inside the epsilon ball, `steps` steps along the sign of the
 * loss gradient (Linf) or the normalised gradient (L2), each projected back onto the ball and the model's bounds.
 * Untargeted, or targeted when `run` gets `targets`.
 *
 * Shapes: inputs `[N, ...model.inputShape]`; labels `[N]`. Paper: Madry et al. 2018, https://arxiv.org/abs/1706.06083.
 *
 * @param config - see {@link PgdConfig}; defaults follow Madry et al. (40 steps, step 2.5·ε/40, random start).
 * @returns an immutable attack; run it with `attack.run(model, x, labels, { epsilons, seed })`.
 * @throws {@link ConfigError} for an invalid field (e.g. `steps: 0`).
 * @example
 * ```ts
 * const attack = pgd({ norm: 'linf', steps: 40 });
 * const result = await attack.run(model, x, labels, { epsilons: [0.1, 0.3], seed: 0 });
 * console.log(result.results.map((r) => r.success.filter(Boolean).length));
 * result.dispose();
 * ```
 */
export function pgd(config: PgdConfig = {}): Attack {
  const steps = config.steps ?? 40;
  const s = {
    name: 'pgd',
    norm: config.norm ?? 'linf',
    steps,
    stepSize: config.stepSize,
    relStepSize: config.relStepSize ?? 2.5 / (Number.isInteger(steps) && steps > 0 ? steps : 1),
    randomStart: config.randomStart ?? true,
    restarts: config.restarts ?? 1,
    earlyStop: config.earlyStop ?? false,
    checkEvery: config.checkEvery ?? 5,
    loss: config.loss ?? 'ce',
  } as const;
  return iterativeAttack(s);
}
