import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './harness.js';
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

// The edgecnn wasm configuration alone keeps each run short; 40 samples of a ~1 ms model resolve a 20%
// shift easily. The threshold is 10% so that the load other tests put on a shared 2-core machine between the
// baseline and the check does not make the "same build" case flaky; stats.test.ts covers 5% on synthetic data.
const COMMON = ['--backend', 'wasm', '--vs', 'none', '--runs', '40', '--warmup', '10'];

test('gate: the same build passes against its own baseline, repeatedly; a 20% slowdown fails', async () => {
  const model = writeTinyCnn({ size: 24 });
  const dir = join(model, '..');
  const base = join(dir, 'base.json');
  const made = bench([model, ...COMMON, '--json', base]);
  assert.equal(made.status, 0, made.stderr);
  for (let i = 0; i < 3; i++) {
    const r = bench([model, ...COMMON, '--baseline', base, '--max-regression', '10%', '--max-drift', '1e-6']);
    assert.equal(r.status, 0, `repeat ${i}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /gate: PASS/);
    assert.match(r.stdout, /Mann-Whitney U one-sided p=/);
  }
  const slow = bench([model, ...COMMON, '--baseline', base, '--max-regression', '10%'], {
    EDGECNN_BENCH_SLOWDOWN: '0.2',
  });
  assert.equal(slow.status, 1, slow.stdout);
  assert.match(slow.stdout, /edgecnn-wasm\/t1: .*REGRESSED/);
  assert.match(slow.stdout, /gate: FAIL/);
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
