/**
 * Plain-text tables for the quantizer's results: per-layer quantization (params, clamp folding, weight SQNR,
 * bias correction, why a layer stayed fp32), sensitivity ranking, and mixed-precision steps.
 */
import type { LayerReport } from './quantize-model.js';
import type { MixedPrecisionResult, SensitivityRow } from './sensitivity.js';

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

const num = (v: number | undefined, digits = 1): string =>
  v === undefined ? '' : Number.isFinite(v) ? v.toFixed(digits) : 'inf';

/** One row per layer. */
export function formatLayerTable(layers: readonly LayerReport[]): string {
  return table(
    ['layer', 'op', 'precision', 'output range', 'scale / zp', 'clamp folded', 'weight SQNR dB', 'bias corr.'],
    layers.map((l) => [
      l.name,
      l.opType,
      l.quantized ? 'int8' : `fp32 (${l.reason ?? ''})`,
      l.output ? `[${l.output.lo.toPrecision(4)}, ${l.output.hi.toPrecision(4)}]` : '',
      l.output ? `${l.output.scale.toPrecision(4)} / ${l.output.zeroPoint}` : '',
      l.clampFolded ? 'yes' : '',
      num(l.weightSqnrDb),
      l.biasCorrection === undefined ? '' : `${(l.biasCorrection * 100).toFixed(2)}%`,
    ]),
  );
}

/** Most sensitive first. */
export function formatSensitivityTable(rows: readonly SensitivityRow[]): string {
  return table(
    ['rank', 'layer', 'op', 'output SQNR dB (only this layer int8)', 'cosine'],
    rows.map((r, i) => [String(i + 1), r.layer, r.opType, num(r.sqnrDb), r.cosine.toFixed(6)]),
  );
}

export function formatMixedPrecision(m: MixedPrecisionResult, budget: number): string {
  const lines = [
    `fp32 top-1 ${m.floatAccuracy.toFixed(2)}%, final int8/mixed top-1 ${m.accuracy.toFixed(2)}% ` +
      `(loss ${(m.floatAccuracy - m.accuracy).toFixed(2)} points, budget ${budget}: ${m.withinBudget ? 'met' : 'NOT met'})`,
    table(
      ['step', 'fp32 layers', 'top-1 %'],
      m.steps.map((s, i) => [
        String(i),
        s.fp32Layers.length === 0 ? '(none)' : s.fp32Layers.join(', '),
        s.accuracy.toFixed(2),
      ]),
    ),
  ];
  if (m.kept.length > 0) lines.push('kept fp32:', ...m.kept.map((k) => `  ${k.layer}: ${k.reason}`));
  else lines.push('every layer is int8');
  lines.push(formatMixedSearches(m, (a) => `top-1 ${a.toFixed(2)}%`));
  return lines.join('\n');
}

/** One line per search order: what it kept fp32 (layers, MACs), its metric, and which one was chosen. */
export function formatMixedSearches(m: MixedPrecisionResult, metric: (accuracy: number) => string): string {
  return m.searches
    .map(
      (s, i) =>
        `${i === 0 ? 'chosen' : 'also tried'}: ${s.order} order, ${s.fp32Layers.length} layer(s) fp32 ` +
        `(${(s.fp32Macs / 1e6).toFixed(1)}M MACs), ${metric(s.accuracy)}${s.withinBudget ? '' : ' (budget NOT met)'}`,
    )
    .join('\n');
}
