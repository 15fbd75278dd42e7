/**
 * qs8 conv kernel steps run in another engine (a browser page through playwright-core): a case is prepared in
 * Node (random data, packed weights, the guarded byte image of qs8-testing's layout, the step's module bytes and
 * the QLinearConv reference), the page instantiates the module over a copy of the image and calls the step in
 * chunks (or times it), and Node checks the returned image: guards, untouched gaps, and the outputs against the
 * reference. Used where Node cannot run the instruction (the relaxed int8 dot product).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RelaxedDotB } from '../../runtime/features.js';
import { ModuleBuilder } from '../wasm/index.js';
import type { Qs8ConvSpec } from './qs8-gemm.js';
import { type Qs8CaseOptions, type Qs8ConvFamilyLike, compareNhwc, nchwToNhwc, qs8Case } from './qs8-testing.js';
import type { KernelVariant } from './types.js';

const GUARD = 64;
const SENTINEL = 0xa5;

/** What the page needs to run one step: module bytes, the initial memory image, the extent and chunk count. */
export interface PageStep {
  wasm: Uint8Array;
  image: Uint8Array;
  extent: number;
  chunks: number;
}

/** A prepared case: the step, and the check of the memory image the page returns. */
export interface Qs8PageCase {
  step: PageStep;
  verify(image: Uint8Array): ReturnType<typeof compareNhwc>;
  /** The output buffer's bytes (NHWC, pixel stride as run) in an image the page returned. */
  output(image: Uint8Array): Int8Array;
}

/** A headless Chromium page (playwright-core) and what the runtime's own start-up probe found in it. */
export interface ProbedPage {
  browser: import('playwright-core').Browser;
  page: import('playwright-core').Page;
  relaxedDotB: RelaxedDotB;
}

/** Launch Chromium at `executablePath` and run the runtime's feature probe (features.js imports nothing) in a page. */
export async function openProbedPage(executablePath: string): Promise<ProbedPage> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage();
  const src = readFileSync(fileURLToPath(new URL('../../runtime/features.js', import.meta.url)), 'utf8');
  await page.addScriptTag({ type: 'module', content: `${src}\nglobalThis.__features = detectFeatures();` });
  await page.waitForFunction(() => (globalThis as { __features?: unknown }).__features !== undefined);
  const relaxedDotB = await page.evaluate(
    () => (globalThis as unknown as { __features: { relaxedDotB: RelaxedDotB } }).__features.relaxedDotB,
  );
  return { browser, page, relaxedDotB };
}

/** Where the tests and benches look for Chromium, and why Chromium tests skip when it is not there. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_MISSING = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (apt-get install chromium)`;

/** A test file's probed page: opened by a `before` hook unless Chromium is missing, closed by an `after` hook. */
export function probedPageHooks(hooks: {
  before(fn: () => Promise<void>): void;
  after(fn: () => Promise<void>): void;
}): { current: ProbedPage | undefined } {
  const holder: { current: ProbedPage | undefined } = { current: undefined };
  hooks.before(async () => {
    if (!CHROMIUM_MISSING) holder.current = await openProbedPage(CHROMIUM);
  });
  hooks.after(async () => holder.current?.browser.close());
  return holder;
}

/**
 * Inputs a relaxed-dot kernel of reading `isa` can be checked on in an engine whose own reading is `own`: the full
 * int8 range and the given zero point in its own mode; in the other, only bytes both readings agree on (b = q + 128
 * below 128, i.e. q < 0, for unsigned feeding; b = q >= 0 for signed feeding), the zero point (the pad lanes) too.
 */
export function agreeingInputs(
  isa: 'wasmusdot' | 'wasmsdot',
  own: 'wasmusdot' | 'wasmsdot',
  zIn: number,
): { inRange: [number, number]; zIn: number } {
  if (isa === own) return { inRange: [-128, 127], zIn };
  return isa === 'wasmusdot'
    ? { inRange: [-128, -1], zIn: -1 - (Math.abs(zIn) % 128) }
    : { inRange: [0, 127], zIn: Math.abs(zIn) % 128 };
}

