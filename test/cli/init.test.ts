// `robustest init`: a commented starter configuration for the user's model that `robustest eval` accepts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../src/config.js';
import { packageAssets } from '../../src/package-info.js';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

const cli = (args: string[]): Promise<CliRun> => runMain(args, { ROBUSTEST_BACKEND: 'cpu' });

describe('robustest init', () => {
  let dir: string;
  const assets = packageAssets();
  const model = join(assets, 'mnist-cnn', 'model.json');
  const data = join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz');
  const labels = join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-init-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a commented .mjs for the model (shape and classes read from it) that eval accepts, equal to the JSON form', async () => {
    const out = join(dir, 'robustest.config.mjs');
    const r = await cli(['init', '--model', model, '--data', data, '--labels', labels, '--output', out]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote ${out} (model: input shape [28, 28, 1], 10 classes)`);
    const text = await readFile(out, 'utf8');
    expect(text).toMatch(/^\/\/ robustest configuration: `npx robustest eval` reads this file/);
    expect(text).toContain('// The model under test: input shape [28, 28, 1], 10 classes (read from the model).');
    const loaded = await loadConfig(out);
    expect(loaded.config).toEqual({
      model: { path: expect.stringMatching(/mnist-cnn\/model\.json$/) as unknown, bounds: [0, 1] },
      data: { path: expect.stringMatching(/t10k-images-first1000-idx3-ubyte\.gz$/) as unknown, labels: expect.stringMatching(/labels/) as unknown },
      attacks: ['fgsm', { name: 'pgd', steps: 40, restarts: 1 }],
      epsilons: { linf: [0.1, 0.2, 0.3] },
      seed: 0,
      batchSize: 100,
      thresholds: { minRobustAccuracy: 0 },
      outputs: { json: 'robustness/report.json', markdown: 'robustness/report.md' },
    });
    const json = join(dir, 'c.json');
    expect((await cli(['init', '--model', model, '--data', data, '--labels', labels, '--format', 'json', '--output', json])).code).toBe(0);
    const { $schema, ...fromJson } = JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown>;
    expect($schema).toBe('./node_modules/robustest/schema/config.schema.json');
    expect(validateConfig(fromJson)).toEqual(loaded.config);
  });

  it('runs: eval reads the written file (a short run: --limit and --steps override it)', async () => {
    const out = join(dir, 'run.config.mjs');
    expect((await cli(['init', '--model', model, '--data', data, '--labels', labels, '--output', out])).code).toBe(0);
    const r = await cli(['eval', '--config', out, '--limit', '20', '--steps', '2', '--engine', 'tfjs', '--eps', '0.1']);
    expect(r.err).toContain(`configuration ${out}`);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/pgd\s+Linf\s+0\.1\s+\d+\.\d%/);
    expect((await readFile(join(dir, 'robustness', 'report.md'), 'utf8')).length).toBeGreaterThan(100);
  });

  it('writes a TypeScript starter with defineConfig, and the bundled-demo starter without --model', async () => {
    const ts = join(dir, 'robustest.config.ts');
    expect((await cli(['init', '--format', 'ts', '--output', ts])).code).toBe(0);
    const text = await readFile(ts, 'utf8');
    expect(text).toContain("import { defineConfig } from 'robustest';");
    expect(text).toContain("// model: { path: './model/model.json', bounds: [0, 1] },");
    expect(text).toContain('export default defineConfig({');
    const mjs = join(dir, 'demo.mjs');
    expect((await cli(['init', '--output', mjs])).code).toBe(0);
    expect((await loadConfig(mjs)).config).toMatchObject({ attacks: ['fgsm', { name: 'pgd' }], epsilons: { linf: [0.1, 0.2, 0.3] } });
  });

  it('refuses to overwrite without --force, and --model without --data', async () => {
    const out = join(dir, 'exists.mjs');
    expect((await cli(['init', '--output', out])).code).toBe(0);
    const again = await cli(['init', '--output', out]);
    expect(again.code).toBe(2);
    expect(again.err).toBe(`robustest: init: expected no file at ${out} (pass --force to overwrite it), got an existing file\n`);
    expect((await cli(['init', '--output', out, '--force'])).code).toBe(0);
    const half = await cli(['init', '--model', model, '--output', join(dir, 'h.mjs')]);
    expect(half.code).toBe(2);
    expect(half.err).toBe('robustest: init: expected both --model and --data (or neither, for the bundled demo), got only --model\n');
  });
});
