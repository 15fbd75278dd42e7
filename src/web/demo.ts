/**
 * The demo page (served by `edgecnn serve`): compiles the chosen ONNX model in the page with the full
 * bundle, runs it on 1..N threads, plots each run's latency (echarts), shows the per-operator profile and the
 * top classes. `window.edgecnnDemo.run(...)` is the same path the button takes; the browser tests call it.
 * Sessions are cached per (model, precision, threads) so switching back does not recompile. "Tune on this
 * device" (`window.edgecnnDemo.tune(...)`) tunes the kernels in the page (results kept in localStorage) and
 * times the cost model's and the tuned compile interleaved.
 */
import { makeTensor } from '../ir/tensor.js';
import { createSession, type Session } from '../runtime/session.js';
import { openTuningDb } from '../tune/db.js';
import {
  coreCount,
  poolDefaults,
  resolveThreads,
  setSingleThreadNotice,
  threadsUnavailableReason,
} from '../runtime/threads/thread-pool.js';
import { DEFAULT_MODEL_ID, type DemoModel, rgbaToClsInput, topClasses } from './demo-models.js';

interface EChartsLike {
  setOption(o: unknown): void;
}
declare const echarts: { init(el: HTMLElement): EChartsLike } | undefined;

/** What one demo run returns (the tests read it). */
export interface DemoResult {
  model: string;
  precision: 'fp32' | 'int8';
  threads: number;
  crossOriginIsolated: boolean;
  timesMs: number[];
  medianMs: number;
  output: number[];
  input?: number[];
  top: { label: string; p: number }[];
  workerSlices: number[];
  parallelSteps: number;
  notice: string | undefined;
}

export interface DemoRunOptions {
  model?: string;
  threads?: number;
  precision?: 'fp32' | 'int8';
  runs?: number;
  /** Return the input tensor too (for comparing with Node). */
  withInput?: boolean;
  /** Test knob: the calling thread takes no chunks, so only workers compute. */
  callerRuns?: boolean;
}

/** What "Tune on this device" returns (the tests read it). */
export interface TuneDemoResult {
  model: string;
  threads: number;
  /** Median latency of the cost model's and the tuned compile, timed interleaved. */
  beforeMs: number;
  afterMs: number;
  /** Wall time of tuning (measuring and compiling). */
  tuneMs: number;
  specs: { total: number; measured: number; fromDb: number; skipped: number };
  changedSteps: number;
  steps: number;
  db: string;
  /** The tuned model's first output on the page's input. */
  output: number[];
}

export interface TuneDemoOptions {
  model?: string;
  threads?: number;
  budgetMs?: number;
  runs?: number;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
let notice: string | undefined;
setSingleThreadNotice((m) => {
  notice = m;
  console.warn(m);
  const el = $('notice');
  el.textContent = m;
  el.style.display = 'block';
});

let models: DemoModel[] = [];
const sessions = new Map<string, Session>();
const inputs = new Map<string, Float32Array>();
let chart: EChartsLike | undefined;
const series = new Map<string, number[]>();

function renderText(flip: boolean): { x: Float32Array; canvas: HTMLCanvasElement } {
  const canvas = document.createElement('canvas');
  canvas.width = 192;
  canvas.height = 48;
  canvas.id = 'input';
  const g = canvas.getContext('2d')!;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, 192, 48);
  if (flip) {
    g.translate(192, 48);
    g.rotate(Math.PI);
  }
  g.fillStyle = '#111';
  g.font = 'bold 26px sans-serif';
  g.textBaseline = 'middle';
  g.fillText('edgecnn 2026', 8, 25);
  const rgba = g.getImageData(0, 0, 192, 48).data;
  return { x: rgbaToClsInput(rgba, 192, 48), canvas };
}

async function inputFor(m: DemoModel): Promise<Float32Array> {
  const cached = inputs.get(m.id);
  if (cached) return cached;
  let x: Float32Array;
  const view = $('inputview');
  view.replaceChildren();
  if (m.inputUrl) {
    x = new Float32Array(await (await fetch(m.inputUrl)).arrayBuffer());
    view.textContent = `input: ${m.inputUrl.split('/').pop()} (${m.inputShape.join('x')})`;
  } else {
    const r = renderText(false);
    x = r.x;
    view.append('input: ', r.canvas);
  }
  inputs.set(m.id, x);
  return x;
}