/**
 * Check every run's returned image (`check` asserts what the run must meet, given its comparison with QLinearConv
 * and its image index) and that at most 1% of all outputs are 1 LSB off; returns the counts.
 */
export function tallyPageRuns<R extends { c: Qs8PageCase }>(
  runs: readonly R[],
  images: readonly Uint8Array[],
  check: (r: R, cmp: ReturnType<typeof compareNhwc>, i: number) => void,
): { ones: number; total: number } {
  let ones = 0;
  let total = 0;
  runs.forEach((r, i) => {
    const cmp = r.c.verify(images[i]!);
    check(r, cmp, i);
    ones += cmp.offByOne;
    total += cmp.total;
  });
  assert.ok(ones <= total * 0.01, `${ones} of ${total} outputs off by one`);
  return { ones, total };
}

/** The subset of a playwright Page used here. */
export interface PageLike {
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
}

/**
 * Prepare `s` through a family as `checkQs8Conv` does (weights over the full int8 range). With an int32 bias (or
 * none) the outputs must equal QLinearConv's; a float-only bias may flip a tie (1 LSB).
 */
export function qs8PageCase<V extends KernelVariant>(
  fam: Qs8ConvFamilyLike<V>,
  v: V,
  s: Qs8ConvSpec,
  opts: Qs8CaseOptions & { chunks: number },
): Qs8PageCase {
  const c = qs8Case(fam, v, s, { ...opts, weightLo: -128 });
  s = c.s;
  const { x, want, packed, inStride, outStride, pixIn, pixOut, scratchBytes } = c;
  const buffers: Record<string, { bytes: number; init: Int8Array | Uint8Array }> = {
    ...(scratchBytes > 0
      ? { scratch: { bytes: scratchBytes, init: new Uint8Array(scratchBytes).fill(SENTINEL) } }
      : {}),
    x: { bytes: pixIn * inStride, init: nchwToNhwc(x, s.batch, s.inC, s.inH * s.inW, inStride, 99) },
    w: { bytes: packed.length, init: packed },
    y: { bytes: pixOut * outStride, init: new Int8Array(pixOut * outStride).fill(42) },
  };
  const addr: Record<string, number> = {};
  let p = GUARD;
  for (const [name, b] of Object.entries(buffers)) {
    addr[name] = p;
    p += Math.ceil((b.bytes + 16) / 64) * 64 + GUARD;
  }
  const pages = Math.ceil((p + 64) / 65536);
  const image = new Uint8Array(pages * 65536).fill(SENTINEL);
  for (const [name, b] of Object.entries(buffers))
    image.set(new Uint8Array(b.init.buffer, b.init.byteOffset, b.bytes), addr[name]);
  const m = new ModuleBuilder();
  m.importMemory('env', 'memory', { initialPages: pages });
  const fn = m.addFunction('step', ['i32', 'i32'], []);
  fam.emit(fn, s, v, {
    input: { addrBytes: addr['x']!, pixelStride: inStride },
    packedWeights: addr['w']!,
    output: { addrBytes: addr['y']!, pixelStride: outStride },
    ...(scratchBytes > 0 ? { scratch: addr['scratch']! } : {}),
  });
  m.exportFunction('step', fn.index);
  return {
    step: { wasm: m.build(), image, extent: fam.parallelExtent(s, v), chunks: opts.chunks },
    verify(after) {
      for (const [name, b] of Object.entries(buffers)) {
        const a = addr[name]!;
        const guards = [...after.subarray(a - GUARD, a), ...after.subarray(a + b.bytes, a + b.bytes + 16)];
        assert.ok(
          guards.every((g) => g === SENTINEL),
          `guard bytes of ${name} written`,
        );
      }
      const y = new Int8Array(after.buffer, after.byteOffset + addr['y']!, pixOut * outStride);
      for (let i = 0; i < pixOut; i++)
        for (let ch = s.outC; ch < outStride; ch++) assert.equal(y[i * outStride + ch], 42, 'wrote a gap');
      const clamped = want.map((q) => Math.min(s.outMax, Math.max(s.outMin, q)));
      return compareNhwc(y, Int8Array.from(clamped), s.batch, s.outC, s.outH * s.outW, outStride);
    },
    output: (after) => Int8Array.from(new Int8Array(after.buffer, after.byteOffset + addr['y']!, pixOut * outStride)),
  };
}

