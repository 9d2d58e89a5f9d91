// Golden tests of every rendering on fixed reports (a real MNIST report from test/report/fixtures and the
// synthetic fixture of fixture.ts), the HTML through an HTML validator and a no-external-URL check, the JUnit
// parsed as XML with its counts checked, and the example images decoded back to their stored bytes.
import { describe, expect, it } from 'vitest';
import { HtmlValidate } from 'html-validate';
import { XMLParser } from 'fast-xml-parser';
import sharp from 'sharp';
import { renderHtml } from '../../src/report-html.js';
import { renderJunit } from '../../src/report-junit.js';
import { renderMarkdown, renderText } from '../../src/report-markdown.js';
import { amplifyPerturbation, renderExampleImages } from '../../src/report-images.js';
import { niceTicks, renderCurveSvg, reportCurveSeries } from '../../src/report-svg.js';
import { decodeBase64, WARNING_EXPLANATIONS } from '../../src/report-format.js';
import { validateReport, type Report } from '../../src/report.js';
import { ConfigError } from '../../src/errors.js';
import { WARNING_SEVERITY } from '../../metrics/checks.js';
import { expectGolden, mnistReport } from './golden.js';
import { fixtureReport } from './fixture.js';

const validator = new HtmlValidate({ extends: ['html-validate:recommended'] });

