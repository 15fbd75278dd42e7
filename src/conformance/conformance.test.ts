import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLAIMED_OPS, getOp } from '../ops/registry.js';
import { CLAIMED_TESTS } from './claimed.js';
import { countOutcomes, listTests, runTest } from './runner.js';
import { conformanceDir } from './shared-dir.js';

const dir = conformanceDir();

test('every claimed operator has a record in the op table', () => {
  const missing = CLAIMED_OPS.filter((op) => getOp('', op) === undefined);
  assert.deepEqual(missing, []);
  assert.deepEqual([...CLAIMED_OPS], [...CLAIMED_OPS].sort(), 'CLAIMED_OPS stays sorted');
});

for (const suite of ['node', 'pytorch-converted', 'pytorch-operator', 'simple']) {
  test(`claimed ONNX conformance tests pass: ${suite}`, { skip: dir ? false : 'no ../shared/conformance/onnx' }, () => {
    const claimed = new Set(CLAIMED_TESTS[suite] ?? []);
    const tests = listTests(`${dir}/${suite}`).filter((t) => claimed.has(t.name));
    assert.equal(tests.length, claimed.size, `every claimed ${suite} test exists`);
    const results = tests.map(runTest);
    const failed = results.filter((r) => r.outcome !== 'pass').map((r) => `${r.name}: ${r.outcome} ${r.detail}`);
    assert.deepEqual(failed, []);
    const c = countOutcomes(results);
    console.log(`conformance ${suite}: ${c.pass}/${tests.length} claimed tests pass`);
  });
}

test(
  'unclaimed tests are reported as unsupported, not crashes',
  { skip: dir ? false : 'no ../shared/conformance/onnx' },
  () => {
    const r = runTest(listTests(`${dir}/node/test_lstm_defaults`)[0]!);
    assert.equal(r.outcome, 'unsupported');
    assert.match(r.detail ?? '', /LSTM/);
  },
);
