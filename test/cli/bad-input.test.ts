// Issue 8's CLI table: every bad input known up front exits 2 with exactly one line on stderr, no stack, before
// any model is loaded or evaluation starts (the bundled demo would take seconds; these take milliseconds).
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

const cli = (args: string[]): Promise<CliRun> => runMain(args);

describe('robustest eval: bad input is one line, exit 2, before any work', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-bad-'));
    await writeFile(join(dir, 'file'), 'x');
    await writeFile(join(dir, 'report.json'), 'previous report\n');
    await mkdir(join(dir, 'folder'));
  });

  const table: [string, (d: string) => string[], RegExp][] = [
    ['--steps 1e20', () => ['eval', '--steps', '1e20'], /expected an integer in \[1, 100000\] for --steps, got "1e20"/],
    ['--restarts 1e9', () => ['eval', '--restarts', '1000000000'], /expected an integer in \[1, 1000\] for --restarts/],
    ['--queries beyond the cap', () => ['eval', '--queries', '99999999999'], /expected an integer in \[1, 10000000\] for --queries/],
    ['--batch-size 1e6', () => ['eval', '--batch-size', '1000000'], /expected an integer in \[1, 65536\] for --batch-size/],
    [
      '--eps beyond float32',
      () => ['eval', '--eps', '1e39'],
      /expected a comma-separated list of numbers or fractions \(8\/255\) in \[0, 3.4e\+38\] for --eps, got "1e39"/,
    ],
    ['--json empty', () => ['eval', '--json', ''], /--json: expected a file path, got an empty string/],
    ['--json a directory', (d) => ['eval', '--json', join(d, 'folder')], /--json: expected a file, got the directory/],
    ['--json under a file', (d) => ['eval', '--json', join(d, 'file', 'r.json')], /--json: expected ".*file" to be a folder, got a file/],
    ['--markdown a directory', (d) => ['eval', '--markdown', join(d, 'folder')], /--markdown: expected a file, got the directory/],
    ['a model path with a newline', (d) => ['eval', '--model', join(d, 'no\nsuch', 'model.json'), '--data', join(d, 'file')], /./],
  ];

  it.each(table)('%s', async (_name, args, message) => {
    const r = await cli(args(dir));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.endsWith('\n')).toBe(true);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/^\s+at /m);
    expect(r.out).toBe('');
  });

  it('a bad --json leaves the previous report untouched (nothing was evaluated)', async () => {
    const r = await cli(['eval', '--json', join(dir, 'folder'), '--markdown', join(dir, 'report.json', 'x.md')]);
    expect(r.code).toBe(2);
    expect(await readFile(join(dir, 'report.json'), 'utf8')).toBe('previous report\n');
  });
});

describe('robustest eval: a threshold needs evidence', () => {
  it('no correctly classified input with --min-robust-accuracy is an error (exit 2), not a pass or a silent 0%', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'robustest-noclean-'));
    const { packageAssets } = await import('../../src/package-info.js');
    const { gunzipSync } = await import('node:zlib');
    const raw = gunzipSync(await readFile(join(packageAssets(), 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz')));
    // IDX labels: 8-byte header, then one byte per label. Shift every label by one so that none is right.
    const wrong = Uint8Array.from(raw);
    for (let i = 8; i < wrong.length; i++) wrong[i] = (wrong[i]! + 1) % 10;
    await writeFile(join(dir, 'labels-idx1-ubyte'), wrong);
    const r = await cli([
      'eval',
      '--model',
      join(packageAssets(), 'mnist-cnn', 'model.json'),
      '--data',
      join(packageAssets(), 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'),
      '--labels',
      join(dir, 'labels-idx1-ubyte'),
      '--limit',
      '20',
      '--attack',
      'fgsm',
      '--eps',
      '0.1',
      '--min-robust-accuracy',
      '0.5',
    ]);
    expect(r.err).toMatch(/^robustest: eval: expected at least one correctly classified input to judge --min-robust-accuracy, got none of 20/);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.code).toBe(2);
  });
});
