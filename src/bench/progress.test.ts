import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress } from './progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { stream: { isTTY, columns: 80, write: (s: string) => out.push(s) }, out };
}

test('plain mode writes whole lines, at most one per quarter', () => {
  const { stream, out } = sink(false);
  const p = createProgress(stream);
  p.note('loading ort-web/t1');
  p.start('measuring', 1);
  for (let i = 1; i <= 100; i++) p.update(i / 100);
  p.finish();
  const text = out.join('');
  assert.ok(!text.includes('\r'), 'no carriage returns in logs');
  assert.ok(!text.includes('\x1b'), 'no escape codes in logs');
  const lines = text.trim().split('\n');
  assert.deepEqual(lines.slice(0, 5), [
    'loading ort-web/t1',
    'measuring...',
    'measuring: 25%',
    'measuring: 50%',
    'measuring: 75%',
  ]);
  assert.match(lines[5]!, /^measuring: done in \d+\.\ds$/);
  assert.equal(lines.length, 6);
});

test('TTY mode redraws one bar in place', () => {
  const { stream, out } = sink(true);
  const p = createProgress(stream);
  p.start('measuring', 1);
  p.update(0.5);
  p.finish();
  const text = out.join('');
  assert.ok(text.includes('\r\x1b[2K'));
  assert.match(text, /\[#+-*\] 100%/);
  assert.ok(text.endsWith('s\n'));
});

test('quiet mode writes nothing', () => {
  const { stream, out } = sink(true);
  const p = createProgress(stream, true);
  p.note('x');
  p.start('y', 1);
  p.update(1);
  p.finish();
  assert.equal(out.length, 0);
});
