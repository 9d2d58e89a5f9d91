/**
 * `robustest report R.json --format html|md|junit|text [--out FILE]`: renders a saved JSON report. Also the shared
 * reader of report files and the writer of renderings (`eval --html/--junit` and `compare` use them).
 * @internal
 * @module
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '../errors.js';
import { quote, readRegularFile } from '../files.js';
import { validateReport, type Report } from '../report.js';
import { renderMarkdown, renderText } from '../report-markdown.js';
import { renderHtml } from '../report-html.js';
import { renderJunit } from '../report-junit.js';
import { renderExampleImages } from '../report-images.js';
import { checkOutputPath, writeFileAtomic } from '../write.js';
import { mergePartialReports } from '../../metrics/parts.js';
import { fraction, type CliIO, type CommandContext } from './common.js';

/** The largest report file read (a report with kept examples of large images stays far below). */
export const MAX_REPORT_BYTES = 512 * 1024 * 1024;

/** The formats of `robustest report`. */
export const REPORT_FORMATS = ['html', 'md', 'junit', 'text'] as const;

/** One of {@link REPORT_FORMATS}. */
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/**
 * Reads and validates a JSON report file; a complete partial report (`eval --shard 0/1`) is merged into its report.
 * Every failure is a one-line typed error naming the file.
 */
export async function readReportFile(path: string, what = 'report'): Promise<Report> {
  const bytes = await readRegularFile(path, (p) => new ConfigError(`${what}: expected a readable report file ${quote(path)}, got ${p.reason}`), {
    maxBytes: MAX_REPORT_BYTES,
  });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ConfigError(`${what}: expected JSON in ${quote(path)}, got ${(e as Error).message.split('\n')[0]}`);
  }
  if ((value as { kind?: unknown } | null)?.kind === 'robustest-partial-report') return mergePartialReports([{ name: path, value }]);
  return validateReport(value);
}

/** Options of {@link renderReport}. */
export interface RenderReportOptions {
  /** `--min-robust-accuracy`: shown in the HTML, failing cases in JUnit. */
  readonly minRobustAccuracy?: number;
  /** `--allow-warnings`: severe warnings pass in JUnit. */
  readonly allowWarnings?: boolean;
}

/** Renders a report in one format; HTML gets its example images encoded with sharp. */
export async function renderReport(report: Report, format: ReportFormat, options: RenderReportOptions = {}): Promise<string> {
  const min = options.minRobustAccuracy;
  switch (format) {
    case 'html':
      return renderHtml(report, { images: await renderExampleImages(report), ...(min !== undefined ? { minRobustAccuracy: min } : {}) });
    case 'junit':
      return renderJunit(report, { ...(min !== undefined ? { minRobustAccuracy: min } : {}), ...(options.allowWarnings ? { allowWarnings: true } : {}) });
    case 'md':
      return renderMarkdown(report);
    case 'text':
      return renderText(report);
  }
}

/** Writes `text` to `out` atomically, or to stdout without `out`. */
export async function emit(io: CliIO, text: string, out: string | undefined): Promise<void> {
  if (out === undefined) io.stdout(text);
  else await writeFileAtomic(out, text);
}

interface ReportFlags {
  format: ReportFormat;
  out?: string;
  minRobustAccuracy?: number;
  allowWarnings?: boolean;
  verbose?: boolean;
}

/** Adds `report` to the program. */
export function registerReport(program: Command, context: CommandContext): void {
  program
    .command('report')
    .description('Render a JSON report (from eval --json) as HTML, Markdown (a pull-request comment), JUnit XML or text.')
    .argument('<report>', 'the JSON report')
    .addOption(new Option('--format <format>', 'html (self-contained page), md, junit or text').choices([...REPORT_FORMATS]).default('text'))
    .option('--out <file>', 'write here (atomically) instead of stdout')
    .option(
      '--min-robust-accuracy <a>',
      'a threshold: JUnit has a failing case per curve point and attack below it; the HTML marks pass/fail',
      fraction('--min-robust-accuracy'),
    )
    .option('--allow-warnings', 'JUnit: severe pitfall warnings pass instead of failing')
    .option('--verbose', 'print stack traces of errors')
    .action(async (file: string, flags: ReportFlags) => {
      context.setVerbose(Boolean(flags.verbose));
      if (flags.out !== undefined) await checkOutputPath(flags.out, '--out');
      const report = await readReportFile(file);
      const text = await renderReport(report, flags.format, {
        ...(flags.minRobustAccuracy !== undefined ? { minRobustAccuracy: flags.minRobustAccuracy } : {}),
        ...(flags.allowWarnings ? { allowWarnings: true } : {}),
      });
      await emit(context.io, text, flags.out);
      context.setExitCode(0);
    });
}
