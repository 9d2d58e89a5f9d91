/**
 * Comparing two reports of the same data and threat model (a baseline A and a candidate B): clean and robust
 * accuracy per norm and epsilon side by side, per-class changes, and a regression flagged only when the statistics
 * say it is real: an exact McNemar test on the same points when per-point outcomes of both runs are given, else
 * non-overlapping confidence intervals. Pure functions of the JSON (no Node imports); renderings as text, Markdown
 * and a self-contained HTML page with both curves on one SVG.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { compareReports, renderComparisonText, validateReport } from 'robustest';
 * const read = async (f: string) => validateReport(JSON.parse(await readFile(f, 'utf8')));
 * const c = compareReports(await read('baseline.json'), await read('candidate.json'));
 * console.log(renderComparisonText(c));
 * if (c.regressions.length > 0) process.exitCode = 1;
 * ```
 * @module
 */
import type { EncodedPointOutcomes, Interval, Report } from './report.js';
import { ConfigError } from './errors.js';
import { mcnemarExact } from './stats.js';
import { className, decodeBase64, encodeBase64, eps, escapeXml, interval, normLabel, normOf, pct, reportNorms, shortHash } from './report-format.js';
import { HTML_STYLE } from './report-html.js';
import { renderCurveSvg, type CurveSeries } from './report-svg.js';

/** Per-point robustness of one run at one norm and radius, for the paired test. */
export interface RobustPoints {
  /** The norm of the radius. */
  readonly norm: 'linf' | 'l2';
  /** The radius. */
  readonly epsilon: number;
  /** One entry per evaluated point, in data order: truthy when the point was classified correctly and survived every attack of the norm. */
  readonly robust: ArrayLike<boolean | number>;
}

/** Per-point outcomes of one run (see {@link CompareOptions.outcomes}). */
export interface PointOutcomes {
  /** One entry per point: truthy when the clean prediction was correct. */
  readonly clean?: ArrayLike<boolean | number>;
  /** Per norm and radius, the points that stayed robust. */
  readonly robust: readonly RobustPoints[];
}

export type { EncodedPointOutcomes } from './report.js';

function packBits(v: ArrayLike<boolean | number>): string {
  const bytes = new Uint8Array(Math.ceil(v.length / 8));
  for (let i = 0; i < v.length; i++) if (v[i]) bytes[i >> 3]! |= 1 << (i & 7);
  return encodeBase64(bytes);
}

function unpackBits(b64: string, count: number, where: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(b64);
  } catch {
    throw new ConfigError(`reportOutcomes: expected base64 in ${where}, got ${JSON.stringify(b64.slice(0, 16))}`);
  }
  if (bytes.length !== Math.ceil(count / 8)) throw new ConfigError(`reportOutcomes: expected ${Math.ceil(count / 8)} bytes in ${where}, got ${bytes.length}`);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[i >> 3]! >> (i & 7)) & 1;
  return out;
}

/**
 * Encodes per-point outcomes compactly (bitsets in base64) for a report's optional `pointOutcomes` field.
 *
 * @param outcomes - clean correctness (required here) and robustness per norm and radius, one entry per point.
 * @returns the encoded form, about `count / 6` characters per vector.
 * @throws {@link ConfigError} when the vectors have different lengths.
 * @example
 * ```ts
 * import { encodePointOutcomes } from 'robustest';
 * const enc = encodePointOutcomes({ clean: [1, 1, 0], robust: [{ norm: 'linf', epsilon: 0.1, robust: [1, 0, 0] }] });
 * ```
 */
export function encodePointOutcomes(outcomes: PointOutcomes & { readonly clean: ArrayLike<boolean | number> }): EncodedPointOutcomes {
  const count = outcomes.clean.length;
  const bad = outcomes.robust.find((r) => r.robust.length !== count);
  if (bad !== undefined) throw new ConfigError(`encodePointOutcomes: expected ${count} outcomes at ${bad.norm} ε=${bad.epsilon}, got ${bad.robust.length}`);
  return { count, clean: packBits(outcomes.clean), robust: outcomes.robust.map((r) => ({ norm: r.norm, epsilon: r.epsilon, bits: packBits(r.robust) })) };
}

