import { describe, expect, it } from 'vitest';
import { renderMarkdown, renderText, reportVerdict } from '../../src/report-markdown.js';
import { fixtureReport } from './fixture.js';
import type { Report } from '../../src/report.js';

/** The fixture with an L2 curve point (listed between the L∞ ones), L2 per-class results, a minimum-norm and a query attack. */
function mixedReport(): Report {
  const r = fixtureReport();
  r.curve.splice(1, 0, { norm: 'l2', epsilon: 1, robustAccuracy: 0.5, robustCount: 50, ci: { lower: 0.4, upper: 0.6, level: 0.95 } });
  r.perClass[0]!.robust.push({ norm: 'l2', epsilon: 1, robustAccuracy: 0.2 });
  r.perClass[1]!.robust.push({ norm: 'l2', epsilon: 1, robustAccuracy: 0.6 });
  const base = r.attacks[2]!;
  r.attacks.push({
    ...base,
    name: 'deepfool',
    norm: 'l2',
    kind: 'minimum-norm',
    epsilon: 1,
    minimalNorms: { attacked: 98, fooled: 90, neverFooledRate: 8 / 98, q1: 0.61234, median: 0.9, q3: null },
  });
  r.attacks.push({
    ...base,
    name: 'random-search',
    kind: 'query',
    queries: { mean: 812.5, median: 1000, max: 1000 },
    queriesPerSuccess: { mean: 790.25, median: 1000, max: 1000 },
  });
  r.provenance.epsilonsByNorm = { linf: [0, 8 / 255, 0.3], l2: [1] };
  r.provenance.fastGradients = true;
  r.provenance.attacks.push({ name: 'deepfool', norm: 'l2', kind: 'minimum-norm', config: { steps: 50 } });
  return r;
}

function lines(text: string): string[] {
  return text.split('\n');
}

