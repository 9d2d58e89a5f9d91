// APGD and APGD-T: the checkpoints as the reference computes them, strength against PGD on a nonlinear model, the
// DLR class-count errors, first-success semantics of APGD-T, determinism, batch independence and no leaks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { apgd, apgdT, apgdCheckpoints } from '../../attacks/apgd.js';
import { pgd } from '../../attacks/pgd.js';
import { ConfigError, UnsupportedError } from '../../src/errors.js';
import type { DifferentiableModel } from '../../src/model.js';
import { expectNoLeak, seededValues, tinyConvModel } from '../helpers/models.js';

/** A tiny conv model with `n` seeded inputs labelled with its own clean predictions (so every point starts correct). */
async function problem(opts: { n?: number; size?: number; numClasses?: number; seed?: number } = {}) {
  const size = opts.size ?? 8;
  const n = opts.n ?? 30;
  const seed = opts.seed ?? 1;
  const { model, dispose } = tinyConvModel({ size, numClasses: opts.numClasses ?? 5, seed });
  const x = tf.tensor4d(seededValues(n * size * size, 100 + seed), [n, size, size, 1]);
  const pred = tf.tidy(() => tf.argMax(model.logits(x), 1));
  const labels = Array.from(await pred.data());
  pred.dispose();
  return { model, x, labels, dispose: () => (x.dispose(), dispose()) };
}

async function rows(t: tf.Tensor, picks: readonly number[]): Promise<number[][]> {
  const d = t.size / t.shape[0]!;
  const host = await t.data();
  return picks.map((i) => Array.from(host.subarray(i * d, (i + 1) * d)));
}

const count = (s: boolean[]): number => s.filter(Boolean).length;

