/**
 * The relaxed-dot qs8 kernels against the i16-dot ones in one headless Chromium page:
 * `node dist/bench/browser-qs8-kernels.js [filter] [--rounds 15] [--all]` (filter: part of the layer name).
 * Layers: MobileNetV2's 1x1 convolutions (`pw-HWxCxM`), the dense layers of `qs8-kernels.ts` (ResNet-18's 3x3
 * and strided 1x1, the stems), and depthwise ones (`dw-KxK[sS]-HWxC`: MobileNetV2's 3x3s, EfficientNet-B0's 5x5s).
 * Every candidate of both kinds (qs8-gemm tiles or qs8-conv, im2col and Winograd tiles, or the qs8-dwconv row
 * tiles; the relaxed-dot tiles) is built in Node (same data, int32 bias, ReLU clamp), checked equal to QLinearConv
 * in the page first, warmed up (>= 3 calls and 250 ms: tier-up), then timed interleaved, `rounds` samples each.
 * Prints per layer the medians of the i16 cost model's pick, the best i16 candidate, the relaxed-dot pick and the
 * best relaxed-dot tile, GMAC/s and the best/best ratio (`--all`: every candidate's median too).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pickQs8Im2colVariant, qs8Conv, qs8ConvIm2col } from '../codegen/kernels/qs8-conv.js';
import {
  QS8_GEMM_VARIANTS,
  type Qs8ConvSpec,
  candidateQs8GemmVariants,
  isPointwise,
  pointwiseQs8Spec,
  qs8Gemm,
} from '../codegen/kernels/qs8-gemm.js';
import { candidateQs8GemmRdotVariants, qs8ConvRdot, qs8GemmRdot } from '../codegen/kernels/qs8-gemm-rdot.js';
import { QS8_WINOGRAD_VARIANTS, qs8Winograd } from '../codegen/kernels/qs8-winograd.js';
import type { Qs8ConvFamilyLike } from '../codegen/kernels/qs8-testing.js';
import type { KernelVariant } from '../codegen/kernels/types.js';
import { QS8_BENCH_LAYERS, layer } from './qs8-kernels.js';
import { QS8_DWCONV_VARIANTS, qs8Dwconv } from '../codegen/kernels/qs8-dwconv.js';
import { candidateQs8DwconvRdotVariants, qs8DwconvRdot } from '../codegen/kernels/qs8-dwconv-rdot.js';
import {
  type Qs8PageCase,
  CHROMIUM,
  openProbedPage,
  qs8PageCase,
  runStepsInPage,
  timeStepsInPage,
} from '../codegen/kernels/qs8-page-case.js';
import { median } from './stats.js';

/** MobileNetV2's distinct 1x1 convolutions: input size, input channels, output channels. */
const LAYERS: readonly [number, number, number][] = [
  [112, 32, 16],
  [112, 16, 96],
  [56, 96, 24],
  [56, 24, 144],
  [56, 144, 24],
  [28, 144, 32],
  [28, 32, 192],
  [28, 192, 32],
  [14, 192, 64],
  [14, 64, 384],
  [14, 384, 64],
  [14, 384, 96],
  [14, 96, 576],
  [14, 576, 96],
  [7, 576, 160],
  [7, 160, 960],
  [7, 960, 160],
  [7, 960, 320],
  [7, 320, 1280],
];

/** Depthwise layers: input size, channels, kernel, stride (MobileNetV2's 3x3s, then EfficientNet-B0's 5x5s). */
const DW_LAYERS: readonly [number, number, number, number][] = [
  [112, 32, 3, 1],
  [112, 96, 3, 2],
  [56, 144, 3, 1],
  [56, 144, 3, 2],
  [28, 192, 3, 1],
  [28, 192, 3, 2],
  [14, 384, 3, 1],
  [14, 576, 3, 1],
  [14, 576, 3, 2],
  [7, 960, 3, 1],
  [56, 144, 5, 2],
  [28, 240, 5, 1],
  [14, 672, 5, 1],
  [7, 1152, 5, 1],
];

/** Every benchmarked layer: MobileNetV2's 1x1s, the dense (group 1) layers of qs8-kernels, the depthwise ones. */
const BENCH_LAYERS: readonly { name: string; spec: Qs8ConvSpec }[] = [
  ...LAYERS.map(([hw, c, m]) => ({ name: `pw-${hw}x${c}x${m}`, spec: pointwiseQs8Spec(c, m, hw, hw, 1, [0, 127]) })),
  ...QS8_BENCH_LAYERS.filter((l) => l.spec.group === 1 && !isPointwise(l.spec)),
  ...DW_LAYERS.map(([hw, c, k, s]) => layer(`dw-${k}x${k}${s > 1 ? `s${s}` : ''}-${hw}x${c}`, hw, c, c, k, s, c)),
];

interface Candidate {
  id: string;
  fam: Qs8ConvFamilyLike<KernelVariant>;
  v: KernelVariant;
  pick: boolean;
  rdot: boolean;
}

