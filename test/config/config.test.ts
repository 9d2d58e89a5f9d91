// The configuration file: its JSON Schema (in step with the attack registry), one-line errors naming the key,
// loading JSON, .mjs and .ts files, the flags it stands for, and threshold rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTACKS, ATTACK_NAMES } from '../../attacks/registry.js';
import { LOSS_NAMES } from '../../src/losses.js';
import { PRESET_NAMES } from '../../attacks/presets.js';
import { GRADIENT_ENGINES } from '../../src/onnx/options.js';
import { ConfigError } from '../../src/errors.js';
import {
  checkThresholds,
  configAttacks,
  configEpsilons,
  configFlags,
  configSchema,
  defineConfig,
  findConfigFile,
  loadConfig,
  thresholdFailures,
  validateConfig,
} from '../../src/config.js';
import type { Report } from '../../src/report.js';

type Node = Record<string, unknown>;
const defs = (): Record<string, Node> => configSchema()['$defs'] as Record<string, Node>;

function errorOf(value: unknown): string {
  try {
    validateConfig(value, 'c.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected validateConfig to throw');
}

describe('config schema', () => {
  it('lists exactly the registry: attack names, their options, losses, presets and engines', () => {
    expect(defs()['attackName']!['enum']).toEqual([...ATTACK_NAMES]);
    const attack = defs()['attack']!['properties'] as Record<string, Node>;
    expect(attack['name']!['enum']).toEqual([...ATTACK_NAMES]);
    const options = new Set(Object.values(ATTACKS).flatMap((e) => Object.keys(e.options)));
    expect(new Set(Object.keys(attack))).toEqual(new Set(['name', 'norm', ...options]));
    expect(attack['loss']!['enum']).toEqual([...LOSS_NAMES]);
    const top = configSchema()['properties'] as Record<string, Node>;
    expect(top['preset']!['enum']).toEqual([...PRESET_NAMES]);
    expect(top['engine']!['enum']).toEqual([...GRADIENT_ENGINES]);
    // Every option the registry types as an integer is one here too.
    for (const e of Object.values(ATTACKS)) {
      for (const [k, spec] of Object.entries(e.options)) if (spec.type === 'integer') expect(attack[k]!['type']).toBe('integer');
    }
  });

  it('accepts a full configuration and the empty one', () => {
    const full = defineConfig({
      model: { path: 'm/model.json', bounds: [0, 255], mean: [0.5], std: [0.25], numClasses: 10, inputShape: [28, 28, 1] },
      data: { path: 'd.npy', labels: 'l.npy', classNames: ['zero', 'one'] },
      attacks: ['fgsm', { name: 'pgd', steps: 20, stepSize: 0.01, restarts: 2, earlyStop: true, loss: 'margin' }, { name: 'square', queries: 100 }],
      epsilons: { linf: [0.1, 0.3], l2: [1] },
      seed: 3,
      batchSize: 50,
      limit: 100,
      cascade: false,
      thresholds: { minRobustAccuracy: 0.5, allowWarnings: true, rules: [{ attack: 'pgd', norm: 'linf', epsilon: 0.1, minRobustAccuracy: 0.7 }] },
      outputs: { json: 'r.json', markdown: 'r.md', html: 'r.html', junit: 'r.xml', examples: 8 },
    });
    expect(validateConfig(full)).toBe(full);
    expect(validateConfig({})).toEqual({});
  });

  it('rejects bad configurations with one line that names the key and what was expected', () => {
    const cases: [unknown, string][] = [
      [{ attacks: ['fgsm', { name: 'pgd', steps: 0 }] }, 'c.json: expected attacks[1].steps to be an integer ≥ 1, got 0'],
      [{ attacks: [{ name: 'pgd', steps: 2.5 }] }, 'c.json: expected attacks[0].steps to be an integer ≥ 1, got 2.5'],
      [{ attacks: [] }, 'c.json: expected attacks to be a non-empty list, got []'],
      [{ attacks: [{ name: 'fgsm', steps: 3 }] }, "c.json: expected the options of attacks[0] (fgsm) among loss, got 'steps'"],
      [{ attacks: [{ name: 'cw', norm: 'linf' }] }, 'c.json: expected attacks[0].norm of cw to be "l2", got "linf"'],
      [{ attacks: [{ steps: 3 }] }, "c.json: expected attacks[0] to have the key 'name', got an object"],
      [{ model: 'm', data: 'd', epsilons: { linf: [-1] } }, 'c.json: expected epsilons.linf[0] to be a number ≥ 0, got -1'],
      [{ epsilons: {} }, 'c.json: expected epsilons to be an object with at least one key, got an object'],
      [{ epsilons: [] }, 'c.json: expected epsilons to be a non-empty list, got []'],
      [{ model: { path: 'm', bounds: [0] }, data: 'd' }, 'c.json: expected model.bounds to be a list of 2 numbers, got [0]'],
      [{ model: { path: 'm', bounds: [1, 0] }, data: 'd' }, 'c.json: expected model.bounds to be [lo, hi] with lo < hi, got [1, 0]'],
      [{ model: { path: 'm', mean: [0.5] }, data: 'd' }, 'c.json: expected model.mean and model.std together, got only model.mean'],
      [{ model: 'm' }, 'c.json: expected both model and data (or neither, for the bundled demo), got only model'],
      [{ model: 5, data: 'd' }, 'c.json: expected model to be a non-empty string or an object with path, got 5'],
      [{ thresholds: { minRobustAccuracy: 70 } }, 'c.json: expected thresholds.minRobustAccuracy to be a number in [0, 1], got 70'],
      [{ thresholds: { rules: [{ attack: 'pgd' }] } }, "c.json: expected thresholds.rules[0] to have the key 'minRobustAccuracy', got an object"],
      [{ preset: 'standard', attacks: ['pgd'] }, 'c.json: expected either attacks or preset, got both'],
      [{ seed: -1 }, 'c.json: expected seed to be an integer ≥ 0, got -1'],
      [{ cascade: 'no' }, 'c.json: expected cascade to be true or false, got "no"'],
      [[], 'c.json: expected the configuration to be an object, got []'],
    ];
    for (const [value, message] of cases) expect(errorOf(value)).toBe(message);
  });

  it('suggests the key or name that was meant', () => {
    expect(errorOf({ atacks: ['fgsm'] })).toMatch(
      /^c\.json: expected a top-level key among \$schema, model, data, attacks, .*, got the unknown key 'atacks' \(did you mean 'attacks'\?\)$/,
    );
    expect(errorOf({ model: { pth: 'm' }, data: 'd' })).toBe(
      "c.json: expected a key of model among path, bounds, mean, std, numClasses, inputShape, queryOnly, got the unknown key 'model.pth' (did you mean 'path'?)",
    );
    expect(errorOf({ attacks: ['pgdd'] })).toMatch(
      /^c\.json: expected attacks\[0\] to be one of "fgsm", .* or an object with name, got "pgdd" \(did you mean "pgd"\?\)$/,
    );
    expect(errorOf({ norm: 'l1' })).toBe('c.json: expected norm to be one of "linf", "l2", got "l1" (did you mean "l2"?)');
  });
});

describe('config files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-config-files-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads JSON, an .mjs default export and a .ts default export through tsx', async () => {
    await writeFile(join(dir, 'a.json'), JSON.stringify({ seed: 1 }));
    await writeFile(join(dir, 'b.mjs'), 'export default { seed: 2, epsilons: [8 / 255] };\n');
    await writeFile(join(dir, 'c.ts'), "const eps: number[] = [0.1];\nexport default { seed: 3, epsilons: eps, norm: 'linf' as const };\n");
    expect((await loadConfig(join(dir, 'a.json'))).config).toEqual({ seed: 1 });
    expect((await loadConfig(join(dir, 'b.mjs'))).config).toEqual({ seed: 2, epsilons: [8 / 255] });
    const ts = await loadConfig(join(dir, 'c.ts'));
    expect(ts.config).toEqual({ seed: 3, epsilons: [0.1], norm: 'linf' });
    expect(ts.path).toBe(join(dir, 'c.ts'));
  });

  it('refuses a module without a default export, a module that throws, a bad value and an unknown extension', async () => {
    await writeFile(join(dir, 'none.mjs'), 'export const config = {};\n');
    await writeFile(join(dir, 'throws.mjs'), "throw new Error('boom');\n");
    await writeFile(join(dir, 'bad.mjs'), 'export default { seed: 1.5 };\n');
    await expect(loadConfig(join(dir, 'none.mjs'))).rejects.toThrow(/^none\.mjs: expected a default export \(the configuration object\), got none$/);
    await expect(loadConfig(join(dir, 'throws.mjs'))).rejects.toThrow(/^throws\.mjs: expected a module that loads, got boom$/);
    await expect(loadConfig(join(dir, 'bad.mjs'))).rejects.toThrow(/^bad\.mjs: expected seed to be an integer ≥ 0, got 1\.5$/);
    await expect(loadConfig(join(dir, 'c.yaml'))).rejects.toThrow(/expected a \.json, \.mjs or \.ts configuration file, got the extension '\.yaml'$/);
  });

  it('finds the configuration file of a folder', async () => {
    const sub = await mkdtemp(join(dir, 'find-'));
    expect(findConfigFile(sub)).toBeUndefined();
    await writeFile(join(sub, 'robustest.config.ts'), 'export default {};\n');
    expect(findConfigFile(sub)).toBe(join(sub, 'robustest.config.ts'));
  });
});