/** Every URL-bearing attribute value and every http(s) URL in the page, except the SVG namespace. */
function externalUrls(html: string): string[] {
  const attrs = [...html.matchAll(/\s(?:src|href|srcset|action|poster|data)="([^"]*)"/g)]
    .map((m) => m[1]!)
    .filter((v) => !v.startsWith('data:') && !v.startsWith('#'));
  const urls = [...html.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'<)]*/gi)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg');
  const css = [...html.matchAll(/url\(|@import/g)].map((m) => m[0]);
  return [...attrs, ...urls, ...css];
}

async function validate(html: string): Promise<string[]> {
  const result = await validator.validateString(html);
  return result.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`));
}

describe('HTML', () => {
  it('matches the golden file (without images), validates, and has no external URL', async () => {
    const html = renderHtml(mnistReport(), { minRobustAccuracy: 0.5 });
    expectGolden('mnist-report.html', html);
    expect(await validate(html)).toEqual([]);
    expect(externalUrls(html)).toEqual([]);
    expect(html).not.toMatch(/<script|<link|<iframe/i);
  });

  it('has the verdict, summary with intervals, an SVG curve per norm, per-class table, warnings explained, configurations and provenance', () => {
    const html = renderHtml(mnistReport(), { minRobustAccuracy: 0.5 });
    expect(html).toContain('<p class="verdict bad">Verdict: UNRELIABLE: not-converged');
    expect(html).toContain('<div class="value">100.0%</div><div class="detail">100/100, 95% CI [96.3%, 100.0%]</div>');
    expect(html).toContain(
      'Robust accuracy, L∞ ε = 0.2</div><div class="value">1.0%</div><div class="detail">1/100, 95% CI [0.2%, 5.4%] <span class="fail">below threshold</span>',
    );
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html).toContain('<title id="curve-0-title">Robust accuracy against L∞ ε</title>');
    for (const s of ['summary', 'curve', 'attacks', 'classes', 'warnings', 'examples', 'config', 'provenance']) expect(html).toContain(`<section id="${s}">`);
    expect(html).toContain(WARNING_EXPLANATIONS['not-converged']!.replace(/'/g, '&#39;'));
    expect(html).toContain('<code>{&quot;norm&quot;:&quot;linf&quot;,&quot;steps&quot;:10,');
    // 12 kept examples, listed without pictures when no images are passed.
    expect(html.match(/<figure class="example/g)).toHaveLength(12);
    expect(html).not.toContain('<img');
  });

  it('embeds PNG images (clean, adversarial, amplified perturbation) that decode back to the stored bytes', async () => {
    const report = mnistReport();
    const images = await renderExampleImages(report);
    expect(images).toHaveLength(12);
    const ex = report.examples!;
    for (const [k, img] of images.entries()) {
      const item = ex.items[k]!;
      expect(img.index).toBe(item.index);
      const { data, info } = await sharp(Buffer.from(img.clean.replace(/^data:image\/png;base64,/, ''), 'base64'))
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect([info.height, info.width, info.channels]).toEqual([28, 28, 1]);
      expect((await sharp(Buffer.from(img.clean.slice(22), 'base64')).metadata()).channels).toBe(1); // a greyscale PNG
      expect(new Uint8Array(data)).toEqual(decodeBase64(item.clean));
      expect(img.adversarial !== undefined).toBe(item.adversarial !== undefined);
    }
    const html = renderHtml(report, { images });
    expect(html.match(/<img /g)!.length).toBe(12 + 2 * ex.items.filter((e) => e.adversarial !== undefined).length);
    expect(await validate(html)).toEqual([]);
    expect(externalUrls(html)).toEqual([]);
  });

  it('stays under 2 MB with 100 MNIST examples', async () => {
    const report = mnistReport();
    const items = report.examples!.items;
    report.examples!.items = Array.from({ length: 100 }, (_, i) => ({ ...items[i % items.length]!, index: i }));
    const html = renderHtml(report, { images: await renderExampleImages(report) });
    expect(html.length).toBeLessThan(2 * 1024 * 1024);
    expect(html.length).toBeGreaterThan(100 * 3 * 200); // the images are really there
  });

  it('renders the synthetic fixture (a severe warning without severity, five classes, one empty) valid', async () => {
    const html = renderHtml(fixtureReport());
    expectGolden('fixture-report.html', html);
    expect(await validate(html)).toEqual([]);
    expect(html).toContain('<td>4 (four)</td><td class="n">0</td><td class="n">n/a</td>');
  });

  it('draws one curve per norm (L∞ and L2) with unique ids, and stays valid', async () => {
    const r = fixtureReport();
    r.curve.push({ norm: 'l2', epsilon: 1, robustAccuracy: 0.5, robustCount: 50, ci: { lower: 0.4, upper: 0.6, level: 0.95 } });
    r.attacks.push({ ...r.attacks[2]!, name: 'pgd', norm: 'l2', epsilon: 1, robustAccuracy: 0.5 });
    for (const c of r.perClass) c.robust.push({ norm: 'l2', epsilon: 1, robustAccuracy: 0.5 });
    const html = renderHtml(r);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('<title id="curve-1-title">Robust accuracy against L2 ε</title>');
    expect(html).toContain('Robust accuracy, L2 ε = 1</div><div class="value">50.0%</div>');
    expect(await validate(html)).toEqual([]);
  });

  it('escapes user strings', async () => {
    const r = fixtureReport();
    r.provenance.model.name = '<script>alert("x")</script>';
    r.warnings = [{ code: 'zero-gradients', message: 'a & b < c', severity: 'severe' }];
    const html = renderHtml(r);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('a &amp; b &lt; c');
    expect(await validate(html)).toEqual([]);
  });
});

describe('curve SVG', () => {
  it('has round ticks', () => {
    expect(niceTicks(0.2)).toEqual([0, 0.05, 0.1, 0.15, 0.2]);
    expect(niceTicks(0.3)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(8 / 255)).toEqual([0, 0.01, 0.02, 0.03, 0.04]);
    expect(niceTicks(3)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  it('draws one series per attack plus the worst case from clean accuracy at ε = 0, with bands', () => {
    const series = reportCurveSeries(mnistReport(), 'linf');
    expect(series.map((s) => s.label)).toEqual(['fgsm', 'pgd', 'worst case (L∞)']);
    expect(series[2]!.points.map((p) => [p.epsilon, p.accuracy])).toEqual([
      [0, 1],
      [0.05, 0.93],
      [0.1, 0.45],
      [0.2, 0.01],
    ]);
    const svg = renderCurveSvg(series, { id: 'x' });
    expect(svg.match(/<polygon class="band"/g)).toHaveLength(3);
    expect(svg.match(/<g class="series"/g)).toHaveLength(3);
    expect(svg).toContain('<text x="92" y="358">fgsm</text>');
    expect(reportCurveSeries(mnistReport(), 'l2')).toEqual([]);
    expectGolden('mnist-curve.svg', svg);
  });
});

describe('JUnit', () => {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) });
  interface Case {
    name: string;
    classname: string;
    failure?: { message: string; type: string; '#text': string };
  }
  interface Suite {
    name: string;
    tests: string;
    failures: string;
    testcase?: Case[];
  }
  const parse = (xml: string): { testsuites: { tests: string; failures: string; testsuite: Suite[] } } =>
    parser.parse(xml) as { testsuites: { tests: string; failures: string; testsuite: Suite[] } };

  it('matches the golden file; parses; one case per attack and ε, per curve point, per warning; failure count right', () => {
    const xml = renderJunit(mnistReport(), { minRobustAccuracy: 0.5 });
    expectGolden('mnist-report.junit.xml', xml);
    const doc = parse(xml).testsuites;
    const [attacks, curve, warnings] = doc.testsuite;
    expect(attacks!.testcase!.map((c) => c.name)).toEqual([
      'fgsm L∞ ε=0.05',
      'fgsm L∞ ε=0.1',
      'fgsm L∞ ε=0.2',
      'pgd L∞ ε=0.05',
      'pgd L∞ ε=0.1',
      'pgd L∞ ε=0.2',
    ]);
    // Below 50%: fgsm at 0.2 (29%), pgd at 0.1 (45%) and 0.2 (1%); the curve at 0.1 and 0.2; the severe not-converged.
    expect(attacks!.testcase!.filter((c) => c.failure).map((c) => c.name)).toEqual(['fgsm L∞ ε=0.2', 'pgd L∞ ε=0.1', 'pgd L∞ ε=0.2']);
    expect(curve!.testcase!.filter((c) => c.failure).map((c) => c.name)).toEqual(['worst case L∞ ε=0.1 >= 50.0%', 'worst case L∞ ε=0.2 >= 50.0%']);
    expect(warnings!.testcase!.map((c) => [c.name, c.failure?.type])).toEqual([['not-converged (severe)', 'not-converged']]);
    expect([doc.tests, doc.failures]).toEqual(['10', '6']);
    expect([attacks!.failures, curve!.failures, warnings!.failures]).toEqual(['3', '2', '1']);
    expect(curve!.testcase![2]!.failure!.message).toBe('worst case L∞ ε=0.2: robust accuracy 1.0% (1/100, 95% CI [0.2%, 5.4%]) below the threshold 50.0%');
  });

  it('without a threshold only severe warnings fail; allowWarnings passes them; info warnings pass', () => {
    const r = mnistReport();
    r.warnings.push({ code: 'softmax-head', message: 'removed', severity: 'info' });
    expect(parse(renderJunit(r)).testsuites.failures).toBe('1');
    expect(parse(renderJunit(r, { allowWarnings: true })).testsuites.failures).toBe('0');
    const w = parse(renderJunit(r)).testsuites.testsuite[2]!.testcase!;
    expect(w.map((c) => [c.name, c.failure !== undefined])).toEqual([
      ['not-converged (severe)', true],
      ['softmax-head (info)', false],
    ]);
    expect(() => renderJunit(r, { minRobustAccuracy: 2 })).toThrow(ConfigError);
  });

  it('escapes user strings and stays well-formed', () => {
    const r = fixtureReport();
    r.provenance.model.name = 'a"<b>&\u0001';
    r.warnings[0]!.message = ']]> <x> & "q"';
    const xml = renderJunit(r);
    expect(parse(xml).testsuites.testsuite[2]!.testcase![0]!.failure!['#text']).toContain(']]> <x> & "q"');
    expectGolden('fixture-report.junit.xml', renderJunit(fixtureReport(), { minRobustAccuracy: 0.6 }));
  });
});

describe('Markdown for a pull-request comment and text', () => {
  it('match the golden files', () => {
    expectGolden('mnist-report.md', renderMarkdown(mnistReport()));
    expectGolden('mnist-report.txt', renderText(mnistReport()));
    expectGolden('fixture-report.md', renderMarkdown(fixtureReport()));
  });

  it('headline visible, bulk folded in balanced <details> blocks with a blank line after each summary', () => {
    const ls = renderMarkdown(mnistReport()).split('\n');
    expect(ls.slice(0, 9)).toEqual([
      '# Robustness report: mnist-cnn',
      '',
      '**Verdict:** **UNRELIABLE: not-converged**',
      '',
      'Model `mnist-cnn` (tfjs) · 100 samples from `mnist-sample` · backend `cpu` · seed 0',
      '',
      '**Clean accuracy:** 100.0% (100/100, 95% CI [96.3%, 100.0%])',
      '',
      '**Robust accuracy:** 1.0% at L∞ ε = 0.2 [0.2%, 5.4%]',
    ]);
    const opens = ls.flatMap((l, i) => (l === '<details>' ? [i] : []));
    const closes = ls.flatMap((l, i) => (l === '</details>' ? [i] : []));
    expect(opens.length).toBe(closes.length);
    expect(opens.length).toBe(3); // attacks, weakest classes, provenance
    for (const i of opens) {
      expect(ls[i + 1]).toMatch(/^<summary>.+<\/summary>$/);
      expect(ls[i + 2]).toBe('');
    }
    // The curve as a small table, before any folded block.
    expect(ls.indexOf('| L∞ | 0.1 | 45.0% | [35.6%, 54.8%] |')).toBeLessThan(opens[0]!);
  });
});

describe('warning explanations', () => {
  it('explain every code robustest emits', () => {
    expect(Object.keys(WARNING_SEVERITY).filter((c) => WARNING_EXPLANATIONS[c] === undefined)).toEqual([]);
  });
});

describe('examples in the report', () => {
  it('validate against the schema; a malformed one is refused', () => {
    const r = mnistReport();
    expect(r.examples!.shape).toEqual([28, 28, 1]);
    const bad = JSON.parse(JSON.stringify(r)) as Report & { examples: { items: { clean: string }[] } };
    bad.examples.items[0]!.clean = 'not base64!';
    expect(() => validateReport(bad)).toThrow(/examples\/items\/0\/clean/);
  });

  it('amplify the perturbation to the full grey range around mid-grey', () => {
    expect(Array.from(amplifyPerturbation(new Uint8Array([10, 10, 10]), new Uint8Array([20, 5, 10])))).toEqual([255, 65, 128]); // 128 ± 127·|Δ|/max|Δ|, rounded
    expect(Array.from(amplifyPerturbation(new Uint8Array([1, 2]), new Uint8Array([1, 2])))).toEqual([128, 128]);
  });
});
