// The README's ONNX example works from a clone: it names only files the repository has (no ../shared), and the
// model it names loads and computes what the bundled tfjs model computes. assets/README.md's checksums are current.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '../../src/tf.js';
import { loadModel } from '../../src/load.js';
import { loadData } from '../../src/data/index.js';
import { sha256Bytes } from '../../src/hash.js';
import { ROOT } from './doc-examples.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The text of a `## heading` section, up to the next `## `. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  expect(start, `README section "## ${heading}"`).toBeGreaterThan(0);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The value of `--flag` in a shell command (line continuations joined). */
function flag(command: string, name: string): string | undefined {
  return new RegExp(`--${name}\\s+(\\S+)`).exec(command.replace(/\\\n\s*/g, ' '))?.[1];
}

describe('README', () => {
  const onnx = section(readme, 'Attacking an ONNX model');
  const command = /```sh\n([\s\S]*?)```/.exec(onnx)?.[1] ?? '';

  it('needs nothing outside the repository', () => {
    expect(readme).not.toMatch(/\.\.\/shared/);
  });

  it("ONNX example's files exist, and its model loads and matches the bundled tfjs model", async () => {
    const [model, data, labels] = ['model', 'data', 'labels'].map((n) => flag(command, n));
    expect(model).toMatch(/\.onnx$/);
    for (const p of [model, data, labels]) expect(p !== undefined && existsSync(join(ROOT, p)), `${p} exists`).toBe(true);
    const code = [...onnx.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    expect(code).toMatch(/loadModel\('/);
    for (const m of code.matchAll(/(?:loadModel|fromOnnxRuntime)\('([^']+)'/g)) expect(existsSync(join(ROOT, m[1]!)), `${m[1]} exists`).toBe(true);

    const fromOnnx = await loadModel(join(ROOT, model!), { engine: 'tfjs' });
    const fromTfjs = await loadModel(join(ROOT, 'assets', 'mnist-cnn', 'model.json'), { engine: 'tfjs' });
    try {
      expect([fromOnnx.numClasses, [...fromOnnx.inputShape]]).toEqual([10, [28, 28, 1]]);
      const ds = await loadData(join(ROOT, data!), { labels: join(ROOT, labels!), inputShape: [28, 28, 1], limit: 20 });
      const x = tf.tensor4d(ds.images, [ds.count, 28, 28, 1]);
      const [a, b] = [await fromOnnx.logits(x), await fromTfjs.logits(x)];
      const diff = tf.max(tf.abs(tf.sub(a, b)));
      expect((await diff.data())[0]).toBeLessThanOrEqual(1e-4);
      tf.dispose([x, a, b, diff]);
    } finally {
      fromOnnx.dispose();
      fromTfjs.dispose();
    }
  });

  it("assets/README.md's checksums match the files", () => {
    const text = readFileSync(join(ROOT, 'assets', 'README.md'), 'utf8');
    const lines = [...text.matchAll(/^([0-9a-f]{64}) {2}(\S+)$/gm)];
    expect(lines.map((m) => m[2])).toContain('mnist-cnn.onnx');
    for (const [, sum, file] of lines) expect(`${file} ${sha256Bytes([readFileSync(join(ROOT, 'assets', file!))])}`).toBe(`${file} ${sum}`);
  });
});
