// Declares robustest's matcher on vitest's expect for the test suite (users add the same two lines).
import type { RobustMatchers } from '../../src/testing.js';

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Matchers<T = unknown> extends RobustMatchers<T> {}
}
