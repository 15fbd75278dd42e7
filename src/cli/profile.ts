/**
 * `edgecnn profile`: where the time goes inside one inference. Runs the model in this process on one edgecnn
 * backend, warms up, collects N profiled runs and prints per-node medians (share, MACs, GFLOP/s, bytes,
 * kernel, fused/fallback), per-operator and per-kernel summaries; optionally a Chrome trace, JSON and HTML.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { declaredInputs } from '../bench/bench-model.js';
import { loadEdgecnn } from '../bench/edgecnn-runtime.js';
import { environment, modelHash } from '../bench/environment.js';
import { formatBytes } from '../bench/format.js';
import { materializeInput, parseShapes, planInputs } from '../bench/inputs.js';
import { createProgress } from '../bench/progress.js';
import type { ProfiledStep } from '../bench/targets.js';
import { EdgecnnError } from '../ir/errors.js';
import { type GroupProfile, type ProfileSummary, aggregateProfile, topNodes } from '../profile/aggregate.js';
import { renderHtmlReport } from '../profile/report-html.js';
import { chromeTrace } from '../profile/trace.js';
import { profileOrtNode } from '../profile/ort-profile.js';
import { PeerUnavailable } from '../bench/targets.js';
import { flagList, flagNumber, flagString } from './args.js';
import type { Command } from './command.js';
import { TUNE_FLAGS, tuneOptionsFrom } from './tune.js';

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const num = (x: number): string =>
  x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : String(x);

/** The text report of a profile: the `top` most expensive nodes, then per-op-type and per-kernel tables. */
export function formatProfileText(p: ProfileSummary, top: number): string {
  const nodes = topNodes(p, top).map((n) => [
    n.nodeName,
    n.opType,
    n.medianMs.toFixed(3),
    pct(n.share),
    num(n.macs),
    n.gflops.toFixed(2),
    formatBytes(n.bytesMoved),
    n.intensity.toFixed(1),
    n.kernelId,
    n.fused ? 'fused' : n.fallback ? 'fallback' : '',
  ]);
  const groups = (gs: GroupProfile[]): string[][] =>
    gs.map((g) => [
      g.key,
      String(g.count),
      g.totalMs.toFixed(3),
      pct(g.share),
      num(g.macs),
      g.gflops.toFixed(2),
      formatBytes(g.bytesMoved),
    ]);
  const sum = p.nodes.reduce((a, n) => a + n.medianMs, 0);
  return [
    `${p.runs} profiled runs; median run ${p.totalMedianMs.toFixed(3)} ms, sum of per-node medians ${sum.toFixed(3)} ms` +
      (p.totalMedianMs > 1.25 * sum + 1
        ? ' (the gap is time the process was descheduled: the machine is busy; per-node medians mostly escape it)'
        : ''),
    '',
    `top ${nodes.length} nodes by median time:`,
    table(['node', 'op', 'ms', 'share', 'MACs', 'GFLOP/s', 'bytes', 'FLOP/B', 'kernel', ''], nodes),
    '',
    'per operator type:',
    table(['op', 'nodes', 'ms', 'share', 'MACs', 'GFLOP/s', 'bytes'], groups(p.byOpType)),
    '',
    'per kernel:',
    table(['kernel', 'steps', 'ms', 'share', 'MACs', 'GFLOP/s', 'bytes'], groups(p.byKernel)),
  ].join('\n');
}

/** edgecnn's and onnxruntime-node's time per operator type, side by side (each with its own fusions). */
export function formatComparison(ours: ProfileSummary, ort: { byOpType: GroupProfile[]; totalMs: number }): string {
  const ourTotal = ours.nodes.reduce((a, n) => a + n.medianMs, 0);
  const keys = [...new Set([...ours.byOpType.map((g) => g.key), ...ort.byOpType.map((g) => g.key)])];
  const rows = keys.map((k) => {
    const a = ours.byOpType.find((g) => g.key === k);
    const b = ort.byOpType.find((g) => g.key === k);
    return [k, a ? `${a.totalMs.toFixed(3)} (${a.count})` : '-', b ? `${b.totalMs.toFixed(3)} (${b.count})` : '-'];
  });
  rows.push(['total', ourTotal.toFixed(3), ort.totalMs.toFixed(3)]);
  return [
    'per operator type, ms (nodes), sum of per-node medians; each runtime fuses differently (its Conv may hold an activation):',
    table(['op', 'edgecnn', 'ort-node/t1'], rows),
  ].join('\n');
}

