// `robustest compare` on live evaluations of the bundled MNIST CNN (FGSM, 200 images): the same seed and model
// twice flags nothing; a weakened copy of the model (noisy weights) is flagged, and --fail-on-regression exits 1;
// reports of other data or radii are refused unless --force.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HtmlValidate } from 'html-validate';
import { cli, weakenedModel } from './report-helpers.js';

const DATA = ['--data', 'assets/mnist-sample/t10k-images-first1000-idx3-ubyte.gz', '--labels', 'assets/mnist-sample/t10k-labels-first1000-idx1-ubyte.gz'];
const RUN = ['--attack', 'fgsm', '--eps', '0.05,0.1', '--seed', '3', '--quiet'];

describe('robustest compare', () => {
  let dir: string;
  const path = (f: string): string => join(dir, f);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-compare-'));
    const weak = await weakenedModel(path('weak'), 0.3);
    const runs = [
      ['--model', 'assets/mnist-cnn/model.json', ...DATA, '--limit', '200', '--json', path('a.json')],
      ['--model', 'assets/mnist-cnn/model.json', ...DATA, '--limit', '200', '--json', path('a2.json')],
      // Partial reports of the whole data (one shard) carry per-point outcomes: compare pairs them.
      ['--model', 'assets/mnist-cnn/model.json', ...DATA, '--limit', '200', '--shard', '0/1', '--json', path('a.part.json')],
      ['--model', 'assets/mnist-cnn/model.json', ...DATA, '--limit', '200', '--shard', '0/1', '--json', path('a2.part.json')],
      ['--model', weak, ...DATA, '--limit', '200', '--shard', '0/1', '--json', path('weak.part.json')],
      ['--model', weak, ...DATA, '--limit', '200', '--json', path('weak.json')],
      ['--model', 'assets/mnist-cnn/model.json', ...DATA, '--limit', '150', '--json', path('other-data.json')],
    ];
    for (const args of runs) {
      const r = await cli(['eval', ...args, ...RUN]);
      if (r.code !== 0) throw new Error(`eval failed: ${r.err}`);
    }
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('same seed, same model: no regression flagged, exit 0 with --fail-on-regression', async () => {
    const r = await cli(['compare', path('a.json'), path('a2.json'), '--fail-on-regression']);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/\nverdict: no significant change\n$/);
    expect(r.out).toContain('  L∞ ε=0.1 ');
    expect(r.out).not.toContain('REGRESSION');
  });

  it('a weakened model: flagged; exit 1 only with --fail-on-regression', async () => {
    const r = await cli(['compare', path('a.json'), path('weak.json'), '--fail-on-regression']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\nverdict: REGRESSION: .*L∞ ε=0\.1/);
    expect(r.err).toMatch(/^robustest: regression: .*L∞ ε=0\.1 \d+\.\d% → \d+\.\d%/);
    expect((await cli(['compare', path('a.json'), path('weak.json')])).code).toBe(0);
    const md = await cli(['compare', path('a.json'), path('weak.json'), '--format', 'md']);
    expect(md.out).toMatch(/^# Robustness comparison\n\n\*\*Verdict:\*\* \*\*REGRESSION: /);
    const html = await cli(['compare', path('a.json'), path('weak.json'), '--format', 'html', '--out', path('c.html')]);
    expect(html.code).toBe(0);
    const page = await readFile(path('c.html'), 'utf8');
    expect((await new HtmlValidate({ extends: ['html-validate:recommended'] }).validateString(page)).valid).toBe(true);
    expect(page).toContain('<p class="verdict bad">Verdict: REGRESSION: ');
  });

  it('partial reports (eval --shard 0/1): the paired McNemar test on the same points', async () => {
    const same = await cli(['compare', path('a.part.json'), path('a2.part.json'), '--fail-on-regression']);
    expect([same.code, same.err]).toEqual([0, '']);
    expect(same.out).toContain('p = 1.0000 (0 lost, 0 gained)');
    expect(same.out).toMatch(/\nverdict: no significant change\n$/);
    const weak = await cli(['compare', path('a.part.json'), path('weak.part.json'), '--fail-on-regression']);
    expect(weak.code).toBe(1);
    const row = weak.out.split('\n').find((l) => l.startsWith('  L∞ ε=0.1 '))!;
    expect(row).toMatch(/p = [\d.e-]+ \((\d+) lost, (\d+) gained\)\s+REGRESSION$/);
    const [, lost, gained] = /\((\d+) lost, (\d+) gained\)/.exec(row)!;
    expect(Number(lost)).toBeGreaterThan(Number(gained));
    expect(weak.out).toContain('note: Paired values: exact McNemar test on the same points, significant below p = 0.05.');
    // The merged report of a partial one is the plain report's (same records), so the values agree.
    const plain = await cli(['compare', path('a.json'), path('weak.json')]);
    expect(
      plain.out
        .split('\n')
        .find((l) => l.startsWith('  L∞ ε=0.1 '))!
        .slice(0, 60),
    ).toBe(row.slice(0, 60));
  });

  it('refuses reports of different data unless --force', async () => {
    const r = await cli(['compare', path('a.json'), path('other-data.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^robustest: compare: expected reports of the same data and threat model, got data SHA-256 [0-9a-f]{12} ≠ [0-9a-f]{12}; 200 samples ≠ 150 \(--force compares the radii both have\)\n$/,
    );
    const forced = await cli(['compare', path('a.json'), path('other-data.json'), '--force']);
    expect(forced.code).toBe(0);
    expect(forced.out).toContain('note: Forced: data SHA-256');
    const alpha = await cli(['compare', path('a.json'), path('a2.json'), '--alpha', '2']);
    expect([alpha.code, alpha.err]).toEqual([
      2,
      "robustest: option '--alpha <p>' argument '2' is invalid. expected a number in (0, 1) for --alpha, got \"2\"\n",
    ]);
  });
});
