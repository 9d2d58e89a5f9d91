// compareReports on fixed reports: identical runs flag nothing, a planted regression is flagged (intervals, and the
// paired McNemar test on per-point outcomes), different data or threat models are refused unless forced; the
// renderings against golden files, the HTML through html-validate; mcnemarExact against exact binomial values.
import { describe, expect, it } from 'vitest';
import { HtmlValidate } from 'html-validate';
import {
  compareReports,
  encodePointOutcomes,
  renderComparisonHtml,
  renderComparisonMarkdown,
  renderComparisonText,
  reportOutcomes,
  type PointOutcomes,
} from '../../src/compare.js';
import { mcnemarExact } from '../../src/stats.js';
import { ConfigError } from '../../src/errors.js';
import { validateReport, type Report } from '../../src/report.js';
import { wilsonInterval } from '../../metrics/accuracy.js';
import { expectGolden, mnistReport } from './golden.js';

/** The MNIST report with `lost` fewer robust points at every radius (the planted regression of a weakened model). */
function weakened(lost: number): Report {
  const r = mnistReport();
  for (const p of r.curve) {
    p.robustCount = Math.max(0, p.robustCount - lost);
    p.robustAccuracy = p.robustCount / r.count;
    p.ci = wilsonInterval(p.robustCount, r.count, 0.95);
  }
  for (const c of r.perClass) for (const x of c.robust) x.robustAccuracy = Math.max(0, x.robustAccuracy - lost / r.count);
  r.provenance.model.sha256 = 'f'.repeat(64);
  return r;
}

/** Per-point outcomes matching a report's counts: the first `robustCount` points robust at each radius. */
function outcomes(r: Report, shift = 0): PointOutcomes {
  return {
    clean: Array.from({ length: r.count }, (_, i) => i < Math.round(r.cleanAccuracy * r.count)),
    robust: r.curve.map((p) => ({
      norm: p.norm,
      epsilon: p.epsilon,
      robust: Array.from({ length: r.count }, (_, i) => i >= shift && i < p.robustCount + shift),
    })),
  };
}