/**
 * The per-point outcomes a report carries in its optional `pointOutcomes` field ({@link EncodedPointOutcomes}), for
 * the paired test of {@link compareReports}; `undefined` when it has none.
 *
 * @param report - a report (extra fields allowed).
 * @returns the decoded outcomes, or `undefined`.
 * @throws {@link ConfigError} when the field is present but malformed.
 * @example
 * ```ts
 * import { compareReports, reportOutcomes } from 'robustest';
 * const other = report; // a second report of the same data
 * const [oa, ob] = [reportOutcomes(report), reportOutcomes(other)];
 * const c = compareReports(report, other, oa && ob ? { outcomes: { a: oa, b: ob } } : {});
 * ```
 */
export function reportOutcomes(report: Report): PointOutcomes | undefined {
  const raw: unknown = report.pointOutcomes;
  if (raw === undefined) return undefined;
  const e = raw as Partial<EncodedPointOutcomes>;
  if (typeof e !== 'object' || e === null || !Number.isInteger(e.count) || typeof e.clean !== 'string' || !Array.isArray(e.robust)) {
    throw new ConfigError('reportOutcomes: expected pointOutcomes to be { count, clean, robust: [{ norm, epsilon, bits }] }, got another shape');
  }
  const count = e.count!;
  if (count !== report.count) throw new ConfigError(`reportOutcomes: expected pointOutcomes of ${report.count} points, got ${count}`);
  return {
    clean: unpackBits(e.clean, count, 'pointOutcomes.clean'),
    robust: e.robust.map((r, i) => {
      if (typeof r !== 'object' || r === null || (r.norm !== 'linf' && r.norm !== 'l2') || typeof r.epsilon !== 'number' || typeof r.bits !== 'string') {
        throw new ConfigError(`reportOutcomes: expected pointOutcomes.robust[${i}] to be { norm, epsilon, bits }, got another shape`);
      }
      return { norm: r.norm, epsilon: r.epsilon, robust: unpackBits(r.bits, count, `pointOutcomes.robust[${i}]`) };
    }),
  };
}

/** Options of {@link compareReports}. */
export interface CompareOptions {
  /** Compare even when the reports' data (SHA-256, count) or threat models (norms, radii, targeted) differ; only the shared radii are compared. Default `false`. */
  readonly force?: boolean;
  /** Significance level of the paired test: a change is real when its p-value is below it. Default `0.05`. */
  readonly alpha?: number;
  /** Per-point outcomes of both runs on the same points; when given for a value, the paired test decides instead of the intervals. Default: none. */
  readonly outcomes?: {
    /** The baseline's. */
    readonly a: PointOutcomes;
    /** The candidate's. */
    readonly b: PointOutcomes;
  };
}

/** One accuracy of one run. */
export interface ComparedSide {
  /** The accuracy, a fraction. */
  readonly accuracy: number;
  /** Points counted (correct, or robust). */
  readonly count: number;
  /** Its confidence interval. */
  readonly ci: Interval;
}

/** One accuracy compared between the runs. */
export interface ComparedValue {
  /** `clean`, or `L∞ ε=0.1`. */
  readonly label: string;
  /** The norm (absent for clean accuracy). */
  readonly norm?: 'linf' | 'l2';
  /** The radius (absent for clean accuracy). */
  readonly epsilon?: number;
  /** The baseline. */
  readonly a: ComparedSide;
  /** The candidate. */
  readonly b: ComparedSide;
  /** `b.accuracy − a.accuracy`. */
  readonly delta: number;
  /** How the change was judged: `paired` (McNemar on per-point outcomes) or `intervals` (non-overlapping intervals). */
  readonly test: 'paired' | 'intervals';
  /** Paired test: its two-sided p-value. */
  readonly pValue?: number;
  /** Paired test: points positive in A only (lost in B). */
  readonly onlyA?: number;
  /** Paired test: points positive in B only (gained). */
  readonly onlyB?: number;
  /** `regression` when B is lower and the test says it is real, `improvement` when higher and real, else `none`. */
  readonly change: 'regression' | 'improvement' | 'none';
}

