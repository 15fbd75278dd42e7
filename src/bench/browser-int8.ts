/**
 * int8 against fp32 in one headless Chromium page, one thread, interleaved:
 * `node dist/bench/browser-int8.js [--models mobilenet_v2,resnet18] [--rounds 10] [--runs 5] [--no-ort]
 * [--int8-dir DIR]`.
 * Per model the page compiles edgecnn fp32 (the shared model), edgecnn int8 (`<int8-dir>/<model>.int8.onnx`, default
 * dir `<tmp>/edgecnn-int8`, made with `edgecnn quantize --calibration synthetic` when absent), the same int8 model with relaxed SIMD off (the
 * i16 dot kernels the relaxed int8 dot replaces) and onnxruntime-web fp32 and int8 (its wasm build from
 * node_modules, served by the page's own routes, nothing downloaded), warms each up (>= 3 runs and 250 ms:
 * tier-up), then runs `rounds` rounds of `runs` runs of each in turn. Prints p10/median/p90, the int8/fp32 and
 * int8/ort-web ratios of medians, and how many int8 steps ran on the relaxed int8 dot (`-wasmusdot`/`-wasmsdot`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWebPage } from '../web/build-page.js';
import { startServer } from '../web/server.js';
import { quantile } from './stats.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = process.cwd();
const SHARED = resolve(ROOT, '../shared/models');
const ORT_DIST = resolve(ROOT, 'node_modules/onnxruntime-web/dist');
const TYPES: Record<string, string> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.f32': 'application/octet-stream',
};

interface PageRun {
  times: Record<string, number[]>;
  dotSteps: number;
  int8Steps: number;
  dotB: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'mobilenet_v2,resnet18' },
      rounds: { type: 'string', default: '10' },
      runs: { type: 'string', default: '5' },
      'no-ort': { type: 'boolean', default: false },
      'int8-dir': { type: 'string', default: join(tmpdir(), 'edgecnn-int8') },
    },
  });
  if (!existsSync(CHROMIUM)) {
    console.log(`skipped: ${CHROMIUM} is absent`);
    return;
  }
  const int8Dir = values['int8-dir']!;
  mkdirSync(int8Dir, { recursive: true });
  const files = new Map<string, string>();
  const models = values.models!.split(',').filter((m) => existsSync(join(SHARED, `${m}.onnx`)));
  for (const m of models) {
    const q = join(int8Dir, `${m}.int8.onnx`);
    if (!existsSync(q)) {
      console.log(`quantizing ${m} -> ${q}`);
      const r = spawnSync(
        process.execPath,
        ['dist/cli/main.js', 'quantize', join(SHARED, `${m}.onnx`), '--calibration', 'synthetic', '-o', q],
        { cwd: ROOT, encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`quantize ${m} failed: ${r.stderr}`);
    }
    files.set(`${m}.fp32.onnx`, join(SHARED, `${m}.onnx`));
    files.set(`${m}.int8.onnx`, q);
    files.set(`${m}.input.f32`, join(SHARED, `${m}.input.f32`));
  }
  const ort = !values['no-ort'] && existsSync(join(ORT_DIST, 'ort.wasm.min.mjs'));
  buildWebPage();
  const server = await startServer();
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage();
    // Model files and onnxruntime-web's build come from these routes (same origin, so COEP lets them in).
    await page.route('**/bench/**', async (route) => {
      const name = new URL(route.request().url()).pathname.replace(/^\/bench\//, '');
      const ortFile = /^ort\/([\w.-]+)$/.exec(name)?.[1];
      const path = ortFile ? join(ORT_DIST, ortFile) : files.get(name);
      if (!path || !existsSync(path)) return route.fulfill({ status: 404, body: `not found: ${name}` });
      return route.fulfill({
        status: 200,
        body: readFileSync(path),
        headers: {
          'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
          'cross-origin-resource-policy': 'same-origin',
        },
      });
    });
    await page.goto(server.url);
    console.log(`one thread, ${values.rounds} rounds x ${values.runs} runs per configuration, interleaved`);
    for (const m of models) {
      const r: PageRun = await page.evaluate(
        async ({ m, rounds, runs, ort }) => {
          const full = await import('/dist/web/edgecnn.bundle.js' as string);
          const get = async (f: string): Promise<Uint8Array> =>
            new Uint8Array(await (await fetch(`/bench/${f}`)).arrayBuffer());
          const x = new Float32Array((await get(`${m}.input.f32`)).buffer);
          const configs: { name: string; run: () => Promise<unknown> }[] = [];
          const fp32 = await full.createSession(await get(`${m}.fp32.onnx`), { threads: 1 });
          const int8 = await full.createSession(await get(`${m}.int8.onnx`), { threads: 1 });
          const feed = (s: { inputNames: string[] }) => ({
            [s.inputNames[0]!]: full.makeTensor('float32', [1, 3, 224, 224], x),
          });
          configs.push({ name: 'edgecnn fp32', run: () => fp32.run(feed(fp32)) });
          configs.push({ name: 'edgecnn int8', run: () => int8.run(feed(int8)) });
          // The same int8 model without relaxed SIMD: the i16 dot kernels (what the relaxed int8 dot replaces).
          const i16 = await full.createSession(await get(`${m}.int8.onnx`), { threads: 1, relaxedSimd: 'off' });
          configs.push({ name: 'edgecnn int8 (relaxedSimd off)', run: () => i16.run(feed(i16)) });
          if (ort) {
            const o = await import('/bench/ort/ort.wasm.min.mjs' as string);
            o.env.wasm.numThreads = 1;
            o.env.wasm.wasmPaths = '/bench/ort/';
            const t = new o.Tensor('float32', x, [1, 3, 224, 224]);
            for (const precision of ['fp32', 'int8']) {
              const s = await o.InferenceSession.create(await get(`${m}.${precision}.onnx`), {
                executionProviders: ['wasm'],
                graphOptimizationLevel: 'all',
              });
              configs.push({ name: `ort-web ${precision}`, run: () => s.run({ [s.inputNames[0]]: t }) });
            }
          }
          for (const c of configs) {
            const t0 = performance.now();
            for (let n = 0; n < 3 || performance.now() - t0 < 250; n++) await c.run();
          }
          const times: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c.name, []]));
          for (let i = 0; i < rounds; i++) {
            for (const c of configs) {
              for (let k = 0; k < runs; k++) {
                const t0 = performance.now();
                await c.run();
                times[c.name]!.push(performance.now() - t0);
              }
            }
          }
          const ids = int8.steps.map((s: { kernelId: string }) => s.kernelId) as string[];
          return {
            times,
            dotSteps: ids.filter((id) => /-wasmu?sdot$/.test(id)).length,
            int8Steps: ids.filter((id) => id.startsWith('qs8-')).length,
            dotB: full.detectFeatures ? full.detectFeatures().relaxedDotB : '?',
          };
        },
        { m, rounds: Number(values.rounds), runs: Number(values.runs), ort },
      );
      const med = (k: string): number => quantile(r.times[k]!, 0.5);
      console.log(
        `\n${m}: int8 steps ${r.int8Steps}, on the relaxed int8 dot ${r.dotSteps} (page relaxedDotB: ${r.dotB})`,
      );
      console.log('| configuration | runs | p10 ms | median ms | p90 ms |\n|---|---|---|---|---|');
      for (const [k, s] of Object.entries(r.times)) {
        console.log(
          `| ${k} | ${s.length} | ${quantile(s, 0.1).toFixed(2)} | ${med(k).toFixed(2)} | ${quantile(s, 0.9).toFixed(2)} |`,
        );
      }
      console.log(`int8 / fp32 (edgecnn) median ratio: ${(med('edgecnn int8') / med('edgecnn fp32')).toFixed(3)}`);
      if (r.times['ort-web fp32']) {
        console.log(
          `edgecnn int8 / ort-web fp32 median ratio: ${(med('edgecnn int8') / med('ort-web fp32')).toFixed(3)}`,
        );
        console.log(
          `edgecnn fp32 / ort-web fp32 median ratio: ${(med('edgecnn fp32') / med('ort-web fp32')).toFixed(3)}`,
        );
        console.log(
          `edgecnn int8 / ort-web int8 median ratio: ${(med('edgecnn int8') / med('ort-web int8')).toFixed(3)}`,
        );
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
