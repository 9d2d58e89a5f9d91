/**
 * A query-only model served over HTTP with the TensorFlow Serving REST predict API (row format):
 * `POST /v1/models/NAME:predict` with `{"instances": [...]}`, answered by `{"predictions": [...]}`.
 * Used for remote classifiers (TF Serving, TorchServe or KServe v1 endpoints, any server speaking that format).
 *
 * Spec: https://www.tensorflow.org/tfx/serving/api_rest#predict_api
 * @module
 */
import * as tf from '../tf.js';
import { ConfigError, ModelLoadError, ShapeError, describe } from '../errors.js';
import { checkBatchShape, inferLayout, type Bounds, type ModelWarning, type Layout, type ModelOptions, type Preprocessing, type QueryModel } from '../model.js';
import { checkOptions, HostPreprocessing } from '../model-options.js';

/** Options of {@link fromHttpEndpoint}. */
export interface HttpModelOptions extends ModelOptions {
  /** Shape of one input without the batch dimension (required: an endpoint does not describe itself). */
  inputShape: readonly number[];
  /** Number of classes. Default: probed with one all-zero instance. */
  numClasses?: number;
  /** Model name used to build `URL/v1/models/NAME:predict` when `url` does not already end in `:predict`. */
  modelName?: string;
  /** Milliseconds before one request is aborted (then retried). Default `30000`. */
  timeoutMs?: number;
  /** How many times a failed request (network error, timeout, HTTP 408, 429 or 5xx) is retried. Default `3`. */
  retries?: number;
  /** Delay before the first retry in milliseconds; doubles on each further retry. Default `200`. */
  backoffMs?: number;
  /** Most instances in one request. Default `64`. */
  maxBatchSize?: number;
  /** Most bytes of JSON in one request body; a batch is split to fit. Default `4194304` (4 MiB). */
  maxRequestBytes?: number;
  /** Extra request headers (authorisation, ...). Default: none. */
  headers?: Readonly<Record<string, string>>;
  /** Key of the scores when each prediction is an object (multi-output signatures), e.g. `logits`. Default: none. */
  outputKey?: string;
  /** TF Serving `signature_name` sent with every request. Default: none (the server's default signature). */
  signatureName?: string;
}

