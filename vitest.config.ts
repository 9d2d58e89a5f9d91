import { defineConfig } from 'vitest/config';

// The tensor suites run once per backend (cpu and wasm); pure host-side suites run once.
const tensorSuites = [
  'test/attacks/**/*.test.ts',
  'test/model/**/*.test.ts',
  'test/metrics/**/*.test.ts',
  'test/onnx/**/*.test.ts',
  'test/defenses/**/*.test.ts',
  'test/integration/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'cpu', include: ['test/**/*.test.ts'], env: { ROBUSTEST_TEST_BACKEND: 'cpu' } },
      },
      {
        extends: true,
        test: { name: 'wasm', include: tensorSuites, env: { ROBUSTEST_TEST_BACKEND: 'wasm' } },
      },
    ],
  },
});
