#!/usr/bin/env node
/**
 * Tuned against cost-model kernels, per model, in one interleaved run each: `benchModel` with `tune` first tunes
 * the model in this process (into --tuning-db; --fresh starts from an empty database), then the harness of
 * src/bench measures edgecnn-wasm and edgecnn-wasm-tuned round-robin in child processes. Prints medians, p90,
 * min and the tuned/cost-model ratio of medians (below 1: tuning is faster). One thread unless --threads.
 *
 *   npx tsc -p . && node scripts/tune-latency.mjs [--models mobilenet_v2,resnet18,squeezenet1_1] [--runs 100]
 *       [--budget-ms 30000] [--tuning-db FILE] [--fresh] [--threads 1] [--json out.json]
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { benchModel } = await import(join(root, 'dist/bench/bench-model.js'));
const { sharedModelsDir } = await import(join(root, 'dist/bench/suite.js'));

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'mobilenet_v2,resnet18,squeezenet1_1' },
    runs: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '5' },
    'budget-ms': { type: 'string', default: '30000' },
    'tuning-db': { type: 'string', default: join(tmpdir(), 'edgecnn-tune-latency.json') },
    fresh: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const dbPath = resolve(values['tuning-db']);
if (values.fresh && existsSync(dbPath)) rmSync(dbPath);
const dir = sharedModelsDir();
const threads = Number(values.threads);
const rows = [];
for (const name of values.models.split(',')) {
  const modelPath = join(dir, `${name}.onnx`);
  process.stderr.write(`${name}: tuning (budget ${values['budget-ms']} ms), then measuring interleaved...\n`);
  const report = await benchModel(modelPath, {
    backends: ['wasm'],
    peers: [],
    threads: [threads],
    runs: Number(values.runs),
    warmup: Number(values.warmup),
    tune: { budgetMs: Number(values['budget-ms']), dbPath },
    progress: { start() {}, update() {}, finish() {}, note: (m) => process.stderr.write(`  ${m}\n`) },
  });
  const s = (id) => report.configs.find((c) => c.id === id)?.measured?.summary;
  const a = s(`edgecnn-wasm/t${threads}`);
  const b = s(`edgecnn-wasm-tuned/t${threads}`);
  rows.push({
    model: name,
    costModel: a && { medianMs: a.medianMs, p90Ms: a.p90Ms, minMs: a.minMs },
    tuned: b && { medianMs: b.medianMs, p90Ms: b.p90Ms, minMs: b.minMs },
    ratio: a && b ? b.medianMs / a.medianMs : undefined,
  });
}
const f = (x) => (x === undefined ? '-' : x.toFixed(2));
console.log(`threads ${threads}, ${values.runs} runs per configuration, interleaved; database ${dbPath}`);
console.log('model            cost-model median  p90     min     tuned median  p90     min     tuned/cost');
for (const r of rows) {
  console.log(
    `${r.model.padEnd(17)}${f(r.costModel?.medianMs).padStart(17)}  ${f(r.costModel?.p90Ms).padStart(6)}  ${f(r.costModel?.minMs).padStart(6)}` +
      `  ${f(r.tuned?.medianMs).padStart(12)}  ${f(r.tuned?.p90Ms).padStart(6)}  ${f(r.tuned?.minMs).padStart(6)}  ${f(r.ratio).padStart(10)}`,
  );
}
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 1) + '\n');