/** The i16 candidates as lower-int8 offers them (its first one the cost model's pick), then the relaxed-dot ones. */
function candidates(s: Qs8ConvSpec, dotB: 'unsigned' | 'signed' | 'none'): Candidate[] {
  const out: Candidate[] = [];
  const add = (fam: unknown, v: KernelVariant, rdot: boolean): void => {
    const f = fam as Qs8ConvFamilyLike<KernelVariant> & { id(s: Qs8ConvSpec, v: KernelVariant): string };
    const first = !out.some((c) => c.rdot === rdot);
    out.push({ id: f.id(s, v), fam: f, v, pick: first, rdot });
  };
  if (s.group > 1) {
    for (const v of QS8_DWCONV_VARIANTS.filter((v) => qs8Dwconv.supports(s, v))) add(qs8Dwconv, v, false);
    for (const v of candidateQs8DwconvRdotVariants(s, dotB)) add(qs8DwconvRdot, v, true);
    return out;
  }
  if (isPointwise(s)) {
    const pick = candidateQs8GemmVariants(s)[0]!;
    for (const v of [pick, ...QS8_GEMM_VARIANTS.filter((v) => v !== pick && qs8Gemm.supports(s, v))])
      add(qs8Gemm, v, false);
  } else {
    for (const v of QS8_WINOGRAD_VARIANTS.filter((v) => qs8Winograd.supports(s, v))) add(qs8Winograd, v, false);
    if (qs8ConvIm2col.supports(s, pickQs8Im2colVariant(s))) add(qs8ConvIm2col, pickQs8Im2colVariant(s), false);
    for (const v of candidateQs8GemmVariants(s).filter((v) => qs8Conv.supports(s, v))) add(qs8Conv, v, false);
  }
  for (const v of candidateQs8GemmRdotVariants(s, dotB)) add(isPointwise(s) ? qs8GemmRdot : qs8ConvRdot, v, true);
  return out;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { rounds: { type: 'string', default: '15' }, all: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (!existsSync(CHROMIUM)) {
    console.log(`skipped: ${CHROMIUM} is absent`);
    return;
  }
  const { browser, page, relaxedDotB: dotB } = await openProbedPage(CHROMIUM);
  try {
    console.log(`Chromium relaxedDotB: ${dotB}; one thread, medians of ${values.rounds} interleaved samples`);
    console.log(
      '| layer | i16 pick ms | best i16 | rdot pick ms | best rdot | GMAC/s best/best | speed-up best/best |',
    );
    console.log('|---|---|---|---|---|---|---|');
    const layers = BENCH_LAYERS.filter((l) => l.name.includes(positionals[0] ?? ''));
    for (const { name, spec: s } of layers) {
      const opts = { seed: 3, chunks: 1, zIn: -3, zOut: -128, extra: 0, bias: 'int' } as const;
      const rows = candidates(s, dotB).map((c) => ({ ...c, c: qs8PageCase(c.fam, c.v, s, opts) }));
      const images = await runStepsInPage(
        page,
        rows.map((r) => r.c.step),
      );
      rows.forEach((r, i) => {
        const cmp = r.c.verify(images[i]!);
        if (cmp.maxDiff !== 0) throw new Error(`${r.id} on ${name} differs from QLinearConv by ${cmp.maxDiff}`);
      });
      const times = await timeStepsInPage(
        page,
        rows.map((r) => r.c.step),
        Number(values.rounds),
      );
      const med = times.map(median);
      const best = (rd: boolean): { id: string; ms: number } =>
        rows.reduce((a, r, i) => (r.rdot === rd && med[i]! < a.ms ? { id: r.id, ms: med[i]! } : a), {
          id: '-',
          ms: Infinity,
        });
      const bOld = best(false);
      const bNew = best(true);
      if (values.all) console.log(`|   ${rows.map((r, i) => `${r.id} ${med[i]!.toFixed(3)}`).join(', ')} |`);
      const pickMs = (rd: boolean): number => med[rows.findIndex((r) => r.pick && r.rdot === rd)] ?? NaN;
      const macs = s.outH * s.outW * s.outC * (s.inC / s.group) * s.kernelH * s.kernelW;
      const g = (ms: number): string => (macs / ms / 1e6).toFixed(1);
      const tile = (id: string): string => id.replace(/^qs8-/, '');
      console.log(
        `| ${name} | ${pickMs(false).toFixed(3)} | ${tile(bOld.id)} ${bOld.ms.toFixed(3)} | ${pickMs(true).toFixed(3)} | ${
          Number.isFinite(bNew.ms) ? `${tile(bNew.id)} ${bNew.ms.toFixed(3)}` : '-'
        } | ${g(bOld.ms)} / ${g(bNew.ms)} | ${(bOld.ms / bNew.ms).toFixed(2)} |`,
      );
    }
  } finally {
    await browser.close();
  }
}

await main();
