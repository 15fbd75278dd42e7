/**
 * The relaxed-dot qs8 GEMM against the i16-dot qs8 GEMM in one headless Chromium page, on MobileNetV2's 1x1
 * layer shapes: `node dist/bench/browser-qs8-gemm.js [filter] [--rounds 15] [--all]` (filter: part of `HWxCxM`). Every tile of both families is
 * built in Node (same data, int32 bias, ReLU clamp), checked equal to QLinearConv in the page first, warmed up
 * (>= 3 calls and 250 ms: tier-up), then timed interleaved, `rounds` samples each; prints per layer the medians
 * of the cost model's qs8-gemm pick, the best qs8-gemm tile, the relaxed-dot pick and the best relaxed-dot
 * tile, GMAC/s and the best/best ratio (`--all`: every tile's median too).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QS8_GEMM_VARIANTS, type Qs8ConvSpec, candidateQs8GemmVariants, qs8Gemm } from '../codegen/kernels/qs8-gemm.js';
import { candidateQs8GemmRdotVariants, qs8GemmRdot } from '../codegen/kernels/qs8-gemm-rdot.js';
import { type Qs8PageCase, qs8PageCase, runStepsInPage, timeStepsInPage } from '../codegen/kernels/qs8-page-case.js';
import { median } from './stats.js';

const CHROMIUM = '/usr/bin/chromium';

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

function spec(hw: number, c: number, m: number): Qs8ConvSpec {
  return {
    batch: 1,
    inH: hw,
    inW: hw,
    inC: c,
    outH: hw,
    outW: hw,
    outC: m,
    kernelH: 1,
    kernelW: 1,
    strideH: 1,
    strideW: 1,
    padTop: 0,
    padLeft: 0,
    dilationH: 1,
    dilationW: 1,
    group: 1,
    outMin: 0,
    outMax: 127,
  };
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
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const src = readFileSync(fileURLToPath(new URL('../runtime/features.js', import.meta.url)), 'utf8');
    await page.addScriptTag({ type: 'module', content: `${src}\nglobalThis.__features = detectFeatures();` });
    await page.waitForFunction(() => (globalThis as { __features?: unknown }).__features !== undefined);
    const dotB = await page.evaluate(
      () =>
        (globalThis as unknown as { __features: { relaxedDotB: 'unsigned' | 'signed' | 'none' } }).__features
          .relaxedDotB,
    );
    console.log(`Chromium relaxedDotB: ${dotB}; one thread, medians of ${values.rounds} interleaved samples`);
    console.log(
      '| layer | qs8-gemm pick ms | best qs8-gemm | rdot pick ms | best rdot | GMAC/s best/best | speed-up best/best |',
    );
    console.log('|---|---|---|---|---|---|---|');
    const layers = LAYERS.filter(([hw, c, m]) => `${hw}x${c}x${m}`.includes(positionals[0] ?? ''));
    for (const [hw, c, m] of layers) {
      const s = spec(hw, c, m);
      const old = QS8_GEMM_VARIANTS.filter((v) => qs8Gemm.supports(s, v));
      const oldPick = candidateQs8GemmVariants(s)[0]!;
      const rdot = candidateQs8GemmRdotVariants(s, dotB);
      const opts = { seed: 3, chunks: 1, zIn: -3, zOut: -128, extra: 0, bias: 'int' } as const;
      const rows: { id: string; pick: boolean; rdot: boolean; c: Qs8PageCase }[] = [
        ...old.map((v) => ({
          id: qs8Gemm.id(s, v),
          pick: v === oldPick,
          rdot: false,
          c: qs8PageCase(qs8Gemm, v, s, opts),
        })),
        ...rdot.map((v, i) => ({
          id: qs8GemmRdot.id(s, v),
          pick: i === 0,
          rdot: true,
          c: qs8PageCase(qs8GemmRdot, v, s, opts),
        })),
      ];
      const images = await runStepsInPage(
        page,
        rows.map((r) => r.c.step),
      );
      rows.forEach((r, i) => {
        const cmp = r.c.verify(images[i]!);
        if (cmp.maxDiff !== 0) throw new Error(`${r.id} on ${hw}x${c}x${m} differs from QLinearConv by ${cmp.maxDiff}`);
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
      if (values.all)
        console.log(
          `|   ${rows.map((r, i) => `${r.id.replace(/^qs8-gemm(-minmax)?-/, '')} ${med[i]!.toFixed(3)}`).join(', ')} |`,
        );
      const pickMs = (rd: boolean): number => med[rows.findIndex((r) => r.pick && r.rdot === rd)] ?? NaN;
      const macs = hw * hw * c * m;
      const g = (ms: number): string => (macs / ms / 1e6).toFixed(1);
      const tile = (id: string): string => id.replace(/^qs8-gemm(-minmax)?-/, '');
      console.log(
        `| ${hw}x${hw} ${c}->${m} | ${pickMs(false).toFixed(3)} | ${tile(bOld.id)} ${bOld.ms.toFixed(3)} | ${pickMs(true).toFixed(3)} | ${
          Number.isFinite(bNew.ms) ? `${tile(bNew.id)} ${bNew.ms.toFixed(3)}` : '-'
        } | ${g(bOld.ms)} / ${g(bNew.ms)} | ${(bOld.ms / bNew.ms).toFixed(2)} |`,
      );
    }
  } finally {
    await browser.close();
  }
}

await main();
