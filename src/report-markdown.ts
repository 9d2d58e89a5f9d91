/**
 * Renderings of a `Report`: Markdown (for READMEs, pull requests, CI summaries) and compact plain text
 * (for a terminal). Both are pure functions of the JSON; accuracies are shown as percentages with one decimal.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * await writeFile('report.md', renderMarkdown(report));
 * process.stdout.write(renderText(report));
 * ```
 * @module
 */
import type { AttackEntry, ClassEntry, Report } from './report.js';
import { className, curveByNorm, eps, interval, levelLabel, normLabel, normOf, num, pct, reportNorms, seconds, shortHash } from './report-format.js';

/** Whether a report's numbers can be trusted, from the severity of its warnings. */
export interface Verdict {
  /** True when no warning is severe. */
  readonly reliable: boolean;
  /** The codes of the severe warnings, each once, in report order. */
  readonly severe: readonly string[];
  /** One line: `reliable`, or `UNRELIABLE: <codes>` (comma-separated). */
  readonly line: string;
}

/**
 * The verdict on a report: `UNRELIABLE` when a warning is severe (the robust accuracy is then likely an
 * overestimate; see `WARNING_SEVERITY` in `metrics/checks.ts`), else `reliable`. A warning without a severity (a
 * report written before warnings had one, or by hand) counts as severe: the verdict vouches only for what it can
 * classify. The text and Markdown renderings end with this line; the CLI's `--min-robust-accuracy` and the
 * `toBeRobust` matcher fail on an unreliable report unless warnings are allowed.
 *
 * @param report - a report; not modified.
 * @returns the verdict.
 * @example
 * ```ts
 * const v = reportVerdict(report);
 * if (!v.reliable) console.error(v.line); // UNRELIABLE: zero-gradients, black-box-beats-white-box
 * ```
 */
export function reportVerdict(report: Pick<Report, 'warnings'>): Verdict {
  const severe = [...new Set(report.warnings.filter((w) => w.severity !== 'info').map((w) => w.code))];
  return { reliable: severe.length === 0, severe, line: severe.length === 0 ? 'reliable' : `UNRELIABLE: ${severe.join(', ')}` };
}

/** Per norm, the largest epsilon with per-class results, and the (up to) three classes least robust there. */
function weakestClasses(report: Report, k = 3): { norm: string; epsilon: number; classes: { entry: ClassEntry; robust: number }[] }[] {
  const out: { norm: string; epsilon: number; classes: { entry: ClassEntry; robust: number }[] }[] = [];
  for (const norm of reportNorms(report)) {
    let largest = -Infinity;
    for (const c of report.perClass) for (const r of c.robust) if (normOf(r) === norm) largest = Math.max(largest, r.epsilon);
    if (!Number.isFinite(largest)) continue;
    const rows: { entry: ClassEntry; robust: number }[] = [];
    for (const c of report.perClass) {
      const r = c.robust.find((x) => normOf(x) === norm && x.epsilon === largest);
      if (c.count > 0 && r !== undefined) rows.push({ entry: c, robust: r.robustAccuracy });
    }
    if (rows.length === 0) continue;
    rows.sort((a, b) => a.robust - b.robust || a.entry.cleanAccuracy - b.entry.cleanAccuracy || a.entry.label - b.entry.label);
    out.push({ norm, epsilon: largest, classes: rows.slice(0, k) });
  }
  return out;
}

/** A minimal-norm quantile: `∞` when it falls among the points never fooled, `n/a` when nothing was attacked. */
function quantile(q: number | null, attacked: number, unicode: boolean): string {
  if (q !== null) return num(q);
  return attacked === 0 ? 'n/a' : unicode ? '∞' : 'inf';
}

