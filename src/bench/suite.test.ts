import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment } from './environment.js';
import type { SuiteFile } from './suite.js';
import { writeTinyCnn } from './tiny-model.js';

const SUITE = fileURLToPath(new URL('./suite.js', import.meta.url));
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

test('the suite benchmarks every model of a folder, writes markdown and JSON, and serves as a baseline', () => {
  const a = writeTinyCnn({ size: 16, seed: 1 });
  const dir = join(a, '..');
  const models = join(dir, 'models');
  mkdirSync(models);
  copyFileSync(a, join(models, 'tiny_a.onnx'));
  copyFileSync(writeTinyCnn({ size: 20, seed: 2 }), join(models, 'tiny_b.onnx'));
  const out = join(dir, 'results');
  const r = spawnSync(
    process.execPath,
    [SUITE, '--models-dir', models, '--out', out, '--vs', 'ort-node', '--runs', '10'],
    { encoding: 'utf8', timeout: 120000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const kind = environment().machineKind;
  const md = readFileSync(join(out, `${kind}.md`), 'utf8');
  assert.match(md, /^# edgecnn benchmark suite/);
  assert.match(md, /\| tiny_a \| edgecnn-wasm\/t1 \| [\d.]+ \|/);
  assert.match(md, /\| tiny_b \| ort-node\/t1 \| [\d.]+ \|/);
  assert.match(md, /x vs ort-node\/t1 \[/);
  const suite = JSON.parse(readFileSync(join(out, `${kind}.json`), 'utf8')) as SuiteFile;
  assert.equal(suite.schema, 'edgecnn-bench-suite/1');
  assert.deepEqual(
    suite.reports.map((x) => x.model.name),
    ['tiny_a', 'tiny_b'],
  );
  assert.equal(suite.reports[0]!.model.path, '../shared/models/tiny_a.onnx', 'no machine-absolute paths');

  // The suite file is a baseline for any of its models, and names what it covers for others.
  const gate = spawnSync(
    process.execPath,
    [
      MAIN,
      'bench',
      join(models, 'tiny_b.onnx'),
      '--vs',
      'none',
      '--runs',
      '10',
      '--baseline',
      join(out, `${kind}.json`),
      '--max-drift',
      '1e-6',
    ],
    { encoding: 'utf8', timeout: 120000 },
  );
  assert.equal(gate.status, 0, gate.stdout + gate.stderr);
  assert.match(gate.stdout, /edgecnn-wasm\/t1: max \|output - baseline output\| = 0\.000e\+0/);
  const other = spawnSync(
    process.execPath,
    [MAIN, 'bench', writeTinyCnn({ size: 12, seed: 3 }), '--baseline', join(out, `${kind}.json`)],
    { encoding: 'utf8', timeout: 120000 },
  );
  assert.equal(other.status, 2);
  assert.match(other.stderr, /has no report for this model .* it covers 'tiny_a' \([0-9a-f]{12}\), 'tiny_b'/);
});
