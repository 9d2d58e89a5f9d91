/**
 * Attacks. Each factory returns an immutable {@link Attack}; run it with `attack.run(model, x, labels, options)`.
 * @module
 */
export { fgsm, fgm, type FgsmConfig } from './fgsm.js';
export { bim, type BimConfig } from './bim.js';
export { pgd, type PgdConfig } from './pgd.js';
export { createAttack, ATTACK_NAMES, type AttackName, type AttackOptions } from './registry.js';
export type { Attack, AttackResult, EpsilonResult, RunOptions, ProgressEvent, AttackCore, PerturbContext } from '../src/runner.js';
export { defineAttack } from '../src/runner.js';
