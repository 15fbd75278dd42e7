import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ModuleBuilder } from '../wasm/index.js';
import { gemm } from './gemm.js';
import { conv } from './conv.js';
import { winograd } from './winograd.js';
import { randomFloats } from './harness.js';
import { convSpecOf } from './conv-check.js';
import { detectFeatures } from '../../runtime/features.js';
import type { ConvSpec, GemmSpec } from './types.js';

// A worker instantiates the module over the shared memory and runs one [start, end) range of one export.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, name, start, end } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory } });
inst.exports[name](start, end);
parentPort.postMessage('done');
`;

function runInWorker(module: WebAssembly.Module, memory: WebAssembly.Memory, name: string, start: number, end: number) {
  return new Promise<void>((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { module, memory, name, start, end } });
    w.once('message', () => resolve());
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited with ${code}`))));
  });
}

test('kernel steps on disjoint ranges run concurrently on a shared memory and match one full run', async (t) => {
  if (!detectFeatures().threads) {
    t.skip('no shared WebAssembly memory here');
    return;
  }
  const pages = 64;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const f32 = new Float32Array(memory.buffer);
  let next = 64;
  const alloc = (floats: number): number => {
    const a = next;
    next = Math.ceil((a + floats * 4 + 16) / 16) * 16;
    return a;
  };
  const put = (v: Float32Array): number => {
    const a = alloc(v.length);
    f32.set(v, a / 4);
    return a;
  };
  const m = new ModuleBuilder();
  m.importMemory('env', 'memory', { initialPages: pages, maximumPages: pages, shared: true });
  const steps: { name: string; extent: number; out: number; outFloats: number }[] = [];

  const gs: GemmSpec = { m: 37, n: 29, k: 23, epilogue: { activation: { kind: 'relu' }, residual: false } };
  const gv = gemm.variants.find((v) => v.isa === 'wasmsimd' && v.tile === '4x8')!;
  {
    const a = put(randomFloats(gs.m * gs.k, 3));
    const b = put(gemm.pack(gs, gv, { b: randomFloats(gs.k * gs.n, 4), layout: 'kn' }));
    const c = alloc(gs.m * gs.n);
    const fn = m.addFunction('gemm', ['i32', 'i32'], []);
    gemm.emit(fn, gs, gv, {
      a: { addrBytes: a, pixelStride: gs.k },
      packedB: b,
      c: { addrBytes: c, pixelStride: gs.n },
    });
    m.exportFunction('gemm', fn.index);
    steps.push({ name: 'gemm', extent: gemm.parallelExtent(gs, gv), out: c, outFloats: gs.m * gs.n });
  }
  const convCase = (name: string, spec: ConvSpec, fam: typeof conv | typeof winograd): void => {
    const v = (fam.variants as readonly { isa: string }[]).find((x) => x.isa === 'wasmsimd')!;
    const famAny = fam as typeof conv;
    const input = put(randomFloats(spec.inH * spec.inW * spec.inC, 5));
    const w = put(famAny.pack(spec, v as never, { weights: randomFloats(spec.outC * spec.inC * 9, 6) }));
    const out = alloc(spec.outH * spec.outW * spec.outC);
    const zero = alloc(famAny.zeroBytes(spec, v as never) / 4);
    const sb = famAny.scratchBytes?.(spec, v as never) ?? 0;
    const scratch = sb > 0 ? alloc(sb / 4) : undefined;
    const fn = m.addFunction(name, ['i32', 'i32'], []);
    famAny.emit(fn, spec, v as never, {
      input: { addrBytes: input, pixelStride: spec.inC },
      packedWeights: w,
      output: { addrBytes: out, pixelStride: spec.outC },
      zero,
      ...(scratch !== undefined ? { scratch } : {}),
    });
    m.exportFunction(name, fn.index);
    steps.push({
      name,
      extent: famAny.parallelExtent(spec, v as never),
      out,
      outFloats: spec.outH * spec.outW * spec.outC,
    });
  };
  const cs = convSpecOf({ inC: 8, outC: 12, inH: 13, inW: 11, kernel: [3, 3], pads: [1, 1, 1, 1] });
  convCase('conv', cs, conv);
  convCase(
    'winograd',
    convSpecOf({ inC: 16, outC: 16, inH: 24, inW: 14, kernel: [3, 3], pads: [1, 1, 1, 1] }),
    winograd,
  );
  assert.ok(next < pages * 65536, 'test buffers fit the memory');

  const module = new WebAssembly.Module(m.build());
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  for (const s of steps) {
    (inst.exports[s.name] as (a: number, b: number) => void)(0, s.extent);
    const want = f32.slice(s.out / 4, s.out / 4 + s.outFloats);
    f32.fill(NaN, s.out / 4, s.out / 4 + s.outFloats);
    const mid = Math.floor(s.extent / 2);
    await Promise.all([
      runInWorker(module, memory, s.name, 0, mid),
      runInWorker(module, memory, s.name, mid, s.extent),
    ]);
    assert.deepEqual(f32.slice(s.out / 4, s.out / 4 + s.outFloats), want, `${s.name}: two workers differ from one run`);
  }
});
