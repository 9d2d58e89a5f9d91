/**
 * `robustest compare A.json B.json [--format text|md|html] [--out FILE] [--fail-on-regression] [--force]`: compares
 * a baseline report with a candidate and flags statistically real regressions.
 * @internal
 * @module
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { compareReports, renderComparisonHtml, renderComparisonMarkdown, renderComparisonText, reportOutcomes, type PointOutcomes } from '../compare.js';
import { ConfigError } from '../errors.js';
import { quote, readRegularFile } from '../files.js';
import { validateReport, type Report } from '../report.js';
import { checkOutputPath } from '../write.js';
import { robustMask } from '../../metrics/records.js';
import { decodePart, mergeStates } from '../../metrics/part-data.js';
import { mergePartialReports, type PartialReport } from '../../metrics/parts.js';
import { type CommandContext } from './common.js';
import { emit, MAX_REPORT_BYTES } from './report.js';

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

/**
 * A report and, when the file carries them, its per-point outcomes: a report's optional `pointOutcomes`, or a
 * complete partial report (`eval --shard 0/1`, or one covering every point), whose records are the outcomes.
 */
async function readComparable(path: string): Promise<{ report: Report; outcomes?: PointOutcomes }> {
  const bytes = await readRegularFile(path, (p) => new ConfigError(`compare: expected a readable report file ${quote(path)}, got ${p.reason}`), {
    maxBytes: MAX_REPORT_BYTES,
  });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ConfigError(`compare: expected JSON in ${quote(path)}, got ${(e as Error).message.split('\n')[0]}`);
  }
  if ((value as { kind?: unknown } | null)?.kind === 'robustest-partial-report') {
    const partial = value as PartialReport;
    const report = mergePartialReports([{ name: path, value }]);
    const state = mergeStates(
      partial.header,
      partial.parts.map((part, i) => decodePart(part, partial.header, `compare: ${path} part ${i}`)),
    );
    const outcomes: PointOutcomes = {
      clean: Array.from(state.predictions, (p, i) => p === state.labels[i]),
      robust: report.curve.map((p) => ({ norm: p.norm, epsilon: p.epsilon, robust: robustMask(state, p.norm, p.epsilon) })),
    };
    return { report, outcomes };
  }
  const report = validateReport(value);
  const outcomes = reportOutcomes(report);
  return outcomes === undefined ? { report } : { report, outcomes };
}

/** Adds `compare` to the program. */
export function registerCompare(program: Command, context: CommandContext): void {
  program
    .command('compare')
    .description(
      'Compare two JSON reports of the same data and threat model (A the baseline, B the candidate): clean and robust accuracy per ε with intervals, ' +
        'per-class changes; a regression is flagged only when statistically real (McNemar on per-point outcomes when both reports have them, else non-overlapping intervals).',
    )
    .argument('<a>', 'the baseline JSON report (or a complete partial report from eval --shard 0/1, which carries per-point outcomes)')
    .argument('<b>', 'the candidate JSON report (likewise)')
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
      const [{ report: ra, outcomes: oa }, { report: rb, outcomes: ob }] = [await readComparable(a), await readComparable(b)];
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
