// Regression tests for the defects the fuzz suite found in the data loaders, each with its minimal input.
import { afterAll, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoadError } from '../../src/errors.js';
import { loadImageFolder } from '../../src/data/images.js';

const root = mkdtempSync(join(tmpdir(), 'robustest-fuzz-finds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('an undecodable image whose name holds a newline is a one-line DataLoadError (sharp messages quoted too)', async () => {
  const dir = join(root, 'images');
  mkdirSync(join(dir, 'cat'), { recursive: true });
  writeFileSync(join(dir, 'cat', 'new\nline.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
  const e = await loadImageFolder(dir, { inputShape: [8, 8, 3] }).catch((err: unknown) => err);
  expect(e).toBeInstanceOf(DataLoadError);
  expect((e as Error).message).not.toMatch(/\n/);
  expect((e as Error).message).toMatch(/new\\nline\.png": expected an image sharp can decode/);
});
