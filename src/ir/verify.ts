/**
 * The graph verifier: returns a list of named problems instead of throwing, so that a pass test can show all
 * of them at once. Invariants checked, in one walk over the nodes in order:
 *   SSA (each value defined once: graph input, initializer or one node output), use after definition (the node
 *   list is in topological order), graph outputs defined, initializer data/shape and ValueInfo consistency.
 * Severity 'error' breaks an invariant; 'warning' (dead nodes, unused initializers, stale ValueInfo) is legal
 * ONNX that a cleanup pass should remove. Subgraph bodies are not descended into; names they use count as uses.
 */
import type { Graph, Node } from './graph.js';
import { sizeOf } from './tensor.js';

export const PROBLEM_KINDS = [
  'multiple-definition',
  'undefined-input',
  'use-before-definition',
  'undefined-graph-output',
  'dangling-output',
  'unused-initializer',
  'initializer-mismatch',
  'value-info-mismatch',
  'stale-value-info',
  'bad-node',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** One problem found by the verifier. */
export interface Problem {
  kind: ProblemKind;
  severity: 'error' | 'warning';
  /** Human-readable, naming the value and node involved. */
  message: string;
  /** The node involved, when there is one. */
  node?: string;
}

function nodeLabel(n: Node): string {
  return `node '${n.name}' (${n.opType})`;
}

/** Names used from an enclosing scope by the subgraphs of a node (If/Loop/Scan bodies). */
export function subgraphOuterUses(node: Node): Set<string> {
  const used = new Set<string>();
  const visit = (g: Graph): void => {
    const local = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
    for (const n of g.nodes) {
      for (const i of n.inputs) if (i !== '' && !local.has(i)) used.add(i);
      for (const o of n.outputs) local.add(o);
      for (const u of subgraphOuterUses(n)) if (!local.has(u)) used.add(u);
    }
    for (const o of g.outputs) if (!local.has(o.name)) used.add(o.name);
  };
  for (const a of node.attributes.values()) {
    if (a.kind === 'graph') visit(a.value);
    else if (a.kind === 'graphs') a.value.forEach(visit);
  }
  return used;
}

/** Check a graph's invariants (see the file comment). An empty list means the graph is well formed. */
export function verifyGraph(graph: Graph): Problem[] {
  const problems: Problem[] = [];
  const err = (kind: ProblemKind, message: string, node?: string): void => {
    problems.push(
      node === undefined ? { kind, severity: 'error', message } : { kind, severity: 'error', message, node },
    );
  };
  const warn = (kind: ProblemKind, message: string, node?: string): void => {
    problems.push(
      node === undefined ? { kind, severity: 'warning', message } : { kind, severity: 'warning', message, node },
    );
  };

  // Where each value is defined: 'input', 'initializer' or the defining node's name.
  const defined = new Map<string, string>();
  for (const i of graph.inputs) {
    if (defined.has(i.name)) err('multiple-definition', `graph input '${i.name}' is declared twice`);
    defined.set(i.name, 'graph input');
  }
  for (const [name, t] of graph.initializers) {
    // An initializer also listed as a graph input is ONNX IR < 4 style (an overridable default), not a redefinition.
    if (!defined.has(name)) defined.set(name, 'initializer');
    const want = sizeOf(t.shape);
    if (t.data.length !== want) {
      err(
        'initializer-mismatch',
        `initializer '${name}' has ${t.data.length} elements but shape [${t.shape.join(',')}] needs ${want}`,
      );
    }
    const asInput = graph.inputs.find((i) => i.name === name);
    if (asInput) {
      if (asInput.dtype !== undefined && asInput.dtype !== t.dtype) {
        err('initializer-mismatch', `initializer '${name}' is ${t.dtype} but its graph input says ${asInput.dtype}`);
      }
      if (asInput.shape !== undefined && !shapeAgrees(asInput.shape, t.shape)) {
        err(
          'initializer-mismatch',
          `initializer '${name}' has shape [${t.shape.join(',')}] but its graph input says [${asInput.shape.join(',')}]`,
        );
      }
    }
  }

  // Names used by any node before the node list defines them are only an error if defined later.
  const laterDefs = new Map<string, string>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o !== '' && !laterDefs.has(o)) laterDefs.set(o, n.name);

  const used = new Set<string>();
  for (const n of graph.nodes) {
    if (n.opType === '') err('bad-node', `${nodeLabel(n)} has no operator type`, n.name);
    const uses = [...n.inputs.filter((i) => i !== ''), ...subgraphOuterUses(n)];
    for (const i of uses) {
      used.add(i);
      if (defined.has(i)) continue;
      if (laterDefs.has(i)) {
        err(
          'use-before-definition',
          `${nodeLabel(n)} uses '${i}' before node '${laterDefs.get(i)}' defines it`,
          n.name,
        );
      } else {
        err('undefined-input', `${nodeLabel(n)} uses '${i}', which nothing defines`, n.name);
      }
    }
    for (const o of n.outputs) {
      if (o === '') continue;
      const prev = defined.get(o);
      if (prev !== undefined) {
        err(
          'multiple-definition',
          `'${o}' is defined by ${nodeLabel(n)} and already by ${prev === 'graph input' || prev === 'initializer' ? 'a ' + prev : `node '${prev}'`}`,
          n.name,
        );
      }
      defined.set(o, n.name);
    }
  }

  const outputNames = new Set<string>();
  for (const o of graph.outputs) {
    outputNames.add(o.name);
    if (!defined.has(o.name))
      err('undefined-graph-output', `graph output '${o.name}' is not defined by any node, input or initializer`);
  }

  for (const n of graph.nodes) {
    const live = n.outputs.some((o) => o !== '' && (used.has(o) || outputNames.has(o)));
    if (!live && n.outputs.length > 0) {
      warn('dangling-output', `${nodeLabel(n)}: none of its outputs (${n.outputs.join(', ')}) is used`, n.name);
    }
  }
  for (const name of graph.initializers.keys()) {
    if (!used.has(name) && !outputNames.has(name) && !graph.inputs.some((i) => i.name === name)) {
      warn('unused-initializer', `initializer '${name}' is not used`);
    }
  }

  for (const [name, vi] of graph.valueInfo) {
    if (vi.name !== name) err('value-info-mismatch', `value_info keyed '${name}' is named '${vi.name}'`);
    if (!defined.has(name)) {
      warn('stale-value-info', `value_info for '${name}', which nothing defines`);
      continue;
    }
    const t = graph.initializers.get(name);
    if (t) {
      if (vi.dtype !== undefined && vi.dtype !== t.dtype) {
        err('value-info-mismatch', `value_info says '${name}' is ${vi.dtype} but the initializer is ${t.dtype}`);
      }
      if (vi.shape !== undefined && !shapeAgrees(vi.shape, t.shape)) {
        err(
          'value-info-mismatch',
          `value_info says '${name}' has shape [${vi.shape.join(',')}] but the initializer has [${t.shape.join(',')}]`,
        );
      }
    }
  }
  return problems;
}

/** Only the problems that break an invariant. */
export function verifyErrors(graph: Graph): Problem[] {
  return verifyGraph(graph).filter((p) => p.severity === 'error');
}

function shapeAgrees(declared: readonly (number | string | null)[], actual: readonly number[]): boolean {
  if (declared.length !== actual.length) return false;
  return declared.every((d, i) => typeof d !== 'number' || d === actual[i]);
}