/** One class compared between the runs. */
export interface ClassChange {
  /** Class index. */
  readonly label: number;
  /** Its name, when a report has one. */
  readonly name?: string;
  /** Samples of the class (in A). */
  readonly count: number;
  /** Clean accuracy in A and B. */
  readonly clean: {
    /** In A. */
    readonly a: number;
    /** In B. */
    readonly b: number;
  };
  /** Robust accuracy in A and B at each shared norm and radius. */
  readonly robust: readonly {
    /** The norm. */
    readonly norm: string;
    /** The radius. */
    readonly epsilon: number;
    /** Robust accuracy in A. */
    readonly a: number;
    /** Robust accuracy in B. */
    readonly b: number;
  }[];
}

/** The result of {@link compareReports}. */
export interface Comparison {
  /** The baseline report. */
  readonly a: Report;
  /** The candidate report. */
  readonly b: Report;
  /** Whether the check on data and threat model was overridden (`force`) and found differences. */
  readonly forced: boolean;
  /** Remarks (what was not comparable, which test was used). */
  readonly notes: readonly string[];
  /** Clean accuracy. */
  readonly clean: ComparedValue;
  /** Worst-case robust accuracy at each norm and radius both reports have, in A's order. */
  readonly points: readonly ComparedValue[];
  /** Per-class changes (classes present in both). */
  readonly perClass: readonly ClassChange[];
  /** The values flagged as regressions (clean included). */
  readonly regressions: readonly ComparedValue[];
  /** The values flagged as improvements. */
  readonly improvements: readonly ComparedValue[];
  /** The significance level used. */
  readonly alpha: number;
}

function key(norm: string, epsilon: number): string {
  return `${norm}/${epsilon}`;
}

function threatModel(r: Report): string[] {
  return r.curve.map((p) => key(normOf(p), p.epsilon));
}

function truthyCount(v: ArrayLike<boolean | number>): number {
  let k = 0;
  for (let i = 0; i < v.length; i++) if (v[i]) k++;
  return k;
}

function judge(
  label: string,
  where: { norm?: 'linf' | 'l2'; epsilon?: number },
  a: ComparedSide,
  b: ComparedSide,
  pa: ArrayLike<boolean | number> | undefined,
  pb: ArrayLike<boolean | number> | undefined,
  alpha: number,
  notes: string[],
): ComparedValue {
  const base = { label, ...where, a, b, delta: b.accuracy - a.accuracy };
  if (pa !== undefined && pb !== undefined) {
    if (pa.length !== pb.length)
      throw new ConfigError(`compareReports: expected per-point outcomes of equal length for ${label}, got ${pa.length} and ${pb.length}`);
    let onlyA = 0;
    let onlyB = 0;
    for (let i = 0; i < pa.length; i++) {
      if (pa[i] && !pb[i]) onlyA++;
      else if (!pa[i] && pb[i]) onlyB++;
    }
    if (truthyCount(pa) !== a.count || truthyCount(pb) !== b.count)
      notes.push(`${label}: the per-point outcomes do not add up to the reports' counts; the paired test used the outcomes`);
    const pValue = mcnemarExact(onlyA, onlyB);
    const change = pValue < alpha ? (onlyA > onlyB ? 'regression' : 'improvement') : 'none';
    return { ...base, test: 'paired', pValue, onlyA, onlyB, change };
  }
  const change = b.ci.upper < a.ci.lower ? 'regression' : b.ci.lower > a.ci.upper ? 'improvement' : 'none';
  return { ...base, test: 'intervals', change };
}

