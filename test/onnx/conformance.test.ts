// ONNX backend node tests (onnx 1.12 test data from Debian's libonnx-testdata) run through the importer.
// Every test whose operators are all in listSupportedOps() must pass, except the ones listed in EXCLUDED with
// the reason. Runs on both backends (the whole set takes a few seconds).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { listSupportedOps } from '../../src/onnx/import.js';
import { runNodeTest, testOps } from './node-tests.js';
import { requireFixture } from './helpers.js';

/** Where Debian's libonnx-testdata puts the node tests; ONNX_NODE_TESTS overrides it. */
export const NODE_TESTS = process.env['ONNX_NODE_TESTS'] ?? '/usr/share/libonnx-testdata/data/node';
const haveData = requireFixture(
  `the ONNX node tests (${NODE_TESTS})`,
  existsSync(NODE_TESTS),
  'apt-get install libonnx-testdata (.ci/run installs it) or set ONNX_NODE_TESTS',
);

/** Tests of supported operators that are not expected to pass, and why. */
export const EXCLUDED: Readonly<Record<string, string>> = {
  test_maxpool_with_argmax_2d_precomputed_pads: "MaxPool's second output (Indices) is not implemented",
  test_maxpool_with_argmax_2d_precomputed_strides: "MaxPool's second output (Indices) is not implemented",
  test_batchnorm_epsilon_training_mode: 'BatchNormalization in training mode (batch statistics, running-mean outputs) is not an inference op',
  test_batchnorm_example_training_mode: 'BatchNormalization in training mode (batch statistics, running-mean outputs) is not an inference op',
  test_training_dropout: 'Dropout in training mode is random (seeded by the runtime); only inference Dropout is supported',
  test_training_dropout_default: 'Dropout in training mode is random (seeded by the runtime); only inference Dropout is supported',
  test_training_dropout_default_mask: 'Dropout in training mode is random (seeded by the runtime); only inference Dropout is supported',
  test_training_dropout_mask: 'Dropout in training mode is random (seeded by the runtime); only inference Dropout is supported',
  test_cast_FLOAT_to_FLOAT16: 'float16 needs a 16-bit float type, which tfjs lacks',
  test_cast_DOUBLE_to_FLOAT16: 'float16 needs a 16-bit float type, which tfjs lacks',
  test_cast_FLOAT_to_BFLOAT16: 'bfloat16 needs a 16-bit float type, which tfjs lacks (the test data stores it as uint16)',
  test_cast_BFLOAT16_to_FLOAT: 'bfloat16 needs a 16-bit float type, which tfjs lacks (the test data stores it as uint16)',
  test_castlike_FLOAT_to_FLOAT16_expanded: 'float16 needs a 16-bit float type, which tfjs lacks',
  test_castlike_DOUBLE_to_FLOAT16_expanded: 'float16 needs a 16-bit float type, which tfjs lacks',
  test_castlike_FLOAT_to_BFLOAT16_expanded: 'bfloat16 needs a 16-bit float type, which tfjs lacks (the test data stores it as uint16)',
  test_castlike_BFLOAT16_to_FLOAT_expanded: 'bfloat16 needs a 16-bit float type, which tfjs lacks (the test data stores it as uint16)',
  test_castlike_FLOAT_to_FLOAT16: 'float16 needs a 16-bit float type, which tfjs lacks',
  test_castlike_DOUBLE_to_FLOAT16: 'float16 needs a 16-bit float type, which tfjs lacks',
  test_castlike_FLOAT_to_BFLOAT16: 'bfloat16 needs a 16-bit float type, which tfjs lacks (the test data stores it as uint16)',
  test_castlike_BFLOAT16_to_FLOAT: 'bfloat16 needs a 16-bit float type, which tfjs lacks (the test data stores it as uint16)',
  test_castlike_FLOAT_to_STRING: 'string tensors are not supported',
  test_castlike_STRING_to_FLOAT: 'string tensors are not supported',
  test_cast_FLOAT_to_STRING: 'string tensors are not supported',
  test_cast_STRING_to_FLOAT: 'string tensors are not supported',
  test_castlike_FLOAT_to_STRING_expanded: 'string tensors are not supported',
  test_castlike_STRING_to_FLOAT_expanded: 'string tensors are not supported',
  test_identity_opt: 'optional-typed values are not supported (tensors only)',
  test_identity_sequence: 'sequence-typed values are not supported (tensors only)',
  test_blackmanwindow_expanded:
    'the onnx 1.12 expected output differs from the window formula evaluated exactly (error 7e-5 at 0.51); every op of the graph passes its own tests',
  test_blackmanwindow_symmetric_expanded:
    'the onnx 1.12 expected output differs from the window formula evaluated exactly (error 6e-5 at 0.26); every op of the graph passes its own tests',
  test_hammingwindow_expanded:
    'the onnx 1.12 expected output differs from the window formula evaluated exactly (error 6e-5 at 0.40); every op of the graph passes its own tests',
  test_hammingwindow_symmetric_expanded:
    'the onnx 1.12 expected output differs from the window formula evaluated exactly (error 6e-5 at 0.46); every op of the graph passes its own tests',
  test_hannwindow_expanded:
    'the onnx 1.12 expected output differs from the window formula evaluated exactly (0.345562 against 0.345492 for n=8, N=10); every op of the graph passes its own tests',
  test_hannwindow_symmetric_expanded:
    'the onnx 1.12 expected output differs from the window formula evaluated exactly (error 7e-5 at 0.41); every op of the graph passes its own tests',
};

function supportedTests(): string[] {
  if (!haveData) return [];
  const supported = new Set(listSupportedOps());
  return readdirSync(NODE_TESTS)
    .filter((t) => existsSync(join(NODE_TESTS, t, 'model.onnx')))
    .filter((t) => testOps(join(NODE_TESTS, t)).every((op) => supported.has(op)))
    .sort();
}

const tests = supportedTests();
const running = tests.filter((t) => !(t in EXCLUDED));

describe.skipIf(!haveData)(
  `ONNX node conformance (${haveData ? NODE_TESTS : 'skipped: libonnx-testdata is not installed; apt-get install libonnx-testdata or set ONNX_NODE_TESTS'})`,
  () => {
    it('has a reason for every exclusion, and every excluded test exists and uses supported operators only', () => {
      for (const [name, reason] of Object.entries(EXCLUDED)) {
        expect(reason.length, name).toBeGreaterThan(10);
        expect(tests, `${name} is excluded but is not a test of supported operators`).toContain(name);
      }
    });

    it.each(running)('%s', (name) => {
      const before = tf.memory().numTensors;
      const r = runNodeTest(join(NODE_TESTS, name));
      expect(r.message ?? '').toBe('');
      expect(r.status).toBe('pass');
      expect(tf.memory().numTensors).toBe(before);
    });
  },
);
