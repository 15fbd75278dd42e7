import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QS8_MOVE_VARIANTS, type Qs8MoveSpec, qs8Move } from './qs8-move.js';
import { randomInt8, runBytes } from './qs8-testing.js';

const v = QS8_MOVE_VARIANTS[0]!;

// [pixels, channels, groups, extra input stride, extra output stride]
const CASES: [number, number, number, number, number][] = [
  [1, 2, 2, 0, 0],
  [5, 6, 2, 0, 3],
  [7, 58, 2, 2, 0],
  [3, 232, 2, 0, 0],
  [4, 33, 2 + 1, 1, 5],
  [2, 40, 4, 0, 0],
  [6, 17, 1, 3, 2],
];

test('qs8 channel shuffle and channel-slice copy move exactly the right bytes and nothing else', () => {
  for (const [pixels, C, G, xi, xo] of CASES) {
    for (const op of ['shuffle', 'copy'] as const) {
      const s: Qs8MoveSpec = op === 'copy' ? { op, pixels, channels: C } : { op, pixels, channels: C, groups: G };
      const x = randomInt8(pixels * (C + xi), pixels * C + G);
      const fill = new Int8Array(pixels * (C + xo)).fill(77);
      const run = runBytes(
        { x: { bytes: x.length, init: x }, y: { bytes: fill.length, init: fill } },
        pixels,
        (fn, a) =>
          qs8Move.emit(fn, s, v, {
            input: { addrBytes: a['x']!, pixelStride: C + xi },
            output: { addrBytes: a['y']!, pixelStride: C + xo },
          }),
        2,
      );
      assert.deepEqual(run.guardViolations, []);
      const K = C / G;
      const y = run.buffers['y']!;
      for (let p = 0; p < pixels; p++) {
        for (let c = 0; c < C; c++) {
          // Shuffle: out[G*i + j] = in[K*j + i].
          const src = op === 'copy' ? c : K * (c % G) + Math.floor(c / G);
          assert.equal(y[p * (C + xo) + c], x[p * (C + xi) + src], `${op} ${pixels}x${C}/${G} pixel ${p} channel ${c}`);
        }
        for (let c = C; c < C + xo; c++) assert.equal(y[p * (C + xo) + c], 77, 'wrote outside the slice');
      }
    }
  }
});