/**
 * Compares a baseline report `a` with a candidate `b` of the same data and threat model.
 *
 * Refuses (unless `force`) reports whose data differ (both SHA-256 known and different, or different counts) or
 * whose threat models differ (the set of norms and radii of the curve, or targeted against untargeted). Then, for
 * clean accuracy and for each norm and radius both curves have: the two values with their intervals, the change,
 * and whether it is real. With per-point outcomes of both runs ({@link CompareOptions.outcomes}) the exact McNemar
 * test on the same points decides (p below `alpha`); without them, only non-overlapping confidence intervals count
 * (conservative: a real but small change may go unflagged).
 *
 * @param a - the baseline report.
 * @param b - the candidate report.
 * @param options - `force`, `alpha` (default 0.05) and per-point outcomes.
 * @returns the comparison; `regressions` lists what got significantly worse.
 * @throws {@link ConfigError} when data or threat models differ without `force`, `alpha` is not in (0, 1), or
 *   per-point outcomes have the wrong length.
 * @example
 * ```ts
 * import { compareReports } from 'robustest';
 * const c = compareReports(report, report, { alpha: 0.01 }); // a report against itself: no change
 * for (const r of c.regressions) console.log(`${r.label}: ${r.a.accuracy} → ${r.b.accuracy}`);
 * ```
 */
export function compareReports(a: Report, b: Report, options: CompareOptions = {}): Comparison {
  const alpha = options.alpha ?? 0.05;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw new ConfigError(`compareReports: expected alpha in (0, 1), got ${String(alpha)}`);
  const notes: string[] = [];
  const problems: string[] = [];
  const [ha, hb] = [a.provenance.data.sha256, b.provenance.data.sha256];
  const known = (h: string): boolean => /^[0-9a-f]{64}$/.test(h);
  if (known(ha) && known(hb) && ha !== hb) problems.push(`data SHA-256 ${shortHash(ha)} ≠ ${shortHash(hb)}`);
  else if (!known(ha) || !known(hb)) notes.push('The data hash of a report is unknown: that both ran on the same data could not be checked.');
  if (a.count !== b.count) problems.push(`${a.count} samples ≠ ${b.count}`);
  const ta = threatModel(a);
  const tb = threatModel(b);
  const shared = ta.filter((k) => tb.includes(k));
  if (shared.length !== ta.length || shared.length !== tb.length) {
    const fmt = (r: Report): string => r.curve.map((p) => `${normLabel(p.norm, true)} ${eps(p.epsilon)}`).join(', ') || 'none';
    problems.push(`radii {${fmt(a)}} ≠ {${fmt(b)}}`);
  }
  if (Boolean(a.provenance.targeted) !== Boolean(b.provenance.targeted))
    problems.push(`targeted ${Boolean(a.provenance.targeted)} ≠ ${Boolean(b.provenance.targeted)}`);
  if (problems.length > 0 && !options.force) {
    throw new ConfigError(`compare: expected reports of the same data and threat model, got ${problems.join('; ')} (--force compares the radii both have)`);
  }
  if (problems.length > 0) notes.push(`Forced: ${problems.join('; ')}. Only the radii both reports have are compared.`);

  // The paired test needs the same points: outcomes of different data (a forced comparison) are set aside.
  const samePoints = a.count === b.count && a.provenance.data.sha256 === b.provenance.data.sha256;
  if (!samePoints && options.outcomes !== undefined) notes.push('The reports are of different data, so the per-point outcomes were set aside.');
  const oa = samePoints ? options.outcomes?.a : undefined;
  const ob = samePoints ? options.outcomes?.b : undefined;
  const side = (accuracy: number, count: number, ci: Interval): ComparedSide => ({ accuracy, count, ci });
  const clean = judge(
    'clean',
    {},
    side(a.cleanAccuracy, Math.round(a.cleanAccuracy * a.count), a.cleanCi),
    side(b.cleanAccuracy, Math.round(b.cleanAccuracy * b.count), b.cleanCi),
    oa?.clean,
    ob?.clean,
    alpha,
    notes,
  );
  const points = a.curve.flatMap((pa) => {
    const norm = normOf(pa) as 'linf' | 'l2';
    const pb = b.curve.find((q) => normOf(q) === norm && q.epsilon === pa.epsilon);
    if (pb === undefined) return [];
    const find = (o: PointOutcomes | undefined) => o?.robust.find((r) => r.norm === norm && r.epsilon === pa.epsilon)?.robust;
    return [
      judge(
        `${normLabel(norm, true)} ε=${eps(pa.epsilon)}`,
        { norm, epsilon: pa.epsilon },
        side(pa.robustAccuracy, pa.robustCount, pa.ci),
        side(pb.robustAccuracy, pb.robustCount, pb.ci),
        find(oa),
        find(ob),
        alpha,
        notes,
      ),
    ];
  });
  const all = [clean, ...points];
  if (all.some((v) => v.test === 'paired')) notes.push(`Paired values: exact McNemar test on the same points, significant below p = ${alpha}.`);
  if (all.some((v) => v.test === 'intervals')) {
    notes.push('Without per-point outcomes a change counts only when the confidence intervals do not overlap (conservative).');
  }
  const perClass: ClassChange[] = a.perClass.flatMap((ca) => {
    const cb = b.perClass.find((c) => c.label === ca.label);
    if (cb === undefined) return [];
    const robust = ca.robust.flatMap((ra) => {
      const rb = cb.robust.find((r) => normOf(r) === normOf(ra) && r.epsilon === ra.epsilon);
      return rb === undefined ? [] : [{ norm: normOf(ra), epsilon: ra.epsilon, a: ra.robustAccuracy, b: rb.robustAccuracy }];
    });
    const name = ca.name ?? cb.name;
    return [{ label: ca.label, ...(name !== undefined ? { name } : {}), count: ca.count, clean: { a: ca.cleanAccuracy, b: cb.cleanAccuracy }, robust }];
  });
  return {
    a,
    b,
    forced: problems.length > 0,
    notes,
    clean,
    points,
    perClass,
    regressions: all.filter((v) => v.change === 'regression'),
    improvements: all.filter((v) => v.change === 'improvement'),
    alpha,
  };
}

