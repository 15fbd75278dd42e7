/**
 * One self-contained HTML report: the data as an inline JSON block, echarts (node_modules/echarts/dist/
 * echarts.min.js) inlined, and a small page script that draws a latency histogram per configuration, a
 * per-operator bar chart, a timeline of one inference, and a roofline plot. Nothing is fetched, so the file
 * opens offline and can be attached to a CI run. Every chart element carries `data-chart="<kind>"` and the
 * page sets `window.__edgecnnReady` once all charts are drawn, which is what the browser test waits for.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BenchReport } from '../bench/harness.js';
import type { Roof } from '../bench/roof.js';
import { histogram, quantile } from '../bench/stats.js';
import type { ProfileSummary } from './aggregate.js';

export interface ReportInput {
  title: string;
  bench?: BenchReport;
  profile?: { config: string; summary: ProfileSummary };
  roof?: Roof;
  /** A peer's own per-op-type times (e.g. onnxruntime-node's profiler), drawn beside edgecnn's. */
  peerOps?: { config: string; byOpType: { key: string; totalMs: number; count: number }[] };
}

/** The chart data the page draws, computed here so tests can compare what the browser shows with it. */
export interface ReportData {
  title: string;
  subtitle: string;
  histograms: {
    config: string;
    /** Bin centres in ms; the last label is "> X" when an overflow bin holds the slowest samples. */
    labels: string[];
    counts: number[];
    underLoadCounts?: number[];
    medianMs: number;
    p99Ms: number;
  }[];
  summaryRows: string[][];
  /** Speed of each edgecnn configuration against each peer: [config, vs, speed, 95% CI, under load]. */
  ratioRows: string[][];
  ops?: { opType: string; totalMs: number; share: number; count: number }[];
  /** Per op type, edgecnn's and the peer's summed per-node medians (0 where a runtime has no such op). */
  opsVsPeer?: { peer: string; opTypes: string[]; oursMs: number[]; peerMs: number[] };
  timeline?: { lane: string; name: string; kernel: string; startMs: number; durMs: number }[];
  roofline?: {
    points: { name: string; opType: string; intensity: number; gflops: number; ms: number; share: number }[];
    peakGflops?: number;
    peakKind?: string;
    bandwidthGBs?: number;
    cacheBandwidthGBs?: number;
  };
  profileConfig?: string;
}

const fmt = (x: number | undefined, d = 3): string => (x === undefined ? '-' : x.toFixed(d));