/** Checks a positive integer option. */
function positiveInt(name: string, where: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${where}: expected ${name} to be a positive integer, got ${describe(v)}`);
  return v;
}

function nonNegative(name: string, where: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new ConfigError(`${where}: expected ${name} to be a non-negative number, got ${describe(v)}`);
  return v;
}

/** Nested arrays of one instance in row-major order, as JSON text. */
function instanceJson(data: Float32Array, offset: number, shape: readonly number[]): string {
  let pos = offset;
  const rec = (axis: number): string => {
    const n = shape[axis]!;
    const parts: string[] = new Array<string>(n);
    if (axis === shape.length - 1) {
      for (let i = 0; i < n; i++) {
        const v = data[pos++]!;
        if (!Number.isFinite(v)) throw new ConfigError(`http: expected finite inputs, got ${v}`);
        parts[i] = String(v);
      }
    } else {
      for (let i = 0; i < n; i++) parts[i] = rec(axis + 1);
    }
    return `[${parts.join(',')}]`;
  };
  return rec(0);
}

function flattenNumbers(v: unknown, out: number[], where: string): void {
  if (typeof v === 'number') out.push(v);
  else if (Array.isArray(v)) for (const x of v) flattenNumbers(x, out, where);
  else throw new ModelLoadError(`${where}: expected predictions of numbers, got ${describe(v)}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The HTTP-backed {@link QueryModel}. */
class HttpModel implements QueryModel {
  readonly kind = 'query' as const;
  readonly engine = 'http';
  readonly warnings: readonly ModelWarning[] = [];
  readonly bounds: Bounds;
  readonly inputShape: readonly number[];
  readonly layout: Layout;
  readonly name: string;
  readonly preprocessing?: Preprocessing;
  numClasses = 0;
  private disposed = false;
  private readonly controllers = new Set<AbortController>();

  constructor(
    readonly url: string,
    private readonly o: Required<Pick<HttpModelOptions, 'timeoutMs' | 'retries' | 'backoffMs' | 'maxBatchSize' | 'maxRequestBytes'>> & HttpModelOptions,
    private readonly host: HostPreprocessing | undefined,
  ) {
    this.bounds = o.bounds ? [o.bounds[0], o.bounds[1]] : [0, 1];
    this.inputShape = [...o.inputShape];
    this.layout = o.layout ?? inferLayout(o.inputShape);
    this.name = o.name ?? url;
    if (host) this.preprocessing = host.preprocessing;
  }

  /** One POST with timeout and retries; returns the flattened predictions of `count` instances. */
  async post(body: string, count: number): Promise<number[][]> {
    let lastError = '';
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (this.disposed) break;
      if (attempt > 0) await sleep(this.o.backoffMs * 2 ** (attempt - 1));
      const controller = new AbortController();
      this.controllers.add(controller);
      const timer = setTimeout(() => controller.abort(), this.o.timeoutMs);
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.o.headers },
          body,
          signal: controller.signal,
        });
        const text = await res.text();
        if (!res.ok) {
          lastError = `HTTP ${res.status} ${text.slice(0, 200)}`;
          if (res.status === 408 || res.status === 429 || res.status >= 500) continue;
          break;
        }
        return this.parse(text, count);
      } catch (e) {
        if (e instanceof ModelLoadError) throw e;
        lastError = controller.signal.aborted ? `no answer within ${this.o.timeoutMs} ms` : e instanceof Error ? e.message : String(e);
      } finally {
        clearTimeout(timer);
        this.controllers.delete(controller);
      }
    }
    if (this.disposed) throw new ConfigError(`${this.name}: expected a live model, got one that was disposed`);
    throw new ModelLoadError(`${this.name}: expected a successful predict response from ${this.url}, got ${lastError} (after ${this.o.retries + 1} attempts)`);
  }

  private parse(text: string, count: number): number[][] {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ModelLoadError(`${this.name}: expected a JSON response, got ${describe(text.slice(0, 80))}`);
    }
    const predictions = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['predictions'] : undefined;
    if (!Array.isArray(predictions) || predictions.length !== count) {
      throw new ModelLoadError(
        `${this.name}: expected {"predictions": [...]} with ${count} rows, got ${Array.isArray(predictions) ? `${predictions.length} rows` : describe(json)}`,
      );
    }
    return predictions.map((p) => {
      const v =
        this.o.outputKey !== undefined && typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>)[this.o.outputKey] : p;
      const row: number[] = [];
      flattenNumbers(v, row, this.name);
      return row;
    });
  }

  /** Sends a host batch, split by count and request size; returns one score row per instance. */
  async query(data: Float32Array, n: number): Promise<number[][]> {
    const per = this.inputShape.reduce((a, b) => a * b, 1);
    const head = `{${this.o.signatureName !== undefined ? `"signature_name":${JSON.stringify(this.o.signatureName)},` : ''}"instances":[`;
    const rows: number[][] = [];
    let chunk: string[] = [];
    let bytes = head.length + 2;
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const body = `${head}${chunk.join(',')}]}`;
      rows.push(...(await this.post(body, chunk.length)));
      chunk = [];
      bytes = head.length + 2;
    };
    for (let i = 0; i < n; i++) {
      const inst = instanceJson(data, i * per, this.inputShape);
      if (head.length + 2 + inst.length > this.o.maxRequestBytes) {
        throw new ConfigError(
          `${this.name}: expected one instance to fit in maxRequestBytes (${this.o.maxRequestBytes}), got ${inst.length + head.length + 2} bytes`,
        );
      }
      if (chunk.length >= this.o.maxBatchSize || bytes + inst.length + 1 > this.o.maxRequestBytes) await flush();
      chunk.push(inst);
      bytes += inst.length + 1;
    }
    await flush();
    return rows;
  }

  async logits(x: tf.Tensor): Promise<tf.Tensor2D> {
    if (this.disposed) throw new ConfigError(`${this.name}: expected a live model, got one that was disposed`);
    const expected = this.inputShape;
    const n = checkBatchShape(this.name, expected, x);
    const data = Float32Array.from(await x.data());
    this.host?.apply(data, x.shape);
    const rows = await this.query(data, n);
    const out = new Float32Array(n * this.numClasses);
    rows.forEach((r, i) => {
      if (r.length !== this.numClasses) throw new ShapeError(`${this.name}: expected ${this.numClasses} scores per prediction, got ${r.length}`);
      out.set(r, i * this.numClasses);
    });
    return tf.tensor2d(out, [n, this.numClasses]);
  }

  fingerprint(): Promise<string> {
    return Promise.resolve(`unknown:http-endpoint ${this.url}`);
  }

  dispose(): void {
    this.disposed = true;
    for (const c of this.controllers) c.abort();
  }
}

