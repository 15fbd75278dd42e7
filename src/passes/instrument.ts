/**
 * Pass instruments: run a list of passes and record, for each, wall time, node count before/after and the
 * notes it left; optionally print the graph after named passes (`--print-after`) and verify the graph after
 * every pass (`--verify-each`), failing with the name of the pass that broke an invariant. Without verify-each a
 * pass that throws is undone (the graph it was given is restored) and noted, so the others still run.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Graph, Model } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import { verifyErrors } from '../ir/verify.js';
import { cloneGraph } from './graph-utils.js';
import { type Pass, makePassContext, withGraph } from './pass.js';

/** What one pass did. */
export interface PassRecord {
  name: string;
  timeMs: number;
  nodesBefore: number;
  nodesAfter: number;
  notes: string[];
}

export interface InstrumentOptions {
  /** Print the graph after passes with these names. */
  printAfter?: readonly string[];
  /** Where printed graphs go (default console.log). */
  print?: (text: string) => void;
  /** Verify the graph after every pass and throw on the first broken invariant. */
  verifyEach?: boolean;
  inputShapes?: Record<string, readonly number[]>;
}

/** Run `passes` over a copy of `model`'s graph; the input model is not changed. */
export function runPasses(
  model: Model,
  passes: readonly Pass[],
  options: InstrumentOptions = {},
): { model: Model; records: PassRecord[] } {
  let graph: Graph = cloneGraph(model.graph);
  const records: PassRecord[] = [];
  const printAfter = new Set(options.printAfter ?? []);
  const print = options.print ?? ((t: string) => console.log(t));
  if (options.verifyEach) check(graph, 'the input model');
  for (const pass of passes) {
    const notes: string[] = [];
    const ctx = makePassContext(withGraph(model, graph), notes, options.inputShapes);
    const nodesBefore = graph.nodes.length;
    const t0 = performance.now();
    // A pass edits in place, so keep the graph it was given: a pass that fails on an unforeseen input is
    // undone and reported instead of taking the whole optimization down (tests, with verifyEach, rethrow).
    const saved = options.verifyEach ? undefined : cloneGraph(graph);
    try {
      graph = pass.run(graph, ctx);
    } catch (e) {
      if (!saved) throw e;
      graph = saved;
      notes.push(`failed and was skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
    const timeMs = performance.now() - t0;
    records.push({ name: pass.name, timeMs, nodesBefore, nodesAfter: graph.nodes.length, notes });
    if (printAfter.has(pass.name)) print(`// after ${pass.name}\n${printGraph(graph)}`);
    if (options.verifyEach) check(graph, `pass ${pass.name}`);
  }
  return { model: withGraph(model, graph), records };
}

function check(graph: Graph, where: string): void {
  const errors = verifyErrors(graph);
  if (errors.length > 0) {
    const shown = errors.slice(0, 5).map((p) => `  ${p.kind}: ${p.message}`);
    throw new EdgecnnError(
      `${where} left an invalid graph (${errors.length} problem(s)):\n${shown.join('\n')}${errors.length > 5 ? '\n  ...' : ''}`,
      'internal',
    );
  }
}

/** The per-pass table printed by `--report`. */
export function formatPassTable(records: readonly PassRecord[]): string {
  const rows = [
    ['pass', 'time ms', 'nodes before', 'nodes after'],
    ...records.map((r) => [r.name, r.timeMs.toFixed(2), String(r.nodesBefore), String(r.nodesAfter)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const notes = records.flatMap((r) => r.notes.map((n) => `  ${r.name}: ${n}`));
  if (notes.length > 0) lines.push('', 'notes:', ...notes);
  return lines.join('\n');
}