/** Compute the chart data for a report. */
export function reportData(input: ReportInput): ReportData {
  const b = input.bench;
  const ok = b?.configs.filter((c) => c.status === 'ok' && c.measured) ?? [];
  const histograms = ok.map((c) => {
    // Bins span [min, p98] of all samples; slower outliers share one overflow bin so that a single
    // preempted run does not squeeze the body of the distribution into one bar.
    const all = [...c.measured!.samplesMs, ...(c.underLoad?.samplesMs ?? [])];
    const lo = Math.min(...all);
    let hi = quantile(all, 0.98);
    if (!(hi > lo)) hi = Math.max(...all);
    const body = histogram(
      all.filter((x) => x <= hi),
      30,
    );
    const w = body.edges[1]! - body.edges[0]!;
    const overflow = all.some((x) => x > hi);
    const labels = body.counts.map((_, k) => ((body.edges[k]! + body.edges[k + 1]!) / 2).toFixed(3));
    if (overflow) labels.push(`> ${hi.toFixed(3)}`);
    const countIn = (xs: readonly number[]): number[] => {
      const counts = new Array<number>(labels.length).fill(0);
      for (const x of xs) {
        const k = x > hi ? labels.length - 1 : Math.min(body.counts.length - 1, Math.floor((x - body.edges[0]!) / w));
        counts[k]!++;
      }
      return counts;
    };
    return {
      config: c.id,
      labels,
      counts: countIn(c.measured!.samplesMs),
      underLoadCounts: c.underLoad ? countIn(c.underLoad.samplesMs) : undefined,
      medianMs: c.measured!.summary.medianMs,
      p99Ms: c.measured!.summary.p99Ms,
    };
  });
  const summaryRows = ok.map((c) => {
    const s = c.measured!.summary;
    return [
      c.id,
      fmt(s.medianMs),
      fmt(s.p90Ms),
      fmt(s.p99Ms),
      fmt(s.minMs),
      fmt(s.maxMs),
      fmt(s.stddevMs),
      fmt(c.underLoad?.summary.medianMs),
      fmt(c.cold?.loadMs, 1),
      fmt(c.cold?.firstRunMs, 1),
      c.memory ? (c.memory.peakRssBytes / 2 ** 20).toFixed(1) : '-',
    ];
  });
  const ratioRows = (b?.ratios ?? []).map((q) => [
    q.config,
    q.vs,
    `${(1 / q.timeRatio.ratio).toFixed(2)}x`,
    `${(1 / q.timeRatio.hi).toFixed(2)} - ${(1 / q.timeRatio.lo).toFixed(2)}`,
    q.underLoad ? `${(1 / q.underLoad.ratio).toFixed(2)}x` : '-',
  ]);
  const data: ReportData = {
    title: input.title,
    subtitle: b
      ? `${b.environment.machineKind} (${b.environment.cpuModel}), Node ${b.environment.node}; model sha256 ${b.model.sha256.slice(0, 12)}, ` +
        `${(b.model.sizeBytes / 2 ** 20).toFixed(1)} MiB; ${b.settings.runs ?? b.settings.minTimeS + ' s'} per configuration, interleaved`
      : '',
    histograms,
    summaryRows,
    ratioRows,
  };
  const p = input.profile?.summary;
  if (p) {
    data.profileConfig = input.profile!.config;
    data.ops = p.byOpType.map((g) => ({ opType: g.key, totalMs: g.totalMs, share: g.share, count: g.count }));
    const peer = input.peerOps;
    if (peer) {
      const opTypes = [...new Set([...p.byOpType.map((g) => g.key), ...peer.byOpType.map((g) => g.key)])];
      const ms = (gs: readonly { key: string; totalMs: number }[], k: string): number =>
        +(gs.find((g) => g.key === k)?.totalMs ?? 0).toFixed(4);
      data.opsVsPeer = {
        peer: peer.config,
        opTypes,
        oursMs: opTypes.map((k) => ms(p.byOpType, k)),
        peerMs: opTypes.map((k) => ms(peer.byOpType, k)),
      };
    }
    data.timeline = p.timeline.map((s) => ({
      lane: s.opType,
      name: s.nodeName,
      kernel: s.kernelId,
      startMs: s.startMs,
      durMs: s.durMs,
    }));
    data.roofline = {
      points: p.nodes
        .filter((n) => n.macs > 0 && n.bytesMoved > 0 && n.medianMs > 0)
        .map((n) => ({
          name: n.nodeName,
          opType: n.opType,
          intensity: n.intensity,
          gflops: n.gflops,
          ms: n.medianMs,
          share: n.share,
        })),
      peakGflops: input.roof?.peakGflops,
      peakKind: input.roof?.peakKind,
      bandwidthGBs: input.roof?.bandwidthGBs,
      cacheBandwidthGBs: input.roof?.cacheBandwidthGBs,
    };
  }
  return data;
}

let echartsSource: string | undefined;