/** Rows of the minimum-norm table: attack, norm, ε, attacked, fooled, never fooled, Q1, median, Q3. */
function minimalNormRows(report: Report, markdown: boolean): string[][] {
  return report.attacks.flatMap((a) => {
    const m = a.minimalNorms;
    if (m === undefined) return [];
    return [
      [
        markdown ? md(a.name) : a.name,
        normLabel(a.norm, markdown),
        eps(a.epsilon),
        String(m.attacked),
        String(m.fooled),
        m.attacked === 0 ? 'n/a' : pct(m.neverFooledRate),
        quantile(m.q1, m.attacked, markdown),
        quantile(m.median, m.attacked, markdown),
        quantile(m.q3, m.attacked, markdown),
      ],
    ];
  });
}

/**
 * Rows of the query table: attack, norm, ε, mean, median and max queries per attacked point, and the mean and
 * median per point fooled (`n/a` when none was).
 */
function queryRows(report: Report, markdown: boolean): string[][] {
  return report.attacks.flatMap((a) => {
    if (a.queries === undefined) return [];
    const perSuccess = a.queriesPerSuccess;
    const fooled = perSuccess !== undefined && a.succeeded > 0;
    return [
      [
        markdown ? md(a.name) : a.name,
        normLabel(a.norm, markdown),
        eps(a.epsilon),
        num(a.queries.mean),
        num(a.queries.median),
        num(a.queries.max),
        fooled ? num(perSuccess.mean) : 'n/a',
        fooled ? num(perSuccess.median) : 'n/a',
      ],
    ];
  });
}

/** The epsilons of the run: per norm when the report lists them per norm. */
function epsilonList(report: Report): string {
  const p = report.provenance;
  const byNorm = p.epsilonsByNorm;
  if (byNorm !== undefined) {
    const parts = (['linf', 'l2'] as const).flatMap((n) =>
      byNorm[n] === undefined ? [] : [`${normLabel(n, true)} ${byNorm[n].map(eps).join(', ') || 'none'}`],
    );
    if (parts.length > 0) return parts.join('; ');
  }
  return p.epsilons.length === 0 ? 'none' : p.epsilons.map(eps).join(', ');
}

/** Success rate and counts; `n/a` when the attack had no point to attack (0/0 is not a rate). */
function successCell(a: AttackEntry): string {
  return a.attacked === 0 ? 'n/a' : `${pct(a.successRate)} (${a.succeeded}/${a.attacked})`;
}

// ---------------------------------------------------------------------------------------------- Markdown

/** Escapes text for Markdown prose and table cells. */
/** The cells of one per-attack row: Markdown (escaped name, Unicode norm) or plain text. */
function attackCells(a: AttackEntry, markdown: boolean): string[] {
  return [
    markdown ? md(a.name) : a.name,
    normLabel(a.norm, markdown),
    eps(a.epsilon),
    pct(a.robustAccuracy),
    successCell(a),
    num(a.meanL2),
    num(a.meanLinf),
    seconds(a.seconds),
  ];
}

function md(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (ch) => `\\${ch}`).replace(/\r?\n/g, ' ');
}

