// Records every path the process opens, reads or stats through node:fs while a case runs, so a fuzz case can
// assert that a loader never touched a file outside the folder it was given. The wrappers replace the functions
// on the fs objects and syncBuiltinESMExports() updates the ESM named imports (`import { open } from
// 'node:fs/promises'`) that the loaders hold.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';

/** One recorded access. */
export interface Access {
  readonly kind: 'open' | 'read' | 'stat';
  readonly path: string;
}

let log: Access[] | undefined;
let installed = false;

function pathOf(p: unknown): string | undefined {
  if (typeof p === 'string') return resolve(p);
  if (p instanceof URL && p.protocol === 'file:') return resolve(decodeURIComponent(p.pathname));
  if (Buffer.isBuffer(p)) return resolve(p.toString());
  return undefined;
}

function wrap<T extends object>(obj: T, name: keyof T & string, kind: Access['kind']): void {
  const original = obj[name] as unknown;
  if (typeof original !== 'function') return;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const p = pathOf(args[0]);
    if (log && p !== undefined) log.push({ kind, path: p });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  Object.defineProperty(obj, name, { value: wrapped, writable: true, configurable: true, enumerable: true });
}

/** Wraps the fs functions once per process. */
export function installFsSpy(): void {
  if (installed) return;
  installed = true;
  for (const n of ['openSync', 'open', 'createReadStream'] as const) wrap(fs, n, 'open');
  for (const n of ['readFileSync', 'readFile'] as const) wrap(fs, n, 'read');
  for (const n of ['statSync', 'stat'] as const) wrap(fs, n, 'stat');
  wrap(fsp, 'open', 'open');
  wrap(fsp, 'readFile', 'read');
  wrap(fsp, 'stat', 'stat');
  syncBuiltinESMExports();
}

/** Runs `fn` recording the accesses it makes (nested calls are not supported). */
export async function recordAccesses<T>(fn: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; accesses: Access[] }> {
  installFsSpy();
  const mine: Access[] = [];
  log = mine;
  try {
    const value = await fn();
    return { result: { status: 'fulfilled', value }, accesses: mine };
  } catch (reason) {
    return { result: { status: 'rejected', reason }, accesses: mine };
  } finally {
    log = undefined;
  }
}
