// sharp (a native module) is loaded when an image folder is read, not when robustest is imported. A child process
// imports the root index and lists the shared libraries it has loaded (process.report), then reads an image folder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';

const root = join(import.meta.dirname, '..', '..');

/** Runs `body` as an ES module in a fresh Node (TypeScript through tsx) and returns what it prints as JSON. */
async function inChild(body: string): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const loadedSharp = `process.report.getReport().sharedObjects.filter((s) => /sharp|vips/.test(s)).length > 0`;

describe('sharp is loaded lazily', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robustest-lazy-'));
    for (const name of ['cat', 'dog']) {
      await mkdir(join(dir, name));
      const png = await sharp(Buffer.alloc(4, name === 'cat' ? 10 : 200), { raw: { width: 2, height: 2, channels: 1 } })
        .png()
        .toBuffer();
      await writeFile(join(dir, name, 'a.png'), png);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('not by importing the root index; on reading an image folder', async () => {
    const index = pathToFileURL(join(root, 'src', 'index.ts')).href;
    const out = await inChild(`
      const r = await import(${JSON.stringify(index)});
      const afterImport = ${loadedSharp};
      const ds = await r.loadData(${JSON.stringify(dir)}, { inputShape: [2, 2, 1] });
      console.log(JSON.stringify({ afterImport, afterRead: ${loadedSharp}, classNames: ds.classNames }));
    `);
    expect(out).toEqual({ afterImport: false, afterRead: true, classNames: ['cat', 'dog'] });
  });

  it('the probe sees sharp when it is loaded', async () => {
    expect(await inChild(`await import('sharp'); console.log(JSON.stringify({ loaded: ${loadedSharp} }));`)).toEqual({ loaded: true });
  });
});