describe('what a configuration stands for', () => {
  it('maps to flags with paths resolved against the file', () => {
    expect(
      configFlags(
        {
          model: { path: 'm/model.json', bounds: [0, 255] },
          data: { path: 'd.npy', labels: 'l.npy', classNames: ['a', 'b'] },
          attacks: ['fgsm', { name: 'pgd', steps: 5 }],
          epsilons: { linf: [0.1], l2: [1, 0.1] },
          thresholds: { minRobustAccuracy: 0.4 },
          outputs: { json: 'out/r.json' },
          cascade: false,
        },
        '/app',
      ),
    ).toEqual({
      model: '/app/m/model.json',
      bounds: [0, 255],
      data: '/app/d.npy',
      labels: '/app/l.npy',
      classNames: 'a,b',
      attack: ['fgsm', 'pgd'],
      eps: [0.1, 1],
      cascade: false,
      minRobustAccuracy: 0.4,
      json: '/app/out/r.json',
    });
  });

  it('builds per-attack options with command-line overrides on top, and radii per norm', () => {
    const config = { attacks: ['fgsm' as const, { name: 'pgd' as const, steps: 5, restarts: 2 }], norm: 'linf' as const };
    const [fgsm, pgd] = configAttacks(config, {})!;
    expect(fgsm!.name).toBe('fgsm');
    expect(pgd!.config).toMatchObject({ steps: 5, restarts: 2 });
    expect(configAttacks(config, { steps: 7 })![1]!.config).toMatchObject({ steps: 7, restarts: 2 });
    expect(configAttacks({ attacks: ['fgsm', 'pgd'] }, {})).toBeUndefined();
    expect(configEpsilons({ epsilons: { l2: [1] } })).toEqual({ l2: [1] });
    expect(configEpsilons({ epsilons: [0.1] })).toBeUndefined();
  });

  it('checks threshold rules against a report, and a rule that matches no row is a failure', () => {
    const report = {
      curve: [
        { norm: 'linf', epsilon: 0.1, robustAccuracy: 0.6 },
        { norm: 'linf', epsilon: 0.3, robustAccuracy: 0.1 },
      ],
      attacks: [
        { name: 'fgsm', norm: 'linf', epsilon: 0.1, robustAccuracy: 0.8 },
        { name: 'pgd', norm: 'linf', epsilon: 0.1, robustAccuracy: 0.6 },
      ],
      warnings: [],
    } as unknown as Report;
    expect(thresholdFailures(report, [{ minRobustAccuracy: 0.5, epsilon: 0.1 }])).toEqual([]);
    expect(thresholdFailures(report, [{ minRobustAccuracy: 0.5 }])).toEqual(['worst case L∞ ε=0.3: robust accuracy 10.0% < 50.0%']);
    expect(thresholdFailures(report, [{ attack: 'pgd', minRobustAccuracy: 0.7 }])).toEqual(['pgd L∞ ε=0.1: robust accuracy 60.0% < 70.0%']);
    expect(thresholdFailures(report, [{ attack: 'cw', minRobustAccuracy: 0.1 }])).toEqual([
      "threshold for cw: expected the report to have that row, got none (check the rule's attack, norm and epsilon)",
    ]);
    expect(checkThresholds(report, { minRobustAccuracy: 0.05, rules: [{ attack: 'fgsm', norm: 'linf', minRobustAccuracy: 0.8 }] })).toEqual([]);
  });
});
