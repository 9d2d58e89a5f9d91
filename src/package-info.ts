/**
 * Where the robustest package lives on disk and its version, for provenance and bundled assets.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'robustest';
let rootCache: string | undefined;
let versionCache: string | undefined;

/**
 * The package root: the first directory above this module whose package.json is named `robustest`. Works from
 * `src/` (tests, tsx) and from the compiled `dist/src/`.
 * @returns the absolute path, or `undefined` if not found.
 * @internal
 */
export function packageRoot(): string | undefined {
  if (rootCache !== undefined) return rootCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return (rootCache = dir);
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The version in robustest's package.json, or `0.0.0-unknown`.
 * @example
 * ```ts
 * console.log(libraryVersion()); // '0.1.0'
 * ```
 */
export function libraryVersion(): string {
  if (versionCache !== undefined) return versionCache;
  const root = packageRoot();
  let version = '0.0.0-unknown';
  if (root) {
    try {
      version = String((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version ?? version);
    } catch {
      // keep the fallback
    }
  }
  return (versionCache = version);
}

/**
 * The folder of the bundled assets (the MNIST CNN in `mnist-cnn/`, the 1,000-image sample in `mnist-sample/`).
 *
 * @returns an absolute path.
 * @example
 * ```ts
 * const model = await loadModel(join(packageAssets(), 'mnist-cnn', 'model.json'));
 * ```
 */
export function packageAssets(): string {
  return join(packageRoot() ?? process.cwd(), 'assets');
}