describe('renderMarkdown', () => {
  const md = renderMarkdown(fixtureReport());
  const ls = lines(md);

  it('starts with a title and a summary line', () => {
    expect(ls[0]).toBe('# Robustness report: mnist-cnn');
    expect(ls).toContain('Model `mnist-cnn` (tfjs) · 100 samples from `assets/mnist/t10k` · backend `cpu` · seed 42');
    expect(md.endsWith('\n')).toBe(true);
  });

  it('shows clean accuracy with its confidence interval', () => {
    expect(ls).toContain('**Clean accuracy:** 98.0% (98/100, 95% CI [93.0%, 99.5%])');
  });

  it('has the robustness-curve table', () => {
    const i = ls.indexOf('| Norm | ε | Robust accuracy | 95% CI |');
    expect(i).toBeGreaterThan(0);
    expect(ls.slice(i + 2, i + 5)).toEqual([
      '| L∞ | 0 | 98.0% | [93.0%, 99.5%] |',
      '| L∞ | 0.03137 (8/255) | 62.0% | [52.2%, 70.9%] |',
      '| L∞ | 0.3 | 5.0% | [2.1%, 11.2%] |',
    ]);
  });

  it('has the per-attack table', () => {
    expect(ls).toContain('| Attack | Norm | ε | Robust acc. | Success rate | Mean L2 | Mean L∞ | Seconds |');
    expect(ls).toContain('| fgsm | L∞ | 0.03137 (8/255) | 70.0% | 28.6% (28/98) | 0.8712 | 0.03137 | 0.42 |');
    expect(ls).toContain('| pgd | L∞ | 0.03137 (8/255) | 62.0% | 11.4% (8/70) | 0.6523 | 0.03137 | 12.35 |');
    expect(ls).toContain('| pgd | L∞ | 0.3 | 5.0% | 94.9% (93/98) | 4.1 | 0.3 | 15.00 |');
  });

  it('lists the three weakest classes at the largest epsilon, skipping empty classes', () => {
    const i = ls.indexOf('<summary>Weakest classes at L∞ ε = 0.3</summary>');
    expect(i).toBeGreaterThan(0);
    expect(ls[i - 1]).toBe('<details>');
    expect(ls.slice(i + 2, i + 7)).toEqual([
      '| Class | Count | Clean acc. | Robust acc. |',
      '| --- | ---: | ---: | ---: |',
      '| 2 | 20 | 95.0% | 0.0% |',
      '| 3 (three) | 10 | 100.0% | 0.0% |',
      '| 1 (one) | 30 | 96.7% | 3.3% |',
    ]);
    expect(md).not.toContain('4 (four)');
  });

  it('lists warnings', () => {
    expect(ls).toContain('- `probability-output` (**severe**): net: outputs look like probabilities (every row in \\[0, 1\\] summing to 1)');
    const none = fixtureReport();
    none.warnings = [];
    const j = lines(renderMarkdown(none)).indexOf('## Warnings');
    expect(lines(renderMarkdown(none))[j + 2]).toBe('None.');
  });

  it('has a provenance section, folded, with shortened hashes and times', () => {
    expect(ls).toContain('<summary>Provenance</summary>');
    expect(ls).toContain('- Library: robustest 0.1.0; tfjs 4.22.0; Node v20.19.0; linux-x64; backend `cpu`');
    expect(ls).toContain('- Command: `robustest eval --model model.json --data test.idx`');
    expect(ls).toContain('- Model: `mnist-cnn`, engine tfjs, source `assets/mnist/model.json`, sha256 `0123456789ab`');
    expect(ls).toContain('- Input: shape [28, 28, 1], layout NHWC, bounds [0, 1], 10 classes, preprocessing mean [0.1307] std [0.3081]');
    expect(ls).toContain('- Data: `assets/mnist/t10k`, sha256 `fedcba987654`, 100 samples');
    expect(ls).toContain('- Epsilons: 0, 0.03137 (8/255), 0.3; batch size 100; cascade on; seed 42');
    expect(ls).toContain('  - pgd (L∞): `{"steps":40,"stepSize":0.01,"restarts":1}`');
    expect(ls).toContain('- Started 2026-11-26T05:00:00.000Z, finished 2026-11-26T05:00:28.250Z (28.25 s)');
    expect(md).not.toContain('0123456789abcdef0123');
  });

  it('escapes user strings that would break tables', () => {
    const r = fixtureReport();
    (r.attacks[0] as { name: string }).name = 'my|attack';
    r.perClass[2]!.name = 'a|b';
    r.provenance.model.name = 'net*v2*';
    const out = renderMarkdown(r);
    expect(out).toContain('| my\\|attack | L∞ |');
    expect(out).toContain('| 2 (a\\|b) | 20 |');
    expect(lines(out)[0]).toBe('# Robustness report: net\\*v2\\*');
  });

  it('handles a report without epsilons, attacks or classes', () => {
    const r = fixtureReport();
    r.curve = [];
    r.attacks = [];
    r.perClass = [];
    r.cleanCi = { lower: 0.93, upper: 0.9945, level: 0.99 };
    const out = lines(renderMarkdown(r));
    expect(out).toContain('No epsilons were evaluated.');
    expect(out).toContain('No attacks were run.');
    expect(out.some((l) => l.includes('Weakest classes'))).toBe(false);
    expect(out).toContain('**Clean accuracy:** 98.0% (98/100, 99% CI [93.0%, 99.5%])');
  });

  it('shows a success rate over no attacked point as n/a, not 0.0% (0/0)', () => {
    const r = fixtureReport();
    Object.assign(r.attacks[1]!, { attacked: 0, succeeded: 0, successRate: 0 });
    const out = renderMarkdown(r);
    expect(out).toContain('| pgd | L∞ | 0.03137 (8/255) | 62.0% | n/a | 0.6523 | 0.03137 | 12.35 |');
    expect(out).not.toContain('(0/0)');
  });

  it('marks a targeted run as targeted (and an untargeted one not)', () => {
    const r = fixtureReport();
    r.provenance.targeted = true;
    const out = lines(renderMarkdown(r));
    expect(out).toContain('Model `mnist-cnn` (tfjs) · 100 samples from `assets/mnist/t10k` · backend `cpu` · seed 42 · **targeted** (random target classes)');
    expect(out).toContain('Targeted: an attack succeeds on a point when the model predicts its target class (drawn from the seed).');
    expect(out).toContain('- Epsilons: 0, 0.03137 (8/255), 0.3; batch size 100; cascade on; targeted; seed 42');
    expect(md).not.toMatch(/targeted/i);
  });
});

