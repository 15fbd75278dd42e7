import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../bench/harness.js';
import { writeTinyCnn } from '../bench/tiny-model.js';
import { aggregateProfile } from './aggregate.js';
import { type ReportData, reportData, renderHtmlReport } from './report-html.js';

const CHROMIUM = '/usr/bin/chromium';
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** What the browser reports for one chart: its kind and the series data echarts holds. */
interface RenderedChart {
  id: string;
  kind: string;
  width: number;
  height: number;
  series: { type: string; name?: string; data: unknown[] }[];
  xAxisType?: string;
  yCategories?: string[];
}

async function renderInChromium(htmlPath: string, screenshot: string): Promise<RenderedChart[]> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Any network request would mean the report is not self-contained.
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto('file://' + htmlPath);
    await page.waitForFunction('window.__edgecnnReady === true', undefined, { timeout: 20000 });
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    return (await page.evaluate(`(() => {
      const out = [];
      for (const el of document.querySelectorAll('[data-chart]')) {
        const c = echarts.getInstanceByDom(el);
        if (!c) { out.push({ id: el.id, kind: el.dataset.chart, width: 0, height: 0, series: [] }); continue; }
        const o = c.getOption();
        out.push({
          id: el.id, kind: el.dataset.chart, width: c.getWidth(), height: c.getHeight(),
          series: o.series.map(s => ({ type: s.type, name: s.name, data: s.data })),
          xAxisType: o.xAxis && o.xAxis[0] && o.xAxis[0].type,
          yCategories: o.yAxis && o.yAxis[0] && o.yAxis[0].data,
        });
      }
      return out;
    })()`)) as RenderedChart[];
  } finally {
    await browser.close();
  }
}

function checkCharts(charts: RenderedChart[], data: ReportData): void {
  if (data.opsVsPeer) {
    const [v] = charts.filter((c) => c.kind === 'ops-vs-peer');
    assert.ok(v, 'edgecnn-vs-peer chart exists');
    assert.deepEqual(v.yCategories!.slice().reverse(), data.opsVsPeer.opTypes);
    assert.deepEqual((v.series[0]!.data as number[]).slice().reverse(), data.opsVsPeer.oursMs);
    assert.deepEqual((v.series[1]!.data as number[]).slice().reverse(), data.opsVsPeer.peerMs);
    assert.equal(v.series[1]!.name, data.opsVsPeer.peer);
  }
  const byKind = (k: string): RenderedChart[] => charts.filter((c) => c.kind === k);
  for (const c of charts) assert.ok(c.width > 100 && c.height > 100, `${c.id} has a drawing area`);
  const hists = byKind('histogram');
  assert.equal(hists.length, data.histograms.length);
  hists.forEach((h, i) => {
    const want = data.histograms[i]!;
    assert.deepEqual(h.series[0]!.data, want.counts, `${want.config} histogram counts`);
    if (want.underLoadCounts) assert.deepEqual(h.series[1]!.data, want.underLoadCounts);
  });
  if (data.ops) {
    const [ops] = byKind('ops');
    assert.ok(ops, 'per-operator chart exists');
    const values = (ops.series[0]!.data as number[]).slice().reverse();
    assert.deepEqual(
      values,
      data.ops.map((o) => +o.totalMs.toFixed(4)),
    );
    assert.deepEqual(
      ops.yCategories!.slice().reverse(),
      data.ops.map((o) => `${o.opType} (${o.count})`),
    );
  }
  if (data.timeline) {
    const [tl] = byKind('timeline');
    assert.ok(tl, 'timeline chart exists');
    const spans = tl.series[0]!.data as [number, number, number, string][];
    assert.equal(spans.length, data.timeline.length);
    spans.forEach((s, i) => {
      assert.equal(s[3], data.timeline![i]!.name);
      assert.ok(Math.abs(s[2] - s[1] - data.timeline![i]!.durMs) < 1e-9);
    });
  }
  if (data.roofline) {
    const [rf] = byKind('roofline');
    assert.ok(rf, 'roofline chart exists');
    assert.equal(rf.xAxisType, 'log');
    const pts = rf.series[0]!.data as number[][];
    assert.equal(pts.length, data.roofline.points.length);
    assert.ok(pts.length > 0, 'nodes with MACs appear on the roofline');
    const names = rf.series.map((s) => s.name ?? '');
    assert.ok(
      names.some((n) => n.startsWith('peak ')),
      'peak line drawn',
    );
    assert.ok(
      names.some((n) => n.startsWith('DRAM bandwidth ')),
      'DRAM bandwidth line drawn',
    );
    assert.ok(
      names.some((n) => n.startsWith('cache bandwidth ')),
      'cache bandwidth line drawn',
    );
    const peak = rf.series.find((s) => s.name?.startsWith('peak '))!.data as number[][];
    assert.equal(peak[0]![1], data.roofline.peakGflops);
  }
}

