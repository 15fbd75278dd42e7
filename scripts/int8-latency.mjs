#!/usr/bin/env node
/**
 * int8 against fp32, per model, in one interleaved run: for each model of ../shared/models (or --models), its
 * int8 QDQ version made by `edgecnn quantize --calibration synthetic` (cached in --int8-dir), then the harness of
 * src/bench measures {edgecnn fp32, edgecnn int8, ort-web fp32, ort-web int8} round-robin in child processes and
 * this prints medians, p90 and the int8/fp32 ratio of medians (below 1: int8 is faster). One thread.
 *
 *   npx tsc -p . && node scripts/int8-latency.mjs [--models mobilenet_v3_small,squeezenet1_1] [--runs 40]
 *       [--peers ort-web|none] [--int8-dir /tmp/edgecnn-int8] [--requantize] [--profile-runs 10] [--json out.json]
 *
 * On a busy machine wall-time medians include time descheduled; --profile-runs N also prints, for the edgecnn
 * configurations, the sum of per-step medians over N profiled runs (which mostly escapes it). Each row ends with
 * the int8 file's size over the fp32 file's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { runBench } = await import(join(root, 'dist/bench/harness.js'));
const { declaredInputs } = await import(join(root, 'dist/bench/bench-model.js'));
const { sharedModelsDir } = await import(join(root, 'dist/bench/suite.js'));

const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    runs: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    peers: { type: 'string', default: 'ort-web' },
    'int8-dir': { type: 'string', default: join(tmpdir(), 'edgecnn-int8') },
    requantize: { type: 'boolean', default: false },
    'profile-runs': { type: 'string', default: '0' },
    json: { type: 'string' },
  },
});
const dir = sharedModelsDir();
const names = values.models
  ? values.models.split(',')
  : Object.keys(JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8'))).filter((n) => !n.endsWith('_keepbn'));
const peers = values.peers === 'none' ? [] : values.peers.split(',');
mkdirSync(values['int8-dir'], { recursive: true });

const rows = [];
for (const name of names) {
  const fp32 = join(dir, `${name}.onnx`);
  const int8 = join(values['int8-dir'], `${name}.int8.onnx`);
  if (values.requantize || !existsSync(int8)) {
    process.stderr.write(`quantizing ${name}...\n`);
    execFileSync(
      process.execPath,
      [join(root, 'dist/cli/main.js'), 'quantize', fp32, '--calibration', 'synthetic', '-o', int8],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  const declared = declaredInputs(new Uint8Array(readFileSync(fp32)), fp32);
  const inputFile = join(dir, `${name}.input.f32`);
  const inputs = declared.map((d, i) => ({
    name: d.name,
    dtype: 'float32',
    shape: d.shape.map((x) => (typeof x === 'number' ? x : 1)),
    source: i === 0 && existsSync(inputFile) ? { file: inputFile } : { seed: 1 },
  }));
  const configs = [];
  for (const target of ['edgecnn-wasm', ...peers]) {
    configs.push({ target, threads: 1, model: { path: fp32, label: 'fp32' } });
    configs.push({ target, threads: 1, model: { path: int8, label: 'int8' } });
  }
  process.stderr.write(`measuring ${name} (${configs.length} configurations interleaved)...\n`);
  const report = await runBench({
    modelPath: fp32,
    configs,
    inputs,
    runs: Number(values.runs),
    warmup: Number(values.warmup),
    profileRuns: Number(values['profile-runs']),
  });
  /** Sum over steps of each step's median time across the profiled runs. */
  const stepSum = (id) => {
    const runs = report.configs.find((c) => c.id === id)?.profileRuns;
    if (!runs || runs.length === 0) return undefined;
    let sum = 0;
    for (let i = 0; i < runs[0].length; i++) {
      const ts = runs.map((r) => r[i].timeMs).sort((x, y) => x - y);
      sum += ts[Math.floor(ts.length / 2)];
    }
    return sum;
  };
  const med = (id) => report.configs.find((c) => c.id === id)?.measured?.summary;
  const row = { model: name, fileBytes: { fp32: statSync(fp32).size, int8: statSync(int8).size } };
  row.fileBytes.int8OverFp32 = row.fileBytes.int8 / row.fileBytes.fp32;
  for (const t of ['edgecnn-wasm', ...peers]) {
    const a = med(`${t}/t1/fp32`);
    const b = med(`${t}/t1/int8`);
    row[t] = {
      fp32: a && { medianMs: a.medianMs, p90Ms: a.p90Ms },
      int8: b && { medianMs: b.medianMs, p90Ms: b.p90Ms },
      int8OverFp32: a && b ? b.medianMs / a.medianMs : undefined,
    };
    const pa = stepSum(`${t}/t1/fp32`);
    const pb = stepSum(`${t}/t1/int8`);
    if (pa !== undefined && pb !== undefined) row[t].stepMedianSumMs = { fp32: pa, int8: pb, int8OverFp32: pb / pa };
  }
  for (const c of report.configs) if (c.status !== 'ok') row[`${c.id} status`] = `${c.status}: ${c.reason}`;
  rows.push(row);
  const f = (x) => (x === undefined ? '-' : x.toFixed(2));
  const cells = ['edgecnn-wasm', ...peers].map((t) => {
    const r = row[t];
    const steps = r.stepMedianSumMs;
    const prof = steps
      ? ` [step medians: fp32 ${f(steps.fp32)} int8 ${f(steps.int8)} ms, ${f(steps.int8OverFp32)}]`
      : '';
    return `${t}: fp32 ${f(r.fp32?.medianMs)} (p90 ${f(r.fp32?.p90Ms)}) int8 ${f(r.int8?.medianMs)} (p90 ${f(r.int8?.p90Ms)}) ms, int8/fp32 ${f(r.int8OverFp32)}${prof}`;
  });
  const size = `file int8/fp32 ${row.fileBytes.int8OverFp32.toFixed(3)}`;
  console.log(`${name.padEnd(20)} ${cells.join(' | ')} | ${size}`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ createdAt: new Date().toISOString(), rows }, null, 2));
