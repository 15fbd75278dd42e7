// The quantization closing-note numbers, as markdown on stdout (run after `npx tsc -p .`, from the repo root):
//   node scripts/quantize-report.mjs [--fashion] [--torchvision] [--sensitivity] [--qdq] [--engine onnxruntime|reference]
//     [--models mobilenet_v2,resnet18] [--samples 8] [--empirical]
// --fashion: fp32 and int8 top-1 on the 10,000 Fashion-MNIST test images per calibration method (calibration on
// 512 training images). --torchvision: cosine of int8 (synthetic calibration) vs PyTorch's fp32 output on the shared
// input, all-int8 (also on held-out synthetic inputs, and the ceiling: fp32 with its input on the int8 grid;
// --empirical adds empirical bias correction) and with --min-cosine 0.99 mixed precision, and file sizes.
// --sensitivity: mobilenet_v2's table.
// --qdq: our QDQ export and the shared QDQ import, reference executor vs onnxruntime-node.
// Measurements run on --engine (default onnxruntime: fast; the reference executor gives the same QDQ semantics).
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel, writeModel } from '../dist/onnx/index.js';
import { makeTensor } from '../dist/ir/tensor.js';
import { syntheticSamples, loadCalibrationSamples } from '../dist/datasets/calibration-source.js';
import {
  agreement,
  buildQdqModel,
  calibrateModel,
  evaluateTop1,
  fitCosineBudget,
  formatSensitivityTable,
  layerSensitivity,
  CALIBRATION_METHODS,
  empiricalBiasCorrection,
} from '../dist/quantize/index.js';
import { RUNNERS, fashionMnistTestSet, onnxruntimeCollector, parseEngine } from '../dist/cli/eval.js';

