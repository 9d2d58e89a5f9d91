/**
 * The robustness curve as an inline SVG: accuracy against epsilon, one line per series (each attack and the worst
 * case, or two reports side by side), confidence bands, axes with ticks, and a legend. A pure function of numbers:
 * no Node imports, no external resources, so the SVG works in a self-contained HTML page, from `file://` and in
 * print.
 * @module
 */
import type { Report } from './report.js';
import { escapeXml, normLabel, normOf, num } from './report-format.js';

/** One point of a {@link CurveSeries}. */
export interface CurveSeriesPoint {
  /** The radius, `>= 0`. */
  readonly epsilon: number;
  /** Accuracy at that radius, a fraction in `[0, 1]`. */
  readonly accuracy: number;
  /** Lower end of its confidence interval (a band is drawn when both ends are given). */
  readonly lower?: number;
  /** Upper end of its confidence interval. */
  readonly upper?: number;
}

/** One line of a curve chart. */
export interface CurveSeries {
  /** Legend text, e.g. `pgd` or `worst case`. */
  readonly label: string;
  /** The points; drawn in order of epsilon. */
  readonly points: readonly CurveSeriesPoint[];
  /** Draw it thick and dark (the worst case). Default `false`. */
  readonly emphasis?: boolean;
  /** Draw it dashed (the baseline of a comparison). Default `false`. */
  readonly dashed?: boolean;
  /** Stroke colour (a CSS colour). Default: the next colour of a fixed colour-blind-safe palette. */
  readonly color?: string;
}

/** Options of {@link renderCurveSvg}. */
export interface CurveSvgOptions {
  /** Prefix of the element ids inside the SVG, unique within the page. Default `curve`. */
  readonly id?: string;
  /** Accessible title (also the SVG's `<title>`). Default `Robustness curve`. */
  readonly title?: string;
  /** Label of the x axis. Default `ε`. */
  readonly xLabel?: string;
  /** Width of the drawing in SVG units; it scales to its container. Default `640`. */
  readonly width?: number;
}

/** A colour-blind-safe palette (Okabe–Ito, without yellow, which is unreadable on white). */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#56B4E9', '#E69F00', '#7F7F7F', '#882255'];
const WORST = '#111111';

