/**
 * Attacks. Each factory returns an immutable {@link Attack}; run it with `attack.run(model, x, labels, options)`.
 * @module
 */
export { fgsm, fgm, type FgsmConfig } from './fgsm.js';
export { bim, type BimConfig } from './bim.js';
export { pgd, type PgdConfig } from './pgd.js';
export { apgd, apgdT, apgdCheckpoints, type ApgdConfig, type ApgdTConfig } from './apgd.js';
export { deepfool, type DeepfoolConfig } from './deepfool.js';
export { fmn, type FmnConfig } from './fmn.js';
export { miFgsm, type MiFgsmConfig } from './mi-fgsm.js';
export { randomSearch, type RandomSearchConfig } from './random-search.js';
export { square, squareP, squareSide, type SquareConfig } from './square.js';
export { hopSkipJump, type HopSkipJumpConfig, type StartingPointBatch } from './hop-skip-jump.js';
export { fab, type FabConfig } from './fab.js';
export { cw, type CwConfig } from './carlini-wagner.js';
export {
  attackEntry,
  createAttack,
  ATTACKS,
  ATTACK_NAMES,
  type AttackRegistryEntry,
  type AttackName,
  type AttackOptionSpec,
  type AttackOptions,
} from './registry.js';
export type {
  Attack,
  AttackCore,
  AttackKind,
  AttackResult,
  CoreContext,
  EpsilonResult,
  FixedEpsilonCore,
  MinimizeContext,
  MinimumNormCore,
  PerturbContext,
  ProgressEvent,
  QueryContext,
  QueryCore,
  RunOptions,
} from '../src/runner.js';
export { defineAttack, ATTACK_KINDS } from '../src/runner.js';
export { presetAttacks, PRESETS, PRESET_NAMES, PRESET_MIN_CLASSES, type Preset, type PresetName } from './presets.js';
