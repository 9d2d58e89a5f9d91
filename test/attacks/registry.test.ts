// The attack registry: one table from name to factory, kind, norms and options; a name always means its attack.
import { describe, expect, it } from 'vitest';
import { ATTACKS, ATTACK_NAMES, attackEntry, createAttack } from '../../attacks/registry.js';
import { ConfigError } from '../../src/errors.js';

describe('attack registry', () => {
  it('lists exactly the rows of the table, each building the attack it names with its kind and default norm', () => {
    expect(ATTACK_NAMES).toEqual(Object.keys(ATTACKS));
    for (const name of ATTACK_NAMES) {
      const entry = attackEntry(name);
      expect(entry.name).toBe(name);
      expect(entry.norms).toContain(entry.defaultNorm);
      const attack = createAttack(name);
      expect(attack.name).toBe(name);
      expect(attack.kind).toBe(entry.kind);
      expect(attack.norm).toBe(entry.defaultNorm);
      for (const norm of entry.norms) expect(createAttack(name, { norm }).norm).toBe(norm);
    }
  });

  it('runs fgm as fgm (L2) and fgsm as fgsm (Linf): a contradicting norm is a ConfigError, never another attack', () => {
    expect(createAttack('fgm')).toMatchObject({ name: 'fgm', norm: 'l2' });
    expect(createAttack('fgsm')).toMatchObject({ name: 'fgsm', norm: 'linf' });
    expect(() => createAttack('fgm', { norm: 'linf' })).toThrow(ConfigError);
    expect(() => createAttack('fgm', { norm: 'linf' })).toThrow(/^fgm: expected norm 'l2' \(.*\), got "linf"$/);
    expect(() => createAttack('fgsm', { norm: 'l2' })).toThrow(/^fgsm: expected norm 'linf' \(.*\), got "l2"$/);
  });

  it('passes the options an attack takes and ignores the others', () => {
    const p = createAttack('pgd', { steps: 7, restarts: 2, earlyStop: true, loss: 'margin', stepSize: 0.01 });
    expect(p.config).toMatchObject({ steps: 7, restarts: 2, earlyStop: true, loss: 'margin', stepSize: 0.01 });
    const f = createAttack('fgsm', { steps: 7, restarts: 2, loss: 'dlr' });
    expect(f.config).toEqual({ norm: 'linf', randomStart: false, loss: 'dlr' });
    expect(createAttack('bim', { restarts: 3 }).config).not.toHaveProperty('restarts', 3);
  });

  it('refuses unknown names and invalid options with one-line typed errors', () => {
    expect(() => createAttack('nope')).toThrow(/^attack: expected one of fgsm, fgm, bim, pgd.*, got "nope"$/);
    expect(() => createAttack('toString')).toThrow(ConfigError);
    expect(() => createAttack('pgd', { steps: 0 })).toThrow(/^pgd: expected steps to be an integer in \[1, 100000\], got 0$/);
    expect(() => createAttack('pgd', { loss: 'hinge' as never })).toThrow(/^pgd: expected loss to be one of ce, margin, dlr, got "hinge"$/);
  });
});
