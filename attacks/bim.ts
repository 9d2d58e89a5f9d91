/**
 * Basic Iterative Method (BIM, also "I-FGSM").
 *
 * Paper: A. Kurakin, I. Goodfellow, S. Bengio, "Adversarial examples in the physical world", ICLR 2017 workshop,
 * https://arxiv.org/abs/1607.02533.
 * @module
 */
import type { Attack } from '../src/runner.js';
import type { Norm } from '../src/norms.js';
import type { LossName } from '../src/losses.js';
import { iterativeAttack } from './iterative.js';

/** Configuration of {@link bim}. Every field is optional. */
export interface BimConfig {
  /** Threat model. Default `'linf'`. */
  norm?: Norm;
  /** Gradient steps. Default `10`. */
  steps?: number;
  /** Absolute step size; overrides `relStepSize`. Default: unset. */
  stepSize?: number;
  /** Step size relative to epsilon. Default `0.2` (as Foolbox), so 10 steps can cross the ball twice. */
  relStepSize?: number;
  /** Stop moving a sample once it is adversarial. Default `false`. */
  earlyStop?: boolean;
  /** Steps between early-stop checks. Default `5`. */
  checkEvery?: number;
  /** Loss to maximise. Default `'ce'`. */
  loss?: LossName;
}

/**
 * Basic Iterative Method: PGD without a random start — repeated small FGSM steps from the clean input, each
 * clipped back into the epsilon ball and the bounds.
 *
 * @param config - see {@link BimConfig}.
 * @returns an immutable attack.
 * @throws {@link ConfigError} for an invalid field.
 * @example
 * ```ts
 * const result = await bim({ steps: 10 }).run(model, x, labels, { epsilons: [0.1] });
 * result.dispose();
 * ```
 */
export function bim(config: BimConfig = {}): Attack {
  const s = {
    name: 'bim',
    norm: config.norm ?? 'linf',
    steps: config.steps ?? 10,
    stepSize: config.stepSize,
    relStepSize: config.relStepSize ?? 0.2,
    randomStart: false,
    restarts: 1,
    earlyStop: config.earlyStop ?? false,
    checkEvery: config.checkEvery ?? 5,
    loss: config.loss ?? 'ce',
  } as const;
  return iterativeAttack(s);
}