/**
 * Wraps a remote classifier that speaks the TensorFlow Serving REST predict API as a {@link QueryModel}
 * (black-box attacks only).
 *
 * Each `logits` call sends the batch as `{"instances": [...]}` (one nested array per sample, row format),
 * split into requests of at most `maxBatchSize` instances and `maxRequestBytes` bytes, sent one after the
 * other. A request that fails with a network error, a timeout (`timeoutMs`, enforced with an AbortController),
 * HTTP 408, 429 or 5xx is retried up to `retries` times with exponential backoff (`backoffMs`, doubled each
 * time); other HTTP errors fail at once. Preprocessing, if given, is applied before sending.
 * `dispose()` aborts requests in flight.
 *
 * Spec: https://www.tensorflow.org/tfx/serving/api_rest#predict_api
 *
 * @param url - the predict URL (`http://host:8501/v1/models/NAME:predict`), or the server's base URL with
 *   `options.modelName`.
 * @param options - `inputShape` (required), `numClasses` (default: probed with one zero instance), bounds
 *   (default `[0, 1]`), preprocessing, `timeoutMs` (30000), `retries` (3), `backoffMs` (200),
 *   `maxBatchSize` (64), `maxRequestBytes` (4 MiB), `headers`, `outputKey`, `signatureName`.
 * @returns a query model.
 * @throws {@link ConfigError} for invalid options (bounds, inputShape, preprocessing as every adapter checks them, and
 *   the HTTP ones) or a URL that is neither a predict URL nor a base URL with `modelName`.
 * @throws {@link ModelLoadError} when the class-count probe fails (endpoint unreachable or not answering the format).
 * @example
 * ```ts
 * const model = await fromHttpEndpoint('http://localhost:8501/v1/models/resnet:predict', {
 *   inputShape: [224, 224, 3], numClasses: 1000, bounds: [0, 255], timeoutMs: 10_000,
 * });
 * const scores = await model.logits(images);
 * ```
 */
export async function fromHttpEndpoint(url: string, options: HttpModelOptions): Promise<QueryModel> {
  const where = options.name ?? 'http';
  let full: string;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    if (/:predict$/.test(u.pathname)) full = u.toString();
    else if (options.modelName) full = new URL(`${u.pathname.replace(/\/$/, '')}/v1/models/${encodeURIComponent(options.modelName)}:predict`, u).toString();
    else throw new Error('no model');
  } catch {
    throw new ConfigError(`${where}: expected an http(s) URL ending in /v1/models/NAME:predict, or a base URL with modelName, got ${describe(url)}`);
  }
  const inputShape = options.inputShape as readonly number[] | undefined;
  if (inputShape === undefined) throw new ConfigError(`${where}: expected inputShape to be a list of positive integers, got undefined`);
  checkOptions(where, options.bounds ?? [0, 1], undefined, inputShape, options.preprocessing);
  const host = HostPreprocessing.create(where, options.preprocessing, options.layout ?? inferLayout(inputShape), inputShape);
  const model = new HttpModel(
    full,
    {
      ...options,
      timeoutMs: positiveInt('timeoutMs', where, options.timeoutMs ?? 30_000),
      retries: Math.floor(nonNegative('retries', where, options.retries ?? 3)),
      backoffMs: nonNegative('backoffMs', where, options.backoffMs ?? 200),
      maxBatchSize: positiveInt('maxBatchSize', where, options.maxBatchSize ?? 64),
      maxRequestBytes: positiveInt('maxRequestBytes', where, options.maxRequestBytes ?? 4 * 1024 * 1024),
    },
    host,
  );
  if (options.numClasses !== undefined) {
    model.numClasses = positiveInt('numClasses', where, options.numClasses);
  } else {
    const per = inputShape.reduce((a, b) => a * b, 1);
    const rows = await model.query(new Float32Array(per), 1);
    model.numClasses = rows[0]!.length;
  }
  if (model.numClasses < 2) throw new ConfigError(`${where}: expected numClasses >= 2, got ${model.numClasses}`);
  return model;
}
