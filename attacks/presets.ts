/**
 * Evaluation presets: fixed compositions of attacks with fixed hyperparameters, so that a robustness number means
 * the same thing from one model to the next.
 *
 * - `standard`: AutoAttack's standard version (Croce & Hein 2020, https://arxiv.org/abs/2003.01690) for the norm:
 *   APGD-CE (100 iterations, no restarts), APGD-T (targeted DLR at the 9 most likely other classes), FAB-T (the
 *   same 9 targets) and Square (5,000 queries), run in cascade, so each later attack runs only on the points every
 *   earlier one failed on and the report shows robust accuracy fall attack by attack.
 * - `fast`: APGD-CE then APGD-T, for CI.
 * @module
 */
import type { Attack } from '../src/runner.js';
import type { Norm } from '../src/norms.js';
import { ConfigError, describe } from '../src/errors.js';
import { createAttack } from './registry.js';

/** Names of the presets. */
export type PresetName = 'standard' | 'fast';

/** One preset: what it is and the registry names of its attacks, in cascade order. */
export interface Preset {
  /** One line: what the preset runs. */
  readonly summary: string;
  /** Registry names (`attacks/registry.ts`) of its attacks, in the order they run. */
  readonly attacks: readonly string[];
}

/**
 * The presets, by name.
 *
 * @example
 * ```ts
 * PRESETS.standard.attacks; // ['apgd-ce', 'apgd-t', 'fab-t', 'square']
 * ```
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = Object.freeze({
  standard: { summary: "AutoAttack's standard version: APGD-CE, APGD-T, FAB-T, Square (5,000 queries)", attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'] },
  fast: { summary: 'APGD-CE then APGD-T, for CI', attacks: ['apgd-ce', 'apgd-t'] },
});

/** The preset names, in order. */
export const PRESET_NAMES: readonly PresetName[] = Object.freeze(Object.keys(PRESETS) as PresetName[]);

/** Fewest classes the presets need: APGD-T's targeted DLR compares the 1st, 3rd and 4th largest logits. */
export const PRESET_MIN_CLASSES = 4;

/**
 * The attacks of a preset for one norm, with the preset's fixed settings (each attack's defaults, which follow
 * AutoAttack's standard version).
 *
 * @param name - `standard` or `fast`.
 * @param norm - the threat model.
 * @param numClasses - the model's class count (APGD-T needs at least {@link PRESET_MIN_CLASSES}).
 * @returns fresh attack values, in cascade order.
 * @throws {@link ConfigError} for an unknown preset, or a model with fewer than 4 classes.
 * @example
 * ```ts
 * const attacks = presetAttacks('standard', 'linf', 10);
 * const report = await evaluate(model, data, { attacks, epsilons: [8 / 255] });
 * ```
 */
export function presetAttacks(name: PresetName, norm: Norm, numClasses: number): Attack[] {
  const preset: Preset | undefined = Object.prototype.hasOwnProperty.call(PRESETS, name) ? PRESETS[name] : undefined;
  if (!preset) throw new ConfigError(`preset: expected one of ${PRESET_NAMES.join(', ')}, got ${describe(name)}`);
  if (!Number.isInteger(numClasses) || numClasses < PRESET_MIN_CLASSES) {
    throw new ConfigError(
      `preset ${name}: expected a model with at least ${PRESET_MIN_CLASSES} classes (APGD-T's targeted DLR loss compares the 1st, 3rd and 4th largest logits), got ${describe(numClasses)}`,
    );
  }
  return preset.attacks.map((attack) => createAttack(attack, { norm }));
}
