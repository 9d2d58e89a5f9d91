/**
 * The HTML rendering of a report: one self-contained page (no network, no external assets, no script; it works from
 * `file://`), readable on a phone and in print. A pure function of the JSON: image encoding lives in
 * `src/report-images.ts` (Node, sharp), whose PNGs the caller passes in.
 *
 * @example
 * ```ts
 * import { renderHtml, renderExampleImages, writeFileAtomic } from 'robustest';
 * await writeFileAtomic('report.html', renderHtml(report, { images: await renderExampleImages(report) }));
 * ```
 * @module
 */
import type { Report } from './report.js';
import { reportVerdict } from './report-markdown.js';
import {
  WARNING_EXPLANATIONS,
  className,
  curveByNorm,
  eps,
  escapeXml,
  interval,
  levelLabel,
  normLabel,
  normOf,
  num,
  pct,
  reportNorms,
  seconds,
} from './report-format.js';
import { renderCurveSvg, reportCurveSeries } from './report-svg.js';

/** The PNG renderings of one kept example (see `Report.examples`), as `data:image/png;base64,...` URIs. */
export interface ExampleImages {
  /** The point's index in the evaluated data (matches `ReportExample.index`). */
  readonly index: number;
  /** The clean input. */
  readonly clean: string;
  /** The adversarial input, when an attack fooled the point. */
  readonly adversarial?: string;
  /** The perturbation `adversarial − clean`, amplified to the full grey range (mid-grey is no change). */
  readonly perturbation?: string;
}

/** Options of {@link renderHtml}. */
export interface HtmlOptions {
  /**
   * The example images to embed, from `renderExampleImages(report)` (Node). Default: none; a report with examples
   * then lists them (labels and predictions) without pictures.
   */
  readonly images?: readonly ExampleImages[];
  /** The `--min-robust-accuracy` threshold, shown in the summary with each curve point's pass or fail. Default: none. */
  readonly minRobustAccuracy?: number;
  /** The page title. Default `Robustness report: <model name>`. */
  readonly title?: string;
}

