/**
 * Test/benchmark harness for one kernel step: lays named float buffers out in one memory (64-byte aligned,
 * each preceded and followed by a 64-byte guard), fills everything that is not input with a sentinel NaN,
 * emits the kernel into a module importing `env.memory`, runs it over [0, extent) in one or several chunks
 * (checking that `(start, end)` slicing composes) and reports whether any guard byte changed.
 * Buffers come back whole, so a test can also check that a view's gaps (pixel stride > channels) kept the
 * sentinel, i.e. that the kernel wrote exactly its channel slice.
 */
import { ModuleBuilder, type FunctionBuilder } from '../wasm/index.js';

/** Bit pattern written to every float that no input initialises (a quiet NaN nobody computes). */
export const SENTINEL_BITS = 0x7fa5a5a5;
const GUARD_BYTES = 64;

export interface HarnessBuffer {
  /** Size in floats. */
  floats: number;
  /** Initial contents (length <= floats); the rest is sentinel. */
  init?: Float32Array;
}

export interface HarnessRun {
  buffers: Record<string, Float32Array>;
  /** Byte address of each buffer (for tests that compute views). */
  addr: Record<string, number>;
  /** Names of buffers whose guard regions were written. */
  guardViolations: string[];
  /** Calls the compiled step again over [start, end) (for timing). */
  call(start: number, end: number): void;
  /** Re-reads the buffers after extra calls. */
  read(): Record<string, Float32Array>;
}

/**
 * Build a module with one `(start, end)` step emitted by `emit` over `memory`, and run [0, extent) as `chunks`
 * ranges the way threads split a step (an empty extent still makes one call, with start = end = 0). Returns the
 * step, for timing calls.
 */
export function runStepInChunks(
  memory: WebAssembly.Memory,
  emit: (fn: FunctionBuilder) => void,
  extent: number,
  chunks: number,
): (start: number, end: number) => void {
  const m = new ModuleBuilder();
  m.importMemory('env', 'memory', { initialPages: memory.buffer.byteLength / 65536 });
  const fn = m.addFunction('step', ['i32', 'i32'], []);
  emit(fn);
  m.exportFunction('step', fn.index);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()), { env: { memory } });
  const step = inst.exports['step'] as (s: number, e: number) => void;
  const n = Math.max(1, Math.min(chunks, extent));
  for (let i = 0; i < n; i++) {
    const s = Math.floor((i * extent) / n);
    const e = Math.floor(((i + 1) * extent) / n);
    if (e > s || extent === 0) step(s, e);
  }
  return step;
}

/** True when the float's bits are the sentinel. */
export function isSentinel(x: number): boolean {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0] === SENTINEL_BITS;
}

/**
 * Build, instantiate and run one kernel step. `emit` fills the body of `(start, end) -> ()` given each
 * buffer's byte address; `chunks` splits [0, extent) into that many nearly equal calls (default 1).
 */
export function runKernel(
  buffers: Record<string, HarnessBuffer>,
  extent: number,
  emit: (fn: FunctionBuilder, addr: Record<string, number>) => void,
  chunks = 1,
): HarnessRun {
  const addr: Record<string, number> = {};
  let p = GUARD_BYTES;
  for (const [name, b] of Object.entries(buffers)) {
    addr[name] = p;
    p += Math.ceil((b.floats * 4) / 64) * 64 + GUARD_BYTES;
  }
  const totalBytes = p + 64;
  const pages = Math.ceil(totalBytes / 65536);
  const memory = new WebAssembly.Memory({ initial: pages });
  const u32 = new Uint32Array(memory.buffer);
  u32.fill(SENTINEL_BITS);
  for (const [name, b] of Object.entries(buffers)) {
    if (b.init) new Float32Array(memory.buffer, addr[name], b.init.length).set(b.init);
  }
  const step = runStepInChunks(memory, (fn) => emit(fn, addr), extent, chunks);
  const read = (): Record<string, Float32Array> => {
    const out: Record<string, Float32Array> = {};
    for (const [name, b] of Object.entries(buffers)) {
      out[name] = new Float32Array(memory.buffer, addr[name], b.floats).slice();
    }
    return out;
  };
  const guardViolations: string[] = [];
  for (const [name, b] of Object.entries(buffers)) {
    const before = new Uint32Array(memory.buffer, addr[name]! - GUARD_BYTES, GUARD_BYTES / 4);
    const endBytes = addr[name]! + b.floats * 4;
    const afterLen = (Math.ceil((b.floats * 4) / 64) * 64 + GUARD_BYTES - b.floats * 4) / 4;
    const after = new Uint32Array(memory.buffer, endBytes, afterLen);
    if (before.some((v) => v !== SENTINEL_BITS) || after.some((v) => v !== SENTINEL_BITS)) {
      guardViolations.push(name);
    }
  }
  return { buffers: read(), addr, guardViolations, call: step, read };
}

/** Median time in ms of `fn` over `reps` runs after `warmup` runs. */
export function medianTimeMs(fn: () => void, reps = 21, warmup = 3): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/** Deterministic pseudo-random floats in [lo, hi) (xorshift32), so failures reproduce. */
export function randomFloats(n: number, seed = 1, lo = -4, hi = 4): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

/** NCHW data -> NHWC with `pixelStride` (>= C) and channel offset, other elements filled with `fill`. */
export function toNhwc(
  nchw: Float32Array,
  shape: readonly number[],
  pixelStride = shape[1]!,
  channelOffset = 0,
  fill = NaN,
): Float32Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const out = new Float32Array(N * H * W * pixelStride).fill(fill);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          out[((n * H + y) * W + x) * pixelStride + channelOffset + c] = nchw[((n * C + c) * H + y) * W + x]!;
        }
  return out;
}

/** The channel slice of an NHWC buffer (pixel stride, channel offset) back to NCHW. */
export function fromNhwc(
  nhwc: Float32Array,
  shape: readonly number[],
  pixelStride = shape[1]!,
  channelOffset = 0,
): Float32Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const out = new Float32Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          out[((n * C + c) * H + y) * W + x] = nhwc[((n * H + y) * W + x) * pixelStride + channelOffset + c]!;
        }
  return out;
}

/** Largest |got - want| / (atol + rtol * |want|) (<= 1 means within tolerance); NaN matches NaN. */
export function maxToleranceRatio(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) return Infinity;
      continue;
    }
    if (g === w) continue;
    const r = Math.abs(g - w) / (atol + rtol * Math.abs(w));
    if (!(r <= worst)) worst = r;
  }
  return worst;
}

/**
 * Checks that every float of `buf` outside the channel slice [channelOffset, channelOffset + C) of each
 * pixel still holds the sentinel; returns the first offending index or -1.
 */
export function firstWriteOutsideSlice(
  buf: Float32Array,
  pixels: number,
  pixelStride: number,
  channelOffset: number,
  channels: number,
): number {
  const bits = new Uint32Array(buf.buffer, buf.byteOffset, buf.length);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < pixelStride; c++) {
      if (c >= channelOffset && c < channelOffset + channels) continue;
      const i = p * pixelStride + c;
      if (bits[i] !== SENTINEL_BITS) return i;
    }
  }
  return -1;
}
