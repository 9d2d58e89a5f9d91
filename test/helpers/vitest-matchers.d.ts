// Declares robustest's matcher on vitest's expect for the test suite (users add the same two lines).
import type { RobustMatchers } from '../../src/testing.js';

declare module 'vitest' {
  // The type parameter must be declared exactly as vitest does (`T = any`); skipLibCheck hides a mismatch in a .d.ts.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-explicit-any
  interface Matchers<T = any> extends RobustMatchers<T> {}
}