function signed(delta: number): string {
  const s = (delta * 100).toFixed(1);
  return `${delta > 0 ? '+' : delta < 0 || s === '-0.0' ? '' : '±'}${s === '-0.0' ? '0.0' : s} pp`;
}

function evidence(v: ComparedValue): string {
  if (v.test === 'paired') return `p = ${v.pValue! < 1e-4 ? v.pValue!.toExponential(1) : v.pValue!.toFixed(4)} (${v.onlyA} lost, ${v.onlyB} gained)`;
  return 'intervals';
}

function changeWord(v: ComparedValue): string {
  return v.change === 'regression' ? 'REGRESSION' : v.change === 'improvement' ? 'improvement' : '-';
}

function runName(r: Report): string {
  return `${r.provenance.model.name} (${shortHash(r.provenance.model.sha256)})`;
}

/** The largest radius of each norm both reports have: the per-class columns. */
function classColumns(c: Comparison): { norm: string; epsilon: number }[] {
  return reportNorms(c.a).flatMap((norm) => {
    const shared = c.points.filter((p) => p.norm === norm);
    if (shared.length === 0) return [];
    return [{ norm, epsilon: Math.max(...shared.map((p) => p.epsilon!)) }];
  });
}

function classRows(c: Comparison): string[][] {
  const cols = classColumns(c);
  return c.perClass
    .filter((k) => k.count > 0)
    .map((k) => [
      className(k),
      String(k.count),
      `${pct(k.clean.a)} → ${pct(k.clean.b)}`,
      ...cols.map((col) => {
        const r = k.robust.find((x) => x.norm === col.norm && x.epsilon === col.epsilon);
        return r === undefined ? 'n/a' : `${pct(r.a)} → ${pct(r.b)} (${signed(r.b - r.a)})`;
      }),
    ]);
}

