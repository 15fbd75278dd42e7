import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, randomF32 } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { type Tensor, f32 } from '../ir/tensor.js';
import { runReference } from '../ops/reference-executor.js';
import { createSession } from './session.js';

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return d;
}

/** A fire module (squeezenet): squeeze 1x1, expand 1x1 and 3x3 in parallel, channel Concat; odd sizes. */
function fireModel(batch = 1): Model {
  const g = new GraphBuilder('fire');
  const x = g.input('x', 'float32', [batch, 5, 7, 9]);
  const s = g.node('Relu', [g.node('Conv', [x, g.randomInit('ws', [3, 5, 1, 1], 1), g.randomInit('bs', [3], 2)])]);
  const e1 = g.node('Relu', [g.node('Conv', [s, g.randomInit('w1', [4, 3, 1, 1], 3)])]);
  const e3 = g.node('Relu', [g.node('Conv', [s, g.randomInit('w3', [6, 3, 3, 3], 4)], { pads: [1, 1, 1, 1] })]);
  const cat = g.node('Concat', [e1, e3], { axis: 1 }, { outputs: ['y'] });
  g.output(cat, 'float32', [batch, 10, 7, 9]);
  return g.model(13);
}

/** Channel Slice/Split views, a Concat reading a graph input (copied), and a reshape alias into Gemm. */
function viewsModel(): Model {
  const g = new GraphBuilder('views');
  const x = g.input('x', 'float32', [1, 6, 3, 4]);
  const z = g.input('z', 'float32', [1, 2, 3, 4]);
  const r = g.node('Relu', [x]);
  const [a, b] = g.nodeOutputs(
    'Split',
    [r, g.init('split', { dtype: 'int64', shape: [2], data: new BigInt64Array([2n, 4n]) })],
    { axis: 1 },
    { outputCount: 2 },
  );
  const c = g.node('Slice', [
    b!,
    g.init('st', { dtype: 'int64', shape: [1], data: new BigInt64Array([1n]) }),
    g.init('en', { dtype: 'int64', shape: [1], data: new BigInt64Array([3n]) }),
    g.init('ax', { dtype: 'int64', shape: [1], data: new BigInt64Array([1n]) }),
  ]);
  const cat = g.node('Concat', [c, a!, z, a!], { axis: 1 });
  const sig = g.node('Sigmoid', [cat]);
  const pooled = g.node('GlobalAveragePool', [sig]);
  const flat = g.node('Flatten', [pooled], { axis: 1 });
  const y = g.node(
    'Gemm',
    [flat, g.randomInit('wg', [3, 8], 7), g.randomInit('bg', [3], 8)],
    { transB: 1 },
    { outputs: ['y'] },
  );
  g.output(y, 'float32', [1, 3]);
  g.output(cat, 'float32', [1, 8, 3, 4]);
  return g.model(13);
}

test('a fire module runs on the wasm backend and matches the reference; the concat is free', async () => {
  const model = fireModel();
  const x = randomF32([1, 5, 7, 9], 11);
  const s = await createSession(model, { backend: 'wasm' });
  const got = await s.run({ x });
  const want = runReference(model, { x });
  assert.ok(maxAbsDiff(got.y!, want.y!) < 1e-5);
  assert.ok(!s.steps.some((st) => st.opType === 'Concat'), 'no step for the channel concat');
  // Edges: NCHW input and output staged densely and converted by kernels, not by JS loops.
  assert.ok(s.steps[0]!.kernelId.startsWith('f32-nchw2nhwc'), s.steps[0]!.kernelId);
  assert.ok(s.steps[s.steps.length - 1]!.kernelId.startsWith('f32-nhwc2nchw'));
  assert.ok(s.arena.arenaBytes >= s.arena.lowerBoundBytes);
  // A second run with other data reuses the arena and must not see stale values.
  const x2 = randomF32([1, 5, 7, 9], 12);
  assert.ok(maxAbsDiff((await s.run({ x: x2 })).y!, runReference(model, { x: x2 }).y!) < 1e-5);
});

