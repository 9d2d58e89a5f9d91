/**
 * Files the CLI tests evaluate: a `.npy` writer and a saved tfjs linear model on 4 features whose class is the
 * index of the largest feature (weights 10·I, no bias): accurate on inputs that favour one feature, and easy to attack.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../../src/tf.js';
import { main } from '../../src/cli/main.js';

/** The bytes of a version-1.0 `.npy` file holding `data` (float32 or int32, C order) of `shape`. */
export function npy(data: Float32Array | Int32Array, shape: number[]): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : '<i4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  head.set(Buffer.from(header, 'latin1'), 10);
  const out = new Uint8Array(head.length + data.byteLength);
  out.set(head);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), head.length);
  return out;
}

/** Saves the 4-feature argmax linear model as `dir/model.json` + `dir/weights.bin`. */
export async function saveLinearModel(dir: string): Promise<void> {
  const net = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [4], useBias: false })] });
  net.layers[0]!.setWeights([tf.mul(tf.eye(4), 10)]);
  await net.save(
    tf.io.withSaveHandler(async (a) => {
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  net.dispose();
}

/** What one in-process CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/**
 * Runs `robustest` in this process (`main`) with captured output, stderr not a terminal, and `env` as the whole
 * environment; `onStdout` sees stdout as it grows.
 */
export async function runMain(args: string[], env: Record<string, string | undefined> = {}, onStdout?: (text: string) => void): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: (s) => {
      out += s;
      onStdout?.(out);
    },
    stderr: (s) => void (err += s),
    isTTY: false,
    env,
  });
  return { code, out, err };
}
