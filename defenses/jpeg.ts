/**
 * JPEG compression as an input transform, on the real codec (sharp/libvips, libjpeg-turbo's coder). sharp is
 * asynchronous and a model's `logits` is synchronous (attacks call it inside `tf.tidy`), so the codec runs in one
 * worker thread and the calling thread blocks on it (`Atomics.wait` on a shared flag, then `receiveMessageOnPort`):
 * the same bridge the `synckit` package builds, written here in a few lines because the worker must be plain
 * JavaScript that loads sharp from this package's own dependencies, whether robustest runs from source or from dist.
 * @module
 */
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as tf from '../src/tf.js';
import { BackendError, ConfigError } from '../src/errors.js';
import { toNHWC, type InputTransform, type TransformContext } from './transforms.js';

/** The worker: decodes requests `{ data, n, height, width, channels, quality }` and answers the decoded bytes. */
const WORKER_CODE = `
const { workerData } = require('node:worker_threads');
const sharp = require(workerData.sharp);
sharp.concurrency(1);
const { port, flag } = workerData;
const done = new Int32Array(flag);
port.on('message', async (m) => {
  let reply;
  try {
    const size = m.height * m.width * m.channels;
    const out = new Uint8Array(m.n * size);
    await Promise.all(Array.from({ length: m.n }, async (_, i) => {
      const raw = { width: m.width, height: m.height, channels: m.channels };
      const encoded = await sharp(m.data.subarray(i * size, (i + 1) * size), { raw }).jpeg({ quality: m.quality }).toBuffer();
      let dec = sharp(encoded);
      if (m.channels === 1) dec = dec.toColourspace('b-w');
      const { data, info } = await dec.raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== m.channels || data.length !== size) throw new Error('decoded ' + info.width + 'x' + info.height + 'x' + info.channels);
      out.set(data, i * size);
    }));
    reply = { ok: true, data: out };
  } catch (e) {
    reply = { ok: false, message: String(e && e.message || e) };
  }
  port.postMessage(reply);
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
});
`;

interface Codec {
  readonly port: MessagePort;
  readonly done: Int32Array;
}

let codec: Codec | undefined;

/** How long one batch may take in the codec before {@link BackendError}. */
const CODEC_TIMEOUT_MS = 120_000;

function startCodec(): Codec {
  if (codec) return codec;
  const require = createRequire(import.meta.url);
  let sharpPath: string;
  try {
    sharpPath = require.resolve('sharp');
    require(sharpPath); // load libvips in this thread first, as sharp advises for worker threads
  } catch (e) {
    throw new BackendError(`jpeg: expected the sharp package to load, got ${(e as Error).message.split('\n')[0]}`);
  }
  const { port1, port2 } = new MessageChannel();
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER_CODE, { eval: true, workerData: { sharp: sharpPath, port: port2, flag }, transferList: [port2], execArgv: [] });
  worker.unref();
  port1.unref();
  worker.on('error', () => undefined);
  codec = { port: port1, done: new Int32Array(flag) };
  return codec;
}

/**
 * Encodes and decodes a batch of 8-bit images with the real JPEG codec, synchronously.
 *
 * @param data - `n` images of `height × width × channels` bytes each (interleaved channels).
 * @returns the decoded bytes, same layout.
 * @throws {@link BackendError} if sharp fails or does not answer within two minutes.
 * @internal
 */
export function jpegRoundTrip(data: Uint8Array, n: number, height: number, width: number, channels: number, quality: number): Uint8Array {
  const c = startCodec();
  Atomics.store(c.done, 0, 0);
  c.port.postMessage({ data, n, height, width, channels, quality });
  if (Atomics.wait(c.done, 0, 0, CODEC_TIMEOUT_MS) === 'timed-out') {
    throw new BackendError(`jpeg: expected the codec to answer within ${CODEC_TIMEOUT_MS / 1000} s, got no answer`);
  }
  const reply = receiveMessageOnPort(c.port)?.message as { ok: true; data: Uint8Array } | { ok: false; message: string } | undefined;
  if (!reply) throw new BackendError('jpeg: expected a reply from the codec, got none');
  if (!reply.ok) throw new BackendError(`jpeg: expected sharp to encode and decode the batch, got ${reply.message}`);
  return reply.data;
}

/**
 * JPEG compression at a quality (Dziugaite, Ghahramani, Roy 2016, "A study of the effect of JPG compression on
 * adversarial images", arXiv:1608.00853; Guo et al. 2018; Das et al. 2017): each image, quantised to 8 bits within the
 * bounds, is encoded with the real JPEG codec (sharp/libvips, 4:2:0 chroma subsampling for colour) and decoded back.
 * Deterministic and not differentiable (it runs on host data), so {@link defend} attacks it with BPDA (the identity
 * on the backward pass, Athalye et al. 2018). Images of 1 or 3 channels, NHWC or NCHW.
 *
 * @param quality - JPEG quality, an integer in [1, 100] (75 is libjpeg's default).
 * @throws {@link ConfigError} if `quality` is not an integer in [1, 100]; at `apply`, if the inputs are not images of
 *   1 or 3 channels; {@link BackendError} if sharp cannot run.
 * @example
 * ```ts
 * const y = jpeg(75).apply(tf.fill([1, 28, 28, 1], 0.5), { bounds: [0, 1], layout: 'NHWC', seed: 0 });
 * ```
 */
export function jpeg(quality: number): InputTransform {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new ConfigError(`jpeg: expected quality to be an integer in [1, 100], got ${quality}`);
  }
  return Object.freeze({
    name: 'jpeg',
    spec: `jpeg:${quality}`,
    paper: 'Dziugaite, Ghahramani, Roy 2016, A study of the effect of JPG compression on adversarial images, arXiv:1608.00853',
    random: false,
    differentiable: false,
    apply(x: tf.Tensor, { bounds: [lo, hi], layout }: TransformContext): tf.Tensor {
      return tf.tidy(() => {
        const { nhwc, back } = toNHWC(x, layout, 'jpeg');
        const [n, h, w, c] = nhwc.shape;
        if (c !== 1 && c !== 3) throw new ConfigError(`jpeg: expected images of 1 or 3 channels, got ${c}`);
        const bytes = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(tf.div(tf.sub(nhwc, lo), hi - lo), 0, 1), 255)), 'int32'));
        const host = Uint8Array.from(bytes.dataSync());
        const decoded = jpegRoundTrip(host, n, h, w, c, quality);
        const y = tf.add(tf.mul(tf.tensor4d(Float32Array.from(decoded), [n, h, w, c]), (hi - lo) / 255), lo) as tf.Tensor4D;
        return back(y);
      });
    },
  });
}
