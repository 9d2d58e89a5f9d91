/**
 * The entry of a pool worker thread: owns one tfjs engine and one copy of the model, and computes per-shard
 * logits, input-gradients of a built-in loss, or vector-Jacobian products of the logits. Started by `pool.ts`.
 * @internal
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '../tf.js';
import { initBackend, type BackendName } from '../backend.js';
import { loadModel } from '../load.js';
import { targetedLoss, attackLoss } from '../losses.js';
import { UnsupportedError } from '../errors.js';
import { disableFastGradients, enableFastGradients, type FastGradientKernel } from '../gradients/index.js';
import type { DifferentiableModel } from '../model.js';
import { toWireError, type FastGradientSetting, type Request, type Response, type WorkerSetup } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('robustest pool worker: expected to run in a worker thread, got the main thread');

function send(message: Response, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

let currentFast = '';
function applyFastGradients(setting: FastGradientSetting): void {
  const key = JSON.stringify(setting);
  if (key === currentFast) return;
  if (setting === false) disableFastGradients();
  else enableFastGradients({ kernels: setting.kernels as FastGradientKernel[], backends: setting.backends, policy: 'measured' });
  currentFast = key;
}

/** A host array that this thread alone owns, so that its buffer can be transferred. */
async function ownedData(t: tf.Tensor): Promise<Float32Array> {
  const data = (await t.data()) as Float32Array;
  // The wasm backend reads a fresh copy out of its heap; the cpu backend returns the tensor's own storage.
  const fresh = tf.getBackend() === 'wasm' && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  return fresh ? data : data.slice();
}

/**
 * The logits as `valueAndGrad` computes them: under a gradient tape. tfjs fuses conv/matMul + bias + activation
 * only outside a tape (`shouldFuse`), and on wasm the fused kernels round differently, so logits taken outside a
 * tape are not bit-identical to the ones the in-process gradient sees. The tape here records the forward pass,
 * but the backward pass runs only from the dummy scalar to itself. Disposes `x`.
 */
function tapedLogits(model: DifferentiableModel, x: tf.Tensor): tf.Tensor2D {
  let z: tf.Tensor2D | undefined;
  const s = tf.scalar(0);
  try {
    tf.grad((t: tf.Tensor) => {
      z = tf.keep(model.logits(x));
      return tf.add(t, 0);
    })(s).dispose();
  } finally {
    tf.dispose([s, x]);
  }
  return z!;
}

async function main(): Promise<void> {
  const setup = workerData as WorkerSetup;
  let model: DifferentiableModel;
  try {
    tf.env().set('PROD', setup.prod);
    await initBackend(setup.backend as BackendName);
    applyFastGradients(setup.fastGradients);
    const loaded = await loadModel(setup.path, setup.options);
    if (loaded.kind !== 'differentiable') {
      loaded.dispose();
      throw new UnsupportedError(`parallelModel: expected ${setup.path} to load as a differentiable (tfjs) model, got a query-only ${loaded.engine} model`);
    }
    model = loaded;
    // Warm the kernels on one sample so that the first real call does not pay for it.
    tf.tidy(() => {
      const x = tf.zeros([1, ...model.inputShape]);
      tf.grad((xi: tf.Tensor) => model.logits(xi))(x, tf.ones([1, model.numClasses])).dataSync();
    });
    send({ type: 'ready', numClasses: model.numClasses, inputShape: [...model.inputShape], fingerprint: await model.fingerprint(), startupMs: 0 });
  } catch (e) {
    send({ type: 'failed', error: toWireError(e) });
    return;
  }

  const shapeOf = (n: number): number[] => [n, ...model.inputShape];
  port!.on('message', (req: Request) => {
    void (async () => {
      if (req.op === 'exit') process.exit(req.code);
      const t0 = performance.now();
      try {
        applyFastGradients(req.fastGradients);
        if (req.op === 'logits') {
          const z = tapedLogits(model, tf.tensor(req.x, shapeOf(req.n), 'float32'));
          const logits = await ownedData(z);
          z.dispose();
          send({ type: 'result', id: req.id, logits, computeMs: performance.now() - t0 }, [logits.buffer as ArrayBuffer]);
        } else if (req.op === 'vjp') {
          const g = tf.tidy(() => {
            const x = tf.tensor(req.x, shapeOf(req.n), 'float32');
            const dy = tf.tensor2d(req.dlogits, [req.n, model.numClasses], 'float32');
            return tf.grad((xi: tf.Tensor) => model.logits(xi))(x, dy);
          });
          const grad = await ownedData(g);
          g.dispose();
          send({ type: 'result', id: req.id, grad, computeMs: performance.now() - t0 }, [grad.buffer as ArrayBuffer]);
        } else {
          const x = tf.tensor(req.x, shapeOf(req.n), 'float32');
          const classes = tf.tensor1d(req.loss.classes, 'int32');
          const l = req.loss;
          const loss = l.targeted ? targetedLoss(l.name, classes, l.numClasses) : attackLoss(l.name, classes, l.numClasses);
          let out: { value: tf.Tensor; grad: tf.Tensor } | undefined;
          try {
            out = await model.valueAndGrad(x, loss);
            const value = await ownedData(out.value);
            const grad = await ownedData(out.grad);
            send({ type: 'result', id: req.id, value, grad, computeMs: performance.now() - t0 }, [value.buffer as ArrayBuffer, grad.buffer as ArrayBuffer]);
          } finally {
            tf.dispose([x, classes]);
            if (out) tf.dispose([out.value, out.grad]);
          }
        }
      } catch (e) {
        send({ type: 'error', id: req.id, error: toWireError(e) });
      }
    })();
  });
}

await main();