describe('the verdict', () => {
  it('is UNRELIABLE with a severe warning (or one without a severity), reliable with info warnings or none; Markdown starts with it, text ends with it', () => {
    const r = fixtureReport(); // its warning has no severity: counted as severe
    expect(reportVerdict(r)).toEqual({ reliable: false, severe: ['probability-output'], line: 'UNRELIABLE: probability-output' });
    expect(lines(renderMarkdown(r))[2]).toBe('**Verdict:** **UNRELIABLE: probability-output**');
    expect(
      lines(renderText(r))
        .filter((l) => l !== '')
        .at(-1),
    ).toBe('verdict: UNRELIABLE: probability-output');
    r.warnings = [{ code: 'log-probability-output', message: 'net: log-softmax', severity: 'info' }];
    expect(reportVerdict(r).line).toBe('reliable');
    expect(lines(renderMarkdown(r))).toContain('- `log-probability-output` (info): net: log-softmax');
    expect(lines(renderMarkdown(r))[2]).toBe('**Verdict:** reliable');
    r.warnings = [];
    expect(
      lines(renderText(r))
        .filter((l) => l !== '')
        .at(-1),
    ).toBe('verdict: reliable');
  });
});

describe('reports with several norms and attack kinds', () => {
  it('Markdown: one curve per norm (grouped), minimal perturbations, queries, weakest classes per norm, provenance', () => {
    const ls = lines(renderMarkdown(mixedReport()));
    const i = ls.indexOf('| Norm | ε | Robust accuracy | 95% CI |');
    expect(ls.slice(i + 2, i + 6)).toEqual([
      '| L∞ | 0 | 98.0% | [93.0%, 99.5%] |',
      '| L∞ | 0.03137 (8/255) | 62.0% | [52.2%, 70.9%] |',
      '| L∞ | 0.3 | 5.0% | [2.1%, 11.2%] |',
      '| L2 | 1 | 50.0% | [40.0%, 60.0%] |',
    ]);
    expect(ls).toContain('| Attack | Norm | ε | Attacked | Fooled | Never fooled | Q1 | Median | Q3 |');
    expect(ls).toContain('| deepfool | L2 | 1 | 98 | 90 | 8.2% | 0.6123 | 0.9 | ∞ |');
    expect(ls).toContain('| random-search | L∞ | 0.3 | 812.5 | 1000 | 1000 | 790.3 | 1000 |');
    const j = ls.indexOf('<summary>Weakest classes at L2 ε = 1</summary>');
    expect(ls.slice(j + 4, j + 6)).toEqual(['| 0 (zero) | 40 | 100.0% | 20.0% |', '| 1 (one) | 30 | 96.7% | 60.0% |']);
    expect(ls).toContain('<summary>Weakest classes at L∞ ε = 0.3</summary>');
    expect(ls).toContain('- Epsilons: L∞ 0, 0.03137 (8/255), 0.3; L2 1; batch size 100; cascade on; seed 42');
    expect(ls).toContain('  - deepfool (L2, minimum-norm): `{"steps":50}`');
    expect(ls).toContain('- Attacks:');
    const preset = mixedReport();
    preset.provenance.preset = 'fast';
    expect(lines(renderMarkdown(preset))).toContain('- Attacks (preset `fast`):');
    expect(ls.find((l) => l.startsWith('- Library:'))).toMatch(/; fast gradients on$/);
  });

  it('text: the norm on every curve point, minimal perturbations and queries', () => {
    const ls = lines(renderText(mixedReport()));
    const i = ls.indexOf('robustness curve per norm (worst case over the attacks of that norm)');
    expect(ls.slice(i + 1, i + 6).map((l) => l.trim().split(/\s{2,}/)[0])).toEqual(['norm', 'Linf', 'Linf', 'Linf', 'L2']);
    expect(ls).toContain('  deepfool  L2      1        98      90          8.2%  0.6123     0.9  inf');
    expect(ls).toContain('  random-search  Linf  0.3  812.5    1000  1000         790.3            1000');
    expect(ls).toContain('weakest classes at L2 eps 1');
  });

  it('queries per success over no point fooled are n/a', () => {
    const r = mixedReport();
    Object.assign(r.attacks[4]!, { succeeded: 0, successRate: 0 });
    expect(renderMarkdown(r)).toContain('| random-search | L∞ | 0.3 | 812.5 | 1000 | 1000 | n/a | n/a |');
  });

  it('a minimal-norm quartile over no attacked point is n/a', () => {
    const r = mixedReport();
    r.attacks[3]!.minimalNorms = { attacked: 0, fooled: 0, neverFooledRate: 0, q1: null, median: null, q3: null };
    expect(renderMarkdown(r)).toContain('| deepfool | L2 | 1 | 0 | 0 | n/a | n/a | n/a | n/a |');
  });
});

