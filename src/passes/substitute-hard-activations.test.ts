import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { runReference } from '../ops/reference-executor.js';
import { expandFusedNodesPass } from './expand-fused-nodes.js';
import { fuseSiluPass } from './fuse-silu.js';
import { substituteHardActivationsPass } from './substitute-hard-activations.js';
import { applyPasses, maxDiff, randomInputs } from './testing.js';

test('Sigmoid becomes HardSigmoid(1/6, 1/2) and SiLU becomes HardSwish; outputs drift but stay close', () => {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [1, 64]);
  const s = b.node('Sigmoid', [x]);
  const m = b.node('Mul', [x, b.node('Sigmoid', [x])]);
  b.output(b.node('Add', [s, m], {}, { outputs: ['y'] }));
  const before = b.model(13);
  const after = applyPasses(before, [fuseSiluPass, substituteHardActivationsPass]).model;
  assert.deepEqual(
    after.graph.nodes.map((n) => `${n.domain}:${n.opType}`),
    [':HardSigmoid', 'edgecnn:HardSwish', ':Add'],
  );
  const exported = applyPasses(after, [expandFusedNodesPass]).model;
  const inputs = randomInputs(before, 3, -4, 4);
  const d = maxDiff(runReference(before, inputs), runReference(exported, inputs));
  assert.ok(d.abs > 1e-3, 'the substitution is an approximation: it must change the outputs');
  assert.ok(d.abs < 0.5, `drift ${d.abs} is larger than the approximation allows`);
});