function verdictLine(c: Comparison): string {
  if (c.regressions.length > 0) return `REGRESSION: ${c.regressions.map((r) => r.label).join(', ')}`;
  if (c.improvements.length > 0) return `no regression; improved: ${c.improvements.map((r) => r.label).join(', ')}`;
  return 'no significant change';
}

function valueRows(c: Comparison): string[][] {
  return [c.clean, ...c.points].map((v) => [
    v.label,
    `${pct(v.a.accuracy)} ${interval(v.a.ci)}`,
    `${pct(v.b.accuracy)} ${interval(v.b.ci)}`,
    signed(v.delta),
    evidence(v),
    changeWord(v),
  ]);
}

const VALUE_HEAD = ['', 'A', 'B', 'change', 'test', 'verdict'];

/**
 * Renders a comparison as plain text for a terminal: the two runs, one row per value (clean, then each norm and
 * radius) with both accuracies and intervals, the change in percentage points, the evidence and the verdict; the
 * per-class changes at each norm's largest radius; the notes; and a last line `verdict: ...`.
 *
 * @param c - from {@link compareReports}.
 * @returns the text, ending with a newline.
 * @example
 * ```ts
 * import { compareReports, renderComparisonText } from 'robustest';
 * process.stdout.write(renderComparisonText(compareReports(report, report)));
 * ```
 */
export function renderComparisonText(c: Comparison): string {
  const pad = (rows: string[][]): string[] => {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    return rows.map(
      (r) =>
        '  ' +
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
    );
  };
  const out = [`robustest compare`, `  A: ${runName(c.a)}, ${c.a.count} samples`, `  B: ${runName(c.b)}, ${c.b.count} samples`, ''];
  out.push(...pad([VALUE_HEAD, ...valueRows(c)]), '');
  const cols = classColumns(c);
  const rows = classRows(c);
  if (rows.length > 0) {
    out.push('per class (A → B)');
    out.push(...pad([['class', 'count', 'clean', ...cols.map((k) => `${normLabel(k.norm, false)} eps ${eps(k.epsilon)}`)], ...rows]), '');
  }
  for (const n of c.notes) out.push(`note: ${n}`);
  out.push(`verdict: ${verdictLine(c)}`, '');
  return out.join('\n');
}

function mdCell(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (ch) => `\\${ch}`).replace(/\r?\n/g, ' ');
}

/**
 * Renders a comparison as GitHub-flavoured Markdown for a pull-request comment: the verdict, the table of values
 * (clean and each norm and radius: A, B, change, evidence, verdict), and the per-class changes folded in a
 * `<details>` block, then the notes.
 *
 * @param c - from {@link compareReports}.
 * @returns the Markdown, ending with a newline.
 * @example
 * ```ts
 * import { compareReports, renderComparisonMarkdown } from 'robustest';
 * const md = renderComparisonMarkdown(compareReports(report, report));
 * ```
 */
export function renderComparisonMarkdown(c: Comparison): string {
  const table = (head: string[], rows: string[][]): string[] => [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ];
  const out = [`# Robustness comparison`, '', `**Verdict:** ${c.regressions.length > 0 ? `**${mdCell(verdictLine(c))}**` : mdCell(verdictLine(c))}`, ''];
  out.push(`- A (baseline): ${mdCell(runName(c.a))}, ${c.a.count} samples`, `- B (candidate): ${mdCell(runName(c.b))}, ${c.b.count} samples`, '');
  out.push(...table(['Value', 'A', 'B', 'Change', 'Test', 'Verdict'], valueRows(c)), '');
  const rows = classRows(c);
  if (rows.length > 0) {
    const cols = classColumns(c);
    out.push('<details>', '<summary>Per class (A → B)</summary>', '');
    out.push(...table(['Class', 'Count', 'Clean', ...cols.map((k) => `${normLabel(k.norm, true)} ε = ${eps(k.epsilon)}`)], rows), '', '</details>', '');
  }
  for (const n of c.notes) out.push(`> ${mdCell(n)}`, '');
  return out.join('\n');
}

