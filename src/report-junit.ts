/**
 * The JUnit XML rendering of a report, for CI dashboards (GitHub Actions test reporters, GitLab, Jenkins): one test
 * case per attack and epsilon, one per curve point and threshold, one per pitfall warning. A pure function of the
 * JSON (no Node imports).
 *
 * @example
 * ```ts
 * import { renderJunit, writeFileAtomic } from 'robustest';
 * await writeFileAtomic('robustness.xml', renderJunit(report, { minRobustAccuracy: 0.5 }));
 * ```
 * @module
 */
import type { Interval, Report } from './report.js';
import { ConfigError } from './errors.js';
import { eps, escapeXml, interval, levelLabel, normLabel, pct, WARNING_EXPLANATIONS } from './report-format.js';

/** Options of {@link renderJunit}. */
export interface JunitOptions {
  /**
   * Minimum worst-case robust accuracy (a fraction): each curve point below it is a failed test case, and so is each
   * attack entry below it. Default: none (every accuracy case passes and only records its value).
   */
  readonly minRobustAccuracy?: number;
  /** Report severe warnings as passing cases (with their message as output) instead of failures. Default `false`. */
  readonly allowWarnings?: boolean;
}

interface Case {
  classname: string;
  name: string;
  time: number;
  failure?: { type: string; message: string; body: string };
  out: string;
}

function measured(what: string, value: number, count: number, total: number, ci: Interval): string {
  return `${what} ${pct(value)} (${count}/${total}, ${levelLabel(ci.level)} ${interval(ci)})`;
}

function suite(name: string, cases: readonly Case[]): string {
  const failures = cases.filter((c) => c.failure !== undefined).length;
  const time = cases.reduce((a, c) => a + c.time, 0);
  const lines = [`  <testsuite name="${escapeXml(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${time.toFixed(3)}">`];
  for (const c of cases) {
    lines.push(`    <testcase classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}" time="${c.time.toFixed(3)}">`);
    if (c.failure !== undefined) {
      lines.push(`      <failure type="${escapeXml(c.failure.type)}" message="${escapeXml(c.failure.message)}">${escapeXml(c.failure.body)}</failure>`);
    }
    lines.push(`      <system-out>${escapeXml(c.out)}</system-out>`, '    </testcase>');
  }
  lines.push('  </testsuite>');
  return lines.join('\n');
}

/**
 * Renders a report as JUnit XML (`<testsuites>` with three `<testsuite>`s):
 * - `robustest.attacks`: one case per attack and epsilon (`pgd L∞ ε=0.3`), its time the attack's seconds, its output
 *   the robust accuracy with interval and the success rate; it fails when `minRobustAccuracy` is given and the
 *   attack's robust accuracy is below it.
 * - `robustest.curve`: one case per curve point (worst case over the attacks of a norm) and threshold
 *   (`worst case L∞ ε=0.3 >= 50.0%`), failing below it; without a threshold, one passing case per point carrying
 *   the value.
 * - `robustest.warnings`: one case per pitfall warning; a severe one fails (type: its code; body: its message and
 *   what the code means) unless `allowWarnings`, an info one passes.
 *
 * Every failure message carries the measured value, its interval and the threshold. The document is UTF-8 XML 1.0;
 * user-supplied strings are escaped.
 *
 * @param report - a report; not modified.
 * @param options - threshold and warning policy (see {@link JunitOptions}).
 * @returns the XML document, ending with a newline.
 * @throws {@link ConfigError} when `minRobustAccuracy` is not a number in `[0, 1]`.
 * @example
 * ```ts
 * import { renderJunit } from 'robustest';
 * const xml = renderJunit(report, { minRobustAccuracy: 0.5 });
 * ```
 */
export function renderJunit(report: Report, options: JunitOptions = {}): string {
  const min = options.minRobustAccuracy;
  if (min !== undefined && !(typeof min === 'number' && min >= 0 && min <= 1)) {
    throw new ConfigError(`renderJunit: expected minRobustAccuracy to be a number in [0, 1], got ${String(min)}`);
  }
  const n = report.count;
  const threshold = min === undefined ? '' : `, threshold ${pct(min)}`;

  const attacks: Case[] = report.attacks.map((a) => {
    const label = `${a.name} ${normLabel(a.norm, true)} ε=${eps(a.epsilon)}`;
    const value = measured('robust accuracy', a.robustAccuracy, Math.round(a.robustAccuracy * n), n, a.ci);
    const success = a.attacked === 0 ? 'success rate n/a (nothing attacked)' : `success rate ${pct(a.successRate)} (${a.succeeded}/${a.attacked})`;
    const c: Case = { classname: `robustest.attacks.${a.name}`, name: label, time: a.seconds, out: `${value}; ${success}${threshold}` };
    if (min !== undefined && a.robustAccuracy < min) {
      const message = `${label}: ${value} below the threshold ${pct(min)}`;
      c.failure = { type: 'below-threshold', message, body: `${message}; ${success}` };
    }
    return c;
  });

  const curve: Case[] = report.curve.map((p) => {
    const label = `worst case ${normLabel(p.norm, true)} ε=${eps(p.epsilon)}${min === undefined ? '' : ` >= ${pct(min)}`}`;
    const value = measured('robust accuracy', p.robustAccuracy, p.robustCount, n, p.ci);
    const c: Case = { classname: 'robustest.curve', name: label, time: 0, out: `${value}${threshold}` };
    if (min !== undefined && p.robustAccuracy < min) {
      const message = `worst case ${normLabel(p.norm, true)} ε=${eps(p.epsilon)}: ${value} below the threshold ${pct(min)}`;
      c.failure = { type: 'below-threshold', message, body: message };
    }
    return c;
  });

  const warnings: Case[] = report.warnings.map((w, i) => {
    const severe = w.severity !== 'info';
    const explanation = WARNING_EXPLANATIONS[w.code];
    const body = `${w.message}${explanation !== undefined ? `\n${explanation}` : ''}`;
    const c: Case = {
      classname: 'robustest.warnings',
      name: `${w.code}${report.warnings.filter((x) => x.code === w.code).length > 1 ? ` #${i + 1}` : ''} (${severe ? 'severe' : 'info'})`,
      time: 0,
      out: severe && options.allowWarnings ? `allowed: ${body}` : body,
    };
    if (severe && !options.allowWarnings) {
      c.failure = { type: w.code, message: `${w.code}: the robust accuracy is likely an overestimate (${w.message})`, body };
    }
    return c;
  });

  const all = [...attacks, ...curve, ...warnings];
  const failures = all.filter((c) => c.failure !== undefined).length;
  const time = report.provenance.seconds;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(`robustest: ${report.provenance.model.name}`)}" tests="${all.length}" failures="${failures}" errors="0" time="${time.toFixed(3)}">`,
    suite('robustest.attacks', attacks),
    suite('robustest.curve', curve),
    suite('robustest.warnings', warnings),
    '</testsuites>',
    '',
  ].join('\n');
}
