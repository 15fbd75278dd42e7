import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newerSource } from './server.js';

test('newerSource names a src/ file changed after the bundles, and nothing when they are newer', () => {
  const found = newerSource(0);
  assert.ok(found !== undefined && /^src[/\\].*\.ts$/.test(found) && !found.endsWith('.test.ts'), String(found));
  assert.equal(newerSource(Number.POSITIVE_INFINITY), undefined);
});