test('split/slice views, a copied graph input in a concat and a flatten alias give reference results', async () => {
  const model = viewsModel();
  const x = randomF32([1, 6, 3, 4], 21);
  const z = randomF32([1, 2, 3, 4], 22);
  const s = await createSession(model);
  const got = await s.run({ x, z });
  const want = runReference(model, { x, z });
  for (const name of s.outputNames) assert.ok(maxAbsDiff(got[name]!, want[name]!) < 1e-5, name);
  const ops = s.steps.map((st) => st.opType);
  for (const free of ['Split', 'Slice', 'Concat', 'Flatten']) assert.ok(!ops.includes(free), `${free} is a view`);
  // Concat inputs that are themselves views (split/slice outputs) or graph inputs are copied into their slice.
  assert.equal(ops.filter((o) => o === 'Identity').length, 4);
});

test('batch 3 runs every kernel over all images', async () => {
  const model = fireModel(3);
  const x = randomF32([3, 5, 7, 9], 15);
  const s = await createSession(model);
  assert.deepEqual(s.fallbackNodes, []);
  assert.ok(maxAbsDiff((await s.run({ x })).y!, runReference(model, { x }).y!) < 1e-5);
});

test('profiled runs time every step and agree with plain runs', async () => {
  const model = fireModel();
  const x = randomF32([1, 5, 7, 9], 13);
  const s = await createSession(model);
  const { outputs, steps } = await s.runProfiled({ x });
  assert.ok(maxAbsDiff(outputs.y!, (await s.run({ x })).y!) === 0);
  assert.equal(steps.length, s.steps.length + 2);
  assert.ok(steps.every((t) => t.timeMs >= 0));
});

test('the reference backend wraps the reference executor', async () => {
  const model = fireModel();
  const x = randomF32([1, 5, 7, 9], 14);
  const s = await createSession(model, { backend: 'reference' });
  assert.equal(s.fallbackNodes.length, model.graph.nodes.length);
  assert.ok(maxAbsDiff((await s.run({ x })).y!, runReference(model, { x }).y!) === 0);
});

test('bad inputs give named errors', async () => {
  const s = await createSession(fireModel());
  const bad = async (inputs: Record<string, Tensor>, re: RegExp): Promise<void> => {
    await assert.rejects(
      s.run(inputs),
      (e: unknown) => e instanceof EdgecnnError && e.code === 'bad-input' && re.test(e.message),
    );
  };
  await bad({}, /missing input 'x' \(expected float32 1x5x7x9\)/);
  await bad({ x: f32([1, 5, 7, 8], new Float32Array(280)) }, /input 'x' must have shape 1x5x7x9, got 1x5x7x8/);
  await bad({ x: { dtype: 'int32', shape: [1, 5, 7, 9], data: new Int32Array(315) } }, /must be float32, got int32/);
  await bad({ x: randomF32([1, 5, 7, 9], 1), w: randomF32([1], 1) }, /no input named 'w'/);
});

