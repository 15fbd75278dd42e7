/**
 * Human-readable renderings of bench reports: an aligned text table for the terminal and markdown tables for
 * the repository suite. Ratios are printed as speedups (peer median / config median, >1 = faster) with the
 * bootstrap 95% interval, because "1.3x faster [1.25, 1.36]" reads better than a time ratio.
 */
import type { BenchReport, ConfigResult } from './harness.js';

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function ms(x: number | undefined): string {
  if (x === undefined) return '-';
  return x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toFixed(3);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function configRow(c: ConfigResult): string[] {
  const s = c.measured?.summary;
  return [
    c.id,
    ms(s?.medianMs),
    ms(s?.p90Ms),
    ms(s?.p99Ms),
    ms(s?.minMs),
    ms(s?.maxMs),
    ms(s?.stddevMs),
    ms(c.underLoad?.summary.medianMs),
    ms(c.underLoad?.summary.p99Ms),
    ms(c.cold?.loadMs),
    ms(c.cold?.firstRunMs),
    formatBytes(c.memory?.peakRssBytes),
    formatBytes(c.memory?.arenaBytes),
  ];
}

const HEADER = [
  'config',
  'median',
  'p90',
  'p99',
  'min',
  'max',
  'stddev',
  'busy med',
  'busy p99',
  'load→ready',
  '1st run',
  'peak RSS',
  'arena',
];

/** The terminal summary of one report. */
export function formatReportText(r: BenchReport): string {
  const e = r.environment;
  const n = r.settings.runs !== undefined ? `${r.settings.runs} runs` : `${r.settings.minTimeS}s`;
  const out = [
    `${r.model.name}: ${formatBytes(r.model.sizeBytes)}, sha256 ${r.model.sha256.slice(0, 12)}`,
    `${e.machineKind} (${e.cpuModel}), Node ${e.node}, V8 ${e.v8}, wasm simd=${e.wasm.simd} relaxed=${e.wasm.relaxedSimd} threads=${e.wasm.threads}`,
    ...(r.settings.hostExecArgv?.length ? [`measured processes run with ${r.settings.hostExecArgv.join(' ')}`] : []),
    `${n} per configuration after ${r.settings.warmup} warm-up, interleaved round-robin; times in ms` +
      (r.settings.underLoad ? `; "busy" columns: under ${r.settings.underLoad} busy background threads` : ''),
    '',
  ];
  const header = r.settings.underLoad ? HEADER : HEADER.filter((h) => !h.startsWith('busy '));
  const rows = r.configs
    .filter((c) => c.status === 'ok')
    .map((c) => {
      const row = configRow(c);
      return r.settings.underLoad ? row : row.filter((_, i) => i !== 7 && i !== 8);
    });
  out.push(table(header, rows));
  for (const c of r.configs) if (c.status !== 'ok') out.push(`${c.id}: ${c.status} (${c.reason})`);
  if (r.ratios.length > 0) out.push('');
  for (const q of r.ratios) {
    const t = q.timeRatio;
    let line = `${q.config} vs ${q.vs}: ${(1 / t.ratio).toFixed(2)}x speed (95% CI ${(1 / t.hi).toFixed(2)}-${(1 / t.lo).toFixed(2)})`;
    if (q.underLoad) line += `, under load ${(1 / q.underLoad.ratio).toFixed(2)}x`;
    out.push(line);
  }
  const diffs = r.configs.filter((c) => c.maxDiffVsOrtNode !== undefined);
  for (const c of diffs) out.push(`${c.id}: max |output - ort-node output| = ${c.maxDiffVsOrtNode!.toExponential(2)}`);
  return out.join('\n');
}

/** A markdown section for the repository suite: one table row per configuration of each model. */
export function formatSuiteMarkdown(
  reports: readonly BenchReport[],
  skipped: { model: string; reason: string }[],
): string {
  const first = reports[0];
  const out = ['# edgecnn benchmark suite', ''];
  if (first) {
    const e = first.environment;
    out.push(
      `Machine kind \`${e.machineKind}\` (${e.cpuModel}, ${e.cores} cores), Node ${e.node}, V8 ${e.v8}; ` +
        `edgecnn ${e.edgecnnVersion} at ${e.edgecnnCommit.slice(0, 12)}; ${first.createdAt}.`,
      `Batch 1; ${first.settings.runs ?? first.settings.minTimeS + 's'} ${first.settings.runs ? 'runs' : ''} per configuration after ` +
        `${first.settings.warmup} warm-up, configurations interleaved round-robin, each in its own process. ` +
        'Times in ms; speed is the peer median over the configuration median (>1 = faster), with its bootstrap 95% CI.',
      '',
    );
  }
  out.push('| model | config | median | p90 | p99 | min | stddev | load→ready | 1st run | peak RSS | speed vs peers |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of reports) {
    for (const c of r.configs) {
      if (c.status !== 'ok') {
        out.push(`| ${r.model.name} | ${c.id} | ${c.status}: ${c.reason?.replace(/\|/g, '/')} | | | | | | | | |`);
        continue;
      }
      const s = c.measured!.summary;
      const speed = r.ratios
        .filter((q) => q.config === c.id)
        .map(
          (q) =>
            `${(1 / q.timeRatio.ratio).toFixed(2)}x vs ${q.vs} [${(1 / q.timeRatio.hi).toFixed(2)}, ${(1 / q.timeRatio.lo).toFixed(2)}]`,
        )
        .join('; ');
      out.push(
        `| ${r.model.name} | ${c.id} | ${ms(s.medianMs)} | ${ms(s.p90Ms)} | ${ms(s.p99Ms)} | ${ms(s.minMs)} | ${ms(s.stddevMs)} | ` +
          `${ms(c.cold?.loadMs)} | ${ms(c.cold?.firstRunMs)} | ${formatBytes(c.memory?.peakRssBytes)} | ${speed} |`,
      );
    }
  }
  for (const s of skipped) out.push('', `- ${s.model}: not run (${s.reason})`);
  return out.join('\n') + '\n';
}

/** JSON indented for reading, with arrays of plain numbers kept on one line (samples, output values). */
export function toReadableJson(value: unknown): string {
  // Only arrays that JSON.stringify broke over lines are touched: a string value never holds a raw newline.
  return JSON.stringify(value, null, 1).replace(
    /\[\n\s*(-?[\d.e+-]+(?:,\n\s*-?[\d.e+-]+)*)\n\s*\]/g,
    (_, body: string) => `[${body.replace(/\s+/g, '')}]`,
  );
}
