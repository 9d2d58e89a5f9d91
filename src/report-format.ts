/**
 * Formatting shared by every rendering of a report (text, Markdown, HTML, JUnit, comparisons): percentages,
 * epsilons, intervals, norm labels, the curve grouped by norm, and what each warning code means. Pure functions,
 * no Node imports (the renderings also run in a browser).
 * @module
 */
import type { ClassEntry, CurvePoint, Interval, Report } from './report.js';

/** A fraction as a percentage with one decimal: `0.9812` → `98.1%`. */
export function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** An interval as `[49.0%, 94.3%]`. */
export function interval(ci: Interval): string {
  return `[${pct(ci.lower)}, ${pct(ci.upper)}]`;
}

/** A confidence level as a column label: `0.95` → `95% CI`. */
export function levelLabel(level: number): string {
  return `${Number((level * 100).toFixed(2))}% CI`;
}

/** A number with at most 4 significant digits, no trailing zeros. */
export function num(x: number): string {
  if (x === 0) return '0';
  return String(Number(x.toPrecision(4)));
}

/**
 * An epsilon with at most 4 significant digits, annotated with its `k/255` form when it is one and its decimal
 * form had to be rounded (e.g. `0.03137 (8/255)`).
 */
export function eps(e: number): string {
  const short = num(e);
  const k = e * 255;
  const rounded = Math.round(k);
  if (rounded > 0 && Math.abs(k - rounded) < 1e-6 && String(e) !== short) return `${short} (${rounded}/255)`;
  return short;
}

/** Seconds with two decimals. */
export function seconds(s: number): string {
  return s.toFixed(2);
}

/** `linf` → `L∞` (or `Linf` without Unicode), `l2` → `L2`; a 1.0 report's missing norm is `linf`. */
export function normLabel(norm: string | undefined, unicode: boolean): string {
  if (norm === undefined) return unicode ? 'L∞' : 'Linf';
  if (norm === 'linf') return unicode ? 'L∞' : 'Linf';
  if (norm === 'l2') return 'L2';
  return norm;
}

/** A SHA-256 shortened to 12 hex digits; anything else (`unknown:...`) as it is. */
export function shortHash(h: string): string {
  return /^[0-9a-f]{64}$/.test(h) ? h.slice(0, 12) : h;
}

/** `3 (cat)`, or `3` without a name. */
export function className(c: Pick<ClassEntry, 'label' | 'name'>): string {
  return c.name !== undefined && c.name !== '' ? `${c.label} (${c.name})` : String(c.label);
}

/** A norm of a 1.1 report; 1.0 reports have none, which means `linf`. */
export function normOf(x: { norm?: string }): string {
  return x.norm ?? 'linf';
}

/** The norms of a report's curve and per-class entries, in order of first appearance. */
export function reportNorms(report: Report): string[] {
  const norms = new Set<string>();
  for (const p of report.curve) norms.add(normOf(p));
  for (const c of report.perClass) for (const r of c.robust) norms.add(normOf(r));
  return [...norms];
}

/** The curve grouped by norm (norms in order of first appearance, points in report order within a norm). */
export function curveByNorm(report: Report): CurvePoint[] {
  const norms = reportNorms(report);
  return [...report.curve].sort((a, b) => norms.indexOf(normOf(a)) - norms.indexOf(normOf(b)));
}

/**
 * What each warning code robustest emits means and what to do about it, for the renderings (the HTML report's
 * warnings section, JUnit failure bodies). The codes and their severities are those of `WARNING_CODES` and
 * `WARNING_SEVERITY` in `metrics/checks.ts` (and the model wrappers' `MODEL_WARNING_CODES`); a code not listed (a
 * caller's own) has no explanation beyond its message.
 *
 * @example
 * ```ts
 * for (const w of report.warnings) console.log(w.code, WARNING_EXPLANATIONS[w.code] ?? w.message);
 * ```
 */
