/**
 * The relaxed-dot qs8 GEMM. Node 20 cannot run the instruction exactly (the probe says 'none'), so there we check
 * that selection never takes the kernel unless told the dot is exact; the kernel itself runs in headless Chromium
 * (/usr/bin/chromium through playwright-core), whose start-up probe is read in the page, against QLinearConv on
 * awkward shapes (exact with an int32 bias), and the whole int8 MobileNetV2 in the page against Node's output.
 * The mode the engine does not have is still checked where both readings of b agree (inputs limited to the
 * bytes both read the same), which covers its packing and zero-point fold.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildWebPage } from '../../web/build-page.js';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { syntheticSamples } from '../../datasets/calibration-source.js';
import { makeTensor } from '../../ir/tensor.js';
import { quantizeModel } from '../../quantize/quantize-model.js';
import { tinyQuantModel } from '../../quantize/testing.js';
import { detectFeatures } from '../../runtime/features.js';
import { createSession } from '../../runtime/session.js';
import { compileModel } from '../compile/compile.js';
import { type Qs8ConvSpec, isPointwise, pointwiseQs8Spec } from './qs8-gemm.js';
import { QS8_GEMM_RDOT_VARIANTS, candidateQs8GemmRdotVariants, qs8ConvRdot, qs8GemmRdot } from './qs8-gemm-rdot.js';
import { qs8ConvSpecOf } from './qs8-testing.js';
import {
  CHROMIUM_MISSING,
  agreeingInputs,
  probedPageHooks,
  tallyPageRuns,
  qs8PageCase,
  runStepsInPage,
} from './qs8-page-case.js';
import { decodeArtifact, encodeArtifact } from '../../web/artifact.js';
import { loadArtifact } from '../../web/runtime-entry.js';

const ROOT = process.cwd();
const QDQ = resolve(ROOT, '../shared/models/mobilenet_v2.int8_qdq.onnx');
const skip = CHROMIUM_MISSING;
// The page runs the very probe the runtime uses.
const chromium = probedPageHooks({ before, after });

test('Node: the probe finds no exact dot, and selection takes the kernel only when told the dot is exact', async () => {
  const f = detectFeatures();
  // Node 20's dot-add doubles the dot and drops c (with --experimental-wasm-relaxed-simd); without the flag it is absent.
  if (process.versions.node.startsWith('20.')) assert.equal(f.relaxedDotB, 'none');
  const s = pointwiseQs8Spec(24, 40, 5, 5);
  assert.deepEqual(
    candidateQs8GemmRdotVariants(s, f.relaxedDotB),
    f.relaxedDotB === 'none' ? [] : candidateQs8GemmRdotVariants(s, f.relaxedDotB),
  );
  assert.deepEqual(candidateQs8GemmRdotVariants(s, 'none'), []);
  assert.ok(candidateQs8GemmRdotVariants(s, 'unsigned').every((v) => v.isa === 'wasmusdot'));
  assert.ok(candidateQs8GemmRdotVariants(s, 'signed').every((v) => v.isa === 'wasmsdot'));
  const samples = syntheticSamples([1, 3, 12, 12], 8);
  const { model } = await quantizeModel(tinyQuantModel(), samples, { method: 'minmax', activations: 'uint8' });
  const dot = (ids: string[]): string[] => ids.filter((id) => /-wasmu?sdot$/.test(id));
  if (f.relaxedDotB === 'none') {
    const session = await createSession(model, { relaxedSimd: 'auto' });
    assert.deepEqual(dot(session.steps.map((st) => st.kernelId)), []);
  }
  assert.deepEqual(dot(compileModel(model, { relaxedSimd: true }).steps.map((st) => st.kernelId)), []);
  const told = dot(compileModel(model, { relaxedSimd: true, relaxedDotB: 'unsigned' }).steps.map((st) => st.kernelId));
  assert.ok(
    told.length > 0 &&
      told.every((id) => /^qs8-(gemm|conv|dwconv)-/.test(id) && id.endsWith('-wasmusdot')) &&
      told.some((id) => id.startsWith('qs8-gemm-')),
    told.join(),
  );
});

test('an artifact records the dot reading its kernels need, and an engine without it refuses to load it', async () => {
  const samples = syntheticSamples([1, 3, 12, 12], 8);
  const { model } = await quantizeModel(tinyQuantModel(), samples, { method: 'minmax', activations: 'int8' });
  const plain = compileModel(model, { relaxedSimd: true });
  assert.equal(plain.relaxedDotB, undefined);
  for (const b of ['unsigned', 'signed'] as const) {
    const c = compileModel(model, { relaxedSimd: true, relaxedDotB: b });
    assert.equal(c.relaxedDotB, b);
    const back = decodeArtifact(encodeArtifact(c));
    assert.equal(back.relaxedDotB, b);
    if (detectFeatures().relaxedDotB !== b) {
      // Without relaxed SIMD at all (Node 20 without the flag) the first check already refuses.
      const why = detectFeatures().relaxedSimd ? /relaxed int8 dot product reading b as/ : /needs relaxed SIMD/;
      await assert.rejects(loadArtifact(back), why);
    }
  }
});

test('Chromium: the probe reads the dot-add exactly (x86 VNNI: unsigned b)', { skip }, (t) => {
  t.diagnostic(`Chromium relaxedDotB: ${chromium.current?.relaxedDotB}`);
  assert.ok(
    ['unsigned', 'signed', 'none'].includes(chromium.current!.relaxedDotB),
    String(chromium.current?.relaxedDotB),
  );
});

test(
  'Chromium: relaxed-dot qs8 GEMM and direct conv equal QLinearConv bit for bit on awkward shapes',
  { skip, timeout: 120_000 },
  async (t) => {
    if (chromium.current?.relaxedDotB === 'none') return t.skip('this Chromium has no exact int8 dot-add');
    const cases: { s: Qs8ConvSpec; zIn: number; zOut: number; extra: number }[] = [
      { s: pointwiseQs8Spec(1, 1, 1, 1), zIn: 3, zOut: -5, extra: 0 },
      { s: pointwiseQs8Spec(3, 5, 3, 5), zIn: -128, zOut: 127, extra: 1 },
      { s: pointwiseQs8Spec(5, 13, 5, 7), zIn: 100, zOut: 0, extra: 3 },
      { s: pointwiseQs8Spec(17, 24, 7, 3), zIn: 7, zOut: -5, extra: 0 },
      { s: pointwiseQs8Spec(30, 31, 2, 7, 2, [0, 127]), zIn: -1, zOut: -128, extra: 5 },
      { s: pointwiseQs8Spec(64, 40, 3, 3, 1, [-5, 100]), zIn: 50, zOut: 9, extra: 0 },
      // Long reductions take the loop (4 groups of 4 per iteration) plus a remainder.
      { s: pointwiseQs8Spec(70, 9, 4, 4), zIn: -77, zOut: 3, extra: 2 },
      { s: pointwiseQs8Spec(131, 16, 3, 5), zIn: 12, zOut: -9, extra: 0 },
      { s: pointwiseQs8Spec(200, 35, 2, 3), zIn: 127, zOut: 1, extra: 4 },
      // Direct convolutions: taps in the padding read the pad row; strides, dilation, an RGB stem, long taps.
      { s: qs8ConvSpecOf(3, 16, 9, 11, 3, 2, 1), zIn: -20, zOut: 4, extra: 1 },
      { s: qs8ConvSpecOf(5, 7, 6, 7, 3, 1, 1), zIn: -100, zOut: 0, extra: 0 },
      { s: qs8ConvSpecOf(6, 9, 7, 7, 3, 1, 2, 2, 2), zIn: 33, zOut: -7, extra: 3 },
      { s: qs8ConvSpecOf(4, 9, 8, 9, 5, 2, 2), zIn: 0, zOut: 2, extra: 0 },
      { s: qs8ConvSpecOf(13, 21, 6, 5, 1, 2, 0), zIn: 90, zOut: -3, extra: 2 },
      { s: qs8ConvSpecOf(72, 10, 5, 5, 3, 2, 1), zIn: -60, zOut: 5, extra: 0 },
    ];
    // The engine's own mode on full-range inputs; the other where both readings agree (agreeingInputs).
    const own = chromium.current?.relaxedDotB === 'unsigned' ? 'wasmusdot' : 'wasmsdot';
    const runs: { name: string; c: ReturnType<typeof qs8PageCase>; bias: string }[] = [];
    cases.forEach(({ s, zIn, zOut, extra }, i) => {
      for (const v of QS8_GEMM_RDOT_VARIANTS) {
        for (const chunks of [1, 2, 3]) {
          const bias = (['none', 'int', 'float'] as const)[(i + chunks) % 3]!;
          const fam = isPointwise(s) ? qs8GemmRdot : qs8ConvRdot;
          const inputs = agreeingInputs(v.isa, own, zIn);
          const c = qs8PageCase(fam, v, s, { seed: 100 + i, chunks, zOut, extra, bias, ...inputs });
          runs.push({
            name: `${fam.id(s, v)} ${JSON.stringify({ c: s.inC, m: s.outC, h: s.inH, w: s.inW, n: s.batch })} chunks ${chunks}`,
            c,
            bias,
          });
        }
      }
    });
    const images = await runStepsInPage(
      chromium.current!.page,
      runs.map((r) => r.c.step),
    );
    const { ones, total } = tallyPageRuns(runs, images, (r, cmp) => {
      // An int32 bias (or none) is QLinearConv's integer path exactly; a float-only bias may flip a tie.
      assert.ok(cmp.maxDiff <= (r.bias === 'float' ? 1 : 0), `${r.name} (${r.bias} bias): max diff ${cmp.maxDiff}`);
    });
    t.diagnostic(
      `${runs.length} steps, exact with int32 bias, ${ones} of ${total} outputs 1 LSB off (own mode ${own})`,
    );
  },
);

test('Chromium: int8 MobileNetV2 on relaxed-dot kernels equals Node output', { skip, timeout: 180_000 }, async (t) => {
  if (chromium.current?.relaxedDotB === 'none') return t.skip('this Chromium has no exact int8 dot-add');
  if (!existsSync(QDQ)) return t.skip(`${QDQ} absent`);
  buildWebPage();
  const { startServer } = await import('../../web/server.js');
  const server = await startServer();
  const p = await chromium.current!.browser.newPage();
  try {
    await p.goto(server.url);
    const x = syntheticSamples([1, 3, 224, 224], 1, 7)[0]!;
    const r = await p.evaluate(
      async ({ input }) => {
        const full = await import('/dist/web/edgecnn.bundle.js' as string);
        const bytes = new Uint8Array(await (await fetch('/models/shared/mobilenet_v2.int8_qdq.onnx')).arrayBuffer());
        const s = await full.createSession(bytes, { threads: 1 });
        const t = full.makeTensor('float32', [1, 3, 224, 224], Float32Array.from(input));
        const out = await s.run({ [s.inputNames[0]]: t });
        // Two threads split the relaxed-dot steps' ranges between the page and a worker.
        const s2 = await full.createSession(bytes, { threads: 2 });
        const out2 = await s2.run({ [s2.inputNames[0]]: t });
        await s2.close();
        return {
          ids: s.steps.map((st: { kernelId: string }) => st.kernelId) as string[],
          out: Array.from(out[s.outputNames[0]].data as Float32Array),
          out2: Array.from(out2[s2.outputNames[0]].data as Float32Array),
          threads2: s2.threads as number,
        };
      },
      { input: Array.from(x.data as Float32Array) },
    );
    const dotSteps = r.ids.filter((id) => /-wasmu?sdot$/.test(id));
    assert.ok(dotSteps.length >= 20, `only ${dotSteps.length} relaxed-dot steps: ${r.ids.join(', ')}`);
    const s = await createSession(new Uint8Array(readFileSync(QDQ)), { threads: 1 });
    const want = (await s.run({ [s.inputNames[0]!]: makeTensor('float32', [1, 3, 224, 224], x.data as Float32Array) }))[
      s.outputNames[0]!
    ]!.data as Float32Array;
    let d = 0;
    for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(want[i]! - r.out[i]!));
    assert.ok(d <= 1e-6, `max |diff| Chromium vs Node ${d}`);
    assert.equal(r.threads2, 2);
    assert.deepEqual(r.out2, r.out, 'two threads in the page differ from one');
    t.diagnostic(`${dotSteps.length} relaxed-dot steps; max |diff| vs Node ${d}`);
  } finally {
    await p.close();
    await server.close();
  }
});
