/**
 * x * HardSigmoid(x) with alpha = 1/6 and beta = 1/2 (as PyTorch exports hardswish before opset 14) becomes one
 * HardSwish node: the ONNX op when the model imports opset >= 14, else edgecnn:HardSwish. Either operand order
 * matches; the HardSigmoid must feed only the Mul, and the new node takes the Mul's place and output name.
 */
import type { Graph, Node } from '../ir/graph.js';
import { EDGECNN_DOMAIN, attrFloat } from '../ir/graph.js';
import { fuseGatedProduct } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** HardSigmoid parameters that make x * HardSigmoid(x) exactly HardSwish. */
export function isHardSwishGate(n: Node): boolean {
  return Math.abs(attrFloat(n, 'alpha', 0.2) - 1 / 6) < 1e-6 && Math.abs(attrFloat(n, 'beta', 0.5) - 0.5) < 1e-6;
}

/** Replace x * HardSigmoid(x) (alpha 1/6, beta 1/2) by HardSwish. */
export function fuseHardSwish(graph: Graph, ctx: Pick<PassContext, 'opset'>): Graph {
  const domain = ctx.opset >= 14 ? '' : EDGECNN_DOMAIN;
  return fuseGatedProduct(graph, 'HardSigmoid', isHardSwishGate, (x, y, name) => ({
    name,
    opType: 'HardSwish',
    domain,
    inputs: [x],
    outputs: [y],
    attributes: new Map(),
  }));
}

export const fuseHardSwishPass: Pass = {
  name: 'fuse-hard-swish',
  summary: 'recognize x * HardSigmoid(x) as HardSwish',
  run: (g, ctx) => fuseHardSwish(g, ctx),
};
