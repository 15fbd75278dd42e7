/**
 * Tuning: candidate lists keep the cost model's choice first; every candidate a tuner may take computes the
 * same model (forced choices against the reference executor, int8 choices bit-identical); the database
 * round-trips through a file and Web Storage and rejects foreign files with the file named; a tuned session
 * compiles with the database's kernels and matches the reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GraphBuilder, randomF32 } from '../ir/builder.js';
import type { Model } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { runReference } from '../ops/reference-executor.js';
import { compileModel } from '../codegen/compile/compile.js';
import {
  FAMILIES,
  type KernelChoice,
  candidateVariants,
  convCost,
  dwconvCost,
  gemmCost,
  pickVariant,
} from '../codegen/select.js';
import type { ConvSpec, GemmSpec } from '../codegen/kernels/types.js';
import { optimize } from '../passes/index.js';
import { createSession } from '../runtime/session.js';
import { fileTuningDb, memoryTuningDb, parseTuningDb, storageTuningDb, type TuningRecord } from './db.js';
import { EDGECNN_VERSION, deviceFingerprint } from './device.js';
import { measureCandidates } from './measure.js';
import { databaseChooser, tuneCompile } from './tune.js';
import { compareWholeModels } from './verify.js';
import { type Executor, instantiate } from '../runtime/executor.js';

const MODELS_DIR = resolve(process.cwd(), '../shared/models');

/** Winograd-eligible 3x3, depthwise, 1x1 convs writing channel slices of a Concat, a residual Add, a Gemm. */
function smallCnn(): Model {
  const g = new GraphBuilder('tune-cnn');
  const x = g.input('x', 'float32', [1, 8, 13, 11]);
  const c1 = g.node('Relu', [
    g.node('Conv', [x, g.randomInit('w1', [16, 8, 3, 3], 1), g.randomInit('b1', [16], 2)], { pads: [1, 1, 1, 1] }),
  ]);
  const dw = g.node('Conv', [c1, g.randomInit('wd', [16, 1, 3, 3], 3)], { pads: [1, 1, 1, 1], group: 16 });
  const a = g.node('Conv', [dw, g.randomInit('wa', [6, 16, 1, 1], 4)]);
  const b = g.node('Conv', [dw, g.randomInit('wb', [10, 16, 3, 3], 5)], { pads: [1, 1, 1, 1] });
  const cat = g.node('Concat', [a, b], { axis: 1 });
  const p = g.node('Conv', [cat, g.randomInit('wp', [16, 16, 1, 1], 6)]);
  const sum = g.node('Relu', [g.node('Add', [p, c1])]);
  const flat = g.node('Flatten', [g.node('GlobalAveragePool', [sum])], { axis: 1 });
  const y = g.node(
    'Gemm',
    [flat, g.randomInit('wg', [5, 16], 7), g.randomInit('bg', [5], 8)],
    { transB: 1 },
    {
      outputs: ['y'],
    },
  );
  g.output(y, 'float32', [1, 5]);
  g.output(sum, 'float32', [1, 16, 13, 11]);
  return g.model(13);
}

function assertClose(got: Tensor, want: Tensor, what: string): void {
  const g = got.data as Float32Array;
  const w = want.data as Float32Array;
  assert.equal(g.length, w.length, what);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < w.length; i++) {
    diff = Math.max(diff, Math.abs(g[i]! - w[i]!));
    scale = Math.max(scale, Math.abs(w[i]!));
  }
  assert.ok(diff <= 1e-4 * Math.max(1, scale), `${what}: max |diff| ${diff} (scale ${scale})`);
}

/** Every choice point of a compile of `model` (optimized like a session's), in step order. */
function choicesOf(model: Model): KernelChoice[] {
  const out: KernelChoice[] = [];
  compileModel(model, {
    optimize: (m) => optimize(m).model,
    choose: (c) => {
      out.push(c);
      return c.candidates[0]!;
    },
  });
  return out;
}

const spec = (c: number, size: number, k: number, group = 1): ConvSpec => ({
  batch: 1,
  inH: size,
  inW: size,
  inC: c,
  outH: size,
  outW: size,
  outC: c,
  kernelH: k,
  kernelW: k,
  strideH: 1,
  strideW: 1,
  padTop: k >> 1,
  padLeft: k >> 1,
  dilationH: 1,
  dilationW: 1,
  group,
  epilogue: { activation: { kind: 'none' }, residual: false },
});