export const command: Command = {
  name: 'profile',
  synopsis: '<model.onnx> [--backend wasm|reference] [--runs N] [--trace FILE] [--json FILE] [--html FILE]',
  summary: 'Per-node and per-kernel time, MACs, GFLOP/s and bytes of one inference; Chrome trace',
  flags: {
    backend: { type: 'string', description: 'edgecnn backend: wasm (default) or reference' },
    runs: { type: 'number', description: 'profiled runs; per-node times are medians over them (default 20)' },
    warmup: { type: 'number', description: 'unprofiled warm-up runs first (default 5)' },
    top: { type: 'number', description: 'how many of the most expensive nodes to list (default 10)' },
    'input-shape': {
      type: 'string',
      multiple: true,
      description: 'input shape for symbolic dims: 1x3x640x640 or name=1x3x640x640',
    },
    input: { type: 'string', description: 'input file (.f32/.npy/image); default: <model>.input.f32 or seeded random' },
    trace: { type: 'string', description: 'write a Chrome trace-event JSON (Perfetto, chrome://tracing)' },
    json: { type: 'string', description: 'write the profile summary as JSON' },
    html: { type: 'string', description: 'write a self-contained HTML report (op chart, timeline, roofline)' },
    vs: { type: 'string', description: 'ort-node: also profile onnxruntime-node and compare time per operator type' },
    ...TUNE_FLAGS,
  },
  async run(positionals, p) {
    const modelPath = positionals[0];
    if (!modelPath || positionals.length > 1) {
      throw new EdgecnnError('profile needs exactly one model file (see edgecnn profile --help)', 'bad-argument');
    }
    if (!existsSync(modelPath)) throw new EdgecnnError(`model file '${modelPath}' does not exist`, 'missing-file');
    const backend = flagString(p, 'backend') ?? 'wasm';
    if (backend !== 'wasm' && backend !== 'reference') {
      throw new EdgecnnError(`unknown backend '${backend}' (expected wasm or reference)`, 'bad-argument');
    }
    const runs = flagNumber(p, 'runs') ?? 20;
    const warmup = flagNumber(p, 'warmup') ?? 5;
    const top = flagNumber(p, 'top') ?? 10;
    for (const [name, v, min] of [
      ['runs', runs, 1],
      ['warmup', warmup, 0],
      ['top', top, 1],
    ] as const) {
      if (!Number.isInteger(v) || v < min)
        throw new EdgecnnError(`--${name} needs a whole number >= ${min}, got ${v}`, 'bad-argument');
    }
    const progress = createProgress();
    const bytes = new Uint8Array(readFileSync(modelPath));
    const declared = declaredInputs(bytes, modelPath);
    const shapes = parseShapes(
      flagList(p, 'input-shape'),
      declared.map((d) => d.name),
    );
    const specs = planInputs(declared, { modelPath, inputFile: flagString(p, 'input'), shapes });
    const tuning = await tuneOptionsFrom(p);
    if (tuning.tune && backend !== 'wasm') throw new EdgecnnError('--tune needs the wasm backend', 'bad-argument');
    const loaded = await loadEdgecnn(bytes, specs.map(materializeInput), backend, 1, tuning);
    progress.start(`warming up and profiling ${runs} runs`, 1);
    for (let i = 0; i < warmup; i++) {
      await loaded.run();
      progress.update((i + 1) / (warmup + runs));
    }
    const all: ProfiledStep[][] = [];
    for (let i = 0; i < runs; i++) {
      all.push(await loaded.runProfiled!());
      progress.update((warmup + i + 1) / (warmup + runs));
    }
    progress.finish();
    const summary = aggregateProfile(all);
    const model = basename(modelPath).replace(/\.onnx$/, '');
    const config = `edgecnn-${backend}${tuning.tune ? '-tuned' : ''}/t1`;
    console.log(`${model} on ${config}, ${environment().machineKind}`);
    console.log(formatProfileText(summary, top));
    const vs = flagString(p, 'vs');
    let peerOps: { config: string; byOpType: GroupProfile[] } | undefined;
    if (vs !== undefined) {
      if (vs !== 'ort-node') throw new EdgecnnError(`profile --vs supports ort-node only, got '${vs}'`, 'bad-argument');
      try {
        const ort = await profileOrtNode(bytes, specs.map(materializeInput), { runs, warmup });
        console.log('');
        console.log(formatComparison(summary, ort));
        peerOps = { config: 'ort-node/t1', byOpType: ort.byOpType };
      } catch (e) {
        if (!(e instanceof PeerUnavailable)) throw e;
        console.log(`\n${e.message}; comparison skipped`);
      }
    }
    const trace = flagString(p, 'trace');
    if (trace) {
      writeFileSync(
        trace,
        JSON.stringify(chromeTrace(all, { model, config, otherData: { sha256: modelHash(bytes) } })),
      );
      console.log(`trace: ${trace} (open in https://ui.perfetto.dev or chrome://tracing)`);
    }
    const json = flagString(p, 'json');
    if (json) {
      writeFileSync(
        json,
        JSON.stringify(
          { schema: 'edgecnn-profile/1', model, sha256: modelHash(bytes), config, environment: environment(), summary },
          null,
          1,
        ),
      );
      console.log(`profile: ${json}`);
    }
    const html = flagString(p, 'html');
    if (html) {
      progress.note('measuring the roofline ceilings (compute peak, memory bandwidth)');
      writeFileSync(
        html,
        renderHtmlReport({
          title: `edgecnn profile: ${model}`,
          profile: { config, summary },
          roof: (await import('../bench/roof.js')).measureRoof(),
          peerOps,
        }),
      );
      console.log(`html report: ${html}`);
    }
    await loaded.dispose();
    return 0;
  },
};
