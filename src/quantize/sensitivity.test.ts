import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syntheticSamples } from '../datasets/calibration-source.js';
import { calibrateModel } from './quantize-model.js';
import { fitAccuracyBudget, fitCosineBudget, layerSensitivity } from './sensitivity.js';
import { tinyQuantModel } from './testing.js';
import type { Model } from '../ir/graph.js';

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
  const r = await fitAccuracyBudget(cal, ranked, 1, evaluate);
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
  const none = await fitAccuracyBudget(cal, ranked, 5, evaluate);
  assert.equal(none.kept.length, 0);
});

test('cosine budget: nothing kept when already met; every ranked layer tried when unreachable', async () => {
  const cal = await calibrateModel(tinyQuantModel(), samples);
  const ranked = await layerSensitivity(cal, samples.slice(0, 2));
  const easy = await fitCosineBudget(cal, ranked, samples.slice(0, 2), 0.5);
  assert.equal(easy.kept.length, 0);
  assert.equal(easy.withinBudget, true);
  const hard = await fitCosineBudget(cal, ranked, samples.slice(0, 2), 1 - 1e-12);
  assert.equal(hard.kept.length, ranked.length);
  assert.equal(hard.withinBudget, false, 'Add/Concat/pool tensors stay int8, so the output cannot equal fp32');
  assert.match(hard.kept[0]!.reason, /^output cosine 0\.\d{8} < 0\.999999999999; most sensitive/);
});
