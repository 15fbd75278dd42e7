import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import { opCounts } from '../ir/print.js';
import { f32 } from '../ir/tensor.js';
import { loadModel, writeModel } from '../onnx/index.js';
import { optimize } from './index.js';
import { ALL_PASSES, pipelineFor } from './pipeline.js';
import { assertEquivalent } from './testing.js';

function block() {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3, 6, 5]);
  b.randomInit('w', [3, 3, 3, 3], 1);
  b.init('g', f32([3], [1, 2, 3]));
  b.init('z', f32([3], [0.1, 0.2, 0.3]));
  b.init('v', f32([3], [1, 0.5, 2]));
  const i = b.node('Identity', [x]);
  const c = b.node('Conv', [i, 'w'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const n = b.node('BatchNormalization', [c, 'g', 'z', 'z', 'v']);
  const a = b.node('Add', [n, x]);
  b.output(b.node('Relu', [a], {}, { outputs: ['y'] }));
  return b.model(13);
}

test('levels: 0 keeps the graph, 1 folds, 2 fuses; the export form has only ONNX ops; all compute the same', () => {
  const m = block();
  assert.equal(optimize(m, { level: 0 }).model.graph.nodes.length, 5);
  const l1 = optimize(m, { level: 1, verifyEach: true }).model;
  assert.deepEqual(
    l1.graph.nodes.map((n) => n.opType),
    ['Conv', 'Add', 'Relu'],
  );
  const l2 = optimize(m, { verifyEach: true }).model;
  assert.deepEqual(
    l2.graph.nodes.map((n) => `${n.domain}:${n.opType}`),
    ['edgecnn:FusedConv'],
  );
  assert.ok(l2.opsetImports.some((o) => o.domain === 'edgecnn'));
  const exp = optimize(m, { forExport: true, verifyEach: true }).model;
  assert.deepEqual(
    exp.graph.nodes.map((n) => n.opType),
    ['Conv', 'Add', 'Relu'],
  );
  assert.ok(!exp.opsetImports.some((o) => o.domain === 'edgecnn'));
  for (const out of [l1, l2, exp]) assertEquivalent(m, out);
  // The input model is never modified.
  assert.equal(m.graph.nodes.length, 5);
});

test('--disable-pass, --print-after and the per-pass records', () => {
  const printed: string[] = [];
  const r = optimize(block(), {
    disablePasses: ['fold-batch-norm'],
    printAfter: ['remove-identity'],
    print: (t) => printed.push(t),
  });
  assert.ok(!r.passes.some((p) => p.name === 'fold-batch-norm'));
  assert.equal(printed.length, 1);
  assert.match(printed[0]!, /^\/\/ after remove-identity\ngraph g \{/);
  assert.ok(!printed[0]!.includes('Identity('));
  const first = r.passes[0]!;
  assert.equal(first.name, 'infer-shapes');
  assert.equal(first.nodesBefore, 5);
  assert.ok(first.timeMs >= 0);
  assert.throws(
    () => optimize(block(), { disablePasses: ['fold-everything'] }),
    (e: unknown) => e instanceof EdgecnnError && /unknown pass 'fold-everything'/.test(e.message),
  );
  assert.throws(() => optimize(block(), { level: 3 as 2 }), EdgecnnError);
  // Every pass in a pipeline is listed in ALL_PASSES under a unique name.
  const names = ALL_PASSES.map((p) => p.name);
  assert.equal(new Set(names).size, names.length);
  for (const p of pipelineFor(2, { hardActivations: true, forExport: true })) assert.ok(names.includes(p.name), p.name);
});

test('a model with an operator edgecnn cannot infer still optimizes around it and says what it skipped', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 4, 4]);
  b.randomInit('w', [2, 2, 1, 1], 1);
  const c = b.node('Conv', [x, 'w'], { kernel_shape: [1, 1] });
  const r = b.node('Relu', [c]);
  const u = b.node('Mystery', [r], {}, { domain: 'vendor' });
  const c2 = b.node('Conv', [u, 'w'], { kernel_shape: [1, 1], auto_pad: 'SAME_UPPER' });
  const a = b.node('Add', [c2, u]);
  b.output(b.node('Relu', [a], {}, { outputs: ['y'] }));
  const res = optimize(b.model(13), { verifyEach: true });
  assert.deepEqual(
    res.model.graph.nodes.map((n) => n.opType),
    ['FusedConv', 'Mystery', 'Conv', 'Add', 'Relu'],
  );
  const notes = res.notes.join('\n');
  assert.match(notes, /infer-shapes: .*Mystery 'Mystery_\d+' \(unsupported operator\)/);
  assert.match(notes, /fuse-conv-residual: left Add .* shapes .* unknown/);
});

const models = resolve(process.cwd(), '../shared/models');

test(
  'shared models: keepbn loses every BatchNormalization/Identity, ShuffleNet every Shape/Gather; onnxruntime agrees',
  { skip: existsSync(models) ? false : `${models} is absent` },
  async () => {
    const ort = (await import('onnxruntime-node')).default;
    for (const [name, banned] of [
      ['mobilenet_v2_keepbn', ['BatchNormalization', 'Identity']],
      ['shufflenet_v2_x1_0', ['Shape', 'Gather', 'Div']],
    ] as const) {
      const m = await loadModel(resolve(models, `${name}.onnx`));
      const fused = optimize(m, { verifyEach: true }).model;
      const exported = optimize(m, { forExport: true }).model;
      for (const g of [fused.graph, exported.graph]) {
        const counts = opCounts(g);
        for (const op of banned) assert.equal(counts.get(op), undefined, `${name}: ${op} left`);
      }
      assert.ok(
        fused.graph.nodes.length < m.graph.nodes.length / 2,
        `${name}: ${m.graph.nodes.length} -> ${fused.graph.nodes.length} nodes`,
      );
      const raw = readFileSync(resolve(models, `${name}.input.f32`));
      const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const run = async (bytes: Uint8Array): Promise<Float32Array> => {
        const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
        const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
        return out[s.outputNames[0]!]!.data as Float32Array;
      };
      const want = await run(writeModel(m));
      const got = await run(writeModel(exported));
      let d = 0;
      let mag = 0;
      for (let i = 0; i < want.length; i++) {
        d = Math.max(d, Math.abs(want[i]! - got[i]!));
        mag = Math.max(mag, Math.abs(want[i]!));
      }
      assert.ok(d <= 1e-5 * mag, `${name}: max |diff| ${d} > 1e-5 x ${mag}`);
    }
  },
);

test('IR < 4 models: initializers listed as inputs are constants, and the result is written as IR 4', () => {
  const m = block();
  const old = {
    ...m,
    irVersion: 3,
    graph: { ...m.graph, inputs: [...m.graph.inputs, ...[...m.graph.initializers.keys()].map((name) => ({ name }))] },
  };
  const r = optimize(old, { verifyEach: true }).model;
  assert.equal(r.irVersion, 4);
  assert.deepEqual(
    r.graph.inputs.map((i) => i.name),
    ['x'],
  );
  assert.deepEqual(
    r.graph.nodes.map((n) => n.opType),
    ['FusedConv'],
  );
  assert.equal(optimize(old, { level: 0 }).model.irVersion, 3);
  // From IR 4 on, an initializer that is also an input may be overridden, so it is not folded.
  const modern = { ...old, irVersion: 7 };
  assert.ok(optimize(modern, {}).model.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
});