/** The page's style sheet: system fonts, a responsive grid, horizontally scrolling tables on narrow screens, print rules. */
export const HTML_STYLE = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #d9d9de; --ok: #0b6e2f; --bad: #b3261e; --bg-bad: #fdecea; --bg-ok: #e7f5ec; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #ffffff; }
main { max-width: 980px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.6rem; margin: 0.4em 0; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 1.6em 0 0.5em; border-bottom: 1px solid var(--line); padding-bottom: 0.2em; }
.verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; }
.verdict.ok { background: var(--bg-ok); color: var(--ok); }
.verdict.bad { background: var(--bg-bad); color: var(--bad); }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .detail { color: var(--muted); font-size: 0.9rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.fail { color: var(--bad); font-weight: 600; }
.pass { color: var(--ok); }
figure { margin: 0 0 16px; }
svg.curve { width: 100%; height: auto; max-width: 760px; display: block; }
figcaption { color: var(--muted); font-size: 0.9rem; }
.badge { display: inline-block; font-size: 0.8rem; padding: 0 6px; border-radius: 4px; border: 1px solid currentColor; }
.badge.severe { color: var(--bad); }
.badge.info { color: var(--muted); }
.warnings li { margin-bottom: 10px; }
.explain { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em; overflow-wrap: anywhere; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }
dl.prov dt { color: var(--muted); }
dl.prov dd { margin: 0; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.example { border: 1px solid var(--line); border-radius: 6px; padding: 6px; margin: 0; }
.example .imgs { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4px; }
.example img { width: 100%; height: auto; image-rendering: pixelated; border: 1px solid var(--line); display: block; }
.example figcaption { font-size: 0.8rem; color: var(--fg); margin-top: 4px; }
.example.fooled figcaption .pred { color: var(--bad); font-weight: 600; }
.legend-row { color: var(--muted); font-size: 0.85rem; }
footer { margin-top: 32px; color: var(--muted); font-size: 0.85rem; }
@media (max-width: 480px) { main { padding: 10px; } h1 { font-size: 1.3rem; } .grid { grid-template-columns: repeat(2, 1fr); } }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; }
  figure, .example, .card, tr { break-inside: avoid; }
  .verdict, .badge { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
`;

function h(text: string | number): string {
  return escapeXml(String(text));
}

function table(head: readonly string[], numeric: readonly boolean[], rows: readonly string[][], caption?: string): string {
  const th = head.map((c, i) => `<th scope="col"${numeric[i] ? ' class="n"' : ''}>${c}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<div class="scroll"><table>${caption !== undefined ? `<caption>${caption}</caption>` : ''}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

function summaryCards(report: Report, minRobust: number | undefined): string {
  const cards: string[] = [];
  const cleanCount = Math.round(report.cleanAccuracy * report.count);
  cards.push(
    `<div class="card"><div>Clean accuracy</div><div class="value">${pct(report.cleanAccuracy)}</div>` +
      `<div class="detail">${cleanCount}/${report.count}, ${levelLabel(report.cleanCi.level)} ${interval(report.cleanCi)}</div></div>`,
  );
  for (const norm of reportNorms(report)) {
    const pts = report.curve.filter((p) => normOf(p) === norm);
    if (pts.length === 0) continue;
    const last = pts.reduce((a, b) => (b.epsilon > a.epsilon ? b : a));
    const verdict =
      minRobust === undefined
        ? ''
        : last.robustAccuracy < minRobust
          ? ' <span class="fail">below threshold</span>'
          : ' <span class="pass">meets threshold</span>';
    cards.push(
      `<div class="card"><div>Robust accuracy, ${h(normLabel(norm, true))} ε = ${h(eps(last.epsilon))}</div><div class="value">${pct(last.robustAccuracy)}</div>` +
        `<div class="detail">${last.robustCount}/${report.count}, ${levelLabel(last.ci.level)} ${interval(last.ci)}${verdict}</div></div>`,
    );
  }
  return `<div class="summary">${cards.join('\n')}</div>`;
}

function curveSection(report: Report, minRobust: number | undefined): string {
  const out: string[] = ['<section id="curve"><h2>Robustness curve</h2>'];
  if (report.curve.length === 0) {
    out.push('<p>No epsilons were evaluated.</p></section>');
    return out.join('\n');
  }
  out.push(
    `<p>Accuracy against the perturbation budget ε. The thick dark line is the worst case over the attacks of each norm (a point counts as robust only if no attack fooled it), with its ${levelLabel(report.curve[0]?.ci.level ?? 0.95)} band; the thin lines are the attacks${report.provenance.cascade ? ' (cumulative: each ran on the points the earlier ones left)' : ''}.</p>`,
  );
  reportNorms(report).forEach((norm, i) => {
    const series = reportCurveSeries(report, norm);
    if (series.length === 0) return;
    const label = normLabel(norm, true);
    out.push(
      `<figure>${renderCurveSvg(series, { id: `curve-${i}`, title: `Robust accuracy against ${label} ε`, xLabel: `ε (${label}, raw input units)` })}` +
        `<figcaption>${h(label)} robustness curve of ${h(report.provenance.model.name)} on ${report.count} samples.</figcaption></figure>`,
    );
  });
  const level = report.curve[0]?.ci.level ?? 0.95;
  const head = ['Norm', 'ε', 'Robust accuracy', 'Robust count', h(levelLabel(level))];
  const numeric = [false, true, true, true, true];
  if (minRobust !== undefined) {
    head.push(`Threshold ${pct(minRobust)}`);
    numeric.push(false);
  }
  const rows = curveByNorm(report).map((c) => {
    const row = [h(normLabel(c.norm, true)), h(eps(c.epsilon)), pct(c.robustAccuracy), String(c.robustCount), interval(c.ci)];
    if (minRobust !== undefined) row.push(c.robustAccuracy < minRobust ? '<span class="fail">fail</span>' : '<span class="pass">pass</span>');
    return row;
  });
  out.push(table(head, numeric, rows), '</section>');
  return out.join('\n');
}

function attacksSection(report: Report): string {
  if (report.attacks.length === 0) return '<section id="attacks"><h2>Attacks</h2><p>No attacks were run.</p></section>';
  const rows = report.attacks.map((a) => [
    h(a.name),
    h(normLabel(a.norm, true)),
    h(eps(a.epsilon)),
    pct(a.robustAccuracy),
    interval(a.ci),
    a.attacked === 0 ? 'n/a' : `${pct(a.successRate)} (${a.succeeded}/${a.attacked})`,
    num(a.meanL2),
    num(a.meanLinf),
    seconds(a.seconds),
  ]);
  return [
    '<section id="attacks"><h2>Attacks</h2>',
    report.provenance.targeted ? '<p>Targeted: an attack succeeds on a point when the model predicts its target class (drawn from the seed).</p>' : '',
    table(
      ['Attack', 'Norm', 'ε', 'Robust acc.', 'CI', 'Success rate', 'Mean L2', 'Mean L∞', 'Seconds'],
      [false, false, true, true, true, true, true, true, true],
      rows,
    ),
    '</section>',
  ].join('\n');
}

function classSection(report: Report): string {
  if (report.perClass.length === 0) return '';
  const cols: { norm: string; epsilon: number }[] = [];
  for (const c of report.perClass)
    for (const r of c.robust) if (!cols.some((x) => x.norm === normOf(r) && x.epsilon === r.epsilon)) cols.push({ norm: normOf(r), epsilon: r.epsilon });
  const head = ['Class', 'Count', 'Clean acc.', ...cols.map((c) => `${h(normLabel(c.norm, true))} ε = ${h(eps(c.epsilon))}`)];
  const rows = report.perClass.map((c) => [
    h(className(c)),
    String(c.count),
    c.count === 0 ? 'n/a' : pct(c.cleanAccuracy),
    ...cols.map((col) => {
      const r = c.robust.find((x) => normOf(x) === col.norm && x.epsilon === col.epsilon);
      return r === undefined || c.count === 0 ? 'n/a' : pct(r.robustAccuracy);
    }),
  ]);
  return [
    '<section id="classes"><h2>Per class</h2><p>Clean accuracy and worst-case robust accuracy of each class present in the data.</p>',
    table(
      head,
      head.map((_, i) => i > 0),
      rows,
    ),
    '</section>',
  ].join('\n');
}

function warningsSection(report: Report): string {
  const out = ['<section id="warnings"><h2>Warnings</h2>'];
  if (report.warnings.length === 0) {
    out.push('<p>None: no pitfall check fired.</p></section>');
    return out.join('\n');
  }
  out.push(
    '<p>Findings of the pitfall checks. A <span class="badge severe">severe</span> one means the robust accuracy is likely an overestimate, so the verdict is UNRELIABLE.</p>',
    '<ul class="warnings">',
  );
  for (const w of report.warnings) {
    const severity = w.severity === 'info' ? 'info' : 'severe';
    const explanation = WARNING_EXPLANATIONS[w.code];
    out.push(
      `<li><code>${h(w.code)}</code> <span class="badge ${severity}">${severity}</span>: ${h(w.message)}` +
        (explanation !== undefined ? `<br><span class="explain">${h(explanation)}</span>` : '') +
        '</li>',
    );
  }
  out.push('</ul></section>');
  return out.join('\n');
}

function labelName(report: Report, label: number): string {
  const name = report.perClass.find((c) => c.label === label)?.name;
  return name !== undefined && name !== '' ? `${label} (${name})` : String(label);
}

function examplesSection(report: Report, images: readonly ExampleImages[] | undefined): string {
  const ex = report.examples;
  if (ex === undefined || ex.items.length === 0) return '';
  const byIndex = new Map((images ?? []).map((i) => [i.index, i]));
  const fooled = ex.items.filter((e) => e.adversarial !== undefined).length;
  const out = [
    '<section id="examples"><h2>Examples</h2>',
    `<p>The first ${ex.items.length} points: ${fooled} fooled. ${h(ex.selection)} Each card shows the clean input, the adversarial input and the perturbation amplified to the full grey range (mid-grey: no change).</p>`,
  ];
  if (images === undefined) out.push('<p>Images were not rendered (the page was rendered without them).</p>');
  out.push('<div class="grid">');
  for (const e of ex.items) {
    const img = byIndex.get(e.index);
    const pics: string[] = [];
    if (img !== undefined) {
      pics.push(`<img src="${img.clean}" alt="clean input #${e.index}" width="${ex.shape[1]}" height="${ex.shape[0]}">`);
      if (img.adversarial !== undefined)
        pics.push(`<img src="${img.adversarial}" alt="adversarial input #${e.index}" width="${ex.shape[1]}" height="${ex.shape[0]}">`);
      if (img.perturbation !== undefined)
        pics.push(`<img src="${img.perturbation}" alt="amplified perturbation #${e.index}" width="${ex.shape[1]}" height="${ex.shape[0]}">`);
    }
    const wrongClean = e.cleanPrediction !== e.label;
    let caption = `#${e.index} true ${h(labelName(report, e.label))}, clean → ${h(labelName(report, e.cleanPrediction))}`;
    if (wrongClean) caption += ' (misclassified)';
    if (e.adversarial !== undefined && e.adversarialPrediction !== undefined) {
      caption += `; adversarial → <span class="pred">${h(labelName(report, e.adversarialPrediction))}</span>`;
      if (e.attack !== undefined) caption += ` by ${h(e.attack)}`;
      if (e.epsilon !== undefined) caption += ` at ${h(normLabel(e.norm, true))} ε = ${h(eps(e.epsilon))}`;
    } else if (!wrongClean) caption += '; not fooled';
    out.push(
      `<figure class="example${e.adversarial !== undefined ? ' fooled' : ''}">${pics.length > 0 ? `<div class="imgs">${pics.join('')}</div>` : ''}<figcaption>${caption}</figcaption></figure>`,
    );
  }
  out.push('</div>', '<p class="legend-row">Order in each card: clean, adversarial, amplified perturbation.</p></section>');
  return out.join('\n');
}

function configSection(report: Report): string {
  const p = report.provenance;
  if (p.attacks.length === 0) return '';
  const rows = p.attacks.map((a) => [h(a.name), h(normLabel(a.norm, true)), h(a.kind ?? 'fixed-epsilon'), `<code>${h(JSON.stringify(a.config))}</code>`]);
  return [
    `<section id="config"><h2>Attack configurations</h2><p>In the order they ran${p.preset !== undefined ? ` (preset <code>${h(p.preset)}</code>)` : ''}; every option with its default filled in.</p>`,
    table(['Attack', 'Norm', 'Kind', 'Configuration'], [false, false, false, false], rows),
    '</section>',
  ].join('\n');
}

function provenanceSection(report: Report): string {
  const p = report.provenance;
  const m = p.model;
  const epsilons =
    p.epsilonsByNorm !== undefined
      ? (['linf', 'l2'] as const)
          .flatMap((n) => (p.epsilonsByNorm?.[n] === undefined ? [] : [`${normLabel(n, true)}: ${p.epsilonsByNorm[n].map(eps).join(', ') || 'none'}`]))
          .join('; ')
      : p.epsilons.map(eps).join(', ');
  const rows: [string, string][] = [
    ['Library', `${h(p.library.name)} ${h(p.library.version)}, tfjs ${h(p.tfjs)}, Node ${h(p.node)}, ${h(p.platform)}`],
    ['Backend', `${h(p.backend)}${p.fastGradients === undefined ? '' : `, fast gradients ${p.fastGradients ? 'on' : 'off'}`}`],
    ...(p.command !== undefined ? [['Command', `<code>${h(p.command)}</code>`] as [string, string]] : []),
    ['Model', `<code>${h(m.name)}</code> (${h(m.engine)}) from <code>${h(m.source)}</code>`],
    ['Model SHA-256', `<code>${h(m.sha256)}</code>`],
    [
      'Input',
      `shape [${m.inputShape.join(', ')}], ${h(m.layout)}, bounds [${m.bounds[0]}, ${m.bounds[1]}], ${m.numClasses} classes` +
        (m.preprocessing ? `, mean [${m.preprocessing.mean.join(', ')}], std [${m.preprocessing.std.join(', ')}]` : ''),
    ],
    ['Data', `<code>${h(p.data.source)}</code>, ${p.data.count} samples`],
    ['Data SHA-256', `<code>${h(p.data.sha256)}</code>`],
    ['Epsilons', h(epsilons || 'none')],
    ['Run', `seed ${p.seed}, batch size ${p.batchSize}, cascade ${p.cascade ? 'on' : 'off'}${p.targeted ? ', targeted' : ''}`],
    ['Time', `${h(p.startedAt)} to ${h(p.finishedAt)} (${seconds(p.seconds)} s)`],
    ['Report format', h(report.version)],
  ];
  return `<section id="provenance"><h2>Provenance</h2><dl class="prov">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('\n')}</dl></section>`;
}

/**
 * Renders a report as one self-contained HTML page: the verdict and a summary (clean accuracy and the robust accuracy
 * at each norm's largest ε, with intervals and, given a threshold, pass or fail); the robustness curve of each norm
 * as inline SVG (each attack and the worst case, with confidence bands, axes, ticks and a legend) and as a table;
 * the per-attack table; the per-class table; the warnings with what each code means ({@link WARNING_EXPLANATIONS});
 * when the report keeps examples, a grid of clean, adversarial and amplified-perturbation images with true and
 * predicted labels; the attack configurations; and the provenance. No script, no external URL: it works offline and
 * from `file://`; a narrow screen gets one column and scrolling tables; print gets page-break rules.
 *
 * @param report - a report; not modified.
 * @param options - example images, a threshold and the title (see {@link HtmlOptions}).
 * @returns the HTML document, ending with a newline.
 * @example
 * ```ts
 * import { renderHtml, writeFileAtomic } from 'robustest';
 * await writeFileAtomic('report.html', renderHtml(report, { minRobustAccuracy: 0.5 }));
 * ```
 */
export function renderHtml(report: Report, options: HtmlOptions = {}): string {
  const p = report.provenance;
  const title = options.title ?? `Robustness report: ${p.model.name}`;
  const verdict = reportVerdict(report);
  const min = options.minRobustAccuracy;
  const body = [
    `<header><h1>${h(title)}</h1>`,
    `<p class="verdict ${verdict.reliable ? 'ok' : 'bad'}">Verdict: ${h(verdict.line)}${verdict.reliable ? '' : ' (the robust accuracy is likely an overestimate; see the warnings)'}</p>`,
    `<p>Model <code>${h(p.model.name)}</code> (${h(p.model.engine)}) · ${report.count} samples from <code>${h(p.data.source)}</code> · backend ${h(p.backend)} · seed ${p.seed}${p.targeted ? ' · targeted' : ''}</p></header>`,
    `<section id="summary"><h2>Summary</h2>${summaryCards(report, min)}</section>`,
    curveSection(report, min),
    attacksSection(report),
    classSection(report),
    warningsSection(report),
    examplesSection(report, options.images),
    configSection(report),
    provenanceSection(report),
    `<footer>Generated by ${h(p.library.name)} ${h(p.library.version)} from a report of format ${h(report.version)}.</footer>`,
  ].filter((s) => s !== '');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(title)}</title>`,
    `<style>${HTML_STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    ...body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
