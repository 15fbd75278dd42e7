/**
 * Opt-in, approximate: Sigmoid -> HardSigmoid(alpha = 1/6, beta = 1/2) and SiLU -> HardSwish, the piecewise-linear
 * forms that cost a compare and a multiply instead of an exp. This changes the numbers (the CLI reports the output
 * drift it caused), so it is off by default and runs only when `hardActivations` is set. It rewrites standalone
 * nodes and the `activation` attribute of fused nodes alike.
 */
import type { Graph } from '../ir/graph.js';
import { EDGECNN_DOMAIN } from '../ir/graph.js';
import { isOp } from './graph-utils.js';
import type { Pass, PassContext } from './pass.js';

/** HardSigmoid parameters used in place of Sigmoid (PyTorch's hardsigmoid). */
export const HARD_SIGMOID_ALPHA = 1 / 6;
export const HARD_SIGMOID_BETA = 0.5;

/** Replace Sigmoid by HardSigmoid and Silu by HardSwish, in place. */
export function substituteHardActivations(graph: Graph, ctx: Pick<PassContext, 'opset'>): Graph {
  for (const n of graph.nodes) {
    if (isOp(n, 'Sigmoid')) {
      n.opType = 'HardSigmoid';
      n.attributes = new Map([
        ['alpha', { kind: 'float', value: HARD_SIGMOID_ALPHA }],
        ['beta', { kind: 'float', value: HARD_SIGMOID_BETA }],
      ]);
    } else if (n.domain === EDGECNN_DOMAIN && n.opType === 'Silu') {
      n.opType = 'HardSwish';
      n.domain = ctx.opset >= 14 ? '' : EDGECNN_DOMAIN;
    } else if (n.domain === EDGECNN_DOMAIN && (n.opType === 'FusedConv' || n.opType === 'FusedGemm')) {
      const a = n.attributes.get('activation');
      if (a?.kind !== 'string') continue;
      if (a.value === 'Sigmoid') {
        n.attributes.set('activation', { kind: 'string', value: 'HardSigmoid' });
        n.attributes.set('activation_params', { kind: 'floats', value: [HARD_SIGMOID_ALPHA, HARD_SIGMOID_BETA] });
      } else if (a.value === 'Silu') {
        n.attributes.set('activation', { kind: 'string', value: 'HardSwish' });
      }
    }
  }
  return graph;
}

export const substituteHardActivationsPass: Pass = {
  name: 'substitute-hard-activations',
  summary: 'approximate: Sigmoid -> HardSigmoid, SiLU -> HardSwish (opt-in; changes outputs)',
  run: (g, ctx) => substituteHardActivations(g, ctx),
};
