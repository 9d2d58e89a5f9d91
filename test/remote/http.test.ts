// fromHttpEndpoint against a local TF-Serving-style server on 127.0.0.1 (loopback only).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { ConfigError, ModelLoadError, ShapeError } from '../../src/errors.js';
import { fromHttpEndpoint } from '../../src/remote/http.js';

/** What the server does with the next requests (consumed in order), then it answers normally. */
type Behaviour = 'ok' | 'fail503' | 'fail400' | 'hang' | 'garbage' | 'wrongCount';

let server: Server;
let base = '';
const script: Behaviour[] = [];
const requests: { url: string; bytes: number; instances: number; body: Record<string, unknown> }[] = [];

/** The served model: 3 classes, scores = [sum(x), mean(x), x[0]] of the flattened instance. */
function predict(instance: unknown): number[] {
  const flat = [instance].flat(Infinity) as number[];
  const sum = flat.reduce((a, b) => a + b, 0);
  return [sum, sum / flat.length, flat[0]!];
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const body = JSON.parse(text) as { instances: unknown[] };
    requests.push({ url: req.url ?? '', bytes: text.length, instances: body.instances.length, body });
    const what = script.shift() ?? 'ok';
    if (what === 'hang') return; // never answers; the client must time out
    if (what === 'fail503') return void res.writeHead(503).end('overloaded');
    if (what === 'fail400') return void res.writeHead(400).end('{"error": "bad input"}');
    if (what === 'garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('not json');
    const predictions = body.instances.map(predict);
    if (what === 'wrongCount') predictions.pop();
    if (req.url !== '/v1/models/toy:predict') return void res.writeHead(404).end('no such model');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ predictions }));
  });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  script.length = 0;
  requests.length = 0;
});

const fast = { timeoutMs: 300, backoffMs: 5 };

