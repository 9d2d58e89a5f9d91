// robustest eval --shard i/n|auto/n and robustest merge: n = 1, 3 and 7 shards merge into the single-process report
// (except timings); parts of different runs, overlaps and gaps are refused with one line; the README's Kubernetes
// Indexed Job and GitHub Actions matrix have the shape the commands rely on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { npy, saveLinearModel, runMain } from '../helpers/cli-fixtures.js';
import { validateReport, type Report } from '../../src/report.js';
import { SHARD_INDEX_VARIABLES } from '../../src/cli/shard.js';
import { comparable } from '../metrics/parts-compare.js';

const cli = runMain;

describe('eval --shard and merge', () => {
  let dir: string;
  let run: (extra: string[]) => string[];
  let single: Report;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-merge-'));
    // A linear model on 4 features whose class is the index of the largest feature, and 41 points near its boundaries.
    await saveLinearModel(dir);
    const n = 41;
    const x = new Float32Array(n * 4);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 4;
      for (let j = 0; j < 4; j++) x[i * 4 + j] = j === y[i] ? 0.5 + 0.01 * (i % 7) : 0.45 - 0.01 * ((i + j) % 5);
    }
    await writeFile(join(dir, 'x.npy'), npy(x, [n, 4]));
    await writeFile(join(dir, 'y.npy'), npy(y, [n]));
    run = (extra) => [
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--attack',
      'fgsm,pgd',
      '--steps',
      '5',
      '--eps',
      '0.03,0.08',
      '--batch-size',
      '4',
      '--backend',
      'cpu',
      '--quiet',
      ...extra,
    ];
    const r = await cli(run(['--json', join(dir, 'single.json')]));
    expect(r.err).toBe('');
    single = validateReport(JSON.parse(await readFile(join(dir, 'single.json'), 'utf8')));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the single run fools some points and leaves others robust', () => {
    expect(single.count).toBe(41);
    expect(single.curve[0]!.robustAccuracy).toBeGreaterThan(0.2);
    expect(single.curve[1]!.robustAccuracy).toBeLessThan(single.curve[0]!.robustAccuracy);
  });

  it.each([
    [1, (i: number) => ({ flag: `${i}/1`, env: {} })],
    [3, (i: number) => ({ flag: 'auto/3', env: { JOB_COMPLETION_INDEX: String(i) } })],
    [7, (i: number) => ({ flag: 'auto/7', env: { CI_NODE_INDEX: String(i + 1) } })],
  ] as const)('merges %i shards into the single-process report (except timings)', async (n, shard) => {
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const { flag, env } = shard(i);
      const file = join(dir, `n${n}-part-${i}.json`);
      const r = await cli([...run(['--json', file]).filter((a) => a !== '--quiet'), '--shard', flag], env);
      expect(r.code).toBe(0);
      const lo = Math.floor((i * 41) / n);
      expect(r.out).toContain(`shard ${i}/${n}: points [${lo}, ${Math.floor(((i + 1) * 41) / n)}) of 41`);
      files.push(file);
    }
    const out = join(dir, `n${n}-report.json`);
    const m = await cli(['merge', ...files.reverse(), '-o', out, '--quiet']);
    expect(m).toEqual({ code: 0, out: '', err: '' });
    const merged = validateReport(JSON.parse(await readFile(out, 'utf8')));
    expect(comparable(merged)).toEqual(comparable(single));
    expect(merged.provenance.command).toMatch(/^robustest merge /);
  });

  it('refuses parts of different runs, overlapping parts and missing shards with one line', async () => {
    const a = join(dir, 'e-0.json');
    const b = join(dir, 'e-1.json');
    const other = join(dir, 'e-other.json');
    expect((await cli([...run(['--json', a]), '--shard', '0/2'])).code).toBe(0);
    expect((await cli([...run(['--json', b]), '--shard', '1/2'])).code).toBe(0);
    expect((await cli([...run(['--json', other, '--seed', '1']), '--shard', '1/2'])).code).toBe(0);
    const merge = (files: string[]) => cli(['merge', ...files, '-o', join(dir, 'e.json'), '--quiet']);
    expect(await merge([a, other])).toEqual({
      code: 2,
      out: '',
      err: `robustest: merge: expected partial reports of one run, got ${a} and ${other} of different runs (seed 0 vs 1)\n`,
    });
    expect((await merge([a])).err).toBe('robustest: merge: expected parts covering all 41 points, got none for points [20, 41)\n');
    expect((await merge([a, b, a])).err).toBe(`robustest: merge: expected disjoint partial reports, got points [0, 20) in both ${a} and ${a}\n`);
    await writeFile(join(dir, 'cut.json'), (await readFile(b, 'utf8')).slice(0, 100));
    expect((await merge([a, join(dir, 'cut.json')])).err).toMatch(
      /^robustest: merge: expected JSON in ".*cut.json", got a file that does not parse \(cut short\?\)\n$/,
    );
    expect((await merge([join(dir, 'single.json')])).err).toMatch(/^robustest: merge: expected .*single.json to be a partial report \(eval --shard\), got/);
  });

  it('checks --shard, --checkpoint and --restart before any work', async () => {
    const err = async (extra: string[], env: Record<string, string> = {}) => (await cli(run(extra), env)).err;
    expect(await err(['--shard', '3/3', '--json', join(dir, 'x.json')])).toBe(
      `robustest: option '--shard <i/n>' argument '3/3' is invalid. expected I/N with 0 <= I < N (0-based) or auto/N for --shard, got "3/3"\n`,
    );
    expect(await err(['--shard', '0/3'])).toBe('robustest: eval: expected --json FILE for the partial report of --shard 0/3, got none\n');
    expect(await err(['--shard', '0/3', '--json', join(dir, 'x.json'), '--markdown', join(dir, 'x.md')])).toBe(
      'robustest: eval: expected --markdown without --shard 0/3 (it needs the whole run: pass it to robustest merge), got both\n',
    );
    expect(await err(['--shard', 'auto/3', '--json', join(dir, 'x.json')])).toBe(
      `robustest: eval --shard auto/3: expected one of ${SHARD_INDEX_VARIABLES.map((v) => v.name).join(', ')} in the environment, got none (pass --shard I/3)\n`,
    );
    expect(await err(['--shard', 'auto/3', '--json', join(dir, 'x.json')], { AWS_BATCH_JOB_ARRAY_INDEX: '3' })).toBe(
      'robustest: eval --shard auto/3: expected AWS_BATCH_JOB_ARRAY_INDEX to be a shard index in [0, 3), got "3"\n',
    );
    expect(await err(['--restart'])).toBe('robustest: eval: expected --restart with --checkpoint DIR, got no --checkpoint\n');
  });
});