const args = process.argv.slice(2);
const flag = (n) => args.includes(`--${n}`);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const engine = parseEngine(opt('engine', 'onnxruntime'), 'onnxruntime');
const run = RUNNERS[engine];
const collector = engine === 'onnxruntime' ? { collector: onnxruntimeCollector } : {};
const MODELS = resolve('../shared/models');
const f32 = (p) => {
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const all = !['fashion', 'torchvision', 'sensitivity', 'qdq'].some(flag);
const say = (s = '') => console.log(s);

if (all || flag('fashion')) {
  const model = await loadModel('fixtures/fashion-mnist-dsconv.onnx');
  const data = fashionMnistTestSet(model);
  const samples = loadCalibrationSamples(model, 'fashion-mnist:512');
  const cal = await calibrateModel(model, samples, collector);
  const fp = await evaluateTop1(await run(cal.model), data, { batch: 100 });
  say(`## Fashion-MNIST (fixtures/fashion-mnist-dsconv.onnx), 10,000 test images, engine ${engine}`);
  say('| model | top-1 % | vs fp32 (points) |');
  say('|---|---|---|');
  say(`| fp32 | ${fp.top1.toFixed(2)} | |`);
  for (const perChannel of [true, false]) {
    for (const method of CALIBRATION_METHODS) {
      const q = buildQdqModel(cal, { method, perChannel });
      const r = await evaluateTop1(await run(q.model), data, { batch: 100 });
      say(
        `| int8 ${method}${perChannel ? '' : ' per-tensor'} | ${r.top1.toFixed(2)} | ${(r.top1 - fp.top1).toFixed(2)} |`,
      );
    }
  }
  const nb = await evaluateTop1(await run(buildQdqModel(cal, { biasCorrection: false }).model), data, { batch: 100 });
  say(`| int8 mse, no bias correction | ${nb.top1.toFixed(2)} | ${(nb.top1 - fp.top1).toFixed(2)} |`);
  const i8 = await evaluateTop1(await run(buildQdqModel(cal, { activations: 'int8' }).model), data, { batch: 100 });
  say(`| int8 mse, int8 activations | ${i8.top1.toFixed(2)} | ${(i8.top1 - fp.top1).toFixed(2)} |`);
  const offsets = await empiricalBiasCorrection(cal, samples, collector);
  const eb = await evaluateTop1(await run(buildQdqModel(cal, { biasOffsets: offsets }).model), data, { batch: 100 });
  say(`| int8 mse, + empirical bias correction | ${eb.top1.toFixed(2)} | ${(eb.top1 - fp.top1).toFixed(2)} |`);
  say();
}

if (all || flag('torchvision')) {
  const names = opt(
    'models',
    'mobilenet_v2,mobilenet_v3_small,efficientnet_b0,resnet18,squeezenet1_1,shufflenet_v2_x1_0',
  ).split(',');
  const n = Number(opt('samples', '8'));
  say(
    `## torchvision models, synthetic calibration (${n} seeded N(0,1) samples), cosine vs PyTorch fp32 on NAME.input.f32, engine ${engine}`,
  );
  // Ceiling: the fp32 model with only its input rounded to the int8 grid that all-int8 models quantize it to
  // (what the first int8 layer sees at best). Held-out: mean cosine on 4 synthetic inputs of another seed vs our
  // fp32 run (a second view of the same error; the one shared input is a single draw of it).
  const empirical = flag('empirical');
  say(
    `| model | int8 layers | cosine all-int8 (mse) | held-out mean | fp32, input on the int8 grid | best method: cosine |${empirical ? ' + empirical bias correction |' : ''} mixed (min-cosine 0.99 on 2 calib. samples): fp32 layers (order, their MACs), cosine | size int8 / fp32 |`,
  );
  say(`|---|---|---|---|---|---|${empirical ? '---|' : ''}---|---|`);
  for (const name of names) {
    const model = await loadModel(resolve(MODELS, `${name}.onnx`));
    const x = makeTensor('float32', [1, 3, 224, 224], f32(resolve(MODELS, `${name}.input.f32`)));
    const want = makeTensor('float32', [1, 1000], f32(resolve(MODELS, `${name}.output.f32`)));
    const samples = syntheticSamples([1, 3, 224, 224], n);
    const cal = await calibrateModel(model, samples, collector);
    const cos = async (m) => agreement(want, await (await run(m))(x)).cosine;
    const base = buildQdqModel(cal, {});
    const c0 = await cos(base.model);
    const held = syntheticSamples([1, 3, 224, 224], 4, 777);
    const fpRun = await run(cal.model);
    const heldCos = async (m) => {
      const r = await run(m);
      let s = 0;
      for (const h of held) s += agreement(await fpRun(h), await r(h)).cosine;
      return s / held.length;
    };
    const h0 = await heldCos(base.model);
    const inQ = base.model.graph.nodes.find((nd) => nd.opType === 'QuantizeLinear' && nd.inputs[0] === 'input');
    const sIn = Number(base.model.graph.initializers.get(inQ.inputs[1]).data[0]);
    const zIn = Number(base.model.graph.initializers.get(inQ.inputs[2]).data[0]);
    const onGrid = Float32Array.from(
      x.data,
      (v) => sIn * (Math.min(255, Math.max(0, Math.round(v / sIn) + zIn)) - zIn),
    );
    const ceiling = agreement(want, await fpRun(makeTensor('float32', x.shape, onGrid))).cosine;
    let ce = '';
    if (empirical) {
      const offsets = await empiricalBiasCorrection(cal, samples, collector);
      ce = ` ${(await cos(buildQdqModel(cal, { biasOffsets: offsets }).model)).toFixed(4)} |`;
    }
    let best = ['mse', c0];
    for (const method of ['minmax', 'percentile', 'entropy']) {
      const c = await cos(buildQdqModel(cal, { method }).model);
      if (c > best[1]) best = [method, c];
    }
    const ranked = await layerSensitivity(cal, samples.slice(0, 2), { runner: run });
    const mp = await fitCosineBudget(cal, ranked, samples.slice(0, 2), 0.99, { runner: run });
    const c1 = await cos(mp.result.model);
    const bytes = writeModel(base.model).length;
    const q = base.layers.filter((l) => l.quantized).length;
    say(
      `| ${name} | ${q}/${base.layers.length} | ${c0.toFixed(4)} | ${h0.toFixed(4)} | ${ceiling.toFixed(4)} | ${best[0]}: ${best[1].toFixed(4)} |${ce} ${mp.kept.length} (${mp.order}, ${(mp.fp32Macs / 1e6).toFixed(1)}M): ${c1.toFixed(4)} | ${(bytes / statSync(resolve(MODELS, `${name}.onnx`)).size).toFixed(3)} |`,
    );
  }
  say();
}

if (all || flag('sensitivity')) {
  const model = await loadModel(resolve(MODELS, 'mobilenet_v2.onnx'));
  const samples = syntheticSamples([1, 3, 224, 224], 8);
  const cal = await calibrateModel(model, samples, collector);
  const rows = await layerSensitivity(cal, samples.slice(0, 2), { runner: run, allLayers: true });
  say(
    `## mobilenet_v2 sensitivity: output SQNR / cosine vs fp32 with only that layer int8 (2 synthetic samples, engine ${engine})`,
  );
  say(formatSensitivityTable(rows.slice(0, Number(opt('rows', '15')))));
  say(`(${rows.length} layers; least sensitive: ${rows.at(-1).layer} ${rows.at(-1).sqnrDb.toFixed(1)} dB)`);
  say();
}

if (all || flag('qdq')) {
  const ort = (await import('onnxruntime-node')).default;
  say('## QDQ round trip: reference executor vs onnxruntime-node on the same QDQ file');
  say('| model | cosine | max abs diff | ref vs fp32 cosine | ort vs fp32 cosine |');
  say('|---|---|---|---|---|');
  const x = makeTensor('float32', [1, 3, 224, 224], f32(resolve(MODELS, 'mobilenet_v2.input.f32')));
  const want = makeTensor('float32', [1, 1000], f32(resolve(MODELS, 'mobilenet_v2.output.f32')));
  const ours = await calibrateModel(
    await loadModel(resolve(MODELS, 'mobilenet_v2.onnx')),
    syntheticSamples([1, 3, 224, 224], 8),
    collector,
  );
  const fm = await loadModel('fixtures/fashion-mnist-dsconv.onnx');
  const fmCal = await calibrateModel(fm, loadCalibrationSamples(fm, 'fashion-mnist:512'), collector);
  const fx = fashionMnistTestSet(fm).batch(0, 100);
  const cases = [
    ['edgecnn QDQ export of fashion-mnist-dsconv (100 test images)', buildQdqModel(fmCal, {}).model, fx, undefined],
    ['edgecnn QDQ export of mobilenet_v2', buildQdqModel(ours, {}).model, x, want],
    [
      'mobilenet_v2.int8_qdq.onnx (other tool)',
      await loadModel(resolve(MODELS, 'mobilenet_v2.int8_qdq.onnx')),
      x,
      want,
    ],
  ];
  for (const [label, m, input, ref] of cases) {
    const a = await (await RUNNERS.reference(m))(input);
    const s = await ort.InferenceSession.create(writeModel(m), { logSeverityLevel: 3, intraOpNumThreads: 1 });
    const inName = m.graph.inputs[0].name;
    const o = (await s.run({ [inName]: new ort.Tensor('float32', input.data, [...input.shape]) }))[s.outputNames[0]];
    const b = makeTensor('float32', a.shape, o.data);
    const g = agreement(a, b);
    say(
      `| ${label} | ${g.cosine.toFixed(6)} | ${g.maxAbsDiff.toExponential(2)} | ${ref ? agreement(ref, a).cosine.toFixed(4) : ''} | ${ref ? agreement(ref, b).cosine.toFixed(4) : ''} |`,
    );
  }
  say();
}