/**
 * Renders a comparison as one self-contained HTML page (no script, no external URL): the verdict, the runs, the two
 * worst-case curves of each norm on one SVG (A dashed, B solid, with confidence bands), the table of values and the
 * per-class changes.
 *
 * @param c - from {@link compareReports}.
 * @returns the HTML document, ending with a newline.
 * @example
 * ```ts
 * import { compareReports, renderComparisonHtml } from 'robustest';
 * const html = renderComparisonHtml(compareReports(report, report));
 * ```
 */
export function renderComparisonHtml(c: Comparison): string {
  const h = (s: string | number): string => escapeXml(String(s));
  const table = (head: string[], rows: string[][]): string =>
    `<div class="scroll"><table><thead><tr>${head.map((x, i) => `<th scope="col"${i > 0 ? ' class="n"' : ''}>${h(x)}</th>`).join('')}</tr></thead><tbody>\n` +
    rows
      .map(
        (r) =>
          `<tr>${r.map((x, i) => `<td${i > 0 ? ' class="n"' : ''}>${x === 'REGRESSION' ? '<span class="fail">REGRESSION</span>' : h(x)}</td>`).join('')}</tr>`,
      )
      .join('\n') +
    '\n</tbody></table></div>';
  const figures = reportNorms(c.a).flatMap((norm, i) => {
    const side = (r: Report, label: string, dashed: boolean, color: string): CurveSeries => ({
      label,
      dashed,
      color,
      points: r.curve
        .filter((p) => normOf(p) === norm && c.points.some((v) => v.norm === norm && v.epsilon === p.epsilon))
        .map((p) => ({ epsilon: p.epsilon, accuracy: p.robustAccuracy, lower: p.ci.lower, upper: p.ci.upper })),
    });
    const series = [side(c.a, `A: ${runName(c.a)}`, true, '#0072B2'), side(c.b, `B: ${runName(c.b)}`, false, '#D55E00')];
    if (series[0]!.points.length === 0) return [];
    const label = normLabel(norm, true);
    return [
      `<figure>${renderCurveSvg(series, { id: `compare-${i}`, title: `Worst-case robust accuracy against ${label} ε, A and B`, xLabel: `ε (${label})` })}<figcaption>${h(label)}: A dashed, B solid, with confidence bands.</figcaption></figure>`,
    ];
  });
  const cols = classColumns(c);
  const rows = classRows(c);
  const title = 'Robustness comparison';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${HTML_STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<header><h1>${title}</h1>`,
    `<p class="verdict ${c.regressions.length > 0 ? 'bad' : 'ok'}">Verdict: ${h(verdictLine(c))}</p>`,
    `<p>A (baseline): <code>${h(runName(c.a))}</code>, ${c.a.count} samples<br>B (candidate): <code>${h(runName(c.b))}</code>, ${c.b.count} samples</p></header>`,
    `<section id="curve"><h2>Robustness curves</h2>${figures.join('\n')}</section>`,
    `<section id="values"><h2>Clean and robust accuracy</h2>${table(
      VALUE_HEAD.map((x, i) => (i === 0 ? 'Value' : x)),
      valueRows(c),
    )}</section>`,
    rows.length > 0
      ? `<section id="classes"><h2>Per class (A → B)</h2>${table(['Class', 'Count', 'Clean', ...cols.map((k) => `${normLabel(k.norm, true)} ε = ${eps(k.epsilon)}`)], rows)}</section>`
      : '',
    c.notes.length > 0 ? `<section id="notes"><h2>Notes</h2><ul>${c.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul></section>` : '',
    '</main>',
    '</body>',
    '</html>',
  ]
    .filter((s) => s !== '')
    .join('\n')
    .concat('\n');
}