test('bench --html renders every chart with the report data in headless Chromium', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium); the report's browser test is skipped`);
    return;
  }
  const model = writeTinyCnn({ size: 24 });
  const dir = join(model, '..');
  const html = join(dir, 'report.html');
  const json = join(dir, 'report.json');
  execFileSync(
    process.execPath,
    [
      MAIN,
      'bench',
      model,
      '--backend',
      'wasm',
      '--vs',
      'ort-node',
      '--runs',
      '20',
      '--under-load',
      '1',
      '--profile-runs',
      '5',
      '--json',
      json,
      '--html',
      html,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
  const ours = report.configs.find((c) => c.id === 'edgecnn-wasm/t1')!;
  assert.equal(ours.status, 'ok');
  assert.equal(ours.profileRuns!.length, 5);
  // Recompute what the page should show from the JSON report, independently of the HTML file.
  const expected = reportData({
    title: 'x',
    bench: report,
    profile: { config: ours.id, summary: aggregateProfile(ours.profileRuns!) },
    roof: JSON.parse(
      readFileSync(html, 'utf8').match(/<script id="edgecnn-data" type="application\/json">(.*?)<\/script>/s)![1]!,
    ).roofline,
  });
  mkdirSync('test-artifacts', { recursive: true });
  const charts = await renderInChromium(html, join('test-artifacts', 'bench-report.png'));
  assert.deepEqual(
    charts.map((c) => c.kind),
    ['histogram', 'histogram', 'ops', 'timeline', 'roofline'],
  );
  checkCharts(charts, expected);
  const html_ = readFileSync(html, 'utf8');
  assert.match(html_, /<td>edgecnn-wasm\/t1<\/td><td>ort-node\/t1<\/td><td>[\d.]+x<\/td>/);
});

test('a report without a profile says so instead of drawing empty charts', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed; skipped`);
    return;
  }
  const samples = Array.from({ length: 40 }, (_, i) => 5 + (i % 7) * 0.1);
  const report = {
    schema: 'edgecnn-bench/1',
    createdAt: '2026-01-01T00:00:00Z',
    environment: { machineKind: 'x64-2c-test', cpuModel: 'test', node: '20', v8: '11' },
    model: { name: 'm', path: 'm.onnx', sha256: 'ab'.repeat(32), sizeBytes: 1000 },
    settings: { runs: 40, warmup: 1, underLoad: 0, inputs: [], interleaving: 'round-robin' },
    configs: [
      {
        id: 'ort-node/t1',
        target: 'ort-node',
        threads: 1,
        status: 'ok',
        measured: {
          samplesMs: samples,
          summary: {
            n: 40,
            medianMs: 5.3,
            p90Ms: 5.6,
            p99Ms: 5.6,
            minMs: 5,
            maxMs: 5.6,
            meanMs: 5.3,
            stddevMs: 0.2,
            madMs: 0.2,
          },
        },
      },
    ],
    ratios: [],
  } as unknown as BenchReport;
  const html = renderHtmlReport({ title: 'peers only', bench: report });
  mkdirSync('test-artifacts', { recursive: true });
  const path = join(process.cwd(), 'test-artifacts', 'peers-only.html');
  writeFileSync(path, html);
  assert.match(html, /No per-node profile/);
  const charts = await renderInChromium(path, join('test-artifacts', 'peers-only.png'));
  assert.deepEqual(
    charts.map((c) => c.kind),
    ['histogram'],
  );
  assert.equal(
    (charts[0]!.series[0]!.data as number[]).reduce((a, b) => a + b, 0),
    40,
  );
});

test('profile --html --vs ort-node draws edgecnn and the peer per operator type', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed; skipped`);
    return;
  }
  const model = writeTinyCnn({ size: 16 });
  const dir = join(model, '..');
  const html = join(dir, 'profile.html');
  execFileSync(process.execPath, [MAIN, 'profile', model, '--runs', '5', '--vs', 'ort-node', '--html', html], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const data = JSON.parse(
    readFileSync(html, 'utf8').match(/<script id="edgecnn-data" type="application\/json">(.*?)<\/script>/s)![1]!,
  ) as ReportData;
  assert.equal(data.opsVsPeer!.peer, 'ort-node/t1');
  assert.ok(
    data.opsVsPeer!.peerMs.some((x) => x > 0),
    'the peer has times',
  );
  assert.ok(
    data.opsVsPeer!.oursMs.some((x) => x > 0),
    'edgecnn has times',
  );
  mkdirSync('test-artifacts', { recursive: true });
  const charts = await renderInChromium(html, join('test-artifacts', 'profile-report.png'));
  assert.deepEqual(
    charts.map((c) => c.kind),
    ['ops', 'ops-vs-peer', 'timeline', 'roofline'],
  );
  checkCharts(charts, data);
});