describe('mcnemarExact', () => {
  it('is the exact two-sided binomial test on the discordant pairs', () => {
    expect(mcnemarExact(10, 0)).toBe(2 / 1024);
    expect(mcnemarExact(0, 10)).toBe(2 / 1024);
    expect(mcnemarExact(3, 2)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
    // binom.test(10, 40) in R: p = 0.002221; 2·P(X ≤ 10), X ~ B(40, 1/2).
    expect(mcnemarExact(30, 10)).toBeCloseTo(0.00222143377, 10);
    // Large counts stay finite (log space): 2·P(X ≤ 5000), X ~ B(10100, 1/2).
    expect(mcnemarExact(5000, 5100)).toBeCloseTo(0.3245815, 6);
    expect(() => mcnemarExact(-1, 2)).toThrow(ConfigError);
    expect(() => mcnemarExact(1.5, 2)).toThrow('mcnemarExact: expected onlyA to be a non-negative integer, got 1.5');
  });
});

describe('compareReports', () => {
  it('same seed, same model: no regression, every change 0', () => {
    const c = compareReports(mnistReport(), mnistReport());
    expect(c.regressions).toEqual([]);
    expect(c.improvements).toEqual([]);
    expect([c.clean, ...c.points].map((v) => [v.label, v.delta, v.test, v.change])).toEqual([
      ['clean', 0, 'intervals', 'none'],
      ['L∞ ε=0.05', 0, 'intervals', 'none'],
      ['L∞ ε=0.1', 0, 'intervals', 'none'],
      ['L∞ ε=0.2', 0, 'intervals', 'none'],
    ]);
    const paired = compareReports(mnistReport(), mnistReport(), { outcomes: { a: outcomes(mnistReport()), b: outcomes(mnistReport()) } });
    expect(paired.points.map((v) => [v.test, v.pValue, v.change])).toEqual([
      ['paired', 1, 'none'],
      ['paired', 1, 'none'],
      ['paired', 1, 'none'],
    ]);
  });

  it('flags a planted regression when the intervals separate; a small drop only with the paired test', () => {
    const big = compareReports(mnistReport(), weakened(30));
    // 93% → 63% and 45% → 15% separate; 1% → 0% does not.
    expect(big.regressions.map((v) => v.label)).toEqual(['L∞ ε=0.05', 'L∞ ε=0.1']);
    expect(big.points[2]!.change).toBe('none');
    const small = weakened(8);
    expect(compareReports(mnistReport(), small).regressions).toEqual([]);
    // The same 8-point drop at 0.05 and 0.1 on the same points: 8 lost, 0 gained, p = 2/256 < 0.05.
    const paired = compareReports(mnistReport(), small, { outcomes: { a: outcomes(mnistReport()), b: outcomes(small) } });
    expect(paired.regressions.map((v) => [v.label, v.onlyA, v.onlyB])).toEqual([
      ['L∞ ε=0.05', 8, 0],
      ['L∞ ε=0.1', 8, 0],
    ]);
    for (const v of paired.regressions) expect(v.pValue).toBeCloseTo(2 / 256, 14);
    // Churn without a net change (4 lost, 4 gained) is not a regression.
    const churn = compareReports(mnistReport(), mnistReport(), { outcomes: { a: outcomes(mnistReport()), b: outcomes(mnistReport(), 4) } });
    expect(churn.points[0]!).toMatchObject({ onlyA: 4, onlyB: 4, pValue: 1, change: 'none' });
  });

  it('refuses reports of different data or threat models unless forced', () => {
    const otherData = mnistReport();
    otherData.provenance.data.sha256 = 'b'.repeat(64);
    expect(() => compareReports(mnistReport(), otherData)).toThrow(
      'compare: expected reports of the same data and threat model, got data SHA-256 aaaaaaaaaaaa ≠ bbbbbbbbbbbb (--force compares the radii both have)',
    );
    const otherRadii = mnistReport();
    otherRadii.curve = otherRadii.curve.slice(1);
    expect(() => compareReports(mnistReport(), otherRadii)).toThrow(/radii \{L∞ 0\.05, L∞ 0\.1, L∞ 0\.2\} ≠ \{L∞ 0\.1, L∞ 0\.2\}/);
    const targeted = mnistReport();
    targeted.provenance.targeted = true;
    expect(() => compareReports(mnistReport(), targeted)).toThrow(/targeted false ≠ true/);
    const forced = compareReports(mnistReport(), otherRadii, { force: true });
    expect(forced.forced).toBe(true);
    expect(forced.points.map((v) => v.label)).toEqual(['L∞ ε=0.1', 'L∞ ε=0.2']);
    expect(forced.notes[0]).toMatch(/^Forced: radii/);
    expect(() => compareReports(mnistReport(), mnistReport(), { alpha: 0 })).toThrow(ConfigError);
  });

  it('reads per-point outcomes a report carries (bitsets) and refuses malformed ones', () => {
    const r = mnistReport() as Report & { pointOutcomes?: unknown };
    const o = outcomes(r);
    r.pointOutcomes = encodePointOutcomes({ clean: o.clean!, robust: o.robust });
    expect(validateReport(JSON.parse(JSON.stringify(r)))).toBeTruthy();
    const back = reportOutcomes(r)!;
    expect(Array.from(back.robust[1]!.robust, Boolean)).toEqual(Array.from(o.robust[1]!.robust as ArrayLike<boolean>));
    expect(reportOutcomes(mnistReport())).toBeUndefined();
    r.pointOutcomes = { count: 100, clean: 'AAAA', robust: [] };
    expect(() => reportOutcomes(r)).toThrow('reportOutcomes: expected 13 bytes in pointOutcomes.clean, got 3');
  });
});

describe('comparison renderings', () => {
  const c = compareReports(mnistReport(), weakened(30));

  it('match the golden files; the HTML validates, has both curves on one SVG and no external URL', async () => {
    expectGolden('compare.txt', renderComparisonText(c));
    expectGolden('compare.md', renderComparisonMarkdown(c));
    const html = renderComparisonHtml(c);
    expectGolden('compare.html', html);
    const result = await new HtmlValidate({ extends: ['html-validate:recommended'] }).validateString(html);
    expect(result.results.flatMap((r) => r.messages.map((m) => `${m.line}: ${m.ruleId} ${m.message}`))).toEqual([]);
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html.match(/<g class="series"/g)).toHaveLength(2);
    expect(html.replace('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:|src="(?!data:)/);
  });

  it('text: one row per value with both intervals, change, evidence and verdict', () => {
    const ls = renderComparisonText(c).split('\n');
    expect(ls).toContain('  L∞ ε=0.1   45.0% [35.6%, 54.8%]    15.0% [9.3%, 23.3%]     -30.0 pp  intervals  REGRESSION');
    expect(ls.at(-2)).toBe('verdict: REGRESSION: L∞ ε=0.05, L∞ ε=0.1');
    expect(renderComparisonText(compareReports(mnistReport(), mnistReport())).split('\n').at(-2)).toBe('verdict: no significant change');
  });
});