export const WARNING_EXPLANATIONS: Readonly<Record<string, string>> = Object.freeze({
  'probability-output':
    'The model returns probabilities (softmax outputs), not logits. Losses computed on probabilities saturate, so gradients vanish and attacks look weaker than they are. Pass the pre-softmax logits.',
  'log-probability-output':
    'The model returns log-probabilities (log-softmax). This is a per-row shift of the logits and harmless to the losses; noted for completeness.',
  'zero-gradients':
    'Many inputs have an all-zero input gradient: a classic sign of gradient masking (saturated or non-differentiable layers). Gradient attacks cannot make progress, so robust accuracy is overestimated. Try black-box attacks (square) or remove the masking component.',
  'non-finite-gradients':
    'Some inputs have NaN or infinite input gradients, so gradient attacks take broken steps. Check the model for divisions, logs or exponentials that overflow.',
  'softmax-head':
    "The model ended in a softmax. robustest removed it so that attacks use the logits; when it could not be removed the warning is 'softmax-kept' instead.",
  'softmax-kept':
    'The model ends in a softmax that could not be removed, so attacks work on probabilities whose gradients saturate. Robust accuracy is likely overestimated; export the model without its final softmax.',
  'randomized-model':
    'Two forward passes on the same input differ, so the model is randomised (dropout at inference, random defences). Attacks need Expectation over Transformation and a single robust accuracy is not well defined.',
  'non-monotone-curve':
    'Robust accuracy rises with epsilon somewhere on the curve. A larger ball contains every adversarial example of a smaller one, so the attacks fell short: give them more steps or restarts.',
  'no-correct-points':
    'No input is classified correctly, so there is nothing to attack and robust accuracy is 0 at every epsilon. Check the labels, the class order and the input range.',
  'not-converged':
    "An attack's loss was still rising when it stopped, so more steps would likely fool more points. Increase steps (or use APGD, which adapts its step size).",
  'data-range-mismatch':
    "The data does not fill the model's bounds the way real inputs would (for example 0–1 data under bounds [0, 255]), so epsilon is measured in the wrong units. Fix --bounds or the data scaling.",
  'iterative-weaker-than-single-step':
    'An iterative attack (PGD, BIM) survived points a single-step attack (FGSM, FGM) fooled at the same radius. A correct iterative attack is at least as strong: this points to gradient masking or a bad step size.',
  'black-box-beats-white-box':
    'A query (black-box) attack fooled points every gradient attack failed on. Gradients are likely masked, so the white-box numbers overestimate robustness.',
  'unbounded-attack-fails':
    'An attack allowed to change the input arbitrarily left accuracy above chance. With an unlimited budget every point should fall, so the attack (or the gradient) is broken.',
  'restarts-matter':
    'Re-running the iterative attacks with more steps and restarts moved robust accuracy below its confidence interval: the reported number is not converged.',
  'transfer-beats-white-box':
    "Adversarial examples made on a surrogate model fooled more points than the model's own white-box attack: the model's gradients are likely masked.",
  'non-adaptive-defense':
    'The model has an input-transform defense that the attacks do not see through (no BPDA or EOT), so they attack a different function than the one deployed and robust accuracy is likely overestimated. Evaluate it with an adaptive attack (defend with bpda or eot).',
  'output-not-class-axis':
    "The model's output is not a [batch, classes] matrix as expected; robustest reshaped or selected it. Check that the right output is evaluated.",
  'export-approximation': 'A layer was exported with an approximation; numbers may differ slightly from the original framework.',
  'gradient-engine-fallback':
    'The requested gradient engine could not run this model, so robustest used tfjs gradients instead. Results are the same, only slower.',
  'query-only': 'The model was loaded as query-only (logits, no gradients): only black-box attacks ran.',
});

/**
 * Escapes text for HTML and XML content and attribute values (`&`, `<`, `>`, `"`, `'`), and drops the control
 * characters XML 1.0 forbids.
 */
export function escapeXml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;')
  );
}

/** Base64 to bytes with `atob` (Node 16+ and browsers); throws a `DOMException` on invalid input. */
export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Bytes to base64 with `btoa` (Node 16+ and browsers). */
export function encodeBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
