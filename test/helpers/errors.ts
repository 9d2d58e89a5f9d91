// Asserts that a promise rejects with a typed error whose message says what was expected and what arrived.
import { expect } from 'vitest';

export async function expectRejects(p: Promise<unknown>, type: new (...a: never[]) => Error, ...fragments: (string | RegExp)[]): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(type);
  expect((e as Error).message).toMatch(/expected .*got /s);
  for (const f of fragments) expect((e as Error).message).toMatch(f);
}

/** The synchronous twin of {@link expectRejects}: `fn` must throw a typed error naming what was expected and got. */
export function expectThrows(fn: () => unknown, type: new (...a: never[]) => Error, ...fragments: (string | RegExp)[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toMatch(/expected .*got /s);
  for (const f of fragments) expect((caught as Error).message).toMatch(f);
}
