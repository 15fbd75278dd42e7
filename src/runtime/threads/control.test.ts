import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { MIN_SPIN, waitForChange, type Spinner } from './control.js';

// Sets word 0 of the shared Int32Array to 1 after `delayMs`, then notifies.
const SETTER = `
const { workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData.buf);
const t0 = Date.now();
while (Date.now() - t0 < workerData.delayMs);
Atomics.store(ctl, 0, 1);
Atomics.notify(ctl, 0);
`;

function setLater(buf: SharedArrayBuffer, delayMs: number): Promise<number> {
  const w = new Worker(SETTER, { eval: true, workerData: { buf, delayMs } });
  return new Promise((resolve) => w.once('exit', resolve));
}

test('waitForChange returns at once when the value already differs', () => {
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  ctl[0] = 5;
  const sp: Spinner = { budget: 100, max: 100 };
  assert.equal(waitForChange(ctl, 0, 4, sp, true), 5);
  assert.equal(sp.budget, 100);
});

test('a spin that sees the change doubles the budget up to max', async () => {
  const buf = new SharedArrayBuffer(8);
  const ctl = new Int32Array(buf);
  const sp: Spinner = { budget: 1e12, max: 3e12 };
  const realNow = performance.now.bind(performance);
  let fake = 0;
  // Polls see no gap, so a loaded machine preempting this test cannot look like a preemption to the spinner.
  performance.now = () => (fake += 1e-6);
  try {
    const done = setLater(buf, 20);
    assert.equal(waitForChange(ctl, 0, 0, sp, true), 1);
    assert.equal(sp.budget, 2e12);
    await done;
  } finally {
    performance.now = realNow;
  }
});

test('a spinner that finds it was preempted sleeps and halves its budget', async () => {
  const buf = new SharedArrayBuffer(8);
  const ctl = new Int32Array(buf);
  const sp: Spinner = { budget: 1e9, max: 1e9 };
  const realNow = performance.now.bind(performance);
  let fake = 0;
  // Every poll sees 1 ms pass: the same as being descheduled between polls.
  performance.now = () => (fake += 1);
  try {
    const done = setLater(buf, 30);
    assert.equal(waitForChange(ctl, 0, 0, sp, true), 1);
    assert.equal(sp.budget, 5e8);
    await done;
  } finally {
    performance.now = realNow;
  }
  const floor: Spinner = { budget: MIN_SPIN, max: 1e9 };
  ctl[0] = 0;
  performance.now = () => (fake += 1);
  try {
    const done = setLater(buf, 10);
    waitForChange(ctl, 0, 0, floor, true);
    assert.equal(floor.budget, MIN_SPIN);
    await done;
  } finally {
    performance.now = realNow;
  }
});
