/**
 * x * Sigmoid(x) (SiLU, "swish") becomes one edgecnn:Silu node; ONNX has no SiLU op, so export expands it back.
 * Either operand order matches; the Sigmoid must feed only the Mul, and the new node takes the Mul's place and
 * output name.
 */
import type { Graph } from '../ir/graph.js';
import { EDGECNN_DOMAIN } from '../ir/graph.js';
import { fuseGatedProduct } from './graph-utils.js';
import type { Pass } from './pass.js';

/** Replace x * Sigmoid(x) by edgecnn:Silu. */
export function fuseSilu(graph: Graph): Graph {
  return fuseGatedProduct(
    graph,
    'Sigmoid',
    () => true,
    (x, y, name) => ({
      name,
      opType: 'Silu',
      domain: EDGECNN_DOMAIN,
      inputs: [x],
      outputs: [y],
      attributes: new Map(),
    }),
  );
}

export const fuseSiluPass: Pass = {
  name: 'fuse-silu',
  summary: 'recognize x * Sigmoid(x) as edgecnn:Silu',
  run: (g) => fuseSilu(g),
};