test('candidate lists start with the cost model pick and hold every supported variant', () => {
  const gs: GemmSpec = { m: 1, n: 1000, k: 1280, epilogue: { activation: { kind: 'none' }, residual: false } };
  for (const relaxed of [false, true]) {
    const g = candidateVariants(FAMILIES.gemm!, gs, relaxed, gemmCost);
    assert.equal(g[0], pickVariant(FAMILIES.gemm!, gs, relaxed, gemmCost));
    assert.equal(g.length, FAMILIES.gemm!.variants.filter((v) => relaxed || v.isa === 'wasmsimd').length);
    const d = candidateVariants(FAMILIES.dwconv!, spec(32, 56, 3, 32), relaxed, dwconvCost);
    assert.equal(d[0], pickVariant(FAMILIES.dwconv!, spec(32, 56, 3, 32), relaxed, dwconvCost));
    assert.ok(d.length > 1);
    const c = candidateVariants(FAMILIES.conv!, spec(13, 9, 5), relaxed, convCost);
    assert.equal(c[0], pickVariant(FAMILIES.conv!, spec(13, 9, 5), relaxed, convCost));
    for (const v of c) assert.ok(relaxed || v.isa === 'wasmsimd');
  }
});

test('every choice point of a compile offers distinct candidates, Winograd and direct conv together', () => {
  const choices = choicesOf(smallCnn());
  assert.ok(choices.length >= 5, `only ${choices.length} choice points`);
  for (const c of choices) assert.equal(new Set(c.candidates.map((k) => k.id)).size, c.candidates.length);
  const ids = choices.flatMap((c) => c.candidates.map((k) => k.id));
  assert.ok(ids.some((id) => id.includes('-winograd-')) && ids.some((id) => id.includes('-conv-')));
  assert.ok(ids.some((id) => id.includes('-dwconv-')) && ids.some((id) => id.includes('-gemm-')));
});

test('whichever candidate a tuner takes, the model matches the reference executor', async () => {
  const model = smallCnn();
  const x = randomF32([1, 8, 13, 11], 42);
  const want = runReference(model, { x });
  const widest = Math.max(...choicesOf(model).map((c) => c.candidates.length));
  // Candidate k (or the last, when a step has fewer) at every step at once.
  for (let k = 0; k < widest; k++) {
    const compiled = compileModel(model, { choose: (c) => c.candidates[Math.min(k, c.candidates.length - 1)]! });
    const { instantiate } = await import('../runtime/executor.js');
    const exec = await instantiate(compiled);
    const got = exec.run({ x });
    assertClose(got['y']!, want['y']!, `candidate ${k}: y`);
    const sumName = model.graph.outputs[1]!.name;
    assertClose(got[sumName]!, want[sumName]!, `candidate ${k}: ${sumName}`);
  }
});

test('a session compiled with a database uses its kernels, and falls back where a record names no candidate', async () => {
  const model = smallCnn();
  const device = (await deviceFingerprint()).id;
  const choices = choicesOf(model);
  const db = memoryTuningDb();
  const record = (c: KernelChoice, variantId: string): TuningRecord => ({
    device,
    edgecnnVersion: EDGECNN_VERSION,
    specKey: c.specKey,
    variantId,
    costModelId: c.candidates[0]!.id,
    timesMs: {},
    tunedAt: new Date(0).toISOString(),
  });
  for (const c of choices) db.put(record(c, c.candidates[c.candidates.length - 1]!.id));
  db.put(record(choices[0]!, 'f32-no-such-kernel'));
  const s = await createSession(model, { tuning: db });
  const ids = new Set(s.steps.map((st) => st.kernelId));
  for (const c of choices.slice(1)) assert.ok(ids.has(c.candidates[c.candidates.length - 1]!.id));
  assert.ok(ids.has(choices[0]!.candidates[0]!.id), 'unknown variant id: the cost model choice');
  const x = randomF32([1, 8, 13, 11], 7);
  assertClose((await s.run({ x }))['y']!, runReference(model, { x })['y']!, 'y');
  // Another device's records are not applied.
  const other = memoryTuningDb(db.records().map((r) => ({ ...r, device: 'elsewhere' })));
  const s2 = await createSession(model, { tuning: other });
  const plain = await createSession(model);
  assert.deepEqual(
    s2.steps.map((st) => st.kernelId),
    plain.steps.map((st) => st.kernelId),
  );
});

