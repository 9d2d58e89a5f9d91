/**
 * `robustest compare A.json B.json [--format text|md|html] [--out FILE] [--fail-on-regression] [--force]`: compares
 * a baseline report with a candidate and flags statistically real regressions.
 * @internal
 * @module
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { compareReports, renderComparisonHtml, renderComparisonMarkdown, renderComparisonText, reportOutcomes } from '../compare.js';
import { checkOutputPath } from '../write.js';
import { type CommandContext } from './common.js';
import { emit, readReportFile } from './report.js';

/** The formats of `robustest compare`. */
export const COMPARE_FORMATS = ['text', 'md', 'html'] as const;

interface CompareFlags {
  format: (typeof COMPARE_FORMATS)[number];
  out?: string;
  failOnRegression?: boolean;
  force?: boolean;
  alpha: number;
  verbose?: boolean;
}

function alpha(value: string): number {
  const v = Number(value);
  if (!Number.isFinite(v) || !(v > 0 && v < 1)) throw new InvalidArgumentError(`expected a number in (0, 1) for --alpha, got "${value}"`);
  return v;
}

/** Adds `compare` to the program. */
export function registerCompare(program: Command, context: CommandContext): void {
  program
    .command('compare')
    .description(
      'Compare two JSON reports of the same data and threat model (A the baseline, B the candidate): clean and robust accuracy per ε with intervals, ' +
        'per-class changes; a regression is flagged only when statistically real (McNemar on per-point outcomes when both reports have them, else non-overlapping intervals).',
    )
    .argument('<a>', 'the baseline JSON report')
    .argument('<b>', 'the candidate JSON report')
    .addOption(
      new Option('--format <format>', 'text, md (a pull-request comment) or html (both curves on one chart)').choices([...COMPARE_FORMATS]).default('text'),
    )
    .option('--out <file>', 'write here (atomically) instead of stdout')
    .option('--fail-on-regression', 'exit 1 when a regression is flagged')
    .option('--force', 'compare reports of different data or threat models (only the radii both have)')
    .option('--alpha <p>', 'significance level of the paired test', alpha, 0.05)
    .option('--verbose', 'print stack traces of errors')
    .action(async (a: string, b: string, flags: CompareFlags) => {
      context.setVerbose(Boolean(flags.verbose));
      if (flags.out !== undefined) await checkOutputPath(flags.out, '--out');
      const [ra, rb] = [await readReportFile(a, 'compare'), await readReportFile(b, 'compare')];
      const [oa, ob] = [reportOutcomes(ra), reportOutcomes(rb)];
      const c = compareReports(ra, rb, {
        alpha: flags.alpha,
        ...(flags.force ? { force: true } : {}),
        ...(oa !== undefined && ob !== undefined ? { outcomes: { a: oa, b: ob } } : {}),
      });
      const text = flags.format === 'html' ? renderComparisonHtml(c) : flags.format === 'md' ? renderComparisonMarkdown(c) : renderComparisonText(c);
      await emit(context.io, text, flags.out);
      if (c.regressions.length > 0) {
        context.io.stderr(
          `robustest: regression: ${c.regressions.map((r) => `${r.label} ${(100 * r.a.accuracy).toFixed(1)}% → ${(100 * r.b.accuracy).toFixed(1)}%`).join(', ')}\n`,
        );
      }
      context.setExitCode(flags.failOnRegression && c.regressions.length > 0 ? 1 : 0);
    });
}
