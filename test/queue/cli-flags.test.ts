// The queue commands' flags, in process and without Redis: what is refused before anything connects or loads, each
// as one line with exit code 2, and the help that lists them.
import { describe, expect, it } from 'vitest';
import { withoutQueue } from '../../src/cli/queue-run.js';
import { progressLine } from '../../src/cli/collect.js';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

const cli = (args: string[]): Promise<CliRun> => runMain(args);

describe('queue commands: flags', () => {
  it('lists worker and collect, and --queue on eval', async () => {
    expect((await cli(['--help'])).out).toMatch(/worker[\s\S]*collect/);
    expect((await cli(['eval', '--help'])).out).toMatch(/--queue <url>/);
    const worker = await cli(['worker', '--help']);
    for (const flag of ['--queue', '--path-map', '--lock-duration', '--stalled-interval', '--max-stalled', '--exit-when-idle', '--name']) {
      expect(worker.out).toContain(flag);
    }
    const collect = await cli(['collect', '--help']);
    for (const flag of ['--queue', '--json', '--markdown', '--min-robust-accuracy', '--interval', '--timeout', '--clear']) expect(collect.out).toContain(flag);
  });

  it('refuses bad queue flags in one line, exit 2, before connecting', async () => {
    for (const [args, message] of [
      [['worker'], /required option '--queue <url>' not specified/],
      [['collect', '--queue', 'http://127.0.0.1:6379/q'], /^robustest: queue: expected --queue redis:\/\/HOST:PORT\/NAME .*got the protocol "http:"\n$/],
      [['worker', '--queue', 'redis://127.0.0.1:6379/q', '--path-map', 'nothing'], /expected FROM=TO \(two path prefixes\) for --path-map, got "nothing"/],
      [['worker', '--queue', 'redis://127.0.0.1:6379/q', '--lock-duration', '10'], /expected an integer in \[1000, \d+\] for --lock-duration, got "10"/],
      [
        ['eval', '--queue', 'redis://127.0.0.1:6379/q', '--json', 'r.json'],
        /^robustest: eval: expected --json on robustest collect with --queue \(collect writes the report\), got it on eval\n$/,
      ],
      [['eval', '--queue', 'redis://127.0.0.1:6379/q', '--checkpoint', 'runs/x'], /^robustest: eval: expected no --checkpoint with --queue/],
      [['eval', '--queue', 'redis://127.0.0.1:6379/a:b'], /got the name "a:b"/],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });

  it('records the single-process command line, without --queue', () => {
    expect(withoutQueue(['eval', '--limit', '60', '--queue', 'redis://h:1/q', '--seed', '1'])).toEqual(['eval', '--limit', '60', '--seed', '1']);
    expect(withoutQueue(['eval', '--queue=redis://h:1/q', '--limit', '60'])).toEqual(['eval', '--limit', '60']);
  });

  it('prints progress as one line', () => {
    expect(progressLine({ runId: 'a'.repeat(64), jobs: 6, done: 3, active: 2, waiting: 1, failed: 0, workers: ['w1', 'w2', 'w3'] })).toBe(
      'run aaaaaaaaaaaa…: 3/6 jobs done · 2 active · 1 waiting · 0 failed · 3 workers (w1, w2, w3)',
    );
    expect(progressLine({ runId: 'b', jobs: 2, done: 0, active: 0, waiting: 2, failed: 0, workers: [] })).toBe(
      'run b: 0/2 jobs done · 0 active · 2 waiting · 0 failed · 0 workers',
    );
  });
});
