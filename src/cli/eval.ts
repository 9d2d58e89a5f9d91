/**
 * `robustest eval`: loads a model and data (the bundled MNIST demo by default), runs the attacks, prints a table,
 * writes JSON/Markdown/HTML/JUnit reports and exits non-zero below a threshold.
 * @internal
 * @module
 */
import type { Command } from 'commander';
import { renderText } from '../report-markdown.js';
import { checkReportOutputs, judgeThreshold, writeReportOutputs } from './outputs.js';
import { collectExamples } from '../../metrics/examples.js';
import type { Report } from '../report.js';
import { ATTACKS } from '../../attacks/registry.js';
import { evaluate } from '../../metrics/evaluate.js';
import { fraction, integer, progressBar, type CliIO, type CommandContext } from './common.js';
import { addRunOptions, setupRun, type RunFlags } from './run-setup.js';
import { checkpointOptions, checkShardFlags, evalShard, parseShard, type ShardSpec } from './shard.js';
import { enqueueEval } from './queue-run.js';
import { applyConfig, type AppliedConfig } from '../config.js';
import { applyDefenseFlags, checkDefenseFlags, DEFENSE_HELP, type DefenseFlags } from './defense-flags.js';

/** Parsed `robustest eval` options: the run's ({@link RunFlags}) and the outputs'. */
export interface EvalFlags extends RunFlags, DefenseFlags {
  json?: string;
  markdown?: string;
  html?: string;
  junit?: string;
  examples?: number;
  minRobustAccuracy?: number;
  allowWarnings?: boolean;
  checkpoint?: string;
  restart?: boolean;
  shard?: ShardSpec;
  verbose?: boolean;
  config?: string;
  queue?: string;
}

/** The attacks of the registry, for `eval --help`. */
function attackHelp(): string {
  const rows = Object.values(ATTACKS).map((e) => {
    const opts = Object.keys(e.options)
      .map((k) => `--${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`)
      .join(', ');
    return `  ${e.name.padEnd(14)} ${e.kind.padEnd(14)} ${e.norms.join('/').padEnd(8)} ${e.summary}${opts ? `\n  ${''.padEnd(38)}options: ${opts}` : ''}`;
  });
  return `\nAttacks (--attack):\n  ${'name'.padEnd(14)} ${'kind'.padEnd(14)} ${'norms'.padEnd(8)} summary\n${rows.join('\n')}\n`;
}

/** Adds `eval` to the program. */
export function registerEval(program: Command, context: CommandContext): void {
  addRunOptions(
    program
      .command('eval')
      .description(
        'Evaluate a model: clean accuracy, then each attack at each epsilon on the points still robust, robust accuracy ' +
          'as the per-point worst case. With no --model/--data it runs the bundled MNIST demo.',
      ),
  )
    .option('--json <file>', 'write the JSON report here')
    .option('--markdown <file>', 'write the Markdown report here')
    .option(
      '--min-robust-accuracy <a>',
      'exit 1 if any worst-case robust accuracy is below this fraction, or if a severe pitfall check fired (the verdict is UNRELIABLE)',
      fraction('--min-robust-accuracy'),
    )
    .option('--allow-warnings', 'with --min-robust-accuracy: pass even when a severe pitfall check fired')
    .option(
      '--config <file>',
      'read the run from this configuration file (default: robustest.config.json, .mjs or .ts in the working directory, if any); flags override it',
    )
    .option(
      '--queue <url>',
      'enqueue the run on a BullMQ queue at redis://HOST:PORT/NAME (one job per batch) instead of running it; `robustest worker` runs the jobs, `robustest collect` writes the report',
    )
    .option('--html <file>', 'write the self-contained HTML report here (curves, tables, warnings; the image grid with --examples)')
    .option(
      '--junit <file>',
      'write JUnit XML here: a case per attack and ε, per curve point (failing below --min-robust-accuracy) and per warning (severe ones fail unless --allow-warnings)',
    )
    .option(
      '--examples <n>',
      "keep the first N points' clean and adversarial inputs in the report for the HTML image grid (a second pass over them with the run's seeds)",
      integer('--examples', 1),
    )
    .option('--checkpoint <dir>', 'append each finished batch of points to DIR/checkpoint.jsonl (fsynced); running the same command again resumes there')
    .option('--restart', 'with --checkpoint: start over instead of resuming (replaces the checkpoint)')
    .option(
      '--shard <i/n>',
      'evaluate only the i-th (0-based) of n balanced slices of the data and write a partial report to --json for `robustest merge`; auto/n reads i from ROBUSTEST_SHARD_INDEX, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or CI_NODE_INDEX (1-based)',
      parseShard,
    )
    .option('--defense <list>', DEFENSE_HELP)
    .option('--eot <n>', 'with --defense: draws of the random transforms averaged per gradient (EOT; default 10)', integer('--eot', 1, 10_000))
    .option('--no-adaptive', "with --defense: attack with the transforms' own gradients and one draw (non-adaptive; the report warns non-adaptive-defense)")
    .option('--quiet', 'print nothing but errors')
    .option('--verbose', 'print stack traces of errors')
    .addHelpText('after', attackHelp)
    .action(async (flags: EvalFlags, command: Command) => {
      context.setVerbose(Boolean(flags.verbose));
      const config = await applyConfig(command, process.cwd());
      context.setExitCode(await runEval(command.opts<EvalFlags>(), context.io, context.argv, config));
    });
}

async function runEval(flags: EvalFlags, io: CliIO, argv: readonly string[], config?: AppliedConfig): Promise<number> {
  checkShardFlags(flags);
  checkDefenseFlags(flags);
  if (flags.queue !== undefined) return enqueueEval(flags, io, argv, config);
  await checkReportOutputs(flags);
  const say = (s: string): void => {
    if (!flags.quiet) io.stdout(s);
  };
  const run = applyDefenseFlags(await setupRun(flags, io, argv), flags, io, Boolean(flags.quiet));
  if (config !== undefined && !flags.quiet) io.stderr(`robustest: configuration ${config.path}\n`);
  try {
    const bar = io.isTTY && !flags.quiet ? progressBar(io) : undefined;
    let report: Report;
    const options = { ...(config?.adjust(run.options) ?? run.options), ...checkpointOptions(flags) };
    if (flags.shard !== undefined) return await evalShard(run, options, flags, io);
    try {
      report = await evaluate(run.model, run.data, { ...options, ...(bar ? { onProgress: bar.update } : {}) });
    } finally {
      bar?.end();
    }
    if (flags.examples !== undefined) report.examples = await collectExamples(run.model, run.data, options, flags.examples);
    say(renderText(report));
    await writeReportOutputs(report, flags, say);
    if (judgeThreshold(report, flags, io, 'eval') === 1) return 1;
    const failures = config?.failures(report) ?? [];
    if (failures.length > 0) {
      io.stderr(`robustest: below the thresholds of ${config!.path}: ${failures.join('; ')}\n`);
      return 1;
    }
    return 0;
  } finally {
    run.dispose();
  }
}
