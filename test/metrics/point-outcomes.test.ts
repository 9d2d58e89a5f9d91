// Every report carries its per-point outcomes (1.2), and they agree with the curve and the clean accuracy, so
// `compare` can run its paired test on plain reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../metrics/evaluate.js';
import { fgsm, pgd } from '../../attacks/index.js';
import { reportOutcomes, compareReports } from '../../src/compare.js';
import { validateReport } from '../../src/report.js';
import { prototypeProblem } from '../helpers/models.js';

describe('report.pointOutcomes', () => {
  let p: ReturnType<typeof prototypeProblem>;
  beforeAll(() => {
    p = prototypeProblem({ n: 21, d: 8 });
  });
  afterAll(() => p.dispose());

  it('agree with the curve and the clean accuracy, validate, and make compare paired', async () => {
    const report = await evaluate(p.model, { x: p.x, labels: p.labels }, { attacks: [fgsm(), pgd({ steps: 5 })], epsilons: [0.05, 0.2], batchSize: 8 });
    validateReport(JSON.parse(JSON.stringify(report)) as unknown);
    const outcomes = reportOutcomes(report)!;
    expect(report.pointOutcomes!.count).toBe(21);
    expect(Array.from(outcomes.clean!).filter(Boolean).length).toBe(Math.round(report.cleanAccuracy * 21));
    expect(outcomes.robust.map((r) => [r.norm, r.epsilon, Array.from(r.robust).filter(Boolean).length])).toEqual(
      report.curve.map((c) => [c.norm, c.epsilon, c.robustCount]),
    );
    // A point robust at a radius was correct and is robust at every smaller radius.
    for (let i = 0; i < 21; i++) {
      if (outcomes.robust[1]!.robust[i]) expect([outcomes.clean![i], outcomes.robust[0]!.robust[i]]).toEqual([1, 1]);
    }
    const same = compareReports(report, report, { outcomes: { a: outcomes, b: outcomes } });
    expect([same.clean, ...same.points].map((v) => v.test)).toEqual(['paired', 'paired', 'paired']);
    expect(same.regressions).toEqual([]);
  });
});
