import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { printGraph } from '../ir/print.js';
import { eliminateDeadNodesPass } from './eliminate-dead-nodes.js';
import { removeIdentityPass } from './remove-identity.js';
import { applyPasses, assertEquivalent } from './testing.js';

test('Identity and inference Dropout disappear; a graph output keeps its name', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 3]);
  const r = b.node('Relu', [x], {}, { outputs: ['r'] });
  const i = b.node('Identity', [r], {}, { outputs: ['i'] });
  const d = b.node('Dropout', [i], { ratio: 0.5 }, { outputs: ['d'] });
  const y = b.node('Identity', [d], {}, { outputs: ['y'] });
  b.output(y);
  const before = b.model(13);
  const after = applyPasses(before, [removeIdentityPass, eliminateDeadNodesPass]).model;
  assert.equal(
    printGraph(after.graph),
    ['graph g {', '  input %x: float32[1,3]', '  %y = Relu(%x)', '  return %y: ?[*]', '}'].join('\n'),
  );
  assertEquivalent(before, after);
});

test('Dropout with a used mask stays; an input->output copy stays', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [4]);
  b.nodeOutputs('Dropout', [x], {}, { outputs: ['d', 'mask'] });
  b.output('d');
  b.output('mask');
  const y = b.node('Identity', [x], {}, { outputs: ['y'] });
  b.output(y);
  const r = applyPasses(b.model(13), [removeIdentityPass]);
  assert.deepEqual(
    r.model.graph.nodes.map((n) => n.opType),
    ['Dropout', 'Identity'],
  );
  assert.match(r.notes.join('\n'), /kept Identity .* graph output 'y'/);
});