describe('renderText', () => {
  const text = renderText(fixtureReport());
  const ls = lines(text);

  it('summarises the run and clean accuracy', () => {
    expect(ls[0]).toBe('robustest report: mnist-cnn (tfjs)');
    expect(ls[1]).toBe('100 samples · backend cpu · seed 42 · 28.25 s');
    expect(ls[2]).toBe('clean accuracy: 98.0%  95% CI [93.0%, 99.5%]');
  });

  it('prints aligned curve and attack tables in ASCII labels', () => {
    expect(ls).toContain('  norm              eps  robust acc.  95% CI');
    expect(ls).toContain('  Linf  0.03137 (8/255)        62.0%  [52.2%, 70.9%]');
    expect(ls).toContain('  attack  norm              eps  robust acc.   success rate  mean L2  mean Linf  seconds');
    expect(ls).toContain('  pgd     Linf              0.3         5.0%  94.9% (93/98)      4.1        0.3    15.00');
    const header = ls.find((l) => l.startsWith('  attack'));
    const row = ls.find((l) => l.startsWith('  fgsm'));
    expect(row?.length).toBe(header?.length);
  });

  it('lists weakest classes, warnings and a short provenance line', () => {
    expect(ls).toContain('weakest classes at Linf eps 0.3');
    expect(ls).toContain('  2             20       95.0%         0.0%');
    expect(ls).toContain('  - probability-output (severe): net: outputs look like probabilities (every row in [0, 1] summing to 1)');
    expect(ls).toContain('robustest 0.1.0 · tfjs 4.22.0 · node v20.19.0 · model sha256 0123456789ab · data sha256 fedcba987654');
    expect(text).not.toContain('Provenance');
  });

  it('shows a success rate over no attacked point as n/a', () => {
    const r = fixtureReport();
    Object.assign(r.attacks[2]!, { attacked: 0, succeeded: 0, successRate: 0 });
    const row = lines(renderText(r)).find((l) => l.startsWith('  pgd') && l.includes('0.3 '));
    expect(row).toMatch(/^ {2}pgd +Linf +0\.3 +5\.0% +n\/a +4\.1 +0\.3 +15\.00$/);
  });

  it('marks a targeted run as targeted', () => {
    const r = fixtureReport();
    r.provenance.targeted = true;
    const out = lines(renderText(r));
    expect(out[1]).toBe('100 samples · backend cpu · seed 42 · targeted · 28.25 s');
    expect(out).toContain('attacks (targeted: success = the target class is predicted)');
    expect(text).not.toMatch(/targeted/i);
  });

  it('says when there are no warnings', () => {
    const r = fixtureReport();
    r.warnings = [];
    expect(lines(renderText(r))).toContain('warnings: none');
  });
});
