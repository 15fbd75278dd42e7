import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLAIMED_TESTS } from './claimed.js';
import { listTests, runTest } from './runner.js';
import { conformanceDir } from './shared-dir.js';

// The nine classic CNNs of ONNX's `light` folder on the reference executor (the slowest tests: VGG-19 alone
// is 20 GMACs of naive loops), one test per model so the runner can report progress.
const dir = conformanceDir();
const tests = dir ? listTests(`${dir}/light`) : [];

test('light models are all claimed', { skip: dir ? false : 'no ../shared/conformance/onnx' }, () => {
  assert.deepEqual(tests.map((t) => t.name).sort(), [...(CLAIMED_TESTS.light ?? [])].sort());
  assert.equal(tests.length, 9);
});

for (const t of tests) {
  test(`light model ${t.name} matches ONNX's expected output`, () => {
    const r = runTest(t);
    assert.equal(r.outcome, 'pass', r.detail);
  });
}
