/**
 * sharp (a native module) loaded on first use, so that importing robustest does not load it: one cached import
 * shared by the image loaders and the report's PNG encoding.
 * @internal
 * @module
 */

/** sharp's factory function. */
export type SharpFactory = (typeof import('sharp'))['default'];

let sharpFactory: Promise<SharpFactory> | undefined;

/**
 * sharp, imported once; a failed import is not cached (a later call tries again) and becomes the caller's typed
 * error, built by `fail` from the first line of the import's message.
 *
 * @param fail - turns the reason into the error to throw (e.g. a `DataLoadError` naming what needed sharp).
 */
export async function loadSharp(fail: (reason: string) => Error): Promise<SharpFactory> {
  sharpFactory ??= import('sharp').then(
    (m) => m.default,
    (e: unknown) => {
      sharpFactory = undefined;
      throw e;
    },
  );
  try {
    return await sharpFactory;
  } catch (e) {
    throw fail((e as Error).message.split('\n')[0] ?? '');
  }
}