async function sessionFor(m: DemoModel, precision: 'fp32' | 'int8', threads: number): Promise<Session> {
  const key = `${m.id}/${precision}/${threads}`;
  const hit = sessions.get(key);
  if (hit) return hit;
  const url = precision === 'int8' ? m.int8Url : m.url;
  if (!url) throw new Error(`${m.label} has no int8 variant`);
  status(`downloading ${url} ...`);
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  status(`compiling ${m.label} (${precision}) for ${threads} thread(s) ...`);
  await new Promise((r) => setTimeout(r, 0));
  const s = await createSession(bytes, { inputShapes: { [m.inputName]: m.inputShape }, threads });
  sessions.set(key, s);
  return s;
}

function status(text: string): void {
  $('status').textContent = text;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function drawChart(): void {
  if (!chart) return;
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 50, right: 16, top: 30, bottom: 30 },
    xAxis: { type: 'value', name: 'run', minInterval: 1 },
    yAxis: { type: 'value', name: 'ms' },
    series: [...series].map(([name, ys]) => ({
      name,
      type: 'line',
      showSymbol: ys.length < 20,
      data: ys.map((y, i) => [i + 1, y]),
    })),
  });
}

function showProfile(s: Session, steps: { opType: string; kernelId: string; timeMs: number }[]): void {
  const byOp = new Map<string, { ms: number; n: number; kernels: Set<string> }>();
  for (const st of steps) {
    const r = byOp.get(st.opType) ?? { ms: 0, n: 0, kernels: new Set<string>() };
    r.ms += st.timeMs;
    r.n++;
    r.kernels.add(st.kernelId);
    byOp.set(st.opType, r);
  }
  const total = [...byOp.values()].reduce((a, r) => a + r.ms, 0);
  const rows = [...byOp].sort((a, b) => b[1].ms - a[1].ms);
  const fallbacks = s.fallbackNodes.length ? ` - reference fallbacks: ${s.fallbackNodes.length}` : '';
  $('profile').innerHTML =
    `<div>total ${total.toFixed(2)} ms over ${steps.length} steps${fallbacks}</div><table><tr><th>op</th><th>steps</th>` +
    `<th>ms</th><th>share</th><th>kernels</th></tr>` +
    rows
      .map(
        ([op, r]) =>
          `<tr><td>${op}</td><td class="num">${r.n}</td><td class="num">${r.ms.toFixed(2)}</td>` +
          `<td><span class="bar" style="width:${((120 * r.ms) / total).toFixed(0)}px"></span> ${((100 * r.ms) / total).toFixed(1)}%</td>` +
          `<td>${[...r.kernels].slice(0, 3).join(', ')}${r.kernels.size > 3 ? ', ...' : ''}</td></tr>`,
      )
      .join('') +
    '</table>';
}

