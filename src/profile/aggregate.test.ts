import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProfiledStep } from '../bench/targets.js';
import { aggregateProfile, topNodes } from './aggregate.js';
import { chromeTrace } from './trace.js';

function step(nodeName: string, opType: string, timeMs: number, macs = 0, bytesMoved = 0): ProfiledStep {
  return {
    nodeName,
    opType,
    kernelId: `k-${opType}`,
    timeMs,
    macs,
    bytesMoved,
    fused: opType === 'Conv',
    fallback: false,
  };
}

const runs = [
  [step('c1', 'Conv', 2, 1e6, 1e5), step('r1', 'Relu', 1), step('c2', 'Conv', 4, 2e6, 4e5)],
  [step('c1', 'Conv', 3, 1e6, 1e5), step('r1', 'Relu', 1), step('c2', 'Conv', 4, 2e6, 4e5)],
  [step('c1', 'Conv', 100, 1e6, 1e5), step('r1', 'Relu', 1), step('c2', 'Conv', 5, 2e6, 4e5)],
];

test('per-node medians resist one preempted run; shares, GFLOP/s and intensity follow', () => {
  const p = aggregateProfile(runs);
  assert.equal(p.runs, 3);
  const [c1, r1, c2] = p.nodes;
  assert.equal(c1!.medianMs, 3);
  assert.equal(c2!.medianMs, 4);
  assert.equal(r1!.share, 1 / 8);
  assert.ok(Math.abs(c1!.gflops - 2e6 / 3e6) < 1e-12);
  assert.equal(c2!.intensity, 10);
  assert.equal(p.totalMedianMs, 8);
  assert.deepEqual(
    p.byOpType.map((g) => [g.key, g.count, g.totalMs]),
    [
      ['Conv', 2, 7],
      ['Relu', 1, 1],
    ],
  );
  assert.deepEqual(
    topNodes(p, 2).map((n) => n.nodeName),
    ['c2', 'c1'],
  );
  // The timeline is every step at its median, laid end to end.
  assert.deepEqual(
    p.timeline.map((s) => [s.nodeName, s.startMs, s.durMs]),
    [
      ['c1', 0, 3],
      ['r1', 3, 1],
      ['c2', 4, 4],
    ],
  );
});

test('runs with different schedules are refused', () => {
  assert.throws(() => aggregateProfile([runs[0]!, runs[1]!.slice(1)]), /different schedule/);
  assert.throws(() => aggregateProfile([]), /no profiled runs/);
});

test('Chrome trace: complete events in microseconds, runs end to end, named process and thread', () => {
  const t = chromeTrace(runs.slice(0, 2), { model: 'm', config: 'edgecnn-wasm/t1' });
  const x = t.traceEvents.filter((e) => e.ph === 'X');
  assert.equal(x.length, 6);
  assert.deepEqual(
    x.slice(0, 3).map((e) => [e.name, e.ts, e.dur]),
    [
      ['c1', 0, 2000],
      ['r1', 2000, 1000],
      ['c2', 3000, 4000],
    ],
  );
  assert.ok(x[3]!.ts >= 7000, 'second run starts after the first');
  assert.equal(x[0]!.args!.kernel, 'k-Conv');
  const meta = t.traceEvents.filter((e) => e.ph === 'M').map((e) => e.args!.name);
  assert.deepEqual(meta, ['edgecnn m', 'edgecnn-wasm/t1']);
  // The JSON Object Format round-trips.
  assert.deepEqual(JSON.parse(JSON.stringify(t)).traceEvents.length, t.traceEvents.length);
});
