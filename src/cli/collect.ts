/**
 * `robustest collect --queue redis://HOST:PORT/NAME`: waits until every job of the queue's run has stored its
 * records, printing progress (jobs done, active, waiting, failed; workers connected), then merges them into the
 * report a single-process `robustest eval` gives (timings aside) and writes it as `eval` does.
 * @internal
 * @module
 */
import type { Command } from 'commander';
import { renderText } from '../report-markdown.js';
import { checkReportOutputs, judgeThreshold, writeReportOutputs } from './outputs.js';
import { clearRun, short, waitForRun, type RunProgress } from '../queue/index.js';
import { fraction, integer, type CliIO, type CommandContext } from './common.js';
import { reportOfRun } from './queue-run.js';

/** Parsed `robustest collect` options. */
export interface CollectFlags {
  queue: string;
  json?: string;
  markdown?: string;
  html?: string;
  junit?: string;
  minRobustAccuracy?: number;
  allowWarnings?: boolean;
  interval: number;
  timeout?: number;
  clear?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/** One line of progress: `3/6 jobs done · 2 active · 1 waiting · 0 failed · 3 workers (a, b, c)`. */
export function progressLine(p: RunProgress): string {
  const names = p.workers.length > 0 ? ` (${p.workers.slice(0, 4).join(', ')}${p.workers.length > 4 ? ', …' : ''})` : '';
  return `run ${short(p.runId)}: ${p.done}/${p.jobs} jobs done · ${p.active} active · ${p.waiting} waiting · ${p.failed} failed · ${p.workers.length} workers${names}`;
}

/** Adds `collect` to the program. */
export function registerCollect(program: Command, context: CommandContext): void {
  program
    .command('collect')
    .description(
      'Wait for the run on a queue (robustest eval --queue URL; robustest worker --queue URL) to finish, showing progress, ' +
        'then write its report: the one a single-process eval gives, timings aside.',
    )
    .requiredOption('--queue <url>', 'the queue: redis://HOST:PORT/NAME')
    .option('--json <file>', 'write the JSON report here')
    .option('--markdown <file>', 'write the Markdown report here')
    .option('--html <file>', 'write the self-contained HTML report here')
    .option('--junit <file>', 'write JUnit XML here (a case per attack and ε, per curve point and per warning)')
    .option(
      '--min-robust-accuracy <a>',
      'exit 1 if any worst-case robust accuracy is below this fraction, or if a severe pitfall check fired (the verdict is UNRELIABLE)',
      fraction('--min-robust-accuracy'),
    )
    .option('--allow-warnings', 'with --min-robust-accuracy: pass even when a severe pitfall check fired')
    .option('--interval <s>', 'seconds between progress checks', integer('--interval', 1), 2)
    .option('--timeout <s>', 'give up after this many seconds (the stored records stay in Redis; default: wait)', integer('--timeout', 1))
    .option('--clear', 'after writing the report, remove the run from the queue (its jobs, manifest and records) so that it can take another run')
    .option('--quiet', 'print nothing but errors')
    .option('--verbose', 'print stack traces of errors')
    .action(async (flags: CollectFlags) => {
      context.setVerbose(Boolean(flags.verbose));
      context.setExitCode(await runCollect(flags, context.io));
    });
}

async function runCollect(flags: CollectFlags, io: CliIO): Promise<number> {
  await checkReportOutputs(flags);
  const say = (s: string): void => {
    if (!flags.quiet) io.stdout(s);
  };
  let last = '';
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let collected: Awaited<ReturnType<typeof waitForRun>>;
  try {
    collected = await waitForRun(flags.queue, {
      intervalMs: flags.interval * 1000,
      ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout * 1000 } : {}),
      signal: stop.signal,
      onProgress: (p) => {
        const line = progressLine(p);
        if (flags.quiet || line === last) return;
        last = line;
        io.stderr(io.isTTY ? `\r${line.padEnd(100)}` : `robustest: ${line}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (io.isTTY && last !== '' && !flags.quiet) io.stderr('\n');
  }
  const report = reportOfRun(collected.manifest, collected.parts);
  say(renderText(report));
  await writeReportOutputs(report, flags, say);
  if (flags.clear) {
    await clearRun(flags.queue);
    say(`cleared run ${short(collected.manifest.runId)} from the queue\n`);
  }
  if (judgeThreshold(report, flags, io, 'collect') === 1) return 1;
  return 0;
}