function echartsMin(): string {
  if (echartsSource === undefined) {
    const require = createRequire(import.meta.url);
    const main = require.resolve('echarts');
    // The package's main entry lives in <root>/dist/; the minified UMD build sits beside it.
    const dist = join(dirname(main), 'echarts.min.js');
    echartsSource = readFileSync(dist, 'utf8').replace(/<\/script/gi, '<\\/script');
  }
  return echartsSource;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The page script: reads the JSON block and draws every chart with animation off (deterministic output). */
const PAGE_SCRIPT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('edgecnn-data').textContent);
  var base = { animation: false, grid: { left: 70, right: 30, top: 50, bottom: 50 } };
  function chart(id, option) {
    var el = document.getElementById(id);
    var c = echarts.init(el, null, { renderer: 'canvas' });
    c.setOption(Object.assign({}, base, option));
    return c;
  }
  D.histograms.forEach(function (h, i) {
    var labels = h.labels;
    var series = [{ name: 'idle machine', type: 'bar', data: h.counts, barCategoryGap: '5%',
      markLine: { symbol: 'none', data: [] } }];
    if (h.underLoadCounts) series.push({ name: 'under load', type: 'bar', data: h.underLoadCounts, barCategoryGap: '5%' });
    chart('hist-' + i, {
      title: { text: h.config + ': median ' + h.medianMs.toFixed(3) + ' ms, p99 ' + h.p99Ms.toFixed(3) + ' ms', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis' }, legend: { top: 22, right: 10 },
      xAxis: { type: 'category', data: labels, name: 'ms', nameLocation: 'middle', nameGap: 30 },
      yAxis: { type: 'value', name: 'runs' },
      series: series
    });
  });
  if (D.ops) {
    var ops = D.ops.slice().reverse();
    chart('ops', {
      title: { text: 'Time per operator type (' + D.profileConfig + ', sum of per-node medians)', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 150, right: 60, top: 40, bottom: 40 },
      xAxis: { type: 'value', name: 'ms' },
      yAxis: { type: 'category', data: ops.map(function (o) { return o.opType + ' (' + o.count + ')'; }) },
      series: [{ type: 'bar', data: ops.map(function (o) { return +o.totalMs.toFixed(4); }),
        label: { show: true, position: 'right', formatter: function (p) { return (ops[p.dataIndex].share * 100).toFixed(1) + '%'; } } }]
    });
  }
  if (D.opsVsPeer) {
    var V = D.opsVsPeer;
    chart('ops-vs-peer', {
      title: { text: 'Time per operator type: edgecnn (' + D.profileConfig + ') and ' + V.peer + ', each with its own fusions', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } }, legend: { top: 22, right: 10 },
      grid: { left: 150, right: 40, top: 50, bottom: 40 },
      xAxis: { type: 'value', name: 'ms' },
      yAxis: { type: 'category', data: V.opTypes.slice().reverse() },
      series: [{ name: 'edgecnn', type: 'bar', data: V.oursMs.slice().reverse() },
        { name: V.peer, type: 'bar', data: V.peerMs.slice().reverse() }]
    });
  }
  if (D.timeline) {
    var lanes = [];
    D.timeline.forEach(function (s) { if (lanes.indexOf(s.lane) < 0) lanes.push(s.lane); });
    chart('timeline', {
      title: { text: 'A typical inference, node by node: each step at its median time (' + D.profileConfig + ')', textStyle: { fontSize: 13 } },
      tooltip: { formatter: function (p) { var s = D.timeline[p.dataIndex];
        return s.name + '<br>' + s.kernel + '<br>' + s.durMs.toFixed(3) + ' ms at ' + s.startMs.toFixed(3) + ' ms'; } },
      grid: { left: 150, right: 30, top: 40, bottom: 60 },
      dataZoom: [{ type: 'slider', xAxisIndex: 0, bottom: 10 }, { type: 'inside', xAxisIndex: 0 }],
      xAxis: { type: 'value', name: 'ms', min: 0 },
      yAxis: { type: 'category', data: lanes },
      series: [{ type: 'custom', encode: { x: [1, 2], y: 0 },
        renderItem: function (params, api) {
          var lane = api.value(0), start = api.coord([api.value(1), lane]), end = api.coord([api.value(2), lane]);
          var h = api.size([0, 1])[1] * 0.6;
          return { type: 'rect', shape: echarts.graphic.clipRectByRect(
              { x: start[0], y: start[1] - h / 2, width: Math.max(1, end[0] - start[0]), height: h },
              { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height }),
            style: api.style() };
        },
        data: D.timeline.map(function (s) { return [lanes.indexOf(s.lane), s.startMs, s.startMs + s.durMs, s.name]; }) }]
    });
  }
  if (D.roofline) {
    var R = D.roofline, pts = R.points;
    var xs = pts.map(function (p) { return p.intensity; });
    var xmin = Math.min.apply(null, xs.concat([0.1])) / 2, xmax = Math.max.apply(null, xs.concat([100])) * 2;
    var series = [{ name: 'nodes (area ~ share of time)', type: 'scatter',
      data: pts.map(function (p) { return [p.intensity, p.gflops, p.ms, p.name, p.opType, p.share]; }),
      symbolSize: function (v) { return 5 + Math.sqrt(v[5]) * 40; } }];
    function roofLine(name, gbs, dash) {
      var line = [], steps = 40;
      for (var i = 0; i <= steps; i++) {
        var x = xmin * Math.pow(xmax / xmin, i / steps);
        line.push([x, R.peakGflops ? Math.min(R.peakGflops, gbs * x) : gbs * x]);
      }
      series.push({ name: name + ' ' + gbs.toFixed(1) + ' GB/s', type: 'line', showSymbol: false, data: line,
        lineStyle: { type: dash } });
    }
    if (R.bandwidthGBs) roofLine('DRAM bandwidth', R.bandwidthGBs, 'solid');
    if (R.cacheBandwidthGBs) roofLine('cache bandwidth', R.cacheBandwidthGBs, 'dotted');
    if (R.peakGflops) {
      series.push({ name: 'peak ' + R.peakGflops.toFixed(1) + ' GFLOP/s (' + R.peakKind + ')', type: 'line', showSymbol: false,
        lineStyle: { type: 'dashed' }, data: [[xmin, R.peakGflops], [xmax, R.peakGflops]] });
    }
    chart('roofline', {
      title: { text: 'Roofline: GFLOP/s against arithmetic intensity, one point per node', textStyle: { fontSize: 13 } },
      legend: { top: 22, right: 10 },
      tooltip: { formatter: function (p) { return p.seriesIndex === 0 ? p.value[3] + ' (' + p.value[4] + ')<br>' +
        p.value[1].toFixed(2) + ' GFLOP/s at ' + p.value[0].toFixed(2) + ' FLOP/B, ' + p.value[2].toFixed(3) + ' ms' : p.seriesName; } },
      xAxis: { type: 'log', name: 'FLOP / byte', nameLocation: 'middle', nameGap: 30, min: xmin, max: xmax },
      yAxis: { type: 'log', name: 'GFLOP/s' },
      series: series
    });
  }
  window.__edgecnnReady = true;
})();
`;

/** Render the report as one HTML document. */
export function renderHtmlReport(input: ReportInput): string {
  const d = reportData(input);
  const json = JSON.stringify(d).replace(/</g, '\\u003c');
  const head = [
    'config',
    'median',
    'p90',
    'p99',
    'min',
    'max',
    'stddev',
    'median under load',
    'load→ready',
    '1st run',
    'peak RSS MiB',
  ];
  const table = d.summaryRows.length
    ? `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>` +
      d.summaryRows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') +
      '</tbody></table><p class="note">times in ms</p>'
    : '';
  const ratios = d.ratioRows.length
    ? '<table><thead><tr><th>config</th><th>vs</th><th>speed</th><th>95% CI</th><th>speed under load</th></tr></thead><tbody>' +
      d.ratioRows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') +
      '</tbody></table><p class="note">speed = peer median / configuration median (above 1: faster), bootstrap interval</p>'
    : '';
  const hist = d.histograms.map((_, i) => `<div class="chart" id="hist-${i}" data-chart="histogram"></div>`).join('\n');
  const noProfile = '<p class="note">No per-node profile: no configuration of this run exposes per-step timing.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(d.title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px} .sub,.note{color:#666}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
.chart{width:100%;height:320px;margin:8px 0} #timeline{height:420px} #roofline{height:460px} #ops,#ops-vs-peer{height:420px}
</style></head><body>
<h1>${escapeHtml(d.title)}</h1><div class="sub">${escapeHtml(d.subtitle)}</div>
${table}
${ratios}
${input.bench ? `<h2>Latency distribution</h2>\n${hist || '<p class="note">No configuration produced samples.</p>'}` : ''}
<h2>Where the time goes</h2>
${d.ops ? '<div class="chart" id="ops" data-chart="ops"></div>' : noProfile}
${d.opsVsPeer ? '<div class="chart" id="ops-vs-peer" data-chart="ops-vs-peer"></div>' : ''}
<h2>Timeline of one inference</h2>
${d.timeline ? '<div class="chart" id="timeline" data-chart="timeline"></div>' : noProfile}
<h2>Roofline</h2>
${d.roofline ? '<div class="chart" id="roofline" data-chart="roofline"></div>' : noProfile}
<script id="edgecnn-data" type="application/json">${json}</script>
<script>${echartsMin()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
