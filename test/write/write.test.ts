import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputPath, writeFileAtomic } from '../../src/write.js';
import { OutputError } from '../../src/errors.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'robustest-write-'));

describe('writeFileAtomic', () => {
  it('writes the contents, creates folders and leaves no temporary file', async () => {
    const d = dir();
    await writeFileAtomic(join(d, 'a', 'b', 'r.json'), '{"x":1}\n');
    expect(readFileSync(join(d, 'a', 'b', 'r.json'), 'utf8')).toBe('{"x":1}\n');
    await writeFileAtomic(join(d, 'a', 'b', 'r.json'), new Uint8Array([65, 66]));
    expect(readFileSync(join(d, 'a', 'b', 'r.json'), 'utf8')).toBe('AB');
    expect(readdirSync(join(d, 'a', 'b'))).toEqual(['r.json']);
  });

  it('keeps the previous file and cleans up when the write fails', async () => {
    const d = dir();
    mkdirSync(join(d, 'target'));
    await expect(writeFileAtomic(join(d, 'target'), 'x')).rejects.toThrow(OutputError);
    expect(readdirSync(d)).toEqual(['target']);
  });
});

describe('checkOutputPath', () => {
  it('accepts a new file in a new folder and an existing file', async () => {
    const d = dir();
    await expect(checkOutputPath(join(d, 'new', 'deeper', 'r.json'), '--json')).resolves.toBeUndefined();
    writeFileSync(join(d, 'r.json'), '');
    await expect(checkOutputPath(join(d, 'r.json'), '--json')).resolves.toBeUndefined();
  });

  it.each([
    ['an empty path', () => '', /--json: expected a file path, got an empty string/],
    ['a directory', (d: string) => d, /--json: expected a file, got the directory/],
    [
      'a path under a regular file',
      (d: string) => {
        writeFileSync(join(d, 'f'), '');
        return join(d, 'f', 'r.json');
      },
      /--json: expected ".*f" to be a folder, got a file/,
    ],
  ])('refuses %s with one line', async (_name, make, pattern) => {
    const d = dir();
    const err = await checkOutputPath(make(d), '--json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).not.toContain('\n');
  });

  it.skipIf(process.getuid?.() === 0)('refuses a read-only folder', async () => {
    const d = dir();
    chmodSync(d, 0o500);
    await expect(checkOutputPath(join(d, 'r.json'), '--json')).rejects.toThrow(/expected a writable location/);
  });

  it('quotes a name with a newline so the message stays on one line', async () => {
    const d = dir();
    mkdirSync(join(d, 'a\nb'));
    const err = (await checkOutputPath(join(d, 'a\nb'), '--json').catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain('\n');
    expect(err.message).toContain('a\\nb');
  });
});
