// `robustest eval --queue`, `robustest worker` and `robustest collect` as separate processes on a real redis-server:
// three workers, one killed with -9 in the middle of a job, and the collected report equal to the single-process one
// except timings; then the typed errors (unreachable Redis, a queue holding another run, a worker whose model file
// differs from the run's) that lose no finished results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { runProgress } from '../../src/queue/index.js';
import { cliLaunch, ROOT, runCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { freePort, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';

const skip = redisSkipReason();
const RUN = ['--limit', '60', '--attack', 'fgsm,pgd', '--steps', '5', '--batch-size', '10'];
/**
 * Short locks so that a killed worker's job is retried within seconds, yet long enough that a worker starved of CPU
 * on a busy machine keeps renewing its lock (a lock lost anyway only makes a job run twice, stored once).
 */
const FAST_STALLS = ['--lock-duration', '8000', '--stalled-interval', '1000', '--max-stalled', '3'];

/** A report without its timings (the only fields a queued run may change). */
function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => !['seconds', 'startedAt', 'finishedAt'].includes(k))
      .map(([k, v]) => [k, withoutTimings(v)]),
  );
}

describe.skipIf(skip !== undefined)(`queue CLI: eval --queue, worker, collect${skip !== undefined ? ` (skipped: ${skip})` : ` (${cliLaunch().label})`}`, () => {
  let redis: RedisServer;
  let dir: string;
  const workers: CliProcess[] = [];
  beforeAll(async () => {
    [redis, dir] = await Promise.all([startRedis(), mkdtemp(join(tmpdir(), 'robustest-queue-'))]);
  });
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await redis?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('3 workers, one killed -9 mid-job: its job is retried by another, nothing counts twice, and the report equals the single-process one but timings', async () => {
    const url = `${redis.url}/cli`;
    const enqueued = await runCli(['eval', ...RUN, '--queue', url]);
    expect(enqueued.err).not.toMatch(/robustest: (?!backend|gradients)/);
    expect(enqueued.code).toBe(0);
    expect(enqueued.out).toMatch(/6 jobs of up to 10 samples \(60 in all\): 6 added, 0 already done/);

    for (const i of [1, 2, 3]) workers.push(startCli(['worker', '--queue', url, '--name', `w${i}`, ...FAST_STALLS]));
    // The first worker to start a job is killed before it finishes it (the job starts before the model is loaded).
    const started = await Promise.race(workers.map((w, i) => w.waitFor(/job (\d+-\d+) started/).then((m) => ({ i, range: m[1]! }))));
    const victim = workers[started.i]!;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    expect(victim.err()).not.toMatch(new RegExp(`job ${started.range} stored`));

    const out = join(dir, 'queued.json');
    const ref = join(dir, 'single.json');
    const [collected, single] = await Promise.all([
      runCli(['collect', '--queue', url, '--json', out, '--interval', '1', '--timeout', '300']),
      runCli(['eval', ...RUN, '--json', ref, '--quiet']),
    ]);
    expect(single.code).toBe(0);
    expect(collected.err).not.toMatch(/internal error|expected/);
    expect(collected.code).toBe(0);
    // Progress while it ran: jobs done and workers alive.
    expect(collected.err).toMatch(/robustest: run [0-9a-f]{12}…: \d\/6 jobs done · \d+ active · \d+ waiting · 0 failed · [1-3] workers \(w\d/);
    expect(collected.err).toMatch(/6\/6 jobs done/);
    expect(collected.out).toMatch(/robustness curve/);

    const queued = JSON.parse(await readFile(out, 'utf8')) as { count: number; provenance: { command: string } };
    const reference = JSON.parse(await readFile(ref, 'utf8')) as { count: number };
    expect(queued.count).toBe(60);
    expect(queued.provenance.command).toBe(`robustest eval ${RUN.join(' ')}`);
    expect(withoutTimings({ ...queued, provenance: { ...queued.provenance, command: '' } })).toEqual(
      withoutTimings({ ...reference, provenance: { ...(reference as typeof queued).provenance, command: '' } }),
    );

    // The killed worker's range was stored once, by another worker; six ranges, no more.
    const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await client.connect();
    try {
      const parts = await client.hgetall('robustest:cli:parts');
      expect(Object.keys(parts).sort()).toEqual(['0-10', '10-20', '20-30', '30-40', '40-50', '50-60']);
      expect((JSON.parse(parts[started.range]!) as { worker: string }).worker).not.toBe(`w${started.i + 1}`);
    } finally {
      client.disconnect();
    }
    const survivors = workers.filter((w) => w !== victim);
    expect(survivors.some((w) => new RegExp(`job ${started.range} started`).test(w.err()))).toBe(true);

    // SIGTERM: each survivor stops cleanly after its job (exit 0).
    for (const w of survivors) w.child.kill('SIGTERM');
    for (const w of survivors) {
      expect(await w.exited).toBe(0);
      expect(w.err()).toMatch(/stopped; \d+ jobs stored, \d+ already stored by another attempt, \d+ failed/);
    }
    const stored = survivors.map((w) => Number(/stopped; (\d+) jobs stored/.exec(w.err())![1]));
    expect(stored.reduce((a, b) => a + b, 0)).toBe(6);
  }, 300_000);

  it('typed one-line errors: unreachable Redis, a queue holding another run, a worker whose model differs; finished results stay', async () => {
    const port = await freePort();
    const url = `${redis.url}/cli`;
    const model = join(dir, 'model');
    await mkdir(model);
    for (const f of ['model.json', 'weights.bin']) await copyFile(join(ROOT, 'assets', 'mnist-cnn', f), join(model, f));
    const sample = join(ROOT, 'assets', 'mnist-sample');
    const mismatch = `${redis.url}/mismatch`;
    const data = ['--data', join(sample, 't10k-images-first1000-idx3-ubyte.gz'), '--labels', join(sample, 't10k-labels-first1000-idx1-ubyte.gz')];
    // Independent processes, run at once: an unreachable Redis; on the queue of the first test (its run finished),
    // another run (refused) and the same run (adds nothing); a run on a model file copied to a temporary folder.
    const [nowhere, other, again, enq] = await Promise.all([
      runCli(['eval', ...RUN, '--queue', `redis://127.0.0.1:${port}/x`]),
      runCli(['eval', ...RUN, '--seed', '1', '--queue', url]),
      runCli(['eval', ...RUN, '--queue', url]),
      runCli(['eval', '--model', join(model, 'model.json'), ...data, ...RUN.slice(2), '--limit', '20', '--queue', mismatch, '--quiet']),
    ]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.err).toMatch(new RegExp(`^robustest: eval: expected a Redis server at redis://127\\.0\\.0\\.1:${port}/x, got .*ECONNREFUSED.*\\n$`));
    expect(other.code).toBe(2);
    expect(other.err).toMatch(
      /robustest: eval: expected queue "cli" to be empty or to hold this run \([0-9a-f]{12}…\), got run [0-9a-f]{12}… enqueued .* with 6 of 6 parts stored/,
    );
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/0 added, 6 already done/);
    expect(await runProgress(url)).toMatchObject({ jobs: 6, done: 6 });
    expect(enq.code).toBe(0);

    // A worker whose model file differs from the run's (same path, one weight changed): a typed error, exit 2; the
    // job goes back to the queue for a worker that has the right file.
    const weights = await readFile(join(model, 'weights.bin'));
    weights.writeFloatLE(weights.readFloatLE(0) + 0.5, 0);
    await writeFile(join(model, 'weights.bin'), weights);
    // At the same time, the finished run is collected again and, with --clear, removed from its queue.
    const again2 = join(dir, 'again.json');
    const [bad, cleared] = await Promise.all([
      runCli(['worker', '--queue', mismatch, '--name', 'bad', '--quiet']),
      runCli(['collect', '--queue', url, '--json', again2, '--clear']),
    ]);
    expect(cleared.code).toBe(0);
    expect(cleared.out).toMatch(/cleared run [0-9a-f]{12}… from the queue/);
    expect((JSON.parse(await readFile(again2, 'utf8')) as { count: number }).count).toBe(60);
    await expect(runProgress(url)).rejects.toThrow(/collect: expected a run on queue "cli", got none/);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /^robustest: worker: expected the run [0-9a-f]{12}… \(model .*model\.json, data .*\), got .*model.*sha256 [0-9a-f]+.* vs [0-9a-f]+.*; this worker cannot serve it\n$/,
    );
    const progress = await runProgress(mismatch);
    expect(progress).toMatchObject({ jobs: 2, done: 0, failed: 0, active: 0, waiting: 2 });
  }, 300_000);
});
