// Pitfall checks over the records: they fire on a setting built to trip them and stay silent on a normal one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../metrics/evaluate.js';
import { NOT_CONVERGED_MEDIAN_RISE } from '../../metrics/pitfalls.js';
import { fgsm, pgd } from '../../attacks/index.js';
import type { Dataset } from '../../src/data/types.js';
import { prototypeProblem } from '../helpers/models.js';

describe('not-converged check', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let data: Dataset;
  beforeAll(async () => {
    p = prototypeProblem({ n: 24, d: 16, numClasses: 4 });
    data = { images: Float32Array.from(await p.x.data()), shape: [16], labels: p.labels, count: 24, sha256: 'unknown:test', source: 'prototypes' };
  });
  afterAll(() => p.dispose());

  it('fires for PGD whose steps are far too small to reach the edge of the ball', async () => {
    // 20 steps of 0.002·ε each cover 4% of the ball: the loss is still climbing linearly when PGD stops.
    const r = await evaluate(p.model, data, { attacks: [pgd({ steps: 20, relStepSize: 0.002, randomStart: false })], epsilons: [0.1] });
    const w = r.warnings.filter((x) => x.code === 'not-converged');
    expect(w).toHaveLength(1);
    expect(w[0]!.message).toMatch(/^pgd at ε=0\.1 \(linf\) has not converged: on the median of the 24 points it did not fool, its loss still rose by \d+% /);
    expect(Number(/rose by (\d+)%/.exec(w[0]!.message)![1]) / 100).toBeGreaterThan(NOT_CONVERGED_MEDIAN_RISE);
  });

  it('gets its trajectory from the runner: lateLossRise per sample, 0.25 for a linear climb, NaN without 4 traced steps', async () => {
    const linear = await pgd({ steps: 20, relStepSize: 0.002, randomStart: false }).run(p.model, p.x, p.labels, { epsilons: [0.1] });
    const rise = linear.results[0]!.lateLossRise!;
    linear.dispose();
    expect(rise).toHaveLength(24);
    // On a linear model every step adds the same CE gain: (L_19 − L_14) / (L_19 − L_0) = 5/19 for most points.
    expect(rise.filter((r) => Math.abs(r - 5 / 19) < 0.02).length).toBeGreaterThan(12);
    const one = await fgsm().run(p.model, p.x, p.labels, { epsilons: [0.1] });
    expect(Array.from(one.results[0]!.lateLossRise!).every(Number.isNaN)).toBe(true);
    one.dispose();
  });

  it('stays silent for PGD-40 with its default step, and for single-step attacks (no trajectory)', async () => {
    const r = await evaluate(p.model, data, { attacks: [fgsm(), pgd()], epsilons: [0.05, 0.1], cascade: false });
    // Nothing is fooled at these radii, so every point is a survivor the check looks at.
    expect(r.attacks.every((a) => a.succeeded === 0)).toBe(true);
    expect(r.warnings.map((x) => x.code)).not.toContain('not-converged');
  });
});
