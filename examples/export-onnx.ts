/**
 * Writes `assets/mnist-cnn.onnx`: the bundled tfjs model (`assets/mnist-cnn`) exported to ONNX by robustest's own
 * exporter (`exportLayersModel`), so that the ONNX examples work from a clone with no other files.
 *
 * Usage:
 *   npx tsx examples/export-onnx.ts [--out assets/mnist-cnn.onnx] [--opset 17]
 *
 * Before writing, the script loads the exported bytes back through robustest's ONNX importer and checks, on the
 * bundled 1,000-image sample, that their logits equal the tfjs model's to 1e-4 and give the same predictions.
 * The export is deterministic: rerunning it writes the same bytes.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { exportLayersModel, importOnnx, initBackend, loadData, packageAssets, sha256Bytes } from '../src/index.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'assets/mnist-cnn.onnx' }, opset: { type: 'string', default: '17' } } });
tf.env().set('PROD', true);
await initBackend('cpu');

const assets = packageAssets();
const dir = join(assets, 'mnist-cnn');
const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
const weights = readFileSync(join(dir, 'weights.bin'));
const net = await tfl.loadLayersModel(
  tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }),
);

const exported = exportLayersModel(net, { name: 'mnist-cnn', opset: Number(values.opset) });
for (const w of exported.warnings) console.warn(`warning (${w.code}): ${w.message}`);

// Check the export against the tfjs model on the bundled sample before writing it.
const data = await loadData(join(assets, 'mnist-sample', 't10k-images-first1000-idx3-ubyte.gz'), {
  labels: join(assets, 'mnist-sample', 't10k-labels-first1000-idx1-ubyte.gz'),
  inputShape: [28, 28, 1],
});
const onnx = importOnnx(exported.bytes, { bounds: [0, 1], name: 'mnist-cnn' });
const x = tf.tensor4d(data.images, [data.count, 28, 28, 1]);
const [reference, imported] = [net.apply(x) as tf.Tensor2D, onnx.logits(x)];
const maxDiff = (await tf.max(tf.abs(tf.sub(reference, imported))).data())[0]!;
const [refPred, onnxPred] = [Array.from(await tf.argMax(reference, 1).data()), Array.from(await tf.argMax(imported, 1).data())];
const correct = onnxPred.reduce((n, p, i) => n + (p === data.labels[i] ? 1 : 0), 0);
if (!(maxDiff <= 1e-4) || refPred.some((p, i) => p !== onnxPred[i])) {
  throw new Error(`export-onnx: expected the ONNX logits to equal the tfjs model's (max |Δ| <= 1e-4, same predictions), got max |Δ| ${maxDiff}`);
}

const out = resolve(values.out);
writeFileSync(out, exported.bytes);
console.log(`${values.out}: ${exported.bytes.byteLength} bytes, sha256 ${sha256Bytes([exported.bytes])}`);
console.log(`input '${exported.inputName}' [N, ${exported.inputShape.join(', ')}] (NHWC), output '${exported.outputName}' [N, ${exported.numClasses}] logits`);
console.log(`max |logit difference| to tfjs ${maxDiff.toExponential(2)}; accuracy on the sample ${correct}/${data.count}`);
tf.dispose([x, reference, imported]);
onnx.dispose();
net.dispose();