describe('fromHttpEndpoint (TF Serving REST predict)', () => {
  it('probes the class count and returns the served scores', async () => {
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [2, 2], ...fast });
    expect(m.kind).toBe('query');
    expect(m.engine).toBe('http');
    expect(m.numClasses).toBe(3);
    const x = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    ]);
    const y = await m.logits(x);
    expect(y.shape).toEqual([2, 3]);
    expect(Array.from(y.dataSync())).toEqual([10, 2.5, 1, 2, 0.5, 0.5]);
    expect(requests.at(-1)!.body['instances']).toEqual([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    ]);
    tf.dispose([x, y]);
    m.dispose();
  });

  it('builds the predict URL from a base URL and modelName, and sends signature_name', async () => {
    const m = await fromHttpEndpoint(base, { modelName: 'toy', inputShape: [3], numClasses: 3, signatureName: 'serving_default', ...fast });
    const x = tf.ones([1, 3]);
    tf.dispose([x, await m.logits(x)]);
    expect(requests[0]!.url).toBe('/v1/models/toy:predict');
    expect(requests[0]!.body['signature_name']).toBe('serving_default');
    m.dispose();
  });

  it('splits batches by count and by request size, keeping the order', async () => {
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [4], numClasses: 3, maxBatchSize: 4, maxRequestBytes: 200, ...fast });
    const x = tf.tensor2d(
      Array.from({ length: 10 * 4 }, (_, i) => i / 7),
      [10, 4],
    );
    const y = await m.logits(x);
    expect(requests.length).toBeGreaterThanOrEqual(3);
    expect(requests.every((r) => r.instances <= 4 && r.bytes <= 200)).toBe(true);
    expect(requests.reduce((a, r) => a + r.instances, 0)).toBe(10);
    const first = Array.from(y.dataSync()).filter((_, i) => i % 3 === 2);
    expect(first.map((v) => Math.round(v * 7))).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    tf.dispose([x, y]);
    m.dispose();
  });

  it('retries 503s and timeouts with backoff, then succeeds', async () => {
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [2], numClasses: 3, retries: 3, ...fast });
    script.push('fail503', 'hang', 'fail503');
    const x = tf.ones([1, 2]);
    const t0 = Date.now();
    const y = await m.logits(x);
    expect(Array.from(y.dataSync())).toEqual([2, 1, 1]);
    expect(requests).toHaveLength(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300 + 5 + 10 + 20 - 5);
    tf.dispose([x, y]);
    m.dispose();
  });

  it('gives up after the retries with a ModelLoadError', async () => {
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [2], numClasses: 3, retries: 2, ...fast });
    script.push('fail503', 'fail503', 'fail503', 'fail503');
    const x = tf.ones([1, 2]);
    await expect(m.logits(x)).rejects.toThrow(/HTTP 503 overloaded \(after 3 attempts\)/);
    expect(requests).toHaveLength(3);
    x.dispose();
    m.dispose();
  });

  it('does not retry client errors, and rejects malformed answers', async () => {
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [2], numClasses: 3, ...fast });
    const x = tf.ones([2, 2]);
    script.push('fail400');
    await expect(m.logits(x)).rejects.toThrow(ModelLoadError);
    expect(requests).toHaveLength(1);
    script.push('garbage');
    await expect(m.logits(x)).rejects.toThrow(/expected a JSON response/);
    script.push('wrongCount');
    await expect(m.logits(x)).rejects.toThrow(/with 2 rows, got 1 rows/);
    const wrong = tf.ones([2, 3]);
    await expect(m.logits(wrong)).rejects.toThrow(ShapeError);
    tf.dispose([x, wrong]);
    m.dispose();
  });

  it('applies preprocessing before sending', async () => {
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, {
      inputShape: [2, 1, 1],
      numClasses: 3,
      layout: 'NCHW',
      preprocessing: { mean: [1, 2], std: [2, 4] },
      ...fast,
    });
    const x = tf.tensor4d([3, 6], [1, 2, 1, 1]);
    tf.dispose([x, await m.logits(x)]);
    expect(requests[0]!.body['instances']).toEqual([[[[1]], [[1]]]]);
    m.dispose();
  });

  it('validates its options', async () => {
    await expect(fromHttpEndpoint('ftp://127.0.0.1/x', { inputShape: [2] })).rejects.toThrow(ConfigError);
    await expect(fromHttpEndpoint(base, { inputShape: [2] })).rejects.toThrow(/modelName/);
    await expect(fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [0] })).rejects.toThrow(ConfigError);
    await expect(fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [2], numClasses: 3, maxBatchSize: 0 })).rejects.toThrow(/maxBatchSize/);
    const m = await fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [100], numClasses: 3, maxRequestBytes: 50 });
    const x = tf.ones([1, 100]);
    await expect(m.logits(x)).rejects.toThrow(/maxRequestBytes/);
    m.dispose();
    await expect(m.logits(x)).rejects.toThrow(/disposed/);
    x.dispose();
  });

  it.each([
    ['mean and std of different lengths', { mean: [0.5, 0.5], std: [0.25] }, /same non-zero length, got 2 and 1/],
    ['a zero std', { mean: [0.5], std: [0] }, /finite means and positive stds/],
    ['a NaN mean', { mean: [Number.NaN], std: [1] }, /finite means and positive stds/],
    ['an entry per channel for the wrong channel count', { mean: [0, 0], std: [1, 1] }, /1 or 3 entries \(one per channel\), got 2/],
  ])('refuses a preprocessing with %s (ConfigError, one line, no request sent)', async (_what, preprocessing, message) => {
    const p = fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [4, 4, 3], numClasses: 3, preprocessing, ...fast });
    const e: unknown = await p.then(
      (m) => (m.dispose(), undefined),
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).not.toContain('\n');
    expect(requests).toEqual([]);
  });

  it('refuses non-finite bounds as every adapter does', async () => {
    await expect(fromHttpEndpoint(`${base}/v1/models/toy:predict`, { inputShape: [2], numClasses: 3, bounds: [0, Infinity] })).rejects.toThrow(
      /finite lower < upper/,
    );
  });

  it('fails the probe of an unreachable endpoint', async () => {
    await expect(fromHttpEndpoint(`${base}/v1/models/missing:predict`, { inputShape: [2], retries: 0, ...fast })).rejects.toThrow(/HTTP 404/);
  });
});