/** Compile (cached) and run a model `runs` times, updating the page; resolves with the measurements. */
export async function run(opts: DemoRunOptions = {}): Promise<DemoResult> {
  const m = models.find((x) => x.id === (opts.model ?? DEFAULT_MODEL_ID));
  if (!m) throw new Error(`unknown model '${opts.model}' (have ${models.map((x) => x.id).join(', ')})`);
  const precision = opts.precision ?? 'fp32';
  const runs = Math.max(1, opts.runs ?? 20);
  poolDefaults.callerRuns = opts.callerRuns ?? true;
  // Keep the controls in step with what runs (runs may come from window.edgecnnDemo, not the button).
  $<HTMLSelectElement>('model').value = m.id;
  $<HTMLSelectElement>('precision').value = precision;
  $<HTMLSelectElement>('threads').value = String(opts.threads ?? 1);
  const s = await sessionFor(m, precision, opts.threads ?? 1);
  const x = await inputFor(m);
  const feed = { [m.inputName]: makeTensor('float32', m.inputShape, x) };
  // Warm-up: browsers compile WebAssembly lazily, first with a baseline tier, and move a function to optimized
  // code only after it has run; one run left small models timed on baseline code (ppocr-cls: 6-10 ms per run
  // against 0.8 ms). At least 3 runs and 250 ms, at most 50 runs.
  for (let i = 0, t0 = performance.now(); i < 50 && (i < 3 || performance.now() - t0 < 250); i++) await s.run(feed);
  const name = `${m.id} ${precision} t${s.threads}`;
  const times: number[] = [];
  series.set(name, times);
  let out: Float32Array | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const o = await s.run(feed);
    times.push(performance.now() - t0);
    out = o[s.outputNames[0]!]!.data as Float32Array;
    if (i % 5 === 4 || i === runs - 1) {
      drawChart();
      status(`run ${i + 1}/${runs}: ${times[i]!.toFixed(1)} ms`);
      await new Promise((r) => setTimeout(r, 0)); // let the chart paint
    }
  }
  await s.runProfiled(feed); // the profiled build is its own module: warm it too (see above)
  const prof = await s.runProfiled(feed);
  showProfile(s, prof.steps);
  const top = topClasses(out!, 5, m.classes);
  const note = m.classes
    ? ''
    : '<div><small>(the shared models have random weights: classes are indices)</small></div>';
  $('output').innerHTML =
    note +
    `<table>${top.map((t) => `<tr><td>${t.label}</td><td class="num">${(100 * t.p).toFixed(1)}%</td></tr>`).join('')}</table>`;
  const st = s.threadStats?.();
  const med = median(times);
  $('summary').textContent =
    `${name}: median ${med.toFixed(2)} ms over ${runs} runs` +
    (st ? `; ${st.parallelSteps} steps split, worker chunks ${st.workerSlices.join('/')}` : '');
  status('done');
  poolDefaults.callerRuns = true;
  return {
    model: m.id,
    precision,
    threads: s.threads,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    timesMs: times,
    medianMs: med,
    output: Array.from(out!),
    ...(opts.withInput ? { input: Array.from(x) } : {}),
    top,
    workerSlices: st?.workerSlices ?? [],
    parallelSteps: st?.parallelSteps ?? 0,
    notice,
  };
}

let lastTune: Promise<TuneDemoResult> | undefined;

/** Tune the model in the page, then time the untuned and tuned sessions interleaved; shows before/after. */
export async function tune(opts: TuneDemoOptions = {}): Promise<TuneDemoResult> {
  const m = models.find((x) => x.id === (opts.model ?? DEFAULT_MODEL_ID));
  if (!m) throw new Error(`unknown model '${opts.model}' (have ${models.map((x) => x.id).join(', ')})`);
  const threads = opts.threads ?? 1;
  const runs = Math.max(3, opts.runs ?? 20);
  const x = await inputFor(m);
  const feed = { [m.inputName]: makeTensor('float32', m.inputShape, x) };
  status(`tuning ${m.label} on this device (budget ${opts.budgetMs ?? 3000} ms) ...`);
  $('tuneResult').textContent = 'tuning ...';
  await new Promise((r) => setTimeout(r, 0));
  const db = await openTuningDb();
  const bytes = new Uint8Array(await (await fetch(m.url)).arrayBuffer());
  const t0 = performance.now();
  const after = await createSession(bytes, {
    inputShapes: { [m.inputName]: m.inputShape },
    threads,
    tune: { db, budgetMs: opts.budgetMs ?? 3000 },
  });
  const tuneMs = performance.now() - t0;
  const report = after.tuning!;
  // A fresh untuned session beside it, so both start from the same engine tier and caches.
  const before = await createSession(bytes, { inputShapes: { [m.inputName]: m.inputShape }, threads });
  status('timing the cost model and the tuned kernels, interleaved ...');
  // Fresh sessions start on the engine's baseline tier (browsers optimize a function after it ran a while):
  // warm both up alike before timing.
  const w0 = performance.now();
  for (let i = 0; i < 10 || (i < 200 && performance.now() - w0 < 1000); i++) {
    await before.run(feed);
    await after.run(feed);
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 0));
  }
  const tb: number[] = [];
  const ta: number[] = [];
  let out: Float32Array | undefined;
  for (let i = 0; i < runs; i++) {
    for (const [s, ts] of i % 2
      ? ([
          [after, ta],
          [before, tb],
        ] as const)
      : ([
          [before, tb],
          [after, ta],
        ] as const)) {
      const t = performance.now();
      const o = await s.run(feed);
      ts.push(performance.now() - t);
      if (s === after) out = o[s.outputNames[0]!]!.data as Float32Array;
    }
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 0));
  }
  await after.close();
  await before.close();
  const result: TuneDemoResult = {
    model: m.id,
    threads: after.threads,
    beforeMs: median(tb),
    afterMs: median(ta),
    tuneMs,
    specs: report.specs,
    changedSteps: report.steps.filter((st) => st.tunedId !== st.costModelId).length,
    steps: report.steps.length,
    db: report.db,
    output: Array.from(out!),
  };
  $('tuneResult').textContent =
    `tuned ${result.specs.total} kernel specs in ${(tuneMs / 1000).toFixed(1)} s ` +
    `(${result.specs.measured} measured, ${result.specs.fromDb} from ${result.db}, ${result.specs.skipped} over budget); ` +
    `${result.changedSteps} of ${result.steps} steps changed. Median over ${runs} interleaved runs: ` +
    `cost model ${result.beforeMs.toFixed(2)} ms, tuned ${result.afterMs.toFixed(2)} ms ` +
    `(${(result.beforeMs / result.afterMs).toFixed(2)}x)` +
    (report.wholeModel?.reverted ? '; the tuned model was not faster as a whole, so the cost model was kept' : '');
  status('done');
  return result;
}

