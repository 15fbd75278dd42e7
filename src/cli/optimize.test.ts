import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { loadModel, writeModel } from '../onnx/index.js';

const main = resolve(process.cwd(), 'dist/cli/main.js');

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, 'optimize', ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function modelFile(dir: string): string {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 2, 5, 5]);
  b.randomInit('w', [2, 2, 3, 3], 1);
  const c = b.node('Conv', [x, 'w'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const m = b.node('Mul', [c, b.node('Sigmoid', [c])]);
  b.output(b.node('Identity', [m], {}, { outputs: ['y'] }), 'float32', [1, 2, 5, 5]);
  const p = join(dir, 'in.onnx');
  writeFileSync(p, writeModel(b.model(13)));
  return p;
}

test('edgecnn optimize writes standard ONNX, prints the report and the hard-activation drift', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-opt-'));
  try {
    const input = modelFile(dir);
    const out = join(dir, 'out.onnx');
    const r = cli(input, '-o', out, '--report', '--print-after', 'fuse-silu');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /4 nodes -> 3 nodes/);
    assert.match(r.out, /\/\/ after fuse-silu\n[^]*edgecnn\.Silu/);
    assert.match(r.out, /fuse-conv-activation +[\d.]+ +2 +1/);
    assert.match(r.out, /Identity +1 +0/);
    const written = await loadModel(out);
    assert.deepEqual(
      written.graph.nodes.map((n) => n.opType),
      ['Conv', 'Sigmoid', 'Mul'],
    );
    const h = cli(input, '--output', out, '--hard-activations');
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /hard-activation drift on a synthetic input \(seed 123\): max \|diff\| [1-9][\d.]*e-\d+/);
    const hard = await loadModel(out);
    assert.ok(hard.graph.nodes.some((n) => n.opType === 'HardSigmoid'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('edgecnn optimize usage errors name the problem', () => {
  assert.match(cli('m.onnx').err, /needs an output file: -o/);
  assert.match(cli('missing.onnx', '-o', 'x.onnx').err, /cannot read model file 'missing.onnx'/);
  assert.match(cli('m.onnx', '-o', 'x.onnx', '--level', '5').err, /--level must be 0, 1 or 2/);
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-opt-'));
  try {
    assert.match(cli(modelFile(dir), '-o', join(dir, 'o.onnx'), '--disable-pass', 'nope').err, /unknown pass 'nope'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--input-shape fixes a symbolic dim so that shape arithmetic folds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-opt-'));
  try {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['N', 4]);
    const s = b.node('Shape', [x]);
    b.output(b.node('Reshape', [x, s], {}, { outputs: ['y'] }));
    const input = join(dir, 'dyn.onnx');
    writeFileSync(input, writeModel(b.model(13)));
    const out = join(dir, 'o.onnx');
    assert.equal(cli(input, '-o', out).code, 0);
    assert.deepEqual(
      (await loadModel(out)).graph.nodes.map((n) => n.opType),
      ['Shape', 'Reshape'],
    );
    const r = cli(input, '-o', out, '--input-shape', 'x=2,4');
    assert.equal(r.code, 0, r.err);
    // Reshape to its own (now known) shape folds away entirely; the output keeps its name through an Identity-free graph.
    const m = await loadModel(out);
    assert.ok(!m.graph.nodes.some((n) => n.opType === 'Shape'));
    assert.deepEqual(m.graph.inputs[0]!.shape, [2, 4]);
    assert.match(cli(input, '-o', out, '--input-shape', 'x=2;4').err, /must look like NAME=1,3,224,224/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
