/**
 * Browser vs Node, one thread, same model and input: `node [--experimental-wasm-relaxed-simd]
 * dist/bench/browser-latency.js [--model mobilenet_v2] [--rounds 8] [--runs 5]`. Starts the demo server,
 * opens the page in headless Chromium, then alternates a batch of browser runs with a batch of Node runs so
 * both see the same machine noise; prints p10/median/p90 of each and the browser/Node ratio of medians. Node
 * 20 needs the flag for relaxed SIMD (Chromium has it), otherwise the two run different kernels.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTensor } from '../ir/tensor.js';
import { detectFeatures } from '../runtime/features.js';
import { createSession } from '../runtime/session.js';
import type { DemoResult } from '../web/demo.js';
import { buildWebPage } from '../web/build-page.js';
import { startServer } from '../web/server.js';
import { quantile } from './stats.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mobilenet_v2' },
    rounds: { type: 'string', default: '8' },
    runs: { type: 'string', default: '5' },
  },
});
const model = values.model!;
const dir = resolve(process.cwd(), '../shared/models');
if (!existsSync(resolve(dir, `${model}.onnx`)) || !existsSync('/usr/bin/chromium')) {
  console.log(`skipped: needs ${dir}/${model}.onnx and /usr/bin/chromium`);
  process.exit(0);
}
const raw = readFileSync(resolve(dir, `${model}.input.f32`));
const x = makeTensor(
  'float32',
  [1, 3, 224, 224],
  new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
);
const session = await createSession(new Uint8Array(readFileSync(resolve(dir, `${model}.onnx`))), { threads: 1 });
buildWebPage();
const server = await startServer();
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
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
  const page = await browser.newPage();
  await page.goto(server.url);
  const runs = Number(values.runs);
  const browserMs: number[] = [];
  const nodeMs: number[] = [];
  for (let i = 0; i < 3; i++) await session.run({ input: x });
  for (let r = 0; r < Number(values.rounds); r++) {
    const b = await page.evaluate(
      (o) => (globalThis as unknown as { edgecnnDemo: { run(o: unknown): Promise<DemoResult> } }).edgecnnDemo.run(o),
      { model, threads: 1, runs },
    );
    browserMs.push(...b.timesMs);
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await session.run({ input: x });
      nodeMs.push(performance.now() - t0);
    }
  }
  const row = (name: string, s: number[]): string =>
    `| ${name} | ${s.length} | ${quantile(s, 0.1).toFixed(1)} | ${quantile(s, 0.5).toFixed(1)} | ${quantile(s, 0.9).toFixed(1)} |`;
  console.log(`${model}, one thread; Node relaxed SIMD: ${detectFeatures().relaxedSimd}`);
  console.log('| runtime | runs | p10 ms | median ms | p90 ms |\n|---|---|---|---|---|');
  console.log(row('Chromium', browserMs));
  console.log(row('Node', nodeMs));
  console.log(`browser / Node median ratio: ${(quantile(browserMs, 0.5) / quantile(nodeMs, 0.5)).toFixed(2)}`);
} finally {
  await browser.close();
  await server.close();
}