async function init(): Promise<void> {
  models = (await (await fetch('/api/models')).json()) as DemoModel[];
  const sel = $<HTMLSelectElement>('model');
  for (const m of models) sel.add(new Option(m.label, m.id, m.id === DEFAULT_MODEL_ID, m.id === DEFAULT_MODEL_ID));
  const cores = await coreCount();
  const reason = threadsUnavailableReason();
  const tsel = $<HTMLSelectElement>('threads');
  const maxThreads = Math.max(2, Math.min(cores, 8));
  for (let t = 1; t <= maxThreads; t++) tsel.add(new Option(String(t), String(t), t === 1, t === Math.min(cores, 4)));
  $('env').textContent =
    `${cores} logical cores; crossOriginIsolated: ${String(globalThis.crossOriginIsolated === true)}; ` +
    (reason ? 'threads unavailable' : 'threads available');
  if (reason) await resolveThreads('auto'); // says so once, on the page
  const el = $('chart');
  if (typeof echarts !== 'undefined') chart = echarts.init(el);
  else el.textContent = '(echarts did not load)';
  const psel = $<HTMLSelectElement>('precision');
  const syncPrecision = (): void => {
    const m = models.find((x) => x.id === sel.value);
    psel.options[1]!.disabled = !m?.int8Url;
    if (!m?.int8Url) psel.value = 'fp32';
  };
  sel.addEventListener('change', syncPrecision);
  syncPrecision();
  $('run').addEventListener('click', () => {
    run({
      model: sel.value,
      threads: Number(tsel.value),
      precision: psel.value as 'fp32' | 'int8',
      runs: Number($<HTMLInputElement>('runs').value),
    }).catch((e: unknown) => status(`error: ${String(e)}`));
  });
  $('tune').addEventListener('click', () => {
    lastTune = tune({
      model: sel.value,
      threads: Number(tsel.value),
      budgetMs: Number($<HTMLInputElement>('budget').value),
      runs: Number($<HTMLInputElement>('runs').value),
    });
    lastTune.catch((e: unknown) => status(`error: ${String(e)}`));
  });
  status('ready');
}

const ready = init();
(globalThis as unknown as { edgecnnDemo: unknown }).edgecnnDemo = {
  ready,
  run: async (o: DemoRunOptions) => {
    await ready;
    return run(o);
  },
  tune: async (o: TuneDemoOptions) => {
    await ready;
    return tune(o);
  },
  /** The run the "Tune on this device" button started last (undefined before a click). */
  lastTune: () => lastTune,
};
