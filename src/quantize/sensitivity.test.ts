import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syntheticSamples } from '../datasets/calibration-source.js';
import { calibrateModel } from './quantize-model.js';
import { fitAccuracyBudget, fitCosineBudget, layerSensitivity } from './sensitivity.js';
import { tinyQuantModel } from './testing.js';
import type { Model } from '../ir/graph.js';
import { summarizeModel } from '../ops/model-summary.js';

const samples = syntheticSamples([1, 3, 12, 12], 6);

test('sensitivity ranks every weighted layer by output SQNR, worst first', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const rows = await layerSensitivity(cal, samples.slice(0, 2), { method: 'minmax' });
  assert.deepEqual(rows.map((r) => r.layer).sort(), ['branch_a', 'dw', 'fc', 'pw', 'stem']);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.sqnrDb <= rows[i]!.sqnrDb);
  assert.ok(
    rows.every((r) => r.sqnrDb > 15 && r.sqnrDb < 200 && r.cosine > 0.95),
    JSON.stringify(rows),
  );
  const all = await layerSensitivity(cal, samples.slice(0, 1), { allLayers: true });
  assert.ok(all.some((r) => r.opType === 'Concat') && all.some((r) => r.opType === 'Add'));
});

test('mixed precision keeps layers fp32 in sensitivity order until the budget is met, saying why', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const ranked = await layerSensitivity(cal, samples.slice(0, 2));
  // A stand-in accuracy that rises by 1 point per fp32 layer, so the loop must keep exactly 2 layers for budget 1.
  const evaluate = async (m: Model): Promise<number> => {
    if (m === cal.model) return 100;
    const floatConvs = m.graph.nodes.filter(
      (n) =>
        ['Conv', 'Gemm'].includes(n.opType) &&
        !m.graph.nodes.some((d) => d.opType === 'DequantizeLinear' && d.outputs[0] === n.inputs[1]),
    ).length;
    return 97 + floatConvs;
  };
  const r = await fitAccuracyBudget(cal, ranked, 1, evaluate, { order: 'sensitivity' });
  assert.equal(r.withinBudget, true);
  assert.deepEqual(
    r.kept.map((k) => k.layer),
    ranked.slice(0, 2).map((x) => x.layer),
  );
  assert.deepEqual(
    r.steps.map((s) => s.accuracy),
    [97, 98, 99],
  );
  for (const k of r.kept) {
    const rep = r.result.layers.find((l) => l.name === k.layer)!;
    assert.equal(rep.quantized, false);
    assert.match(rep.reason!, /budget 1; most sensitive remaining layer/);
  }
  const none = await fitAccuracyBudget(cal, ranked, 5, evaluate, { order: 'sensitivity' });
  assert.equal(none.kept.length, 0);
});

test('cosine budget: nothing kept when already met; every ranked layer tried when unreachable', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const ranked = await layerSensitivity(cal, samples.slice(0, 2));
  const easy = await fitCosineBudget(cal, ranked, samples.slice(0, 2), 0.5, { order: 'sensitivity' });
  assert.equal(easy.kept.length, 0);
  assert.equal(easy.withinBudget, true);
  const hard = await fitCosineBudget(cal, ranked, samples.slice(0, 2), 1 - 1e-12, { order: 'sensitivity' });
  assert.equal(hard.kept.length, ranked.length);
  assert.equal(hard.withinBudget, false, 'Add/Concat/pool tensors stay int8, so the output cannot equal fp32');
  assert.match(hard.kept[0]!.reason, /^output cosine 0\.\d{8} < 0\.999999999999; most sensitive/);
});

/** A stand-in accuracy: 97 + one point per float Conv/Gemm (weight not fed by a DequantizeLinear). */
const floatConvAccuracy =
  (float: Model) =>
  async (m: Model): Promise<number> => {
    if (m === float) return 100;
    return (
      97 +
      m.graph.nodes.filter(
        (n) =>
          ['Conv', 'Gemm'].includes(n.opType) &&
          !m.graph.nodes.some((d) => d.opType === 'DequantizeLinear' && d.outputs[0] === n.inputs[1]),
      ).length
    );
  };

test('depth order keeps a float prefix in graph order; cheapest keeps the search with fewer fp32 MACs', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const ranked = await layerSensitivity(cal, samples.slice(0, 2));
  const evaluate = floatConvAccuracy(cal.model);
  const depth = await fitAccuracyBudget(cal, ranked, 1, evaluate, { order: 'depth' });
  assert.equal(depth.withinBudget, true);
  assert.equal(depth.order, 'depth');
  const names = cal.layers.map((l) => l.name);
  assert.deepEqual(
    depth.kept.map((k) => k.layer),
    names.slice(0, depth.kept.length),
    'a prefix of the layers in graph order',
  );
  assert.equal(depth.kept.filter((k) => cal.layers.find((l) => l.name === k.layer)!.weight).length, 2);
  assert.match(depth.kept[0]!.reason, /next layer from the input/);
  const sens = await fitAccuracyBudget(cal, ranked, 1, evaluate, { order: 'sensitivity' });
  const macs = new Map(summarizeModel(cal.model).layers.map((l) => [l.name, l.macs]));
  const sum = (r: typeof depth): number => r.kept.reduce((t, k) => t + macs.get(k.layer)!, 0);
  assert.equal(depth.fp32Macs, sum(depth));
  assert.equal(sens.fp32Macs, sum(sens));
  assert.notEqual(depth.fp32Macs, sens.fp32Macs, 'the fixture must tell the two orders apart');
  const cheapest = await fitAccuracyBudget(cal, ranked, 1, evaluate);
  const want = depth.fp32Macs < sens.fp32Macs ? depth : sens;
  assert.equal(cheapest.order, want.order);
  assert.deepEqual(
    cheapest.kept.map((k) => k.layer),
    want.kept.map((k) => k.layer),
  );
  assert.deepEqual(
    cheapest.searches.map((x) => x.order),
    [want.order, want.order === 'depth' ? 'sensitivity' : 'depth'],
  );
  for (const k of cheapest.kept) assert.equal(cheapest.result.layers.find((l) => l.name === k.layer)!.quantized, false);
  await assert.rejects(
    fitAccuracyBudget(cal, ranked, 1, evaluate, { order: 'random' as never }),
    /mixed precision order 'random'/,
  );
});

test('cheapest prefers the search within budget, else the more accurate one', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const ranked = await layerSensitivity(cal, samples.slice(0, 2));
  // Sensitivity order only knows weighted layers; with no rows it keeps nothing and misses the budget.
  const r = await fitAccuracyBudget(cal, [], 1, floatConvAccuracy(cal.model));
  assert.equal(r.order, 'depth');
  assert.equal(r.withinBudget, true);
  assert.equal(r.searches[1]!.withinBudget, false);
  // A gain of 10 points is out of reach (5 convs give 102): the more accurate search (depth, every layer) wins.
  const unreachable = await fitAccuracyBudget(cal, ranked.slice(0, 1), -10, floatConvAccuracy(cal.model));
  assert.equal(unreachable.withinBudget, false);
  assert.deepEqual(
    unreachable.searches.map((x) => [x.order, x.accuracy]),
    [
      ['depth', 102],
      ['sensitivity', 98],
    ],
  );
  assert.equal(unreachable.accuracy, 102);
});
