// Shared by the report and compare CLI tests: run the CLI in-process, and build a weakened copy of the bundled
// MNIST CNN (every weight tensor plus seeded Gaussian noise of `scale` times its own standard deviation).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageAssets } from '../../src/package-info.js';
import { createRng } from '../../src/rng.js';
import { runMain, type CliRun } from '../helpers/cli-fixtures.js';

export type Run = CliRun;

export const cli = (args: string[]): Promise<Run> => runMain(args);

interface Manifest {
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
}

/** Writes the bundled model with noisy weights to `dir` and returns its model.json path. */
export async function weakenedModel(dir: string, scale: number, seed = 1): Promise<string> {
  const src = join(packageAssets(), 'mnist-cnn');
  const json = await readFile(join(src, 'model.json'), 'utf8');
  const manifest = JSON.parse(json) as Manifest;
  const bytes = await readFile(join(src, 'weights.bin'));
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const rng = createRng(`weaken/${seed}`);
  let offset = 0;
  for (const w of manifest.weightsManifest[0]!.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const t = values.subarray(offset, offset + n);
    const mean = t.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(t.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    for (let i = 0; i < n; i++) t[i] = t[i]! + scale * std * rng.normal();
    offset += n;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), json);
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(values.buffer));
  return join(dir, 'model.json');
}