test('tune: measures each distinct spec once, records it, and the second tuning reads the database', async () => {
  const model = smallCnn();
  const db = memoryTuningDb();
  const s = await createSession(model, { tune: { db, budgetMs: 60_000, samples: 3 } });
  const r = s.tuning!;
  const keys = new Set(r.steps.map((st) => st.specKey));
  assert.equal(r.specs.total, keys.size);
  assert.equal(r.specs.measured, keys.size);
  assert.equal(db.records().length, keys.size);
  for (const st of r.steps) {
    assert.ok(st.tunedId in st.timesMs && st.costModelId in st.timesMs, st.nodeName);
    assert.ok(Object.values(st.timesMs).every((t) => t > 0));
  }
  // The compiled steps use the tuned kernels.
  const ids = new Set(s.steps.map((st) => st.kernelId));
  for (const st of r.steps) assert.ok(ids.has(st.tunedId), st.tunedId);
  const x = randomF32([1, 8, 13, 11], 9);
  assertClose((await s.run({ x }))['y']!, runReference(model, { x })['y']!, 'tuned y');
  const again = await createSession(model, { tune: { db, budgetMs: 60_000 } });
  assert.equal(again.tuning!.specs.fromDb, keys.size);
  assert.equal(again.tuning!.specs.measured, 0);
  assert.deepEqual(
    again.steps.map((st) => st.kernelId),
    s.steps.map((st) => st.kernelId),
  );
});

test('a zero budget measures nothing and keeps the cost model choices', async () => {
  const model = smallCnn();
  const db = memoryTuningDb();
  const s = await createSession(model, { tune: { db, budgetMs: 0 } });
  assert.equal(s.tuning!.specs.measured, 0);
  assert.equal(s.tuning!.specs.skipped, s.tuning!.specs.total);
  assert.equal(db.records().length, 0);
  const plain = await createSession(model);
  assert.deepEqual(
    s.steps.map((st) => st.kernelId),
    plain.steps.map((st) => st.kernelId),
  );
});

test('measureCandidates times every candidate over the step with its real operands', async () => {
  const c = choicesOf(smallCnn()).find((ch) => ch.candidates.some((k) => k.id.includes('winograd')))!;
  const t = await measureCandidates(c, { samples: 3 });
  assert.deepEqual(
    t.map((x) => x.id),
    c.candidates.map((k) => k.id),
  );
  for (const x of t) {
    assert.ok(x.timeMs > 0 && Number.isFinite(x.timeMs));
    assert.equal(x.samples, 3);
    assert.ok(x.parallelExtent >= 1);
  }
});

test('file database: round trip, merge with a concurrent writer, errors name the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-tune-'));
  const path = join(dir, 'sub', 'tuning.json');
  const rec = (specKey: string, variantId: string): TuningRecord => ({
    device: 'd',
    edgecnnVersion: EDGECNN_VERSION,
    specKey,
    variantId,
    costModelId: 'a',
    timesMs: { a: 1, b: 0.5 },
    tunedAt: new Date(0).toISOString(),
  });
  const a = await fileTuningDb(path);
  assert.equal(a.records().length, 0);
  const b = await fileTuningDb(path);
  a.put(rec('k1', 'a'));
  await a.save();
  b.put(rec('k2', 'b'));
  await b.save();
  const c = await fileTuningDb(path);
  assert.equal(c.get('d', EDGECNN_VERSION, 'k1')?.variantId, 'a');
  assert.equal(c.get('d', EDGECNN_VERSION, 'k2')?.variantId, 'b');
  assert.equal(c.get('d', '0.0.0', 'k1'), undefined);
  writeFileSync(path, '{"format": "something-else", "records": []}');
  await assert.rejects(
    fileTuningDb(path),
    (e: Error) => e.message.includes(path) && /edgecnn tuning file/.test(e.message),
  );
  writeFileSync(path, 'not json');
  await assert.rejects(fileTuningDb(path), (e: Error) => e.message.includes(path) && /not JSON/.test(e.message));
  assert.throws(
    () => parseTuningDb('{"format":"edgecnn-tuning","formatVersion":1,"records":[{"device":1}]}', 'x.json'),
    /x\.json: record 0 is malformed/,
  );
});

test('Web Storage database round-trips under its key', async () => {
  const store = new Map<string, string>();
  const storage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
  };
  const db = storageTuningDb(storage);
  assert.equal(db.location, 'localStorage:edgecnn-tuning');
  db.put({
    device: 'ua',
    edgecnnVersion: EDGECNN_VERSION,
    specKey: 's',
    variantId: 'v',
    costModelId: 'c',
    timesMs: { v: 1 },
    tunedAt: new Date(0).toISOString(),
  });
  await db.save();
  assert.equal(storageTuningDb(storage).get('ua', EDGECNN_VERSION, 's')?.variantId, 'v');
});

