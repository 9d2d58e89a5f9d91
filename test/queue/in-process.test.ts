// A run through the queue in one process, on a real redis-server: eval --queue, a worker (runWorker with the CLI's
// executor, which rebuilds the run from the stored flags), collect with every output; the report equals the
// single-process eval's but timings and command line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareExecutor } from '../../src/cli/queue-run.js';
import { runWorker } from '../../src/queue/index.js';
import { redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

const skip = redisSkipReason();
const io = { stdout: () => undefined, stderr: () => undefined, isTTY: false, env: {} };

const cli = (args: string[]): Promise<CliRun> => runMain(args);

function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !['seconds', 'startedAt', 'finishedAt', 'command'].includes(k))
      .map(([k, v]) => [k, withoutTimings(v)]),
  );
}

describe.skipIf(skip !== undefined)(`queue in one process${skip !== undefined ? ` (skipped: ${skip})` : ''}`, () => {
  let redis: RedisServer;
  let dir: string;
  beforeAll(async () => {
    [redis, dir] = await Promise.all([startRedis(), mkdtemp(join(tmpdir(), 'robustest-queue-'))]);
  });
  afterAll(async () => {
    await redis?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('queued, worked and collected (JSON, Markdown, HTML, JUnit): the single-process report but timings', async () => {
    const url = `${redis.url}/in-process`;
    const run = ['--limit', '20', '--attack', 'fgsm', '--eps', '0.1', '--batch-size', '10', '--backend', 'cpu', '--quiet'];
    const enq = await cli(['eval', ...run, '--queue', url]);
    expect(enq.err).toBe('');
    expect(enq.code).toBe(0);
    const summary = await runWorker(url, { prepare: (m) => prepareExecutor(m, io, []), exitWhenIdleMs: 500 });
    expect(summary).toMatchObject({ stored: 2, duplicates: 0, failed: 0 });
    const out = (f: string): string => join(dir, f);
    const col = await cli([
      'collect',
      '--queue',
      url,
      '--json',
      out('q.json'),
      '--markdown',
      out('q.md'),
      '--html',
      out('q.html'),
      '--junit',
      out('q.xml'),
      '--interval',
      '1',
    ]);
    expect(col.err).toMatch(/^robustest: run [0-9a-f]{12}…: 2\/2 jobs done · 0 active · 0 waiting · 0 failed · 0 workers\n$/);
    expect(col.code).toBe(0);
    expect(col.out).toMatch(/HTML report: .*q\.html\nJUnit XML: .*q\.xml\n/);
    const ref = await cli(['eval', ...run, '--json', out('single.json')]);
    expect(ref.code).toBe(0);
    const queued = JSON.parse(await readFile(out('q.json'), 'utf8')) as { count: number };
    const single = JSON.parse(await readFile(out('single.json'), 'utf8')) as unknown;
    expect(queued.count).toBe(20);
    expect(withoutTimings(queued)).toEqual(withoutTimings(single));
    expect(await readFile(out('q.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/i);
    expect(await readFile(out('q.xml'), 'utf8')).toMatch(/<testsuites[\s>]/);
    expect(await readFile(out('q.md'), 'utf8')).toMatch(/robust/i);
  });
});
