import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from '../ir/graph.js';
import { NN_OPS } from './nn-ops.js';
import { CLAIMED_OPS } from './registry.js';

test('NN_OPS is sorted by opType, without duplicates', () => {
  const names = NN_OPS.map((o) => o.opType);
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(names).size, names.length);
});

test('every NN op is claimed and covers opsets up to 21', () => {
  for (const op of NN_OPS) {
    assert.ok((CLAIMED_OPS as readonly string[]).includes(op.opType), `${op.opType} is not in CLAIMED_OPS`);
    assert.equal(op.domain, '');
    assert.ok(op.sinceVersion >= 1 && op.sinceVersion <= 21);
  }
});

test('inferTypes never throws when nothing is known', () => {
  for (const op of NN_OPS) {
    const node: Node = {
      name: 'x',
      opType: op.opType,
      domain: '',
      inputs: ['a', 'b', 'c'],
      outputs: ['y'],
      attributes: new Map(),
    };
    for (const opset of [7, 11, 13, 21]) {
      const out = op.inferTypes([undefined, undefined, undefined], { node, opset });
      assert.equal(out.length, 1, op.opType);
      const partial = op.inferTypes([{ shape: [null, 'C', null, null] }, { shape: [null, null, 3, 3] }], {
        node,
        opset,
      });
      assert.equal(partial.length, 1, op.opType);
    }
  }
});

test('the matrix-product ops report MACs', () => {
  const withMacs = NN_OPS.filter((o) => o.macs !== undefined).map((o) => o.opType);
  const want = [
    'Conv',
    'ConvInteger',
    'ConvTranspose',
    'Gemm',
    'MatMul',
    'MatMulInteger',
    'QLinearConv',
    'QLinearMatMul',
  ];
  assert.deepEqual(withMacs, want);
});