test('symbolic input dims need inputShapes', async () => {
  const g = new GraphBuilder('sym');
  const x = g.input('x', 'float32', [1, 3, 'H', 'W']);
  const y = g.node('Relu', [x], {}, { outputs: ['y'] });
  g.output(y, 'float32', [1, 3, 'H', 'W']);
  const model = g.model(13);
  await assert.rejects(createSession(model), /input 'x' has shape \[1, 3, H, W\].*inputShapes/);
  await assert.rejects(createSession(model, { inputShapes: { x: [1, 4, 5, 5] } }), /declares \[1, 3, H, W\]/);
  const s = await createSession(model, { inputShapes: { x: [1, 3, 5, 6] } });
  const x0 = randomF32([1, 3, 5, 6], 3);
  assert.ok(maxAbsDiff((await s.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!) === 0);
});

test('a channel shuffle (Reshape, Transpose, Reshape) becomes one shuffle kernel and matches the reference', async () => {
  const g = new GraphBuilder('shuffle');
  const x = g.input('x', 'float32', [1, 10, 3, 5]);
  const i64 = (v: number[]): { dtype: 'int64'; shape: number[]; data: BigInt64Array } => ({
    dtype: 'int64',
    shape: [v.length],
    data: BigInt64Array.from(v.map(BigInt)),
  });
  const r1 = g.node('Reshape', [g.node('Relu', [x]), g.init('s5', i64([1, 2, 5, 3, 5]))]);
  const t = g.node('Transpose', [r1], { perm: [0, 2, 1, 3, 4] });
  const y = g.node('Reshape', [t, g.init('s4', i64([1, -1, 3, 5]))], {}, { outputs: ['y'] });
  g.output(y, 'float32', [1, 10, 3, 5]);
  const model = g.model(13);
  const s = await createSession(model);
  assert.ok(
    s.steps.some((st) => st.kernelId.startsWith('f32-shuffle-g2')),
    s.steps.map((st) => st.kernelId).join(),
  );
  assert.deepEqual(s.fallbackNodes, []);
  const x0 = randomF32([1, 10, 3, 5], 31);
  assert.equal(maxAbsDiff((await s.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!), 0);
});

test('mixed dtypes: an int32 input cast to float feeds kernels; a constant output is returned as is', async () => {
  const g = new GraphBuilder('mixed');
  const x = g.input('x', 'int32', [1, 3, 4, 4]);
  const f = g.node('Cast', [x], { to: 1 });
  const y = g.node(
    'Relu',
    [g.node('Sub', [f, g.init('two', { dtype: 'float32', shape: [], data: new Float32Array([2]) })])],
    {},
    { outputs: ['y'] },
  );
  const shape = g.node('Shape', [y], {}, { outputs: ['shape'] });
  g.output(y, 'float32', [1, 3, 4, 4]);
  g.output(shape, 'int64', [4]);
  const model = g.model(13);
  const s = await createSession(model);
  assert.deepEqual(
    s.fallbackNodes.map((n) => model.graph.nodes.find((m) => m.name === n)?.opType),
    ['Cast'],
  );
  const data = Int32Array.from({ length: 48 }, (_, i) => (i * 7) % 5);
  const xin: Tensor = { dtype: 'int32', shape: [1, 3, 4, 4], data };
  const got = await s.run({ x: xin });
  const want = runReference(model, { x: xin });
  assert.equal(maxAbsDiff(got.y!, want.y!), 0);
  assert.deepEqual(Array.from(got.shape!.data as BigInt64Array, Number), [1, 3, 4, 4]);
});

test('an operator without any implementation is reported by name when compiling', async () => {
  const g = new GraphBuilder('unknown');
  const x = g.input('x', 'float32', [1, 2]);
  const y = g.node('FancyOp', [x], {}, { name: 'the_fancy_node', outputs: ['y'] });
  g.output(y, 'float32', [1, 2]);
  await assert.rejects(
    createSession(g.model(13)),
    (e: unknown) =>
      e instanceof EdgecnnError && e.code === 'unsupported-operator' && /the_fancy_node.*FancyOp/.test(e.message),
  );
});

test('QuantizeLinear -> DequantizeLinear pairs become one fake-quantize kernel, exact to the reference', async () => {
  for (const [qType, zero] of [
    ['uint8', 128],
    ['int8', -3],
  ] as const) {
    const g = new GraphBuilder('qdq');
    const x = g.input('x', 'float32', [1, 5, 3, 3]);
    const s = g.init('s', { dtype: 'float32', shape: [], data: new Float32Array([0.25]) });
    const z = g.init('z', {
      dtype: qType,
      shape: [],
      data: qType === 'uint8' ? new Uint8Array([zero]) : new Int8Array([zero]),
    });
    const q = g.node('QuantizeLinear', [x, s, z]);
    const y = g.node('DequantizeLinear', [q, s, z], {}, { outputs: ['y'] });
    g.output(y, 'float32', [1, 5, 3, 3]);
    const model = g.model(13);
    const sess = await createSession(model);
    assert.deepEqual(sess.fallbackNodes, []);
    assert.ok(sess.steps.some((st) => st.kernelId.startsWith('f32-fakequant')));
    // Ties (k + 0.5) * scale round to even; values far outside the range saturate.
    const data = Float32Array.from({ length: 45 }, (_, i) => (i - 22) * 0.125 * (i % 7 === 0 ? 300 : 1));
    const x0 = f32([1, 5, 3, 3], data);
    assert.equal(maxAbsDiff((await sess.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!), 0, qType);
  }
});

test('reshapes between NHWC and flat values are layout kernels, not fallbacks', async () => {
  const g = new GraphBuilder('reshapes');
  const x = g.input('x', 'float32', [2, 3, 4, 5]);
  const flat = g.node('Flatten', [g.node('Relu', [x])], { axis: 1 });
  const back = g.node('Reshape', [
    g.node('Sigmoid', [flat]),
    g.init('shape', { dtype: 'int64', shape: [4], data: new BigInt64Array([2n, 6n, 2n, 5n]) }),
  ]);
  const y = g.node('Relu', [back], {}, { outputs: ['y'] });
  g.output(y, 'float32', [2, 6, 2, 5]);
  const model = g.model(13);
  const s = await createSession(model);
  assert.deepEqual(s.fallbackNodes, []);
  const x0 = randomF32([2, 3, 4, 5], 41);
  assert.ok(maxAbsDiff((await s.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!) < 1e-6);
});

test('ConvTranspose with kernel == stride runs as a GEMM plus a pixel scatter and matches the reference', async () => {
  for (const [k, cout, bias] of [
    [2, 5, true],
    [3, 1, false],
    [2, 16, true],
  ] as const) {
    const g = new GraphBuilder('deconv');
    const x = g.input('x', 'float32', [2, 3, 4, 5]);
    const inputs = [g.node('Relu', [x]), g.randomInit('w', [3, cout, k, k], 51)];
    if (bias) inputs.push(g.randomInit('b', [cout], 52));
    const up = g.node('ConvTranspose', inputs, { kernel_shape: [k, k], strides: [k, k] });
    // The output is also a concat slice: the scatter writes with the concat's pixel stride.
    const side = g.node('Conv', [
      g.node('AveragePool', [x], { kernel_shape: [1, 1] }),
      g.randomInit('w2', [2, 3, 1, 1], 53),
    ]);
    const sideUp = g.node(
      'Resize',
      [side, '', g.init('sc', { dtype: 'float32', shape: [4], data: new Float32Array([1, 1, k, k]) })],
      { mode: 'nearest' },
    );
    const y = g.node('Concat', [up, sideUp], { axis: 1 }, { outputs: ['y'] });
    g.output(y, 'float32', [2, cout + 2, 4 * k, 5 * k]);
    const model = g.model(13);
    const s = await createSession(model);
    assert.deepEqual(s.fallbackNodes, [], `k=${k}`);
    assert.ok(s.steps.some((st) => st.kernelId.startsWith(`f32-pixelscatter-${k}x${k}`)));
    const x0 = randomF32([2, 3, 4, 5], 54);
    assert.ok(maxAbsDiff((await s.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!) < 1e-5, `k=${k}`);
  }
});

test('channels-last edges (Transpose after the input, before the output) cost no steps', async () => {
  const g = new GraphBuilder('nhwc-edges');
  const x = g.input('x', 'float32', [1, 6, 7, 3]);
  const t = g.node('Transpose', [x], { perm: [0, 3, 1, 2] });
  const c = g.node('Relu', [g.node('Conv', [t, g.randomInit('w', [5, 3, 3, 3], 61)], { pads: [1, 1, 1, 1] })]);
  const y = g.node('Transpose', [c], { perm: [0, 2, 3, 1] }, { outputs: ['y'] });
  g.output(y, 'float32', [1, 6, 7, 5]);
  const model = g.model(13);
  const s = await createSession(model, { optimize: false });
  assert.deepEqual(s.fallbackNodes, []);
  assert.deepEqual(
    s.steps.map((st) => st.opType),
    ['Conv', 'Relu'],
  );
  const x0 = randomF32([1, 6, 7, 3], 62);
  assert.ok(maxAbsDiff((await s.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!) < 1e-5);
});

test('Pad (constant, edge, reflect; also cropping) runs on the pad kernel and matches the reference', async () => {
  for (const [mode, pads] of [
    ['constant', [0, 0, 1, 2, 0, 0, 3, 0]],
    ['edge', [0, 0, 2, 1, 0, 0, 1, 2]],
    ['reflect', [0, 0, 1, 2, 0, 0, 2, 1]],
    ['constant', [0, 0, -1, 1, 0, 0, 1, -2]],
  ] as const) {
    const g = new GraphBuilder('pad');
    const x = g.input('x', 'float32', [1, 5, 4, 6]);
    const p = g.init('pads', { dtype: 'int64', shape: [8], data: BigInt64Array.from(pads.map(BigInt)) });
    const v = g.init('v', { dtype: 'float32', shape: [], data: new Float32Array([0.5]) });
    const padded = g.node('Pad', [g.node('Relu', [x]), p, v], { mode });
    const y = g.node('Sigmoid', [padded], {}, { outputs: ['y'] });
    g.output(y, 'float32');
    const model = g.model(13);
    const s = await createSession(model, { optimize: false });
    assert.deepEqual(s.fallbackNodes, [], `${mode} ${pads}`);
    const x0 = randomF32([1, 5, 4, 6], 71);
    assert.ok(maxAbsDiff((await s.run({ x: x0 })).y!, runReference(model, { x: x0 }).y!) < 1e-6, `${mode} ${pads}`);
  }
});
