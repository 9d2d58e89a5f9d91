// Selects the tfjs backend for this vitest project (cpu or wasm) before any suite runs.
import { beforeAll } from 'vitest';
import * as tf from '../src/tf.js';
import { initBackend, type BackendName } from '../src/backend.js';

tf.env().set('PROD', true);
beforeAll(async () => {
  const name = (process.env['ROBUSTEST_TEST_BACKEND'] ?? 'cpu') as BackendName;
  await initBackend(name);
});