describe('README: shards on Kubernetes and GitHub Actions', () => {
  let readme: string;
  let blocks: Record<string, unknown>[];
  beforeAll(async () => {
    readme = await readFile(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Scaling out'));
    blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>);
  });
  const shardFlag = (args: readonly string[]): number => {
    const at = args.findIndex((a) => a.startsWith('--shard'));
    const flag = args[at] === '--shard' ? `--shard ${args[at + 1]}` : args[at];
    const m = /^--shard[= ]auto\/(\d+)$/.exec(flag ?? '');
    expect(m, `expected --shard auto/N among ${args.join(' ')}`).not.toBeNull();
    return Number(m![1]);
  };

  it('has an Indexed Job whose pods each evaluate one shard into a shared volume', () => {
    const job = blocks.find((b) => b['kind'] === 'Job') as {
      apiVersion: string;
      spec: {
        completionMode: string;
        completions: number;
        parallelism: number;
        template: {
          spec: {
            restartPolicy: string;
            containers: { command: string[]; args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
            volumes: { name: string }[];
          };
        };
      };
    };
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.spec.completionMode).toBe('Indexed');
    const pod = job.spec.template.spec;
    expect(['Never', 'OnFailure']).toContain(pod.restartPolicy);
    const [container] = pod.containers;
    const argv = [...container!.command, ...container!.args];
    expect(argv.slice(0, 3)).toEqual(['npx', 'robustest', 'eval']);
    expect(shardFlag(container!.args)).toBe(job.spec.completions);
    expect(job.spec.parallelism).toBeLessThanOrEqual(job.spec.completions);
    // Each pod writes its own partial report, named by its index, on a mounted volume; the inputs are mounted too.
    const json = container!.args.find((a) => a.startsWith('--json='))!.slice('--json='.length);
    expect(json).toContain('$(JOB_COMPLETION_INDEX)');
    for (const path of [
      json,
      ...['--model=', '--data=', '--labels=', '--checkpoint='].map((p) => container!.args.find((a) => a.startsWith(p))!.slice(p.length)),
    ]) {
      const mount = container!.volumeMounts.find((m) => path.startsWith(m.mountPath + '/'));
      expect(mount, `expected ${path} on a mounted volume`).toBeDefined();
      expect(pod.volumes.map((v) => v.name)).toContain(mount!.name);
    }
    // The merge command the README gives reads the files the pods write.
    const merge = /robustest merge (\/\S+) -o (\S+)/.exec(readme.slice(readme.indexOf('## Scaling out')))!;
    expect(json.replace('$(JOB_COMPLETION_INDEX)', '*')).toBe(merge[1]);
  });

  it('has a GitHub Actions matrix with one job per shard and a merge job that needs them', () => {
    const wf = blocks.find((b) => typeof b['jobs'] === 'object' && 'merge' in (b['jobs'] as object)) as {
      jobs: {
        shard: { strategy: { matrix: { shard: number[] } }; steps: { run?: string; env?: Record<string, string>; with?: Record<string, string> }[] };
        merge: { needs: string | string[]; steps: { run?: string; uses?: string; with?: Record<string, unknown> }[] };
      };
    };
    const shards = wf.jobs.shard.strategy.matrix.shard;
    const evalStep = wf.jobs.shard.steps.find((s) => s.run?.includes('robustest eval'))!;
    const n = shardFlag(evalStep.run!.split(/\s+/));
    expect(shards).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(evalStep.env!['ROBUSTEST_SHARD_INDEX']).toBe('${{ matrix.shard }}');
    expect(SHARD_INDEX_VARIABLES[0]!.name).toBe('ROBUSTEST_SHARD_INDEX');
    expect(evalStep.run).toContain('--json part-${{ matrix.shard }}.json');
    const upload = wf.jobs.shard.steps.find((s) => s.with?.['path'] === 'part-${{ matrix.shard }}.json');
    expect(upload).toBeDefined();
    expect([wf.jobs.merge.needs].flat()).toContain('shard');
    const download = wf.jobs.merge.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!;
    expect(download.with).toMatchObject({ pattern: 'part-*', 'merge-multiple': true });
    expect(wf.jobs.merge.steps.some((s) => s.run?.startsWith('npx robustest merge part-*.json -o report.json'))).toBe(true);
  });
});
