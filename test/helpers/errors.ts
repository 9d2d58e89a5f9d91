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
