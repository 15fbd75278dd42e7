import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import { formatPassTable, runPasses } from './instrument.js';
import type { Pass } from './pass.js';

function model() {
  const b = new GraphBuilder('g');
  const x = b.input('x', 'float32', [2]);
  b.output(b.node('Relu', [b.node('Neg', [x])], {}, { outputs: ['y'] }));
  return b.model();
}

const dropFirst: Pass = {
  name: 'drop-first',
  summary: 'breaks the graph',
  run: (g) => ((g.nodes = g.nodes.slice(1)), g),
};
const noteOnly: Pass = {
  name: 'note-only',
  summary: 'says something',
  run: (g, ctx) => (ctx.note('nothing to do'), g),
};

test('verify-each names the pass that broke an invariant', () => {
  assert.throws(
    () => runPasses(model(), [noteOnly, dropFirst], { verifyEach: true }),
    (e: unknown) =>
      e instanceof EdgecnnError &&
      /pass drop-first left an invalid graph/.test(e.message) &&
      /undefined-input/.test(e.message),
  );
  // Without verification the broken graph comes back (the caller asked not to check).
  assert.equal(runPasses(model(), [dropFirst]).model.graph.nodes.length, 1);
});

test('records time, node counts and notes per pass; print-after prints only the named pass; input untouched', () => {
  const printed: string[] = [];
  const m = model();
  const r = runPasses(m, [noteOnly, dropFirst], { printAfter: ['note-only'], print: (t) => printed.push(t) });
  assert.deepEqual(
    r.records.map((x) => [x.name, x.nodesBefore, x.nodesAfter, x.notes]),
    [
      ['note-only', 2, 2, ['nothing to do']],
      ['drop-first', 2, 1, []],
    ],
  );
  assert.equal(printed.length, 1);
  assert.match(printed[0]!, /^\/\/ after note-only\n/);
  assert.equal(m.graph.nodes.length, 2);
  const table = formatPassTable(r.records);
  assert.match(table, /^pass +time ms +nodes before +nodes after\n-+/);
  assert.match(table, /drop-first +\d+\.\d\d +2 +1/);
  assert.match(table, /notes:\n {2}note-only: nothing to do/);
});

test('a pass that throws is undone and noted, unless verify-each asks for the error', () => {
  const half: Pass = {
    name: 'half-then-throw',
    summary: 'edits, then fails',
    run: (g) => {
      g.nodes.pop();
      throw new Error('cannot handle this');
    },
  };
  const r = runPasses(model(), [half, noteOnly]);
  assert.equal(r.model.graph.nodes.length, 2);
  assert.deepEqual(r.records[0]!.notes, ['failed and was skipped: cannot handle this']);
  assert.equal(r.records[1]!.name, 'note-only');
  assert.throws(() => runPasses(model(), [half], { verifyEach: true }), /cannot handle this/);
});