test('EDGECNN_VERSION is the package version', () => {
  const pkg = JSON.parse(readFileSync(resolve(process.cwd(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(EDGECNN_VERSION, pkg.version);
});

const INT8 = join(MODELS_DIR, 'mobilenet_v2.int8_qdq.onnx');
test(
  'int8: every conv candidate (Winograd, c2 and c8 GEMM tiles) gives bit-identical outputs',
  { skip: !existsSync(INT8) && `${INT8} is absent` },
  async () => {
    const { loadModel } = await import('../onnx/index.js');
    const model = await loadModel(INT8);
    const opt = (m: Model): Model => optimize(m).model;
    const { instantiate } = await import('../runtime/executor.js');
    const x = randomF32([1, 3, 224, 224], 5);
    const outs: Float32Array[] = [];
    let qs8Choices = 0;
    for (const k of [0, 1, 2]) {
      const compiled = compileModel(model, {
        optimize: opt,
        choose: (c) => {
          if (c.specKey.startsWith('qs8-')) qs8Choices++;
          return c.specKey.startsWith('qs8-') ? c.candidates[Math.min(k, c.candidates.length - 1)]! : c.candidates[0]!;
        },
      });
      const exec = await instantiate(compiled);
      outs.push(exec.run({ [compiled.inputs[0]!.name]: x })[compiled.outputs[0]!.name]!.data as Float32Array);
    }
    assert.ok(qs8Choices > 0, 'no int8 choice point');
    assert.deepEqual(outs[1], outs[0]);
    assert.deepEqual(outs[2], outs[0]);
  },
);

test('whole-model check: a tuned model that runs slower is reverted to the cost model choices', async () => {
  const model = smallCnn();
  const db = memoryTuningDb();
  let calls = 0;
  // The second instantiation is the tuned model: make it slow, as if the kernels timed alone misled.
  const slowSecond = async (c: Parameters<typeof instantiate>[0]): Promise<Executor> => {
    const e = await instantiate(c);
    if (++calls !== 2) return e;
    return {
      ...e,
      run(inputs) {
        const t = performance.now();
        while (performance.now() - t < 2);
        return e.run(inputs);
      },
    };
  };
  // A margin of -1e9 takes the fastest candidate whatever the gain, so some step usually changes.
  const { report, compiled } = await tuneCompile(
    (choose) => compileModel(model, { optimize: (m) => optimize(m).model, choose }),
    { db, budgetMs: 60_000, samples: 3, margin: -1e9, instantiate: slowSecond },
  );
  if (calls === 0) {
    assert.equal(report.wholeModel, undefined, 'no step changed: no check');
    return;
  }
  assert.equal(report.wholeModel?.reverted, true);
  assert.ok(report.wholeModel!.tunedMs > report.wholeModel!.costModelMs);
  for (const r of db.records()) assert.equal(r.variantId, r.costModelId);
  for (const st of report.steps) assert.equal(st.tunedId, st.costModelId);
  const plain = compileModel(model, { optimize: (m) => optimize(m).model });
  assert.deepEqual(
    compiled.steps.map((st) => st.kernelId),
    plain.steps.map((st) => st.kernelId),
  );
  const device = (await deviceFingerprint()).id;
  assert.ok(choicesOf(model).every((c) => databaseChooser(db, device)(c) === c.candidates[0]));
});

test('compareWholeModels times both compiles interleaved', async () => {
  const c = compileModel(smallCnn());
  const r = await compareWholeModels(c, c, (x) => instantiate(x), { maxRuns: 5 });
  assert.equal(r.runs, 5);
  assert.ok(r.costModelMs > 0 && r.tunedMs > 0);
});

const MNV2 = join(MODELS_DIR, 'mobilenet_v2.onnx');
test(
  'mobilenet_v2 compiled with the last candidate of every step matches the stored output',
  { skip: !existsSync(MNV2) && `${MNV2} is absent` },
  async () => {
    const { loadModel } = await import('../onnx/index.js');
    const model = await loadModel(MNV2);
    const device = (await deviceFingerprint()).id;
    const db = memoryTuningDb();
    const choices = choicesOf(model);
    for (const c of choices) {
      db.put({
        device,
        edgecnnVersion: EDGECNN_VERSION,
        specKey: c.specKey,
        variantId: c.candidates[c.candidates.length - 1]!.id,
        costModelId: c.candidates[0]!.id,
        timesMs: {},
        tunedAt: new Date(0).toISOString(),
      });
    }
    const s = await createSession(model, { tuning: db });
    const read = (p: string): Float32Array => {
      const b = readFileSync(p);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const x = {
      dtype: 'float32',
      shape: [1, 3, 224, 224],
      data: read(join(MODELS_DIR, 'mobilenet_v2.input.f32')),
    } as const;
    const got = (await s.run({ [s.inputNames[0]!]: x }))[s.outputNames[0]!]!;
    const want = read(join(MODELS_DIR, 'mobilenet_v2.output.f32'));
    assertClose(got, { dtype: 'float32', shape: got.shape, data: want }, 'mobilenet_v2');
    const ids = new Set(s.steps.map((st) => st.kernelId));
    assert.ok(choices.length > 20, `only ${choices.length} choice points`);
    for (const c of choices) assert.ok(ids.has(c.candidates[c.candidates.length - 1]!.id), c.node.name);
  },
);
