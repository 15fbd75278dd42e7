import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from './environment.js';
import type { BenchReport } from './harness.js';
import { writeTinyCnn } from './tiny-model.js';

/**
 * An installation where onnxruntime-web is absent: the built package copied next to a node_modules that
 * links every installed package except that one. This is what a user without the devDependency has.
 */
function installWithout(pkg: string): string {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'edgecnn-nopeer-'));
  cpSync(fileURLToPath(new URL('..', import.meta.url)), join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), readFileSync(join(root, 'package.json')));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name === pkg || name.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
  }
  return dir;
}

test('a peer that is not installed is reported and skipped; the others still run', () => {
  const dir = installWithout('onnxruntime-web');
  const model = writeTinyCnn({ size: 16 });
  const json = join(dir, 'r.json');
  const r = spawnSync(
    process.execPath,
    [join(dir, 'dist', 'cli', 'main.js'), 'bench', model, '--vs', 'ort-web,ort-node', '--runs', '5', '--json', json],
    { encoding: 'utf8', timeout: 120000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /skipped ort-web\/t1: ort-web is not available: module 'onnxruntime-web' is not installed/);
  assert.match(r.stdout, /ort-web\/t1: skipped/);
  const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
  const byId = new Map(report.configs.map((c) => [c.id, c]));
  assert.equal(byId.get('ort-web/t1')!.status, 'skipped');
  assert.equal(byId.get('ort-node/t1')!.status, 'ok');
  assert.equal(byId.get('edgecnn-wasm/t1')!.status, 'ok');
  assert.deepEqual(
    report.ratios.map((q) => `${q.config} vs ${q.vs}`),
    ['edgecnn-wasm/t1 vs ort-node/t1'],
  );
});
