import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { writeModel } from '../onnx/index.js';
import { compactNames } from './compact-names.js';
import { assertEquivalent } from './testing.js';
import { tinyQuantModel } from '../quantize/testing.js';

test('internal tensors get short ids; inputs, outputs and node names are kept; results are unchanged', () => {
  const before = tinyQuantModel();
  const g = compactNames(before.graph);
  const after = { ...before, graph: g };
  assertEquivalent(before, after);
  const io = new Set([...g.inputs.map((i) => i.name), ...g.outputs.map((o) => o.name)]);
  assert.deepEqual(
    g.inputs.map((i) => i.name),
    before.graph.inputs.map((i) => i.name),
  );
  assert.deepEqual(
    g.nodes.map((n) => n.name),
    before.graph.nodes.map((n) => n.name),
  );
  for (const n of g.nodes)
    for (const v of [...n.inputs, ...n.outputs]) assert.ok(io.has(v) || /^t[0-9a-z]+$/.test(v), `'${v}' in ${n.name}`);
  for (const k of g.initializers.keys()) assert.match(k, /^t[0-9a-z]+$/);
  assert.ok(writeModel(after).length < writeModel(before).length);
});

test('an id that would clash with a graph input or output name is skipped; subgraphs keep their names', () => {
  const b = new GraphBuilder('g');
  const x = b.input('t0', 'float32', [2]);
  const r = b.node('Relu', [x], {}, { outputs: ['long_intermediate_name'] });
  const y = b.node('Neg', [r], {}, { outputs: ['t1'] });
  b.output(y);
  const m = b.model(13);
  const g = compactNames(m.graph);
  assert.deepEqual(g.nodes[0]!.outputs, ['t2']);
  assert.deepEqual(g.nodes[1]!.inputs, ['t2']);
  assertEquivalent(m, { ...m, graph: g });

  const notes: string[] = [];
  const withBody = {
    ...m.graph,
    nodes: [
      { ...m.graph.nodes[0]!, attributes: new Map([['body', { kind: 'graph' as const, value: m.graph }]]) },
      m.graph.nodes[1]!,
    ],
  };
  assert.equal(compactNames(withBody, { note: (s) => notes.push(s) }), withBody);
  assert.match(notes.join(), /subgraphs/);
});
