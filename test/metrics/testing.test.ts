// The toBeRobust matcher and checkRobustness.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { robustMatchers, checkRobustAccuracy, checkRobustness } from '../../src/testing.js';
import { fgm, fgsm, pgd } from '../../attacks/index.js';
import { ConfigError } from '../../src/errors.js';
import { prototypeProblem } from '../helpers/models.js';
import * as tf from '../../src/tf.js';
import { fromFunction, type Model } from '../../src/model.js';

expect.extend(robustMatchers);

describe('toBeRobust', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 16 });
  });
  afterAll(() => p.dispose());

  it('passes when robust accuracy meets the minimum', async () => {
    await expect(p.model).toBeRobust({ data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.001, minAccuracy: 0.9 });
  });

  it('fails with the measured accuracy, its CI and the worst classes', async () => {
    const failing = expect(p.model).toBeRobust({ data: { x: p.x, labels: p.labels }, attack: pgd({ steps: 10 }), epsilon: [0.01, 0.3], minAccuracy: 0.9 });
    await expect(failing).rejects.toThrow(/expected prototypes to keep robust accuracy >= 90\.0% under pgd/);
    const verdict = await checkRobustness(p.model, { data: { x: p.x, labels: p.labels }, attack: pgd({ steps: 10 }), epsilon: [0.01, 0.3], minAccuracy: 0.9 });
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toMatch(/ok {3}ε=0\.01: robust accuracy 100\.0% \(95% CI 80\.6%–100\.0%, n=16\)/);
    expect(verdict.message).toMatch(/FAIL ε=0\.3: robust accuracy \d+\.\d%/);
    expect(verdict.message).toMatch(/worst classes at ε=0\.3: class \d \d+\.\d% \(n=4\)/);
  });

  it('names the norm of each radius when the attacks span norms (one curve per norm)', async () => {
    const v = await checkRobustness(p.model, { data: { x: p.x, labels: p.labels }, attack: [fgsm(), fgm()], epsilon: [0.001, 0.3], minAccuracy: 0.9 });
    const lines = v.message.split('\n').filter((l) => /^ {2}(ok|FAIL)/.test(l));
    expect(lines).toHaveLength(4);
    for (const radius of ['L∞ ε=0.001', 'L∞ ε=0.3', 'L2 ε=0.001', 'L2 ε=0.3']) expect(lines.filter((l) => l.includes(`${radius}:`))).toHaveLength(1);
    expect(v.message).toMatch(/worst classes at (L∞|L2) ε=0\.3: /);
  });

  it('can require the lower confidence bound', async () => {
    const v = await checkRobustness(p.model, { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0, minAccuracy: 0.9, useLowerBound: true });
    expect(v.pass).toBe(false); // 16/16 correct, but the Wilson lower bound is 80.6%
    expect(v.report.curve[0]!.ci.lower).toBeCloseTo(0.806, 3);
  });

  it('rejects a minimum outside [0, 1]', async () => {
    await expect(checkRobustness(p.model, { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.1, minAccuracy: 70 })).rejects.toThrow(ConfigError);
    await expect(checkRobustness(p.model, { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.1, minAccuracy: 70 })).rejects.toThrow(
      /^checkRobustness: expected minAccuracy to be a fraction in \[0, 1\], got 70$/,
    );
  });
});

describe('toBeRobust and severe warnings', () => {
  let p: ReturnType<typeof prototypeProblem>;
  let masked: Model;
  beforeAll(() => {
    p = prototypeProblem({ n: 16 });
    // Rounded inputs: the same decisions, an input gradient of zero everywhere (gradient masking).
    masked = fromFunction((x) => p.model.logits(tf.div(tf.round(tf.mul(x, 4)), 4)), { numClasses: 4, inputShape: [16], name: 'quantised' });
  });
  afterAll(() => p.dispose());

  it('fails a masked model that meets the minimum, with the warnings and the verdict in the message', async () => {
    const expectation = { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.1, minAccuracy: 0.9 };
    const v = await checkRobustness(masked, expectation);
    expect(v.report.curve[0]!.robustAccuracy).toBe(1);
    expect(v.pass).toBe(false);
    expect(v.message).toMatch(
      /^expected quantised to keep robust accuracy >= 90\.0% under fgsm with a reliable evaluation, but a severe check fired \(UNRELIABLE: zero-gradients, unbounded-attack-fails\)/,
    );
    expect(v.message).toMatch(/\n {2}warning \(zero-gradients, severe\): quantised: 100\.0% of samples have an all-zero input gradient/);
    expect(v.message.split('\n').at(-1)).toBe('  verdict: UNRELIABLE: zero-gradients, unbounded-attack-fails');
    await expect(expect(masked).toBeRobust(expectation)).rejects.toThrow(/severe check fired \(UNRELIABLE: zero-gradients, unbounded-attack-fails\)/);
  });

  it('passes it with allowWarnings, and passes a plain model without warnings', async () => {
    const expectation = { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.1, minAccuracy: 0.9 };
    await expect(masked).toBeRobust({ ...expectation, allowWarnings: true });
    const v = await checkRobustness(p.model, { ...expectation, epsilon: 0.001 });
    expect(v.pass).toBe(true);
    expect(v.message.split('\n').at(-1)).toBe('  verdict: reliable');
  });

  it('passes thorough and a surrogate on to evaluate', async () => {
    const expectation = { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.3, minAccuracy: 0, allowWarnings: true };
    const v = await checkRobustness(masked, { ...expectation, thorough: true, surrogate: p.model });
    expect(v.pass).toBe(true);
    const codes = v.report.warnings.map((w) => w.code);
    expect(codes).toContain('transfer-beats-white-box');
    expect(v.report.warnings.filter((w) => w.code === 'restarts-matter')).toEqual([]); // FGSM only: nothing to re-run
  });
});

