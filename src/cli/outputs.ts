/**
 * What `eval` and `collect` do with a finished report: write the requested renderings (atomically) and judge
 * `--min-robust-accuracy`.
 * @internal
 * @module
 */
import { ConfigError } from '../errors.js';
import { checkOutputPath, writeFileAtomic } from '../write.js';
import { renderMarkdown, reportVerdict } from '../report-markdown.js';
import { renderHtml } from '../report-html.js';
import { renderJunit } from '../report-junit.js';
import { renderExampleImages } from '../report-images.js';
import type { Report } from '../report.js';
import type { CliIO } from './common.js';

/** The output and threshold flags `eval` and `collect` share. */
export interface ReportOutputFlags {
  json?: string;
  markdown?: string;
  html?: string;
  junit?: string;
  minRobustAccuracy?: number;
  allowWarnings?: boolean;
}

/** Checks, before any work starts, that every requested output path could be written. */
export async function checkReportOutputs(flags: ReportOutputFlags): Promise<void> {
  for (const [path, option] of [
    [flags.json, '--json'],
    [flags.markdown, '--markdown'],
    [flags.html, '--html'],
    [flags.junit, '--junit'],
  ] as const) {
    if (path !== undefined) await checkOutputPath(path, option);
  }
}

/**
 * Writes each requested rendering of `report` (JSON, Markdown, HTML with its example grid, JUnit with the
 * threshold), each atomically, and says where.
 */
export async function writeReportOutputs(report: Report, flags: ReportOutputFlags, say: (line: string) => void): Promise<void> {
  const min = flags.minRobustAccuracy;
  const threshold = min !== undefined ? { minRobustAccuracy: min } : {};
  if (flags.json !== undefined) {
    await writeFileAtomic(flags.json, JSON.stringify(report, null, 2) + '\n');
    say(`JSON report: ${flags.json}\n`);
  }
  if (flags.markdown !== undefined) {
    await writeFileAtomic(flags.markdown, renderMarkdown(report));
    say(`Markdown report: ${flags.markdown}\n`);
  }
  if (flags.html !== undefined) {
    await writeFileAtomic(flags.html, renderHtml(report, { images: await renderExampleImages(report), ...threshold }));
    say(`HTML report: ${flags.html}\n`);
  }
  if (flags.junit !== undefined) {
    await writeFileAtomic(flags.junit, renderJunit(report, { ...threshold, ...(flags.allowWarnings ? { allowWarnings: true } : {}) }));
    say(`JUnit XML: ${flags.junit}\n`);
  }
}

/**
 * Judges `--min-robust-accuracy`: 1 (with the reason on stderr) when a worst-case robust accuracy is below it, or
 * when a severe pitfall check fired and `--allow-warnings` was not given; else 0.
 *
 * @throws ConfigError when no input was classified correctly: a threshold judged on no evidence at all.
 */
export function judgeThreshold(report: Report, flags: ReportOutputFlags, io: CliIO, where: string): 0 | 1 {
  const min = flags.minRobustAccuracy;
  if (min === undefined) return 0;
  if (report.cleanAccuracy === 0) {
    throw new ConfigError(
      `${where}: expected at least one correctly classified input to judge --min-robust-accuracy, got none of ${report.count} (check --bounds, --mean/--std and the labels)`,
    );
  }
  const failing = report.curve.filter((p) => p.robustAccuracy < min);
  if (failing.length > 0) {
    io.stderr(`robustest: robust accuracy below ${min}: ${failing.map((p) => `${(100 * p.robustAccuracy).toFixed(1)}% at ε=${p.epsilon}`).join(', ')}\n`);
    return 1;
  }
  const verdict = reportVerdict(report);
  if (!verdict.reliable && !flags.allowWarnings) {
    io.stderr(
      `robustest: the evaluation is ${verdict.line}; its robust accuracy is likely an overestimate, so --min-robust-accuracy fails (see the warnings; --allow-warnings accepts it)\n`,
    );
    return 1;
  }
  return 0;
}
