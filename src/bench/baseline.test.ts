import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gate } from './baseline.js';
import { environment } from './environment.js';
import type { BenchReport, ConfigResult } from './harness.js';
import { seededRandom } from '../ir/builder.js';
import { summarize } from './stats.js';
import { writeTinyCnn } from './tiny-model.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

function bench(args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'bench', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// The end-to-end gate runs edgecnn alone (every bench process is a real measurement); 300 samples, with the
// IPC round trip between them, spread each run over a second or two, which averages over the second-scale load
// swings of a shared machine. The threshold is 10%; the injected slowdown is 50% because the baseline and the
// slowed run are separate processes seconds apart while other test files load both cores (a 20% injection once
// measured +8% in CI). The 5% case is covered deterministically on synthetic samples in stats.test.ts.
const COMMON = ['--backend', 'wasm', '--vs', 'none', '--runs', '300', '--warmup', '20'];
const GATE = ['--max-regression', '10%'];

test('gate: the same build passes against its own baseline, repeatedly; a 50% slowdown fails', async () => {
  const model = writeTinyCnn({ size: 64, channels: 16 });
  const dir = join(model, '..');
  const base = join(dir, 'base.json');
  const made = bench([model, ...COMMON, '--json', base]);
  assert.equal(made.status, 0, made.stderr);
  for (let i = 0; i < 3; i++) {
    const r = bench([model, ...COMMON, '--baseline', base, ...GATE, '--max-drift', '1e-6']);
    assert.equal(r.status, 0, `repeat ${i}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /edgecnn-wasm\/t1: median .* Mann-Whitney U one-sided p=.* at 99\.0% confidence: ok/);
    assert.match(r.stdout, /gate: PASS/);
  }
  const slow = bench([model, ...COMMON, '--baseline', base, ...GATE], { EDGECNN_BENCH_SLOWDOWN: '0.5' });
  assert.equal(slow.status, 1, slow.stdout);
  assert.match(slow.stdout, /edgecnn-wasm\/t1: .*REGRESSED/);
  assert.match(slow.stdout, /gate: FAIL/);
});

/** A synthetic report: configuration id -> samples (the gate only reads these fields). */
function report(configs: Record<string, number[]>): BenchReport {
  return {
    schema: 'edgecnn-bench/1',
    createdAt: '',
    environment: environment(),
    model: { name: 'm', path: 'm.onnx', sha256: 'ab'.repeat(32), sizeBytes: 1 },
    settings: { warmup: 0, underLoad: 0, inputs: [], interleaving: 'round-robin', hostExecArgv: [] },
    configs: Object.entries(configs).map(([id, samplesMs]) => ({
      id,
      target: id.split('/')[0] as ConfigResult['target'],
      threads: 1,
      status: 'ok',
      measured: { samplesMs, startedAtMs: [], summary: summarize(samplesMs) },
    })),
    ratios: [],
  };
}

function jittered(n: number, medianMs: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => medianMs * (1 + 0.04 * (rnd() - 0.5)));
}

test('gate --normalize-by: a slower machine is cancelled out, a slower edgecnn is not', () => {
  const base = report({ 'edgecnn-wasm/t1': jittered(60, 10, 1), 'ort-node/t1': jittered(60, 5, 2) });
  // The whole machine is 30% slower: raw gate fails, normalized passes.
  const busy = report({ 'edgecnn-wasm/t1': jittered(60, 13, 3), 'ort-node/t1': jittered(60, 6.5, 4) });
  assert.equal(gate(busy, base, { maxRegression: 0.05 }).passed, false);
  const n = gate(busy, base, { maxRegression: 0.05, normalizeBy: 'ort-node/t1' });
  assert.equal(n.passed, true, n.lines.join('\n'));
  assert.match(
    n.lines[0]!,
    /machine drift from ort-node\/t1: median 5\.\d+ -> 6\.\d+ ms; current samples scaled by 0\.7\d+/,
  );
  // edgecnn alone is 20% slower: both fail.
  const slow = report({ 'edgecnn-wasm/t1': jittered(60, 12, 5), 'ort-node/t1': jittered(60, 5, 6) });
  assert.equal(gate(slow, base, { maxRegression: 0.05 }).passed, false);
  assert.equal(gate(slow, base, { maxRegression: 0.05, normalizeBy: 'ort-node/t1' }).passed, false);
  assert.throws(() => gate(slow, base, { maxRegression: 0.05, normalizeBy: 'ort-web/t1' }), /must have run in both/);
  // Peers are informational: a slower peer alone never fails the gate.
  const peerSlow = report({ 'edgecnn-wasm/t1': jittered(60, 10, 7), 'ort-node/t1': jittered(60, 8, 8) });
  const p = gate(peerSlow, base, { maxRegression: 0.05 });
  assert.equal(p.passed, true);
  assert.ok(p.lines.some((l) => /ort-node\/t1: .*REGRESSED \(peer, informational\)/.test(l)));
});

test('gate: output drift beyond --max-drift fails, within passes', () => {
  const model = writeTinyCnn({ size: 16 });
  const dir = join(model, '..');
  const base = join(dir, 'base.json');
  const args = [model, '--backend', 'wasm', '--vs', 'none', '--runs', '10'];
  assert.equal(bench([...args, '--json', base]).status, 0);
  const report = JSON.parse(readFileSync(base, 'utf8')) as BenchReport;
  const out = report.configs[0]!.outputs![0]!;
  out.values[3]! += 1e-3;
  const drifted = join(dir, 'drifted.json');
  writeFileSync(drifted, JSON.stringify(report));
  const bad = bench([...args, '--baseline', drifted, '--max-drift', '1e-4']);
  assert.equal(bad.status, 1, bad.stdout);
  assert.match(bad.stdout, /max \|output - baseline output\| = 1\.000e-3 .*DRIFTED/);
  const ok = bench([...args, '--baseline', drifted, '--max-drift', '1e-2']);
  assert.equal(ok.status, 0, ok.stdout);
});

test('gate: an edgecnn configuration that ran in the baseline and fails now fails the gate', () => {
  const model = writeTinyCnn({ size: 16 });
  const base = join(model, '..', 'base.json');
  assert.equal(bench([model, '--backend', 'wasm', '--vs', 'ort-node', '--runs', '8', '--json', base]).status, 0);
  // A 1-thread-only backend asked for threads 1 and 2 still runs t1; asking only t2 makes edgecnn-wasm/t1 absent.
  const r = bench([
    model,
    '--backend',
    'wasm',
    '--vs',
    'ort-node',
    '--threads',
    '2',
    '--runs',
    '8',
    '--baseline',
    base,
    '--max-regression',
    '5%',
  ]);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /edgecnn-wasm\/t1: measured in the baseline but not measured in this run: FAILED/);
});

test('a baseline from another model or another machine kind is refused with a clear message', () => {
  const a = writeTinyCnn({ size: 16, seed: 1 });
  const b = writeTinyCnn({ size: 16, seed: 2 });
  const base = join(a, '..', 'base.json');
  const args = ['--backend', 'wasm', '--vs', 'none', '--runs', '8'];
  assert.equal(bench([a, ...args, '--json', base]).status, 0);
  const other = bench([b, ...args, '--baseline', base, '--max-regression', '5%']);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /the baseline was measured on a different model: 'tiny_cnn' \(sha256 [0-9a-f]{12}\)/);
  const report = JSON.parse(readFileSync(base, 'utf8')) as BenchReport;
  report.environment.machineKind = 'arm64-8c-apple-m2';
  report.environment.cpuModel = 'Apple M2';
  const foreign = join(a, '..', 'foreign.json');
  writeFileSync(foreign, JSON.stringify(report));
  const r = bench([a, ...args, '--baseline', foreign, '--max-regression', '5%']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /different machine kind: 'arm64-8c-apple-m2' \(Apple M2, \d+ cores\)/);
  const notReport = join(a, '..', 'not-report.json');
  writeFileSync(notReport, '{"hello": 1}');
  assert.match(bench([a, ...args, '--baseline', notReport]).stderr, /is not an edgecnn bench report/);
  assert.match(bench([a, ...args, '--max-regression', '5%']).stderr, /need --baseline FILE/);
});