describe('toHaveRobustAccuracy', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 16 });
  });
  afterAll(() => p.dispose());

  it('passes when the robust accuracy is at least atLeast, and fails with the measured numbers', async () => {
    const data = { x: p.x, labels: p.labels };
    await expect(p.model).toHaveRobustAccuracy({ data, attack: fgsm(), epsilon: 0.001, atLeast: 0.9 });
    const v = await checkRobustAccuracy(p.model, { data, attack: pgd({ steps: 10 }), epsilon: [0.01, 0.3], atLeast: 0.9 });
    expect(v.pass).toBe(false);
    expect(v.message).toMatch(/^expected prototypes to keep robust accuracy >= 90\.0% under pgd/);
    expect(v.message).toMatch(/FAIL ε=0\.3: robust accuracy \d+\.\d% \(95% CI/);
    await expect(expect(p.model).toHaveRobustAccuracy({ data, attack: pgd({ steps: 10 }), epsilon: 0.3, atLeast: 0.9 })).rejects.toThrow(
      /expected prototypes to keep robust accuracy >= 90\.0% under pgd/,
    );
  });

  it('checks atMost: an attack that must work, and the negated matcher', async () => {
    const data = { x: p.x, labels: p.labels };
    const strong = await checkRobustAccuracy(p.model, { data, attack: pgd({ steps: 10 }), epsilon: 0.3, atMost: 0.5 });
    const acc = strong.report.curve[0]!.robustAccuracy;
    expect(acc).toBeLessThanOrEqual(0.5);
    expect(strong.pass).toBe(true);
    await expect(p.model).toHaveRobustAccuracy({ data, attack: pgd({ steps: 10 }), epsilon: 0.3, atMost: 0.5 });
    await expect(p.model).not.toHaveRobustAccuracy({ data, attack: fgsm(), epsilon: 0.001, atMost: 0.5 });
    const weak = await checkRobustAccuracy(p.model, { data, attack: fgsm(), epsilon: 0.001, atLeast: 0.2, atMost: 0.5 });
    expect(weak.pass).toBe(false);
    expect(weak.message.split('\n')[0]).toBe('expected prototypes to have robust accuracy in [20.0%, 50.0%] under fgsm');
    expect(weak.message).toMatch(/\n {2}above 50\.0% at ε=0\.001: robust accuracy 100\.0% \(95% CI 80\.6%–100\.0%\)$/);
    const inside = await checkRobustAccuracy(p.model, { data, attack: pgd({ steps: 10 }), epsilon: 0.3, atLeast: 0, atMost: 1 });
    expect(inside.pass).toBe(true);
    expect(inside.message.split('\n')[0]).toBe('expected prototypes not to have robust accuracy in [0.0%, 100.0%] under pgd, but it did');
  });

  it('rejects a missing, out-of-range or inverted bound', async () => {
    const base = { data: { x: p.x, labels: p.labels }, attack: fgsm(), epsilon: 0.1 };
    await expect(checkRobustAccuracy(p.model, base)).rejects.toThrow(/^toHaveRobustAccuracy: expected atLeast or atMost, got neither$/);
    await expect(checkRobustAccuracy(p.model, { ...base, atLeast: 70 })).rejects.toThrow(
      /^toHaveRobustAccuracy: expected atLeast to be a fraction in \[0, 1\], got 70$/,
    );
    await expect(checkRobustAccuracy(p.model, { ...base, atLeast: 0.6, atMost: 0.5 })).rejects.toThrow(
      /^toHaveRobustAccuracy: expected atLeast <= atMost, got atLeast 0\.6 and atMost 0\.5$/,
    );
    await expect(checkRobustAccuracy(p.model, { ...base, atLeast: 0.6, atMost: 0.5 })).rejects.toThrow(ConfigError);
  });
});
