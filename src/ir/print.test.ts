import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder, attr } from './builder.js';
import { opCounts, printGraph } from './print.js';
import { f32, i64 } from './tensor.js';

test('printGraph shows inputs, small constants, attributes in name order, domains and outputs', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 'N', null]);
  b.init('s', i64([2], [1, -1]));
  b.init('big', f32([9], new Array(9).fill(0.5)));
  const r = b.node('Reshape', [x, 's'], {}, { outputs: ['r'] });
  const y = b.node(
    'FusedConv',
    [r, 'big', ''],
    { pads: [1, 1], activation: 'Relu', alpha: attr.float(1) },
    { domain: 'edgecnn', outputs: ['y'] },
  );
  b.output(y, 'float32', [1, 9]);
  assert.equal(
    printGraph(b.graph),
    [
      'graph g {',
      '  input %x: float32[1,N,?]',
      '  init %big: float32[9]',
      '  init %s: int64[2]{1,-1}',
      '  %r = Reshape(%x, %s)',
      '  %y = edgecnn.FusedConv(%r, %big, _) {activation="Relu", alpha=1, pads=[1,1]}',
      '  return %y: float32[1,9]',
      '}',
    ].join('\n'),
  );
  assert.deepEqual(
    [...opCounts(b.graph)],
    [
      ['Reshape', 1],
      ['edgecnn.FusedConv', 1],
    ],
  );
});

test('printGraph rounds floats to float32 precision', () => {
  const b = new GraphBuilder('g');
  b.init('c', f32([1], [0.1]));
  b.output('c');
  assert.match(printGraph(b.graph), /init %c: float32\[1\]\{0\.1\}/);
});
