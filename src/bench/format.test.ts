import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, toReadableJson } from './format.js';

test('readable JSON keeps numeric arrays on one line and round-trips', () => {
  const v = { samplesMs: [1.5, 2, -3e-7], nested: { values: [0.25] }, rows: [{ a: 1 }], s: 'x [1, 2]' };
  const text = toReadableJson(v);
  assert.match(text, /"samplesMs": \[1\.5,2,-3e-7\]/);
  assert.match(text, /"values": \[0\.25\]/);
  assert.deepEqual(JSON.parse(text), v);
});

test('byte sizes use binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 2 ** 20), '5.0 MiB');
  assert.equal(formatBytes(undefined), '-');
});