/**
 * Up to about `count` round tick values covering `[0, max]`: steps of 1, 2, 2.5 or 5 times a power of ten.
 *
 * @param max - the largest value to cover; `0` (or less) gives `[0, 1]`.
 * @param count - roughly how many steps. Default `5`.
 * @returns the ticks, from 0 to the first tick at or above `max`.
 * @example
 * ```ts
 * import { niceTicks } from 'robustest';
 * niceTicks(0.3); // [0, 0.1, 0.2, 0.3]
 * ```
 */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const top = Math.ceil(max / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/**
 * Renders curves as one standalone `<svg>` element (no XML prolog) that scales to its container: accuracy (0–100%)
 * against epsilon, a line and dots per series, a translucent confidence band where a series' points carry
 * intervals, a grid with ticks on both axes, and a legend below the plot. Each dot has a `<title>` tooltip.
 *
 * @param series - the lines; an empty list draws empty axes.
 * @param options - ids, title, axis label, width.
 * @returns the SVG markup.
 * @example
 * ```ts
 * import { renderCurveSvg } from 'robustest';
 * const svg = renderCurveSvg([{ label: 'pgd', points: [{ epsilon: 0, accuracy: 0.98 }, { epsilon: 0.1, accuracy: 0.7 }] }]);
 * ```
 */
export function renderCurveSvg(series: readonly CurveSeries[], options: CurveSvgOptions = {}): string {
  const id = options.id ?? 'curve';
  const title = options.title ?? 'Robustness curve';
  const width = options.width ?? 640;
  const plotHeight = 280;
  const margin = { left: 56, right: 20, top: 16, bottom: 52 };
  const legendRow = 20;
  const height = margin.top + plotHeight + margin.bottom + legendRow * series.length + 8;
  const plotWidth = width - margin.left - margin.right;
  const maxEps = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.epsilon)));
  const xTicks = niceTicks(maxEps);
  const xMax = xTicks.at(-1) ?? 1;
  const x = (e: number): number => margin.left + (xMax === 0 ? 0 : (e / xMax) * plotWidth);
  const y = (a: number): number => margin.top + (1 - Math.min(1, Math.max(0, a))) * plotHeight;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="curve" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}-title">`,
    `<title id="${id}-title">${escapeXml(title)}</title>`,
  );
  // Grid and axes.
  out.push('<g class="grid" stroke="#d0d0d0" stroke-width="1">');
  for (let k = 0; k <= 5; k++) out.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${fmt(y(k / 5))}" y2="${fmt(y(k / 5))}"/>`);
  for (const t of xTicks) out.push(`<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${margin.top}" y2="${margin.top + plotHeight}"/>`);
  out.push('</g>');
  out.push(
    `<g class="axes" stroke="#333333" stroke-width="1.2"><line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotHeight}"/>` +
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight}"/></g>`,
  );
  out.push('<g class="ticks" font-size="12" fill="#333333" font-family="system-ui, sans-serif">');
  for (let k = 0; k <= 5; k++) {
    out.push(`<text x="${margin.left - 6}" y="${fmt(y(k / 5) + 4)}" text-anchor="end">${k * 20}%</text>`);
  }
  for (const t of xTicks) out.push(`<text x="${fmt(x(t))}" y="${margin.top + plotHeight + 17}" text-anchor="middle">${num(t)}</text>`);
  out.push(
    `<text x="${fmt(margin.left + plotWidth / 2)}" y="${margin.top + plotHeight + 36}" text-anchor="middle">${escapeXml(options.xLabel ?? 'ε')}</text>`,
    `<text x="14" y="${fmt(margin.top + plotHeight / 2)}" text-anchor="middle" transform="rotate(-90 14 ${fmt(margin.top + plotHeight / 2)})">accuracy</text>`,
    '</g>',
  );
  // Series: bands first (under every line), then lines and dots.
  let next = 0;
  const colors = series.map((s) => s.color ?? (s.emphasis ? WORST : PALETTE[next++ % PALETTE.length]!));
  const sorted = series.map((s) => [...s.points].sort((a, b) => a.epsilon - b.epsilon));
  sorted.forEach((pts, i) => {
    const banded = pts.filter((p) => p.lower !== undefined && p.upper !== undefined);
    if (banded.length < 2) return;
    const upper = banded.map((p) => `${fmt(x(p.epsilon))},${fmt(y(p.upper!))}`);
    const lower = banded.map((p) => `${fmt(x(p.epsilon))},${fmt(y(p.lower!))}`).reverse();
    out.push(
      `<polygon class="band" points="${[...upper, ...lower].join(' ')}" fill="${colors[i]}" fill-opacity="${series[i]!.emphasis ? 0.14 : 0.08}" stroke="none"/>`,
    );
  });
  // Emphasised series (the worst case) first, so that an attack whose line coincides with it stays visible on top.
  const drawOrder = sorted.map((_, i) => i).sort((a, b) => Number(series[b]!.emphasis ?? false) - Number(series[a]!.emphasis ?? false));
  drawOrder.forEach((i) => {
    const pts = sorted[i]!;
    const s = series[i]!;
    const color = colors[i]!;
    const widthAttr = s.emphasis ? 3 : 1.8;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<g class="series" data-label="${escapeXml(s.label)}">`);
    if (pts.length > 1) {
      const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${fmt(x(p.epsilon))} ${fmt(y(p.accuracy))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${widthAttr}"${dash}/>`);
    }
    for (const p of pts) {
      const ci = p.lower !== undefined && p.upper !== undefined ? ` [${(100 * p.lower).toFixed(1)}%, ${(100 * p.upper).toFixed(1)}%]` : '';
      out.push(
        `<circle cx="${fmt(x(p.epsilon))}" cy="${fmt(y(p.accuracy))}" r="${s.emphasis ? 4 : 3}" fill="${color}">` +
          `<title>${escapeXml(`${s.label}: ε = ${num(p.epsilon)}, ${(100 * p.accuracy).toFixed(1)}%${ci}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  });
  // Legend, one row per series, below the axis label.
  out.push('<g class="legend" font-size="13" font-family="system-ui, sans-serif" fill="#222222">');
  series.forEach((s, i) => {
    const ly = margin.top + plotHeight + margin.bottom + i * legendRow + 6;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + 28}" y1="${ly}" y2="${ly}" stroke="${colors[i]}" stroke-width="${s.emphasis ? 3 : 2}"${dash}/>` +
        `<text x="${margin.left + 36}" y="${ly + 4}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</g>', '</svg>');
  return out.join('\n');
}

/**
 * The series of a report's curve for one norm: each attack of that norm (its robust accuracy per epsilon, cumulative
 * in a cascade) and, last and emphasised, the worst case over them with its confidence band, starting from the clean
 * accuracy at ε = 0 when the run had no ε = 0.
 *
 * @param report - the report.
 * @param norm - `linf` or `l2`.
 * @returns the series (empty when the report has no point of that norm).
 * @example
 * ```ts
 * import { renderCurveSvg, reportCurveSeries } from 'robustest';
 * const svg = renderCurveSvg(reportCurveSeries(report, 'linf'), { title: 'L∞ robustness' });
 * ```
 */
export function reportCurveSeries(report: Report, norm: string): CurveSeries[] {
  const worst = report.curve.filter((p) => normOf(p) === norm);
  if (worst.length === 0) return [];
  const byAttack = new Map<string, CurveSeriesPoint[]>();
  for (const a of report.attacks) {
    if (normOf(a) !== norm) continue;
    let key = a.name;
    // The same attack twice in one plan: a new series when its epsilon repeats.
    for (let k = 2; byAttack.get(key)?.some((p) => p.epsilon === a.epsilon); k++) key = `${a.name} #${k}`;
    const list = byAttack.get(key) ?? [];
    list.push({ epsilon: a.epsilon, accuracy: a.robustAccuracy, lower: a.ci.lower, upper: a.ci.upper });
    byAttack.set(key, list);
  }
  return [
    ...[...byAttack].map(([label, points]) => ({ label, points })),
    {
      label: `worst case (${normLabel(norm, true)})`,
      emphasis: true,
      points: [
        // Robust accuracy at ε = 0 is the clean accuracy: the curve starts there when the run had no ε = 0.
        ...(worst.some((p) => p.epsilon === 0)
          ? []
          : [{ epsilon: 0, accuracy: report.cleanAccuracy, lower: report.cleanCi.lower, upper: report.cleanCi.upper }]),
        ...worst.map((p) => ({ epsilon: p.epsilon, accuracy: p.robustAccuracy, lower: p.ci.lower, upper: p.ci.upper })),
      ],
    },
  ];
}
