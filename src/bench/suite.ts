/**
 * The repository benchmark suite (`npm run bench`): every model in ../shared/models against the peers, each
 * model benchmarked like `edgecnn bench` does (configurations in their own processes, interleaved), results
 * written as bench/results/<machine-kind>.md (a table people read) and .json (all samples, which
 * `edgecnn bench --baseline bench/results/<kind>.json` uses as this machine kind's baseline).
 * Usage: node dist/bench/suite.js [--models a,b] [--backend wasm] [--vs ort-web,ort-node] [--threads 1,2] [--runs N]
 * [--out DIR]
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagList, flagNumber, flagString, parseArgs } from '../cli/args.js';
import { EdgecnnError } from '../ir/errors.js';
import { benchModel } from './bench-model.js';
import { environment, packageRoot } from './environment.js';
import { formatSuiteMarkdown, toReadableJson } from './format.js';
import type { BenchReport } from './harness.js';
import { createProgress } from './progress.js';

export interface SuiteFile {
  schema: 'edgecnn-bench-suite/1';
  machineKind: string;
  reports: BenchReport[];
  skipped: { model: string; reason: string }[];
}

/** The shared models folder: ../shared/models next to the repository. */
export function sharedModelsDir(): string {
  return resolve(packageRoot(), '..', 'shared', 'models');
}

export async function runSuite(argv: readonly string[]): Promise<number> {
  const p = parseArgs(argv, {
    models: { type: 'string', multiple: true, description: 'model names (default: every .onnx in ../shared/models)' },
    backend: { type: 'string', multiple: true, description: 'edgecnn backends (default wasm)' },
    vs: { type: 'string', multiple: true, description: 'peers (default ort-web,ort-node)' },
    threads: { type: 'string', multiple: true, description: 'thread counts (default 1)' },
    runs: { type: 'number', description: 'runs per configuration (default 30)' },
    warmup: { type: 'number', description: 'warm-up runs (default 3)' },
    out: { type: 'string', description: 'results folder (default bench/results)' },
    'models-dir': { type: 'string', description: 'folder of models (default ../shared/models)' },
  });
  const dir = flagString(p, 'models-dir') ?? sharedModelsDir();
  if (!existsSync(dir)) {
    throw new EdgecnnError(`the shared models folder '${dir}' is absent; nothing to benchmark`, 'missing-file');
  }
  const wanted = flagList(p, 'models');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.onnx$/, '')))
    .sort();
  if (files.length === 0) throw new EdgecnnError(`no matching .onnx models in '${dir}'`, 'missing-file');
  const progress = createProgress();
  const reports: BenchReport[] = [];
  const skipped: { model: string; reason: string }[] = [];
  for (const f of files) {
    progress.note(`== ${f}`);
    try {
      const report = await benchModel(join(dir, f), {
        backends: flagList(p, 'backend').length ? flagList(p, 'backend') : ['wasm'],
        peers: flagList(p, 'vs').length ? flagList(p, 'vs') : ['ort-web', 'ort-node'],
        threads: flagList(p, 'threads').length ? flagList(p, 'threads').map(Number) : [1],
        runs: flagNumber(p, 'runs') ?? 30,
        warmup: flagNumber(p, 'warmup') ?? 3,
        progress,
      });
      // Paths in committed files are relative to the repository (never machine-absolute).
      report.model.path = `../shared/models/${f}`;
      for (const s of report.settings.inputs) {
        if ('file' in s.source) s.source.file = `../shared/models/${s.source.file.split(/[\\/]/).pop()}`;
      }
      reports.push(report);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      progress.note(`${f}: not run: ${reason}`);
      skipped.push({ model: f, reason });
    }
  }
  const kind = environment().machineKind;
  const out = flagString(p, 'out') ?? join(packageRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const suite: SuiteFile = { schema: 'edgecnn-bench-suite/1', machineKind: kind, reports, skipped };
  writeFileSync(join(out, `${kind}.json`), toReadableJson(suite) + '\n');
  writeFileSync(join(out, `${kind}.md`), formatSuiteMarkdown(reports, skipped));
  console.log(formatSuiteMarkdown(reports, skipped));
  console.log(`wrote ${join(out, kind)}.{md,json}`);
  return reports.length > 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runSuite(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`edgecnn bench suite: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = e instanceof EdgecnnError && e.code === 'bad-argument' ? 2 : 1;
    },
  );
}
