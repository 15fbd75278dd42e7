import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { benchModel, buildConfigs } from './bench-model.js';
import { createProgress } from './progress.js';
import { writeTinyCnn } from './tiny-model.js';
import { modelHash } from './environment.js';

test('configurations are backends and peers crossed with thread counts; bad names are refused', () => {
  assert.deepEqual(
    buildConfigs(['wasm'], ['ort-web'], [1, 2]).map((c) => `${c.target}/t${c.threads}`),
    ['edgecnn-wasm/t1', 'ort-web/t1', 'edgecnn-wasm/t2', 'ort-web/t2'],
  );
  assert.deepEqual(buildConfigs([], ['none', 'ort-node'], [1]), [{ target: 'ort-node', threads: 1 }]);
  assert.throws(() => buildConfigs(['webgpu'], [], [1]), /unknown backend 'webgpu'/);
  assert.throws(() => buildConfigs([], ['tflite'], [1]), /unknown peer 'tflite'/);
  assert.throws(() => buildConfigs(['wasm'], [], [0]), /--threads/);
  assert.throws(() => buildConfigs([], ['none'], [1]), /nothing to measure/);
});

test('a bench run measures every configuration with the full set of statistics', async () => {
  const model = writeTinyCnn({ size: 16 });
  const lines: string[] = [];
  const report = await benchModel(model, {
    backends: ['wasm', 'reference'],
    peers: ['ort-web', 'ort-node'],
    threads: [1, 2],
    runs: 12,
    warmup: 2,
    underLoad: 1,
    profileRuns: 2,
    progress: createProgress({ isTTY: false, write: (s) => lines.push(s) }),
  });
  assert.equal(report.schema, 'edgecnn-bench/1');
  assert.equal(report.model.sha256, modelHash(new Uint8Array(readFileSync(model))));
  assert.equal(report.model.name, 'tiny_cnn');
  assert.ok(report.environment.cores >= 1);
  const byId = new Map(report.configs.map((c) => [c.id, c]));
  // The reference backend is single-threaded: its t2 configuration is skipped with a reason, not faked.
  assert.equal(byId.get('edgecnn-reference/t2')!.status, 'skipped');
  assert.match(byId.get('edgecnn-reference/t2')!.reason!, /one thread/);
  for (const id of [
    'edgecnn-wasm/t1',
    'edgecnn-reference/t1',
    'ort-web/t1',
    'ort-node/t1',
    'edgecnn-wasm/t2',
    'ort-web/t2',
    'ort-node/t2',
  ]) {
    const c = byId.get(id)!;
    assert.equal(c.status, 'ok', `${id}: ${c.reason}`);
    const s = c.measured!.summary;
    assert.equal(c.measured!.samplesMs.length, 12);
    assert.ok(s.minMs <= s.medianMs && s.medianMs <= s.p90Ms && s.p90Ms <= s.p99Ms && s.p99Ms <= s.maxMs, id);
    assert.ok(s.minMs > 0);
    assert.equal(c.underLoad!.samplesMs.length, 12);
    assert.equal(c.underLoad!.workers, 1);
    assert.ok(c.cold!.loadMs > 0 && c.cold!.firstRunMs > 0);
    assert.ok(c.memory!.peakRssBytes > c.memory!.rssBeforeLoadBytes, `${id} peak RSS grows with the model`);
    assert.equal(c.outputs![0]!.values.length, 10);
    if (id !== 'ort-node/t1') assert.ok(c.maxDiffVsOrtNode! < 1e-4, `${id} agrees with ort-node`);
  }
  assert.ok(byId.get('edgecnn-wasm/t1')!.memory!.arenaBytes! > 0);
  assert.equal(byId.get('edgecnn-wasm/t1')!.profileRuns!.length, 2);
  assert.equal(byId.get('ort-web/t1')!.profileRuns, undefined);
  assert.deepEqual(
    report.ratios.map((r) => `${r.config} vs ${r.vs}`),
    [
      'edgecnn-wasm/t1 vs ort-web/t1',
      'edgecnn-wasm/t1 vs ort-node/t1',
      'edgecnn-reference/t1 vs ort-web/t1',
      'edgecnn-reference/t1 vs ort-node/t1',
      'edgecnn-wasm/t2 vs ort-web/t2',
      'edgecnn-wasm/t2 vs ort-node/t2',
    ],
  );
  for (const r of report.ratios) assert.ok(r.timeRatio.lo <= r.timeRatio.ratio && r.timeRatio.ratio <= r.timeRatio.hi);
  const text = lines.join('');
  assert.match(text, /loading ort-web\/t2\n/);
  assert.match(text, /measuring under load \(1 busy threads\): done/);
});

test('configurations are measured interleaved, one run each per round', async () => {
  const model = writeTinyCnn({ size: 12 });
  const report = await benchModel(model, { backends: ['wasm'], peers: ['ort-node'], runs: 6, warmup: 1 });
  const [a, b] = report.configs.map((c) => c.measured!.startedAtMs);
  for (let i = 0; i < 6; i++) {
    assert.ok(a![i]! < b![i]!, `round ${i}: first configuration runs first`);
    if (i > 0) assert.ok(b![i - 1]! < a![i]!, `round ${i} starts after round ${i - 1} ended`);
  }
});

test('--min-time measures until each configuration has that much time and at least 10 runs', async () => {
  const model = writeTinyCnn({ size: 12 });
  const report = await benchModel(model, { backends: ['wasm'], peers: ['none'], minTimeS: 0.05, warmup: 1 });
  const m = report.configs[0]!.measured!;
  assert.ok(m.samplesMs.length >= 10);
  assert.ok(m.samplesMs.reduce((x, y) => x + y, 0) >= 50);
  assert.equal(report.settings.minTimeS, 0.05);
  assert.equal(report.settings.runs, undefined);
});

test('a configuration that does not answer in time is stopped and reported, not waited on', async () => {
  const model = writeTinyCnn({ size: 12 });
  const { runBench } = await import('./harness.js');
  const { planInputs } = await import('./inputs.js');
  const inputs = planInputs([{ name: 'input', dtype: 'float32', shape: [1, 3, 12, 12] }]);
  await assert.rejects(
    runBench({ modelPath: model, inputs, configs: [{ target: 'ort-node', threads: 1 }], loadTimeoutMs: 1 }),
    /no configuration could run: ort-node\/t1: ort-node\/t1 did not answer 'load' within 0 s; stopped it/,
  );
});

test('a missing model file is a clear error', async () => {
  await assert.rejects(benchModel('no/such/model.onnx'), /model file 'no\/such\/model.onnx' does not exist/);
});
