// Golden files of the report renderings: `expectGolden(name, text)` compares with test/report/golden/<name>;
// `UPDATE_GOLDEN=1 npx vitest run test/report` rewrites them (review the diff before committing).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { validateReport, type Report } from '../../src/report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DIR = join(HERE, 'golden');

export function expectGolden(name: string, text: string): void {
  const path = join(GOLDEN_DIR, name);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(path)) {
    if (process.env['CI'] === 'true' && !existsSync(path)) throw new Error(`golden file ${name} is missing (run UPDATE_GOLDEN=1 locally)`);
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, text);
    return;
  }
  expect(text).toBe(readFileSync(path, 'utf8'));
}

/**
 * A real report: `fgsm` then `pgd` (10 steps) at L∞ ε 0.05, 0.1, 0.2 on the first 100 bundled MNIST test images
 * (cpu backend, seed 0), with the first 12 points kept as examples. Read fresh on each call (tests may mutate it).
 */
export function mnistReport(): Report {
  return validateReport(JSON.parse(readFileSync(join(HERE, 'fixtures', 'mnist-report.json'), 'utf8')));
}
