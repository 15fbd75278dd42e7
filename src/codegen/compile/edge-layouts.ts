/**
 * Layout conversion at the graph's edges as kernel steps: a graph input the compiled model keeps in NHWC (more
 * than one channel and one pixel) is fed as a dense NCHW staging value, which the runtime fills with one
 * typed-array copy, and a `ToNHWC` step transposes it; graph outputs in NHWC get a `ToNCHW` step into a dense
 * staging value the runtime reads back with one copy. Where NCHW and NHWC coincide nothing is added.
 */
import type { Node } from '../../ir/graph.js';
import type { LayoutResult, ValueLayout } from './assign-layouts.js';
import type { PreparedGraph } from './prepare.js';

/** Suffix of staging values (never a legal ONNX value name collision in practice: checked). */
const STAGING = '__nchw';

export interface EdgeConversions {
  /** Graph input name -> the staging value the runtime writes. */
  inputs: Map<string, string>;
  /** Graph output name -> the staging value the runtime reads. */
  outputs: Map<string, string>;
}

function needsConversion(l: ValueLayout | undefined): l is ValueLayout {
  if (!l || l.layout !== 'nhwc') return false;
  const [, C, H, W] = l.type.shape as [number, number, number, number];
  return C > 1 && H * W > 1;
}

/** Add conversion nodes and staging layouts to `lay` (in place); returns the staging names. */
export function addEdgeConversions(prep: PreparedGraph, lay: LayoutResult): EdgeConversions {
  const inputs = new Map<string, string>();
  const outputs = new Map<string, string>();
  const fresh = (base: string): string => {
    let name = `${base}${STAGING}`;
    while (lay.layouts.has(name)) name += '_';
    return name;
  };
  const head: Node[] = [];
  for (const { name } of prep.inputs) {
    const l = lay.layouts.get(name);
    if (!needsConversion(l)) continue;
    const staging = fresh(name);
    lay.layouts.set(staging, { name: staging, type: l.type, layout: 'flat', pixelStride: 0 });
    head.push({
      name: `(input ${name})`,
      opType: 'ToNHWC',
      domain: 'edgecnn',
      inputs: [staging],
      outputs: [name],
      attributes: new Map(),
    });
    inputs.set(name, staging);
  }
  const tail: Node[] = [];
  for (const name of new Set(prep.outputNames)) {
    const l = lay.layouts.get(name);
    if (!needsConversion(l) || inputs.has(name)) continue;
    const staging = fresh(name);
    lay.layouts.set(staging, { name: staging, type: l.type, layout: 'flat', pixelStride: 0 });
    tail.push({
      name: `(output ${name})`,
      opType: 'ToNCHW',
      domain: 'edgecnn',
      inputs: [name],
      outputs: [staging],
      attributes: new Map(),
    });
    outputs.set(name, staging);
  }
  lay.nodes.unshift(...head);
  lay.nodes.push(...tail);
  return { inputs, outputs };
}
