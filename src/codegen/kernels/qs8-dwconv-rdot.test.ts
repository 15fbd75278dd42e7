/**
 * The relaxed-dot qs8 depthwise kernels. Node 20 cannot run the instruction exactly (its probe says 'none'): there
 * we check that selection never takes them unless told the dot is exact. The kernels themselves run in headless
 * Chromium (/usr/bin/chromium through playwright-core) on awkward shapes, each output checked against QLinearConv
 * and byte for byte against qs8-dwconv's i16 row tile run on the same data in the page. The mode the engine does
 * not have is checked where both readings of b agree (inputs and input zero point limited to those bytes).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticSamples } from '../../datasets/calibration-source.js';
import { quantizeModel } from '../../quantize/quantize-model.js';
import { tinyQuantModel } from '../../quantize/testing.js';
import { detectFeatures } from '../../runtime/features.js';
import { createSession } from '../../runtime/session.js';
import { compileModel } from '../compile/compile.js';
import type { Qs8ConvSpec } from './qs8-gemm.js';
import { QS8_DWCONV_VARIANTS, qs8Dwconv } from './qs8-dwconv.js';
import { QS8_DWCONV_RDOT_VARIANTS, candidateQs8DwconvRdotVariants, qs8DwconvRdot } from './qs8-dwconv-rdot.js';
import {
  CHROMIUM_MISSING,
  agreeingInputs,
  probedPageHooks,
  tallyPageRuns,
  qs8PageCase,
  runStepsInPage,
} from './qs8-page-case.js';
import { qs8DwSpecOf } from './qs8-testing.js';

const skip = CHROMIUM_MISSING;
// The page runs the very probe the runtime uses.
const chromium = probedPageHooks({ before, after });

const dw = qs8DwSpecOf;

test('Node: selection takes the relaxed-dot depthwise kernels only when told the dot is exact', async () => {
  const f = detectFeatures();
  if (process.versions.node.startsWith('20.')) assert.equal(f.relaxedDotB, 'none');
  const s = dw(32, 14, 14, 3, 1, 1);
  assert.deepEqual(candidateQs8DwconvRdotVariants(s, 'none'), []);
  assert.deepEqual(candidateQs8DwconvRdotVariants(s, undefined), []);
  assert.ok(candidateQs8DwconvRdotVariants(s, 'unsigned').every((v) => v.isa === 'wasmusdot'));
  assert.ok(candidateQs8DwconvRdotVariants(s, 'signed').every((v) => v.isa === 'wasmsdot'));
  assert.equal(candidateQs8DwconvRdotVariants(s, 'unsigned')[0]!.tile, '2x16x8c4');
  assert.equal(candidateQs8DwconvRdotVariants(dw(32, 14, 14, 3, 2, 1), 'unsigned')[0]!.tile, '16x8c4r');
  assert.equal(candidateQs8DwconvRdotVariants(dw(32, 14, 14, 5, 1, 2), 'unsigned')[0]!.tile, '2x8x8c4');
  assert.equal(candidateQs8DwconvRdotVariants(dw(32, 14, 14, 5, 2, 2), 'unsigned')[0]!.tile, '16x8c4');
  // One output row: the two-row tiles do not apply.
  assert.ok(candidateQs8DwconvRdotVariants(dw(32, 1, 14, 3, 1, 1), 'unsigned').every((v) => v.rows === 1));
  // Shapes not measured stay on the i16 kernel: dilation, 7x7, not depthwise.
  assert.deepEqual(candidateQs8DwconvRdotVariants(dw(32, 14, 14, 3, 1, 2, 2), 'unsigned'), []);
  assert.deepEqual(candidateQs8DwconvRdotVariants(dw(32, 14, 14, 7, 1, 3), 'unsigned'), []);
  assert.deepEqual(candidateQs8DwconvRdotVariants({ ...dw(32, 14, 14, 3, 1, 1), group: 1 }, 'unsigned'), []);
  const samples = syntheticSamples([1, 3, 12, 12], 8);
  const { model } = await quantizeModel(tinyQuantModel(), samples, { method: 'minmax', activations: 'uint8' });
  const dwDot = (ids: string[]): string[] => ids.filter((id) => /^qs8-dwconv-.*-wasmu?sdot$/.test(id));
  if (f.relaxedDotB === 'none') {
    const session = await createSession(model, { relaxedSimd: 'auto' });
    assert.deepEqual(dwDot(session.steps.map((st) => st.kernelId)), []);
  }
  assert.deepEqual(dwDot(compileModel(model, { relaxedSimd: true }).steps.map((st) => st.kernelId)), []);
  for (const b of ['unsigned', 'signed'] as const) {
    const c = compileModel(model, { relaxedSimd: true, relaxedDotB: b });
    const ids = dwDot(c.steps.map((st) => st.kernelId));
    assert.equal(ids.length, 1, c.steps.map((st) => st.kernelId).join());
    assert.ok(ids[0]!.endsWith(b === 'unsigned' ? '-wasmusdot' : '-wasmsdot'), ids[0]);
    assert.equal(c.relaxedDotB, b);
  }
});

test(
  'Chromium: relaxed-dot depthwise equals QLinearConv and the i16 depthwise kernel bit for bit on awkward shapes',
  { skip, timeout: 300_000 },
  async (t) => {
    if (chromium.current?.relaxedDotB === 'none') return t.skip('this Chromium has no exact int8 dot-add');
    const cases: { s: Qs8ConvSpec; zIn: number; zOut: number; extra: number }[] = [
      { s: dw(5, 6, 7, 3, 1, 1), zIn: 3, zOut: -4, extra: 0 },
      { s: dw(8, 5, 9, 3, 2, 1), zIn: -128, zOut: 127, extra: 1 },
      { s: dw(19, 7, 6, 5, 1, 2), zIn: 0, zOut: 0, extra: 0 },
      { s: dw(13, 9, 8, 5, 2, 2, 1, 2), zIn: 100, zOut: -20, extra: 3 }, // two images
      { s: dw(3, 5, 7, 3, 1, 2, 2), zIn: 5, zOut: 5, extra: 0 }, // dilation 2, pad 2
      { s: { ...dw(24, 4, 4, 3, 1, 1), outMin: -10, outMax: 60 }, zIn: 1, zOut: -10, extra: 0 }, // fused clamp
      { s: dw(1, 1, 1, 3, 1, 1), zIn: 9, zOut: 0, extra: 0 }, // one pixel, every tap but the centre padding
      { s: dw(9, 3, 3, 5, 1, 2), zIn: -7, zOut: 3, extra: 2 }, // window larger than the input: no interior
      { s: dw(17, 4, 1, 3, 1, 1), zIn: 2, zOut: 1, extra: 0 }, // one column
      { s: dw(23, 1, 9, 3, 1, 1), zIn: -50, zOut: 6, extra: 0 }, // one row
      { s: dw(16, 3, 2, 3, 2, 1), zIn: -3, zOut: 0, extra: 0 },
      { s: dw(40, 6, 3, 3, 1, 1), zIn: 7, zOut: -2, extra: 5 }, // width below the tile
      { s: dw(33, 13, 11, 3, 2, 1), zIn: -1, zOut: 4, extra: 0 }, // odd width at stride 2
      { s: dw(30, 12, 21, 3, 1, 1), zIn: 60, zOut: -1, extra: 0 }, // several tiles plus a remainder
      { s: dw(12, 11, 17, 5, 1, 2), zIn: -90, zOut: 2, extra: 1 },
      { s: dw(20, 15, 15, 5, 2, 2), zIn: 40, zOut: -3, extra: 0 },
      { s: dw(72, 7, 7, 3, 1, 1), zIn: -20, zOut: 8, extra: 0 }, // late layer: channel groups for threads
      { s: { ...dw(10, 8, 10, 3, 1, 0), kernelH: 2, kernelW: 3, outH: 7 }, zIn: 4, zOut: 4, extra: 0 }, // 2x3
      { s: { ...dw(7, 6, 9, 3, 1, 1), kernelH: 3, kernelW: 1, outW: 11, padLeft: 1 }, zIn: -5, zOut: 6, extra: 0 },
      { s: { ...dw(6, 9, 9, 7, 1, 3) }, zIn: 11, zOut: 0, extra: 0 }, // 7x7: two row groups, the last partial
      { s: { ...dw(11, 10, 9, 3, 1, 0), padTop: 2, padLeft: 0, outH: 10, outW: 7 }, zIn: -9, zOut: 1, extra: 0 },
    ];
    const own = chromium.current?.relaxedDotB === 'unsigned' ? 'wasmusdot' : 'wasmsdot';
    // The i16 kernel each relaxed-dot output must equal byte for byte (the measured default tile).
    const i16 = QS8_DWCONV_VARIANTS[0]!;
    type Run = { name: string; c: ReturnType<typeof qs8PageCase>; ref: number; bias: string };
    const runs: Run[] = [];
    const refs: ReturnType<typeof qs8PageCase>[] = [];
    cases.forEach(({ s, zIn, zOut, extra }, i) => {
      for (const isa of ['wasmusdot', 'wasmsdot'] as const) {
        for (const chunks of [1, 3]) {
          const bias = (['int', 'none', 'float'] as const)[(i + chunks) % 3]!;
          const opts = { seed: 500 + i, chunks, zOut, extra, bias, ...agreeingInputs(isa, own, zIn) };
          const ref = refs.push(qs8PageCase(qs8Dwconv, i16, s, opts)) - 1;
          for (const v of QS8_DWCONV_RDOT_VARIANTS.filter((x) => x.isa === isa && qs8DwconvRdot.supports(s, x))) {
            const shape = { c: s.inC, h: s.inH, w: s.inW, k: [s.kernelH, s.kernelW], n: s.batch };
            runs.push({
              name: `${qs8DwconvRdot.id(s, v)} ${JSON.stringify(shape)} chunks ${chunks}`,
              c: qs8PageCase(qs8DwconvRdot, v, s, opts),
              ref,
              bias,
            });
          }
        }
      }
    });
    const refImages = await runStepsInPage(
      chromium.current!.page,
      refs.map((r) => r.step),
    );
    const images = await runStepsInPage(
      chromium.current!.page,
      runs.map((r) => r.c.step),
    );
    const { ones, total } = tallyPageRuns(runs, images, (r, cmp, i) => {
      // Bit for bit the i16 kernel's bytes; that kernel (weights down to -128 here) may itself sit 1 LSB from
      // QLinearConv on a rare tie, so the reference check allows that at a small rate.
      assert.ok(cmp.maxDiff <= 1, `${r.name} (${r.bias} bias): max diff ${cmp.maxDiff}`);
      assert.deepEqual(r.c.output(images[i]!), refs[r.ref]!.output(refImages[r.ref]!), `${r.name} vs i16`);
    });
    t.diagnostic(`${runs.length} steps equal to the i16 kernel; ${ones} of ${total} outputs 1 LSB off (own ${own})`);
  },
);
