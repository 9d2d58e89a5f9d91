// Presets: fixed attack compositions (AutoAttack's standard version, and a fast one for CI).
import { describe, expect, it } from 'vitest';
import { PRESETS, PRESET_NAMES, presetAttacks } from '../../attacks/presets.js';
import { ATTACK_NAMES } from '../../attacks/registry.js';
import { evaluate } from '../../metrics/evaluate.js';
import { fgsm } from '../../attacks/index.js';
import { ConfigError } from '../../src/errors.js';
import { prototypeProblem } from '../helpers/models.js';

describe('presets', () => {
  it("are AutoAttack's standard composition and a fast one, every attack a registered one", () => {
    expect(PRESET_NAMES).toEqual(['standard', 'fast']);
    expect(PRESETS.standard.attacks).toEqual(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    expect(PRESETS.fast.attacks).toEqual(['apgd-ce', 'apgd-t']);
    for (const name of PRESET_NAMES) for (const a of PRESETS[name].attacks) expect(ATTACK_NAMES).toContain(a);
  });

  it('builds the attacks for the norm, in cascade order', () => {
    for (const norm of ['linf', 'l2'] as const) {
      const attacks = presetAttacks('standard', norm, 10);
      expect(attacks.map((a) => a.name)).toEqual(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
      expect(attacks.every((a) => a.norm === norm)).toBe(true);
      expect(attacks.map((a) => a.kind)).toEqual(['fixed-epsilon', 'fixed-epsilon', 'minimum-norm', 'query']);
    }
  });

  it('refuses an unknown preset and models with fewer than 4 classes, with one-line typed errors', () => {
    expect(() => presetAttacks('strong' as 'fast', 'linf', 10)).toThrow('preset: expected one of standard, fast, got "strong"');
    expect(() => presetAttacks('fast', 'linf', 3)).toThrow(ConfigError);
    expect(() => presetAttacks('fast', 'linf', 3)).toThrow(/^preset fast: expected a model with at least 4 classes \(APGD-T's targeted DLR .*\), got 3$/);
  });

  it('evaluate takes a preset or attacks, not both', async () => {
    const p = prototypeProblem({ n: 4, numClasses: 3 });
    try {
      await expect(evaluate(p.model, { x: p.x, labels: p.labels }, { preset: 'fast', attacks: [fgsm()], epsilons: [0.1] })).rejects.toThrow(
        'evaluate: expected either attacks or a preset, got both (preset "fast")',
      );
      await expect(evaluate(p.model, { x: p.x, labels: p.labels }, { preset: 'fast', epsilons: [0.1] })).rejects.toThrow(/at least 4 classes/);
      await expect(evaluate(p.model, { x: p.x, labels: p.labels }, { epsilons: [0.1] })).rejects.toThrow(
        'evaluate: expected a non-empty list of attacks (or a preset), got undefined',
      );
    } finally {
      p.dispose();
    }
  });
});
