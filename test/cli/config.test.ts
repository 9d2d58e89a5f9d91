// `robustest eval` with a configuration file: discovery in the working directory or --config, per-attack options,
// radii per norm, threshold rules, outputs, flags overriding the file, and one-line errors for bad files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npy, saveLinearModel, runMain, type CliRun } from '../helpers/cli-fixtures.js';
import { validateReport, type Report } from '../../src/report.js';

const cli = (args: string[]): Promise<CliRun> => runMain(args, { ROBUSTEST_BACKEND: 'cpu' });

describe('robustest eval with a configuration file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-config-'));
    // A linear model on 4 features whose class is the index of the largest feature; inputs 0.6 vs 0.4, so an L∞
    // perturbation of 0.1 or more fools it and one of 0.05 does not.
    await saveLinearModel(dir);
    const n = 20;
    const x = new Float32Array(n * 4);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 4;
      for (let j = 0; j < 4; j++) x[i * 4 + j] = j === y[i] ? 0.6 : 0.4;
    }
    await writeFile(join(dir, 'x.npy'), npy(x, [n, 4]));
    await writeFile(join(dir, 'y.npy'), npy(y, [n]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const base = {
    $schema: '../schema/config.schema.json',
    model: { path: 'model.json', bounds: [0, 1] },
    data: { path: 'x.npy', labels: 'y.npy' },
    attacks: ['fgsm', { name: 'pgd', steps: 5, restarts: 2 }],
    epsilons: { linf: [0.05, 0.2] },
    engine: 'tfjs',
    outputs: { json: 'out/report.json', html: 'out/report.html', junit: 'out/junit.xml', examples: 4 },
  };

  it('reads --config: paths relative to the file, per-attack options, radii per norm, the JSON output', async () => {
    await writeFile(join(dir, 'a.json'), JSON.stringify(base));
    await rm(join(dir, 'out'), { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'out')));
    const r = await cli(['eval', '--config', join(dir, 'a.json')]);
    expect(r.err).toContain(`configuration ${join(dir, 'a.json')}`);
    expect(r.code).toBe(0);
    const report = validateReport(JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8'))) as Report;
    expect(report.count).toBe(20);
    expect(report.provenance.attacks.map((a) => a.name)).toEqual(['fgsm', 'pgd']);
    expect(report.provenance.attacks[1]!.config).toMatchObject({ steps: 5, restarts: 2 });
    expect(report.curve.map((p) => [p.norm, p.epsilon, p.robustAccuracy])).toEqual([
      ['linf', 0.05, 1],
      ['linf', 0.2, 0],
    ]);
    expect(report.examples?.items).toHaveLength(4);
    expect(await readFile(join(dir, 'out', 'report.html'), 'utf8')).toMatch(/^<!doctype html>/i);
    expect(await readFile(join(dir, 'out', 'junit.xml'), 'utf8')).toMatch(/<testsuites?\b/);
  });

  it('lets flags override the file: --eps, --steps and --attack', async () => {
    await writeFile(join(dir, 'b.json'), JSON.stringify({ ...base, outputs: { json: 'b-report.json' } }));
    const r = await cli(['eval', '--config', join(dir, 'b.json'), '--eps', '0.3', '--steps', '3']);
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(join(dir, 'b-report.json'), 'utf8')) as Report;
    expect(report.curve.map((p) => p.epsilon)).toEqual([0.3]);
    expect(report.provenance.attacks[1]!.config).toMatchObject({ steps: 3, restarts: 2 });
    const only = await cli(['eval', '--config', join(dir, 'b.json'), '--attack', 'fgsm', '--json', join(dir, 'c-report.json')]);
    expect(only.code).toBe(0);
    expect((JSON.parse(await readFile(join(dir, 'c-report.json'), 'utf8')) as Report).provenance.attacks.map((a) => a.name)).toEqual(['fgsm']);
    expect(existsSync(join(dir, 'b-report.json'))).toBe(true);
  });

  it('fails (exit 1) on a threshold rule per attack and radius, and names it', async () => {
    const config = { ...base, outputs: {}, thresholds: { rules: [{ attack: 'fgsm', epsilon: 0.2, minRobustAccuracy: 0.5 }] } };
    await writeFile(join(dir, 'd.json'), JSON.stringify(config));
    const r = await cli(['eval', '--config', join(dir, 'd.json')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/below the thresholds of .*d\.json: fgsm L∞ ε=0\.2: robust accuracy 0\.0% < 50\.0%/);
    await writeFile(join(dir, 'e.json'), JSON.stringify({ ...config, thresholds: { minRobustAccuracy: 0.5 } }));
    const overall = await cli(['eval', '--config', join(dir, 'e.json')]);
    expect(overall.code).toBe(1);
    expect(overall.err).toMatch(/robust accuracy below 0\.5: 0\.0% at ε=0\.2/);
    const passes = await cli(['eval', '--config', join(dir, 'e.json'), '--min-robust-accuracy', '0']);
    expect(passes.code).toBe(0);
  });

  it('finds robustest.config.json in the working directory, and refuses two configuration files', async () => {
    const sub = await mkdtemp(join(dir, 'cwd-'));
    await writeFile(
      join(sub, 'robustest.config.json'),
      JSON.stringify({ ...base, model: '../model.json', data: { path: '../x.npy', labels: '../y.npy' }, attacks: ['fgsm'], outputs: {} }),
    );
    const cwd = process.cwd();
    try {
      process.chdir(sub);
      const r = await cli(['eval']);
      expect(r.code).toBe(0);
      expect(r.err).toContain(`configuration ${join(sub, 'robustest.config.json')}`);
      expect(r.out).toMatch(/fgsm\s+Linf\s+0\.05\s+100\.0%/);
      await writeFile(join(sub, 'robustest.config.mjs'), 'export default {};\n');
      const two = await cli(['eval']);
      expect(two.code).toBe(2);
      expect(two.err).toMatch(
        /^robustest: config: expected one configuration file in .*, got robustest\.config\.json and robustest\.config\.mjs \(keep one\)\n$/,
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('rejects a bad file with one line naming the key, exit 2', async () => {
    const cases: [unknown, RegExp][] = [
      [{ ...base, attacks: ['fgsm', { name: 'pgd', steps: 0 }] }, /^robustest: bad\.json: expected attacks\[1\]\.steps to be an integer ≥ 1, got 0\n$/],
      [{ ...base, epsilon: [0.1] }, /^robustest: bad\.json: expected a top-level key among .*, got the unknown key 'epsilon' \(did you mean 'epsilons'\?\)\n$/],
      [
        { ...base, outputs: { pdf: 'r.pdf' } },
        /^robustest: bad\.json: expected a key of outputs among json, markdown, html, junit, examples, got the unknown key 'outputs\.pdf'\n$/,
      ],
    ];
    for (const [config, message] of cases) {
      await writeFile(join(dir, 'bad.json'), JSON.stringify(config));
      const r = await cli(['eval', '--config', join(dir, 'bad.json')]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    }
    await writeFile(join(dir, 'bad.json'), '{ "model": ');
    const r = await cli(['eval', '--config', join(dir, 'bad.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^robustest: bad\.json: expected JSON, got .+\n$/);
    const missing = await cli(['eval', '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.json: expected a readable configuration file, got ENOENT/);
  });
});
