/**
 * `edgecnn tune` and the `--tune` flags end to end on a small built model: the report lists every choice point
 * with both kernels and times, the database file is written and read back on the next run, run --tune works,
 * and misuse of the flags is a clear error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { GraphBuilder } from '../ir/builder.js';
import { saveModel } from '../onnx/index.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edgecnn-cli-tune-'));
// The default database lives under XDG_CACHE_HOME: point it into the temp folder so tests never touch ~/.cache.
const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') };

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const b = new GraphBuilder('tune-cli');
const x = b.input('x', 'float32', [1, 8, 12, 12]);
const c = b.node('Relu', [b.node('Conv', [x, b.randomInit('w', [16, 8, 3, 3], 1)], { pads: [1, 1, 1, 1] })]);
const d = b.node('Conv', [c, b.randomInit('wd', [16, 1, 3, 3], 2)], { pads: [1, 1, 1, 1], group: 16 });
const p = b.node('Conv', [d, b.randomInit('wp', [8, 16, 1, 1], 3)]);
b.output(b.node('Flatten', [b.node('GlobalAveragePool', [p])]), 'float32');
const model = join(dir, 'm.onnx');
await saveModel(b.model(13), model);

test('edgecnn tune prints cost-model and tuned kernels per step and fills the database', () => {
  const db = join(dir, 'db.json');
  const r = cli('tune', model, '--db', db, '--budget-ms', '20000');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /cost model\s+tuned\s+cost ms\s+tuned ms\s+speedup\s+source/);
  assert.match(r.out, /f32-winograd-relu|f32-conv-relu/);
  assert.match(r.out, /f32-dwconv-/);
  assert.match(r.out, /3 distinct kernel specs: 3 measured, 0 from the database/);
  const file = JSON.parse(readFileSync(db, 'utf8')) as { records: { variantId: string; timesMs: object }[] };
  assert.equal(file.records.length, 3);
  const again = cli('tune', model, '--db', db, '--json');
  assert.equal(again.code, 0, again.err);
  const report = JSON.parse(again.out) as { specs: { fromDb: number; measured: number }; steps: unknown[] };
  assert.deepEqual([report.specs.fromDb, report.specs.measured], [3, 0]);
  assert.equal(report.steps.length, 3);
});

test('run --tune uses the default database under XDG_CACHE_HOME', () => {
  const r = cli('run', model, '--tune', '--budget-ms', '20000', '--threads', '1');
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(join(dir, 'cache', 'edgecnn', 'tuning.json')));
});

test('tuning flags without --tune, and a foreign database file, are clear errors', () => {
  const r = cli('run', model, '--budget-ms', '10');
  assert.equal(r.code, 2);
  assert.match(r.err, /--budget-ms and --tuning-db need --tune/);
  const bad = cli('tune', model, '--db', model);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /tuning database .*m\.onnx is not JSON/);
});

test('bench --tune measures edgecnn-wasm-tuned beside edgecnn-wasm in the same run', () => {
  const db = join(dir, 'bench-db.json');
  const r = cli(
    'bench',
    model,
    '--tune',
    '--tuning-db',
    db,
    '--vs',
    'none',
    '--runs',
    '3',
    '--warmup',
    '1',
    '--json',
    '-',
  );
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out) as { configs: { id: string; status: string }[] };
  assert.deepEqual(
    report.configs.map((c) => [c.id, c.status]),
    [
      ['edgecnn-wasm/t1', 'ok'],
      ['edgecnn-wasm-tuned/t1', 'ok'],
    ],
  );
  assert.ok(existsSync(db));
});
