import { describe, expect, it } from 'vitest';
import { renderMarkdown, renderText } from '../../src/report-markdown.js';
import { fixtureReport } from './fixture.js';

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
    const i = ls.indexOf('| ε | Robust accuracy | 95% CI |');
    expect(i).toBeGreaterThan(0);
    expect(ls.slice(i + 2, i + 5)).toEqual([
      '| 0 | 98.0% | [93.0%, 99.5%] |',
      '| 0.03137 (8/255) | 62.0% | [52.2%, 70.9%] |',
      '| 0.3 | 5.0% | [2.1%, 11.2%] |',
    ]);
  });

  it('has the per-attack table', () => {
    expect(ls).toContain('| Attack | Norm | ε | Robust acc. | Success rate | Mean L2 | Mean L∞ | Seconds |');
    expect(ls).toContain('| fgsm | L∞ | 0.03137 (8/255) | 70.0% | 28.6% (28/98) | 0.8712 | 0.03137 | 0.42 |');
    expect(ls).toContain('| pgd | L∞ | 0.03137 (8/255) | 62.0% | 11.4% (8/70) | 0.6523 | 0.03137 | 12.35 |');
    expect(ls).toContain('| pgd | L∞ | 0.3 | 5.0% | 94.9% (93/98) | 4.1 | 0.3 | 15.00 |');
  });

  it('lists the three weakest classes at the largest epsilon, skipping empty classes', () => {
    const i = ls.indexOf('## Weakest classes at ε = 0.3');
    expect(i).toBeGreaterThan(0);
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
    expect(ls).toContain('- `probability-output`: net: outputs look like probabilities (every row in \\[0, 1\\] summing to 1)');
    const none = fixtureReport();
    none.warnings = [];
    const j = lines(renderMarkdown(none)).indexOf('## Warnings');
    expect(lines(renderMarkdown(none))[j + 2]).toBe('None.');
  });

  it('has a provenance section with shortened hashes and times', () => {
    expect(ls).toContain('## Provenance');
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
    expect(out.some((l) => l.startsWith('## Weakest classes'))).toBe(false);
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

describe('renderText', () => {
  const text = renderText(fixtureReport());
  const ls = lines(text);

  it('summarises the run and clean accuracy', () => {
    expect(ls[0]).toBe('robustest report: mnist-cnn (tfjs)');
    expect(ls[1]).toBe('100 samples · backend cpu · seed 42 · 28.25 s');
    expect(ls[2]).toBe('clean accuracy: 98.0%  95% CI [93.0%, 99.5%]');
  });

  it('prints aligned curve and attack tables in ASCII labels', () => {
    expect(ls).toContain('              eps  robust acc.  95% CI');
    expect(ls).toContain('  0.03137 (8/255)        62.0%  [52.2%, 70.9%]');
    expect(ls).toContain('  attack  norm              eps  robust acc.   success rate  mean L2  mean Linf  seconds');
    expect(ls).toContain('  pgd     Linf              0.3         5.0%  94.9% (93/98)      4.1        0.3    15.00');
    const header = ls.find((l) => l.startsWith('  attack'));
    const row = ls.find((l) => l.startsWith('  fgsm'));
    expect(row?.length).toBe(header?.length);
  });

  it('lists weakest classes, warnings and a short provenance line', () => {
    expect(ls).toContain('weakest classes at eps 0.3');
    expect(ls).toContain('  2             20       95.0%         0.0%');
    expect(ls).toContain('  - probability-output: net: outputs look like probabilities (every row in [0, 1] summing to 1)');
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
