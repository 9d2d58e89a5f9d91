/**
 * Attacks by name, for the CLI and configuration files.
 * @module
 */
import type { Attack } from '../src/runner.js';
import type { Norm } from '../src/norms.js';
import type { LossName } from '../src/losses.js';
import { ConfigError, describe } from '../src/errors.js';
import { fgsm, fgm } from './fgsm.js';
import { bim } from './bim.js';
import { pgd } from './pgd.js';

/** Names accepted by {@link createAttack}. */
export const ATTACK_NAMES = ['fgsm', 'fgm', 'bim', 'pgd'] as const;

/** One of {@link ATTACK_NAMES}. */
export type AttackName = (typeof ATTACK_NAMES)[number];

/** Options {@link createAttack} passes on to the attack (those it does not use are ignored). */
export interface AttackOptions {
  /** Threat model. `fgsm` is always Linf and `fgm` always L2; for them a norm other than theirs is an error. */
  norm?: Norm;
  /** Steps of iterative attacks. */
  steps?: number;
  /** Absolute step size of iterative attacks. */
  stepSize?: number;
  /** Restarts (PGD). */
  restarts?: number;
  /** Per-sample early stop (BIM, PGD). */
  earlyStop?: boolean;
  /** Loss. */
  loss?: LossName;
}

/**
 * Builds an attack from its name and generic options (the CLI's `--attack` list).
 * `fgsm` with `norm: 'l2'` becomes `fgm`, so one `--norm` flag serves a list of attacks.
 *
 * @param name - one of {@link ATTACK_NAMES}.
 * @param options - shared options.
 * @throws {@link ConfigError} for an unknown name or an invalid option.
 * @example
 * ```ts
 * const attacks = ['fgsm', 'pgd'].map((n) => createAttack(n, { norm: 'linf', steps: 40 }));
 * ```
 */
export function createAttack(name: string, options: AttackOptions = {}): Attack {
  const norm = options.norm ?? 'linf';
  const common = {
    ...(options.steps !== undefined ? { steps: options.steps } : {}),
    ...(options.stepSize !== undefined ? { stepSize: options.stepSize } : {}),
    ...(options.earlyStop !== undefined ? { earlyStop: options.earlyStop } : {}),
    ...(options.loss !== undefined ? { loss: options.loss } : {}),
  };
  switch (name) {
    case 'fgsm':
    case 'fgm':
      return (norm === 'l2' ? fgm : fgsm)(options.loss !== undefined ? { loss: options.loss } : {});
    case 'bim':
      return bim({ norm, ...common });
    case 'pgd':
      return pgd({ norm, ...common, ...(options.restarts !== undefined ? { restarts: options.restarts } : {}) });
    default:
      throw new ConfigError(`attack: expected one of ${ATTACK_NAMES.join(', ')}, got ${describe(name)}`);
  }
}
