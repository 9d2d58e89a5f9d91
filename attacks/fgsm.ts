/**
 * Fast Gradient Sign Method (Linf) and Fast Gradient Method (L2).
 *
 * Paper: I. Goodfellow, J. Shlens, C. Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015,
 * https://arxiv.org/abs/1412.6572. The L2 variant follows Miyato et al. 2016 / Foolbox's `L2FastGradientAttack`.
 * @module
 */
import type { Attack } from '../src/runner.js';
import type { LossName } from '../src/losses.js';
import { iterativeAttack } from './iterative.js';

/** Configuration of {@link fgsm} and {@link fgm}. Every field is optional. */
export interface FgsmConfig {
  /**
   * Start from a random point of the ball (drawn per sample by `randomInBall`: uniform in the L∞ cube; for `fgm` a
   * random direction at radius ε/10), then take the one step of size ε and project
   * back onto the ball: the random-start FGSM of Wong, Rice & Kolter 2020 (https://arxiv.org/abs/2001.03994), with
   * step ε rather than their 1.25·ε. Not Tramèr et al.'s R+FGSM, which steps α along a random sign and then ε − α
   * along the gradient sign. Default `false`.
   */
  randomStart?: boolean;
  /** Loss to maximise. Default `'ce'`. */
  loss?: LossName;
}

function single(name: 'fgsm' | 'fgm', norm: 'linf' | 'l2', config: FgsmConfig): Attack {
  const s = {
    name,
    norm,
    steps: 1,
    stepSize: undefined,
    relStepSize: 1,
    randomStart: config.randomStart ?? false,
    restarts: 1,
    earlyStop: false,
    checkEvery: 1,
    loss: config.loss ?? 'ce',
  } as const;
  return iterativeAttack(s, ['norm', 'randomStart', 'loss']);
}

/**
 * Fast Gradient Sign Method: one step of size ε along the sign of the loss gradient, `x + ε·sign(∇ₓL)`, clipped
 * into the bounds. Linf.
 *
 * @param config - see {@link FgsmConfig}.
 * @returns an immutable attack.
 * @throws {@link ConfigError} for an invalid field.
 * @example
 * ```ts
 * const result = await fgsm().run(model, x, labels, { epsilons: [0.1, 0.3] });
 * result.dispose();
 * ```
 */
export function fgsm(config: FgsmConfig = {}): Attack {
  return single('fgsm', 'linf', config);
}

/**
 * Fast Gradient Method: one step of L2 length ε along the normalised loss gradient, `x + ε·∇ₓL/‖∇ₓL‖₂`, clipped
 * into the bounds. L2.
 *
 * @param config - see {@link FgsmConfig}.
 * @returns an immutable attack.
 * @throws {@link ConfigError} for an invalid field.
 * @example
 * ```ts
 * const result = await fgm().run(model, x, labels, { epsilons: [1.0, 2.0] });
 * result.dispose();
 * ```
 */
export function fgm(config: FgsmConfig = {}): Attack {
  return single('fgm', 'l2', config);
}