describe('apgdCheckpoints', () => {
  /** AutoAttack's counter loop (autopgd_base.py, attack_single_run), transliterated: the iterations after which it checks. */
  function reference(nIter: number): number[] {
    let k = Math.max(Math.trunc(0.22 * nIter), 1);
    const nIterMin = Math.max(Math.trunc(0.06 * nIter), 1);
    const sizeDecr = Math.max(Math.trunc(0.03 * nIter), 1);
    const out = [0];
    let counter3 = 0;
    for (let i = 0; i < nIter; i++) {
      counter3 += 1;
      if (counter3 === k) {
        out.push(i + 1);
        k = Math.max(k - sizeDecr, nIterMin);
        counter3 = 0;
      }
    }
    return out;
  }

  it('100 steps: [0, 22, 41, 57, 70, 80, 87, 93, 99], the reference implementation and the paper formula in exact arithmetic', () => {
    expect(apgdCheckpoints(100)).toEqual([0, 22, 41, 57, 70, 80, 87, 93, 99]);
    // The paper: p0 = 0, p1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), w_j = ⌈p_j·100⌉, in hundredths
    // (exact; in floating point 0.22 + 0.19 + 0.16 = 0.5700000000000001 would round 57 up to 58).
    const p = [0, 22];
    while (p.at(-1)! + Math.max(p.at(-1)! - p.at(-2)! - 3, 6) <= 100) p.push(p.at(-1)! + Math.max(p.at(-1)! - p.at(-2)! - 3, 6));
    expect(apgdCheckpoints(100)).toEqual(p);
  });

  it('equals the reference counter loop for every step count from 1 to 300', () => {
    for (let steps = 1; steps <= 300; steps++) expect(apgdCheckpoints(steps), `steps ${steps}`).toEqual(reference(steps));
    expect(apgdCheckpoints(10)).toEqual([0, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(apgdCheckpoints(1)).toEqual([0, 1]);
  });

  it('refuses a step count that is not a positive integer', () => {
    expect(() => apgdCheckpoints(0)).toThrow(ConfigError);
    expect(() => apgdCheckpoints(2.5)).toThrow('apgdCheckpoints: expected steps to be an integer in [1, 100000], got 2.5');
  });
});

describe('apgd: configuration and errors', () => {
  it('records its configuration with the paper defaults and is named after its loss', () => {
    expect(apgd().config).toEqual({ norm: 'linf', steps: 100, restarts: 1, loss: 'ce' });
    expect(apgd()).toMatchObject({ name: 'apgd-ce', kind: 'fixed-epsilon', requires: 'gradients', norm: 'linf' });
    expect(apgd({ loss: 'dlr', norm: 'l2' })).toMatchObject({ name: 'apgd-dlr', norm: 'l2' });
    expect(apgdT().config).toEqual({ norm: 'linf', steps: 100, restarts: 1, targetClasses: 9 });
    expect(apgdT().name).toBe('apgd-t');
    expect(Object.isFrozen(apgd())).toBe(true);
    expect(Object.isFrozen(apgdT())).toBe(true);
  });

  it('refuses invalid fields with a ConfigError naming the field', () => {
    expect(() => apgd({ steps: 0 })).toThrow('apgd: expected steps to be an integer in [1, 100000], got 0');
    expect(() => apgd({ restarts: 1.5 })).toThrow('apgd: expected restarts to be an integer in [1, 1000], got 1.5');
    expect(() => apgd({ loss: 'hinge' as 'ce' })).toThrow('apgd: expected loss to be one of ce, margin, dlr, got "hinge"');
    expect(() => apgd({ norm: 'l1' as 'l2' })).toThrow(ConfigError);
    expect(() => apgdT({ targetClasses: 0 })).toThrow('apgd-t: expected targetClasses to be an integer in [1, 100000], got 0');
    expect(() => apgdT({ steps: -1 })).toThrow('apgd-t: expected steps to be an integer in [1, 100000], got -1');
  });

  it('DLR needs 3 classes, targeted DLR 4, APGD-T 4: a one-line ConfigError naming the attack and why', async () => {
    const two = await problem({ numClasses: 2, n: 4 });
    const three = await problem({ numClasses: 3, n: 4 });
    const oneLine = async (p: Promise<unknown>, pattern: RegExp) => {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(pattern);
      expect((e as Error).message).not.toContain('\n');
    };
    await oneLine(
      apgd({ loss: 'dlr', steps: 2 }).run(two.model, two.x, two.labels, { epsilons: [0.1] }),
      /^apgd-dlr: expected a model with at least 3 classes for the dlr loss \(DLR divides by z_π1 − z_π3, which needs a third-largest logit\), got 2$/,
    );
    const targets = three.labels.map((y) => (y + 1) % 3);
    await oneLine(
      apgd({ loss: 'dlr', steps: 2 }).run(three.model, three.x, three.labels, { epsilons: [0.1], targets }),
      /^apgd-dlr: expected a model with at least 4 classes for the dlr loss in a targeted run \(targeted DLR divides by z_π1 − \(z_π3 \+ z_π4\)\/2, which needs a fourth-largest logit\), got 3$/,
    );
    await oneLine(
      apgdT({ steps: 2 }).run(three.model, three.x, three.labels, { epsilons: [0.1] }),
      /^apgd-t: expected a model with at least 4 classes for APGD-T's targeted DLR loss \(targeted DLR divides by .*\), got 3$/,
    );
    // Cross-entropy and margin need 2 classes; DLR untargeted runs with 3.
    for (const attack of [apgd({ steps: 2 }), apgd({ loss: 'margin', steps: 2 })]) {
      const r = await attack.run(two.model, two.x, two.labels, { epsilons: [0.1] });
      r.dispose();
    }
    const r = await apgd({ loss: 'dlr', steps: 2 }).run(three.model, three.x, three.labels, { epsilons: [0.1] });
    r.dispose();
    two.dispose();
    three.dispose();
  });

  it('APGD-T refuses targets (it picks its own) with an UnsupportedError', async () => {
    const p = await problem({ n: 4 });
    const targets = p.labels.map((y) => (y + 1) % 5);
    const run = () => apgdT({ steps: 2 }).run(p.model, p.x, p.labels, { epsilons: [0.1], targets });
    await expect(run()).rejects.toThrow(UnsupportedError);
    await expect(run()).rejects.toThrow(/^apgd-t: expected an untargeted run/);
    p.dispose();
  });
});

describe('apgd strength', () => {
  // On these seeds PGD-10 fools (linf) 13, 10, 19 and (l2) about as many of 40; APGD-CE matches or beats it on
  // every one, and APGD-DLR fools strictly more in total.
  for (const [norm, eps] of [
    ['linf', 0.02],
    ['l2', 0.15],
  ] as const) {
    it(`${norm}: APGD-CE fools at least as many points as PGD with the same steps on a nonlinear model`, async () => {
      let totalPgd = 0;
      let totalDlr = 0;
      for (const seed of [1, 2, 3]) {
        const p = await problem({ n: 40, seed });
        const a = await pgd({ norm, steps: 10 }).run(p.model, p.x, p.labels, { epsilons: [eps], seed: 0 });
        const b = await apgd({ norm, steps: 10 }).run(p.model, p.x, p.labels, { epsilons: [eps], seed: 0 });
        const c = await apgd({ norm, steps: 10, loss: 'dlr' }).run(p.model, p.x, p.labels, { epsilons: [eps], seed: 0 });
        const [sa, sb, sc] = [a, b, c].map((r) => count(r.results[0]!.success));
        expect(sa, `seed ${seed}`).toBeGreaterThan(0);
        expect(sa, `seed ${seed}`).toBeLessThan(40);
        expect(sb, `seed ${seed}`).toBeGreaterThanOrEqual(sa!);
        totalPgd += sa!;
        totalDlr += sc!;
        [a, b, c].forEach((r) => r.dispose());
        p.dispose();
      }
      expect(totalDlr).toBeGreaterThan(totalPgd);
    });
  }

  it('records a loss every step: the late rise is finite and small after 100 steps', async () => {
    const p = await problem({ n: 12, seed: 2 });
    const r = await apgd({ steps: 100 }).run(p.model, p.x, p.labels, { epsilons: [0.01], seed: 0 });
    const e = r.results[0]!;
    expect(count(e.success)).toBeLessThan(12);
    for (const v of e.lateLossRise!) {
      expect(Number.isFinite(v)).toBe(true);
      expect(Math.abs(v)).toBeLessThan(0.2);
    }
    r.dispose();
    p.dispose();
  });
});

describe('apgd-t', () => {
  let p: Awaited<ReturnType<typeof problem>>;
  beforeAll(async () => {
    p = await problem({ n: 30, seed: 3 });
  });
  afterAll(() => p.dispose());

  it('keeps each sample’s first success: the points one target fools are fooled identically with more targets, and more targets fool more', async () => {
    const one = await apgdT({ steps: 10, targetClasses: 1 }).run(p.model, p.x, p.labels, { epsilons: [0.02], seed: 0 });
    const three = await apgdT({ steps: 10, targetClasses: 3 }).run(p.model, p.x, p.labels, { epsilons: [0.02], seed: 0 });
    const a = one.results[0]!;
    const b = three.results[0]!;
    const fooled = a.success.flatMap((s, i) => (s ? [i] : []));
    expect(fooled.length).toBeGreaterThan(0);
    expect(fooled.length).toBeLessThan(30);
    for (const i of fooled) expect(b.success[i]).toBe(true);
    expect(await rows(b.adversarial, fooled)).toEqual(await rows(a.adversarial, fooled));
    expect(count(b.success)).toBeGreaterThanOrEqual(count(a.success));
    // Success is misclassification.
    b.success.forEach((s, i) => expect(s).toBe(b.predictions[i] !== p.labels[i]));
    one.dispose();
    three.dispose();
  });

  it('at least as strong as APGD-DLR with the same steps; targetClasses is clipped to numClasses − 1', async () => {
    const t = await apgdT({ steps: 10 }).run(p.model, p.x, p.labels, { epsilons: [0.02], seed: 0 });
    const d = await apgd({ steps: 10, loss: 'dlr' }).run(p.model, p.x, p.labels, { epsilons: [0.02], seed: 0 });
    expect(count(t.results[0]!.success)).toBeGreaterThanOrEqual(count(d.results[0]!.success));
    t.dispose();
    d.dispose();
  });

  it('a point already misclassified stays as it is (the clean input counts as fooled)', async () => {
    const labels = p.labels.map((y, i) => (i === 0 ? (y + 1) % 5 : y));
    const r = await apgdT({ steps: 5 }).run(p.model, p.x, labels, { epsilons: [0.05], seed: 0 });
    expect(r.results[0]!.success[0]).toBe(true);
    expect(r.results[0]!.linf[0]).toBe(0);
    r.dispose();
  });
});

describe('determinism, batch independence and memory', () => {
  let p: Awaited<ReturnType<typeof problem>>;
  beforeAll(async () => {
    p = await problem({ n: 12, seed: 1 });
  });
  afterAll(() => p.dispose());

  const makers = [
    { label: 'apgd-ce linf', make: () => apgd({ steps: 12 }), eps: 0.02, big: 0.5 },
    { label: 'apgd-dlr l2', make: () => apgd({ norm: 'l2', loss: 'dlr', steps: 12, restarts: 2 }), eps: 0.15, big: 4 },
    { label: 'apgd-t linf', make: () => apgdT({ steps: 6, targetClasses: 3 }), eps: 0.02, big: 0.5 },
    { label: 'apgd-t l2', make: () => apgdT({ norm: 'l2', steps: 6, targetClasses: 3 }), eps: 0.15, big: 4 },
  ];

  it.each(makers)('$label: bit-identical under a seed, different under another', async ({ make, eps }) => {
    const [a, b, c] = [
      await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 3 }),
      await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 3 }),
      await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 4 }),
    ];
    const [da, db, dc] = [await a.results[0]!.adversarial.data(), await b.results[0]!.adversarial.data(), await c.results[0]!.adversarial.data()];
    expect(Array.from(da)).toEqual(Array.from(db));
    expect(Array.from(da)).not.toEqual(Array.from(dc));
    [a, b, c].forEach((r) => r.dispose());
  });

  it.each(makers)('$label: a subset run with its global indices gives the full run’s rows', async ({ make, eps }) => {
    const picks = [2, 5, 9];
    const sub = tf.gather(p.x, picks);
    const full = await make().run(p.model, p.x, p.labels, { epsilons: [eps], seed: 5 });
    const same = await make().run(
      p.model,
      sub,
      picks.map((i) => p.labels[i]!),
      { epsilons: [eps], seed: 5, indices: picks },
    );
    const got = await rows(same.results[0]!.adversarial, [0, 1, 2]);
    const want = await rows(full.results[0]!.adversarial, picks);
    got.forEach((row, r) => row.forEach((v, j) => expect(v).toBeCloseTo(want[r]![j]!, 5)));
    expect(same.results[0]!.success).toEqual(picks.map((i) => full.results[0]!.success[i]));
    sub.dispose();
    full.dispose();
    same.dispose();
  });

  it.each(makers)('$label: leaks no tensors, also when every point is fooled early', async ({ make, eps, big }) => {
    await expectNoLeak(async () => {
      const r = await make().run(p.model, p.x, p.labels, { epsilons: [0, eps, big], seed: 1 });
      expect(count(r.results[2]!.success)).toBe(12);
      r.dispose();
    });
  });

  it('leaks no tensors when the model fails mid-run', async () => {
    let calls = 0;
    // The same model, whose gradient engine fails on its fourth call.
    const failing = Object.create(p.model) as DifferentiableModel;
    Object.defineProperty(failing, 'valueAndGrad', {
      value: async (x: tf.Tensor, loss: Parameters<DifferentiableModel['valueAndGrad']>[1]) => {
        if (++calls === 4) throw new Error('engine failed');
        return p.model.valueAndGrad(x, loss);
      },
    });
    for (const attack of [apgd({ steps: 10 }), apgdT({ steps: 10 })]) {
      calls = 0;
      await expectNoLeak(async () => {
        await expect(attack.run(failing, p.x, p.labels, { epsilons: [0.02] })).rejects.toThrow('engine failed');
      });
    }
  });
});
