import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../bench/harness.js';
import { writeTinyCnn } from '../bench/tiny-model.js';
import { parseFraction } from './bench.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function edgecnn(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('--max-regression accepts 5% and 0.05 alike', () => {
  assert.equal(parseFraction('5%', 'x'), 0.05);
  assert.equal(parseFraction('0.05', 'x'), 0.05);
  assert.equal(parseFraction('12', 'x'), 0.12);
  assert.throws(() => parseFraction('-1%', 'max-regression'), /--max-regression needs a non-negative/);
});

test('--json - prints only the JSON report on stdout, for machines', () => {
  const model = writeTinyCnn({ size: 12 });
  const r = edgecnn(['bench', model, '--vs', 'ort-node', '--runs', '5', '--json', '-']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.deepEqual(
    report.configs.map((c) => [c.id, c.status]),
    [
      ['edgecnn-wasm/t1', 'ok'],
      ['ort-node/t1', 'ok'],
    ],
  );
  assert.equal(r.stderr, '', 'no progress lines in machine mode');
});

test('bad arguments get one clear line and exit code 2; a missing file exits 1', () => {
  const model = writeTinyCnn({ size: 12 });
  const cases: [string[], RegExp, number][] = [
    [['bench'], /bench needs exactly one model file/, 2],
    [['bench', model, '--backend', 'gpu'], /unknown backend 'gpu' \(expected wasm, wasm-tuned, reference\)/, 2],
    [['bench', model, '--vs', 'tflite'], /unknown peer 'tflite'/, 2],
    [['bench', model, '--threads', 'two'], /--threads needs whole numbers/, 2],
    [['bench', model, '--runs', '2.5'], /--runs needs a whole number/, 2],
    [['bench', model, '--confidence', '2'], /--confidence must be between 0.5 and 1/, 2],
    [['bench', 'missing.onnx'], /model file 'missing.onnx' does not exist/, 1],
    [['profile', 'missing.onnx'], /model file 'missing.onnx' does not exist/, 1],
    [['profile', model, '--backend', 'gpu'], /unknown backend 'gpu'/, 2],
  ];
  for (const [args, message, code] of cases) {
    const r = edgecnn(args);
    assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('profile prints the most expensive nodes, writes a Chrome trace and JSON', async () => {
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-profile-'));
  const model = writeTinyCnn({ size: 16 });
  const r = edgecnn([
    'profile',
    model,
    '--runs',
    '5',
    '--top',
    '3',
    '--vs',
    'ort-node',
    '--trace',
    join(dir, 't.json'),
    '--json',
    join(dir, 'p.json'),
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /top 3 nodes by median time:/);
  assert.match(r.stdout, /per operator type:\nop +nodes +ms +share +MACs +GFLOP\/s +bytes/);
  assert.match(r.stdout, /per kernel:/);
  assert.match(r.stdout, /op +edgecnn +ort-node\/t1\n/);
  assert.match(r.stdout, /\ntotal +[\d.]+ +[\d.]+/);
  const trace = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8')) as {
    traceEvents: { ph: string; name: string }[];
  };
  const p = JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')) as { summary: { runs: number; nodes: unknown[] } };
  assert.equal(p.summary.runs, 5);
  assert.equal(trace.traceEvents.filter((e) => e.ph === 'X').length, 5 * p.summary.nodes.length);
});