/** Inline code, safe inside table cells. */
function code(text: string): string {
  const t = text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const fence = t.includes('`') ? '``' : '`';
  const pad = t.includes('`') ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

function mdTable(header: string[], align: ('l' | 'r')[], rows: string[][]): string[] {
  const sep = align.map((a) => (a === 'r' ? '---:' : '---'));
  return [`| ${header.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** A collapsible block for GitHub: `<details>` with a summary, blank lines around the Markdown inside. */
function details(summary: string, body: string[], open = false): string[] {
  return [open ? '<details open>' : '<details>', `<summary>${summary}</summary>`, '', ...body, '', '</details>', ''];
}

/** The lowest worst-case point of each norm (its largest radius when the curve falls), for the headline. */
function headlinePoints(report: Report): string[] {
  return reportNorms(report).flatMap((norm) => {
    const pts = report.curve.filter((p) => normOf(p) === norm);
    if (pts.length === 0) return [];
    const last = pts.reduce((a, b) => (b.epsilon > a.epsilon ? b : a));
    return [`${pct(last.robustAccuracy)} at ${normLabel(norm, true)} ε = ${eps(last.epsilon)} ${interval(last.ci)}`];
  });
}

/**
 * Renders a report as GitHub-flavoured Markdown, laid out to be posted as a pull-request comment: the headline is
 * visible and the bulk is folded into collapsible `<details>` blocks.
 *
 * Visible, in order: a title; the verdict ({@link reportVerdict}: `reliable` or `UNRELIABLE: <codes>`); a summary
 * line (model, data count, backend, seed; a targeted run says so); clean accuracy with its confidence interval and
 * the robust accuracy at each norm's largest epsilon; the robustness curves as a small table (norm | ε | robust
 * accuracy | CI, per norm the worst case over that norm's attacks); the warnings, each marked severe or info.
 * Folded: the per-attack table (attack | norm | ε | robust acc. | success rate | mean L2 | mean L∞ | seconds; a
 * success rate over no attacked point is `n/a`); for minimum-norm attacks the quartiles of the minimal perturbations
 * (`∞` when a quartile falls among points never fooled); for query attacks the queries per attacked point and per
 * success; per norm, the three weakest classes at its largest epsilon; the provenance (versions, hashes shortened
 * to 12 characters, configuration with the epsilons per norm, times). Percentages have one decimal; epsilons at most
 * four significant digits (with their `k/255` form when they are one). User-supplied strings are escaped.
 *
 * @param report - a report, e.g. from `evaluate` or `validateReport`; not modified.
 * @returns the Markdown text, ending with a newline.
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { renderMarkdown } from 'robustest';
 * await writeFile('report.md', renderMarkdown(report));
 * ```
 */
export function renderMarkdown(report: Report): string {
  const p = report.provenance;
  const out: string[] = [];
  const verdict = reportVerdict(report);
  out.push(`# Robustness report: ${md(p.model.name)}`, '');
  out.push(`**Verdict:** ${verdict.reliable ? 'reliable' : `**${md(verdict.line)}**`}`, '');
  out.push(
    `Model ${code(p.model.name)} (${md(p.model.engine)}) · ${report.count} samples from ${code(p.data.source)} · ` +
      `backend ${code(p.backend)} · seed ${p.seed}${p.targeted ? ' · **targeted** (random target classes)' : ''}`,
    '',
  );
  const cleanCount = Math.round(report.cleanAccuracy * report.count);
  out.push(
    `**Clean accuracy:** ${pct(report.cleanAccuracy)} (${cleanCount}/${report.count}, ${levelLabel(report.cleanCi.level)} ${interval(report.cleanCi)})`,
    '',
  );
  const headline = headlinePoints(report);
  if (headline.length > 0) out.push(`**Robust accuracy:** ${headline.join('; ')}`, '');

  out.push('## Robustness curve', '');
  if (report.curve.length === 0) {
    out.push('No epsilons were evaluated.', '');
  } else {
    out.push(
      'Worst case over the attacks of each norm: a sample counts as robust at a radius only if no attack of that norm fooled it. ' +
        'Each norm has its own curve.',
      '',
    );
    const level = report.curve[0]?.ci.level ?? 0.95;
    out.push(
      ...mdTable(
        ['Norm', 'ε', 'Robust accuracy', levelLabel(level)],
        ['l', 'r', 'r', 'l'],
        curveByNorm(report).map((c) => [normLabel(c.norm, true), eps(c.epsilon), pct(c.robustAccuracy), interval(c.ci)]),
      ),
      '',
    );
  }

  out.push('## Warnings', '');
  if (report.warnings.length === 0) out.push('None.', '');
  else out.push(...report.warnings.map((w) => `- ${code(w.code)}${w.severity === 'info' ? ' (info)' : ' (**severe**)'}: ${md(w.message)}`), '');

  if (report.attacks.length === 0) {
    out.push('No attacks were run.', '');
  } else {
    const body: string[] = [];
    if (p.targeted) body.push('Targeted: an attack succeeds on a point when the model predicts its target class (drawn from the seed).', '');
    body.push(
      ...mdTable(
        ['Attack', 'Norm', 'ε', 'Robust acc.', 'Success rate', 'Mean L2', 'Mean L∞', 'Seconds'],
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
        report.attacks.map((a) => attackCells(a, true)),
      ),
    );
    out.push(...details(`Attacks (${report.attacks.length} runs)`, body));
  }

  const minimal = minimalNormRows(report, true);
  if (minimal.length > 0) {
    out.push(
      ...details('Minimal perturbations', [
        'Minimum-norm attacks: the distribution of the smallest perturbation that fooled each attacked point (∞: the quartile falls among points never fooled).',
        '',
        ...mdTable(['Attack', 'Norm', 'ε', 'Attacked', 'Fooled', 'Never fooled', 'Q1', 'Median', 'Q3'], ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'], minimal),
      ]),
    );
  }
  const queries = queryRows(report, true);
  if (queries.length > 0) {
    out.push(
      ...details('Queries', [
        'Query attacks: model queries per attacked point, and per point fooled (queries per success).',
        '',
        ...mdTable(
          ['Attack', 'Norm', 'ε', 'Mean', 'Median', 'Max', 'Mean per success', 'Median per success'],
          ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
          queries,
        ),
      ]),
    );
  }

  for (const weak of weakestClasses(report)) {
    out.push(
      ...details(
        `Weakest classes at ${normLabel(weak.norm, true)} ε = ${eps(weak.epsilon)}`,
        mdTable(
          ['Class', 'Count', 'Clean acc.', 'Robust acc.'],
          ['l', 'r', 'r', 'r'],
          weak.classes.map((w) => [md(className(w.entry)), String(w.entry.count), pct(w.entry.cleanAccuracy), pct(w.robust)]),
        ),
      ),
    );
  }

  const m = p.model;
  const prov: string[] = [];
  prov.push(
    `- Library: ${md(p.library.name)} ${md(p.library.version)}; tfjs ${md(p.tfjs)}; Node ${md(p.node)}; ${md(p.platform)}; backend ${code(p.backend)}` +
      (p.fastGradients === undefined ? '' : `; fast gradients ${p.fastGradients ? 'on' : 'off'}`),
  );
  if (p.command !== undefined) prov.push(`- Command: ${code(p.command)}`);
  prov.push(
    `- Model: ${code(m.name)}, engine ${md(m.engine)}, source ${code(m.source)}, sha256 ${code(shortHash(m.sha256))}`,
    `- Input: shape [${m.inputShape.join(', ')}], layout ${md(m.layout)}, bounds [${m.bounds[0]}, ${m.bounds[1]}], ${m.numClasses} classes` +
      (m.preprocessing ? `, preprocessing mean [${m.preprocessing.mean.join(', ')}] std [${m.preprocessing.std.join(', ')}]` : ''),
    `- Data: ${code(p.data.source)}, sha256 ${code(shortHash(p.data.sha256))}, ${p.data.count} samples`,
    `- Epsilons: ${epsilonList(report)}; batch size ${p.batchSize}; cascade ${p.cascade ? 'on' : 'off'}; ${p.targeted ? 'targeted; ' : ''}seed ${p.seed}`,
  );
  if (p.attacks.length === 0) prov.push('- Attacks: none');
  else {
    prov.push(p.preset !== undefined ? `- Attacks (preset ${code(p.preset)}):` : '- Attacks:');
    for (const a of p.attacks) {
      prov.push(`  - ${md(a.name)} (${md(normLabel(a.norm, true))}${a.kind !== undefined ? `, ${md(a.kind)}` : ''}): ${code(JSON.stringify(a.config))}`);
    }
  }
  prov.push(`- Started ${md(p.startedAt)}, finished ${md(p.finishedAt)} (${seconds(p.seconds)} s)`);
  prov.push(`- Report format ${md(report.version)}`);
  out.push(...details('Provenance', prov));
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------------- Text

function textTable(header: string[], align: ('l' | 'r')[], rows: string[][], indent = '  '): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    indent +
    cells
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

/**
 * Renders a report as a compact plain-text summary for a terminal (ASCII column labels, no colours): the
 * model, count, backend, seed (and `targeted` for a targeted run); clean accuracy with its interval; the
 * robustness curves with the norm of every point; the per-attack table; minimal perturbations and queries when an
 * attack has them; per norm, the weakest classes at its largest epsilon; the warnings, each marked severe or info;
 * one line of versions and shortened hashes; and last the verdict ({@link reportVerdict}): `verdict: reliable` or
 * `verdict: UNRELIABLE: <codes>`.
 *
 * @param report - a report; not modified.
 * @returns the text, ending with a newline.
 * @example
 * ```ts
 * process.stdout.write(renderText(report));
 * ```
 */
export function renderText(report: Report): string {
  const p = report.provenance;
  const out: string[] = [];
  out.push(`robustest report: ${p.model.name} (${p.model.engine})`);
  out.push(`${report.count} samples · backend ${p.backend} · seed ${p.seed}${p.targeted ? ' · targeted' : ''} · ${seconds(p.seconds)} s`);
  out.push(`clean accuracy: ${pct(report.cleanAccuracy)}  ${levelLabel(report.cleanCi.level)} ${interval(report.cleanCi)}`, '');

  if (report.curve.length > 0) {
    out.push('robustness curve per norm (worst case over the attacks of that norm)');
    const level = report.curve[0]?.ci.level ?? 0.95;
    out.push(
      ...textTable(
        ['norm', 'eps', 'robust acc.', levelLabel(level)],
        ['l', 'r', 'r', 'l'],
        curveByNorm(report).map((c) => [normLabel(c.norm, false), eps(c.epsilon), pct(c.robustAccuracy), interval(c.ci)]),
      ),
      '',
    );
  }

  if (report.attacks.length > 0) {
    out.push(p.targeted ? 'attacks (targeted: success = the target class is predicted)' : 'attacks');
    out.push(
      ...textTable(
        ['attack', 'norm', 'eps', 'robust acc.', 'success rate', 'mean L2', 'mean Linf', 'seconds'],
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
        report.attacks.map((a) => attackCells(a, false)),
      ),
      '',
    );
  }

  const minimal = minimalNormRows(report, false);
  if (minimal.length > 0) {
    out.push('minimal perturbations (minimum-norm attacks; inf: among points never fooled)');
    out.push(
      ...textTable(
        ['attack', 'norm', 'eps', 'attacked', 'fooled', 'never fooled', 'q1', 'median', 'q3'],
        ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        minimal,
      ),
      '',
    );
  }
  const queries = queryRows(report, false);
  if (queries.length > 0) {
    out.push('queries per attacked point (and per success)');
    out.push(
      ...textTable(['attack', 'norm', 'eps', 'mean', 'median', 'max', 'mean/success', 'median/success'], ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'], queries),
      '',
    );
  }

  for (const weak of weakestClasses(report)) {
    out.push(`weakest classes at ${normLabel(weak.norm, false)} eps ${eps(weak.epsilon)}`);
    out.push(
      ...textTable(
        ['class', 'count', 'clean acc.', 'robust acc.'],
        ['l', 'r', 'r', 'r'],
        weak.classes.map((w) => [className(w.entry), String(w.entry.count), pct(w.entry.cleanAccuracy), pct(w.robust)]),
      ),
      '',
    );
  }

  if (report.warnings.length === 0) out.push('warnings: none');
  else {
    out.push('warnings');
    for (const w of report.warnings) out.push(`  - ${w.code}${w.severity === 'info' ? ' (info)' : ' (severe)'}: ${w.message}`);
  }
  out.push('');
  out.push(
    `${p.library.name} ${p.library.version} · tfjs ${p.tfjs} · node ${p.node} · model sha256 ${shortHash(p.model.sha256)} · data sha256 ${shortHash(p.data.sha256)}`,
    `verdict: ${reportVerdict(report).line}`,
    '',
  );
  return out.join('\n');
}