const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');

/** Run each step in the page (a fresh memory from its image, [0, extent) in `chunks` calls); the final images. */
export async function runStepsInPage(page: PageLike, steps: readonly PageStep[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  // One step per call: a model layer's image is megabytes, and a page message holding dozens of them crashes the tab.
  for (const step of steps) {
    const image = await page.evaluate(
      (c) => {
        const dec = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
        const enc = (u: Uint8Array): string => {
          let s = '';
          for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
          return btoa(s);
        };
        const image = dec(c.image);
        const memory = new WebAssembly.Memory({ initial: image.length / 65536 });
        new Uint8Array(memory.buffer).set(image);
        const inst = new WebAssembly.Instance(new WebAssembly.Module(dec(c.wasm)), { env: { memory } });
        const run = inst.exports['step'] as (s: number, e: number) => void;
        const n = Math.max(1, Math.min(c.chunks, c.extent));
        for (let i = 0; i < n; i++) {
          const s = Math.floor((i * c.extent) / n);
          const e = Math.floor(((i + 1) * c.extent) / n);
          if (e > s || c.extent === 0) run(s, e);
        }
        return enc(new Uint8Array(memory.buffer));
      },
      { wasm: b64(step.wasm), image: b64(step.image), extent: step.extent, chunks: step.chunks },
    );
    out.push(new Uint8Array(Buffer.from(image, 'base64')));
  }
  return out;
}

/**
 * Time steps in the page, interleaved: `rounds` rounds, each calling every step over its whole extent
 * (repeated to >= 2 ms per sample for the page's coarse clock) after a warm-up of >= 3 calls and 250 ms (tier-up);
 * per step the per-call times in ms. Steps are loaded one per call (see `runStepsInPage`), then timed in one.
 */
export async function timeStepsInPage(page: PageLike, steps: readonly PageStep[], rounds: number): Promise<number[][]> {
  type Slot = { __edgecnnSteps?: (() => void)[] };
  await page.evaluate(() => void ((globalThis as Slot).__edgecnnSteps = []), undefined);
  for (const step of steps) {
    await page.evaluate(
      (c) => {
        const dec = (s: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
        const image = dec(c.image);
        const memory = new WebAssembly.Memory({ initial: image.length / 65536 });
        new Uint8Array(memory.buffer).set(image);
        const inst = new WebAssembly.Instance(new WebAssembly.Module(dec(c.wasm)), { env: { memory } });
        const run = inst.exports['step'] as (s: number, e: number) => void;
        (globalThis as Slot).__edgecnnSteps!.push(() => run(0, c.extent));
      },
      { wasm: b64(step.wasm), image: b64(step.image), extent: step.extent },
    );
  }
  return page.evaluate((rounds) => {
    const fns = (globalThis as Slot).__edgecnnSteps!;
    const reps = fns.map((f) => {
      const t0 = performance.now();
      let n = 0;
      while (n < 3 || performance.now() - t0 < 250) {
        f();
        n++;
      }
      return Math.max(1, Math.ceil((2 * n) / (performance.now() - t0)));
    });
    const times: number[][] = fns.map(() => []);
    for (let r = 0; r < rounds; r++) {
      fns.forEach((f, i) => {
        const t0 = performance.now();
        for (let k = 0; k < reps[i]!; k++) f();
        times[i]!.push((performance.now() - t0) / reps[i]!);
      });
    }
    (globalThis as Slot).__edgecnnSteps = [];
    return times;
  }, rounds);
}
