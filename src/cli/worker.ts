/**
 * `robustest worker --queue redis://HOST:PORT/NAME`: takes the jobs `eval --queue` enqueued, one at a time, loads
 * the run's model and data once per run (verifying their SHA-256 against the run's), and stores each range's
 * per-point records in Redis. Start any number, on any number of machines. SIGTERM or SIGINT stops it after the job
 * in progress; a second signal stops it at once (the job is retried elsewhere once its lock expires).
 * @internal
 * @module
 */
import { InvalidArgumentError, type Command } from 'commander';
import { runWorker, short, type WorkerEvent } from '../queue/index.js';
import { integer, type CliIO, type CommandContext } from './common.js';
import { prepareExecutor, type PathMap } from './queue-run.js';

/** Parsed `robustest worker` options. */
export interface WorkerFlags {
  queue: string;
  pathMap: PathMap[];
  lockDuration: number;
  stalledInterval: number;
  maxStalled: number;
  exitWhenIdle?: number;
  name?: string;
  quiet?: boolean;
  verbose?: boolean;
}

function pathMap(value: string, previous: PathMap[]): PathMap[] {
  const i = value.indexOf('=');
  if (i <= 0 || i === value.length - 1) throw new InvalidArgumentError(`expected FROM=TO (two path prefixes) for --path-map, got "${value}"`);
  return [...previous, { from: value.slice(0, i), to: value.slice(i + 1) }];
}

function describeEvent(e: WorkerEvent): string {
  switch (e.type) {
    case 'ready':
      return `waiting for jobs on ${e.queue}`;
    case 'started':
      return `job ${e.range.start}-${e.range.end} started (attempt ${e.attempt})`;
    case 'prepared':
      return `run ${short(e.runId)} ready in ${e.seconds.toFixed(1)} s (model and data loaded, SHA-256 verified)`;
    case 'stored':
      return e.stored
        ? `job ${e.range.start}-${e.range.end} stored (${e.seconds.toFixed(2)} s)`
        : `job ${e.range.start}-${e.range.end} was already stored by another attempt (not counted twice)`;
    case 'failed':
      return `job ${e.range.start}-${e.range.end} failed: ${e.error}`;
    case 'stopping':
      return `stopping: ${e.reason}`;
  }
}

/** Adds `worker` to the program. */
export function registerWorker(program: Command, context: CommandContext): void {
  program
    .command('worker')
    .description(
      'Take jobs from a queue filled by `robustest eval --queue URL` (BullMQ on Redis) and store their per-point records; ' +
        'start any number of workers on any number of machines, then `robustest collect --queue URL` writes the report.',
    )
    .requiredOption('--queue <url>', 'the queue: redis://HOST:PORT/NAME (rediss:// for TLS; USER:PASSWORD@ and ?db=N allowed)')
    .option(
      '--path-map <from=to>',
      "where the run's files are on this machine: replace the path prefix FROM (as on the machine that ran eval) by TO; repeatable",
      pathMap,
      [],
    )
    .option('--lock-duration <ms>', "a job's lock; a killed worker's job is retried once it expires", integer('--lock-duration', 1000), 30_000)
    .option('--stalled-interval <ms>', 'how often to look for jobs whose worker died', integer('--stalled-interval', 100), 30_000)
    .option('--max-stalled <n>', 'how many times a job may stall (its worker died) before it fails', integer('--max-stalled', 0), 2)
    .option(
      '--exit-when-idle <s>',
      'exit after the queue has been empty this many seconds (default: wait for jobs until stopped)',
      integer('--exit-when-idle', 0),
    )
    .option('--name <name>', 'name in progress reports (default HOST:PID)')
    .option('--quiet', 'print nothing but errors')
    .option('--verbose', 'print stack traces of errors')
    .action(async (flags: WorkerFlags) => {
      context.setVerbose(Boolean(flags.verbose));
      context.setExitCode(await runWorkerCommand(flags, context.io));
    });
}

async function runWorkerCommand(flags: WorkerFlags, io: CliIO): Promise<number> {
  const stop = new AbortController();
  const force = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) force.abort();
    else stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let name = flags.name ?? '';
  try {
    const summary = await runWorker(flags.queue, {
      prepare: (manifest) => prepareExecutor(manifest, io, flags.pathMap),
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      lockDuration: flags.lockDuration,
      stalledInterval: flags.stalledInterval,
      maxStalledCount: flags.maxStalled,
      ...(flags.exitWhenIdle !== undefined ? { exitWhenIdleMs: flags.exitWhenIdle * 1000 } : {}),
      signal: stop.signal,
      forceSignal: force.signal,
      onEvent: (e) => {
        if (e.type === 'ready') name = e.worker;
        if (!flags.quiet) io.stderr(`robustest worker ${name}: ${describeEvent(e)}\n`);
      },
    });
    if (!flags.quiet) {
      io.stderr(
        `robustest worker ${summary.name}: stopped; ${summary.stored} jobs stored, ${summary.duplicates} already stored by another attempt, ${summary.failed} failed\n`,
      );
    }
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
