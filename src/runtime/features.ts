/**
 * Start-up probes of the WebAssembly engine: SIMD128, relaxed SIMD (validated AND semantically checked:
 * relaxed_madd must compute a*b+c, fused or not), and threads (shared memory). The probe modules are tiny
 * hand-encoded binaries because runtime/ must not import the compiler (the test checks they equal what the
 * emitter produces). The int8 dot-add is run on lane-varied operands (lane order, addend, sign and i16
 * saturation all show) to learn how it reads b with its high bit set: as u8 (x86 VNNI), as i8 (ARM sdot), or
 * inexactly (x86 pmaddubsw fallback saturates; Node 20 doubles the dot and drops c). Results are memoised per
 * process; `detectFeatures({ refresh: true })` re-probes.
 */

/**
 * How `i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c)` reads a b byte with its high bit set, when the whole
 * instruction is exact: `unsigned` (b as u8: x86 vpdpbusd), `signed` (b as i8: ARM sdot); `none` when it is
 * inexact for such b or unavailable. Either exact mode makes it a full int8 dot product (kernels `-wasmusdot`,
 * `-wasmsdot`).
 */
export type RelaxedDotB = 'unsigned' | 'signed' | 'none';

/** What the engine can run. */
export interface WasmFeatures {
  /** Fixed-width SIMD128. */
  simd: boolean;
  /** Relaxed SIMD validated and `f32x4.relaxed_madd` computes a*b+c (variants `-wasmrelaxed` are allowed). */
  relaxedSimd: boolean;
  /** Whether relaxed_madd is fused (single rounding); undefined when relaxed SIMD is unavailable. */
  relaxedMaddFused: boolean | undefined;
  /**
   * `i32x4.relaxed_dot_i8x16_i7x16_add_s` computes dot4(a, b) + c on 7-bit b. False on Node 20 (V8 11.3), whose
   * implementation returns 2 * dot4 and drops c: int8 kernels must check this, not `relaxedSimd`.
   */
  relaxedDotAdd: boolean;
  /** How the dot-add reads b bytes >= 128 (`none` unless `relaxedDotAdd` and exact). */
  relaxedDotB: RelaxedDotB;
  /** SharedArrayBuffer-backed shared WebAssembly.Memory can be created (threads possible). */
  threads: boolean;
}

// (func (param f32 f32 f32) (result f32) f32x4.relaxed_madd(splat p0, splat p1, splat p2) lane 0) exported "f"
const RELAXED_MADD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d, 0x03,
  0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0x20, 0x00, 0xfd, 0x13,
  0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13, 0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b,
]);

// (func (param i32) (result i32) i32x4.add(splat p0, splat p0) lane 3) exported "f"
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01,
  0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x12, 0x01, 0x10, 0x00, 0x20, 0x00, 0xfd, 0x11, 0x20, 0x00,
  0xfd, 0x11, 0xfd, 0xae, 0x01, 0xfd, 0x1b, 0x03, 0x0b,
]);

// (func (param i32 i32 i32) (result i32)
//   i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.splat p0, i8x16.splat p1, i32x4.splat p2) lane 0) exported "f"
const RELAXED_DOT_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x03,
  0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0x20, 0x00, 0xfd, 0x0f,
  0x20, 0x01, 0xfd, 0x0f, 0x20, 0x02, 0xfd, 0x11, 0xfd, 0x93, 0x02, 0xfd, 0x1b, 0x00, 0x0b,
]);

// (memory 1 1) exported "m"; (func "f") stores at 48 i32x4.relaxed_dot_i8x16_i7x16_add_s(load 0, load 16, load 32).
const RELAXED_DOT_LANES_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x05,
  0x04, 0x01, 0x01, 0x01, 0x01, 0x07, 0x09, 0x02, 0x01, 0x66, 0x00, 0x00, 0x01, 0x6d, 0x02, 0x00, 0x0a, 0x1f, 0x01,
  0x1d, 0x00, 0x41, 0x30, 0x41, 0x00, 0xfd, 0x00, 0x02, 0x00, 0x41, 0x10, 0xfd, 0x00, 0x02, 0x00, 0x41, 0x20, 0xfd,
  0x00, 0x02, 0x00, 0xfd, 0x93, 0x02, 0xfd, 0x0b, 0x02, 0x00, 0x0b,
]);

/** The probe binaries, exposed for the test that checks them against the emitter. */
export const PROBE_MODULES = {
  relaxedMadd: RELAXED_MADD_PROBE,
  simd: SIMD_PROBE,
  relaxedDot: RELAXED_DOT_PROBE,
  relaxedDotLanes: RELAXED_DOT_LANES_PROBE,
} as const;

function instantiateProbe(bytes: Uint8Array<ArrayBuffer>): ((...a: number[]) => number) | undefined {
  try {
    if (!WebAssembly.validate(bytes)) return undefined;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    return inst.exports['f'] as (...a: number[]) => number;
  } catch {
    return undefined;
  }
}

function probeSimd(): boolean {
  const f = instantiateProbe(SIMD_PROBE);
  return f !== undefined && f(21) === 42;
}

/**
 * Semantic relaxed_madd check. With a = b = 1 + 2^-12 and c = -(1 + 2^-11): a*b = 1 + 2^-11 + 2^-24 exactly,
 * which rounds to 1 + 2^-11 in f32, so unfused gives 0 and fused gives 2^-24. Any other answer, or a wrong
 * ordinary product, means the instruction is not a*b+c and relaxed variants must not be used.
 */
function probeRelaxed(): { ok: boolean; fused: boolean | undefined } {
  const f = instantiateProbe(RELAXED_MADD_PROBE);
  if (!f) return { ok: false, fused: undefined };
  if (f(2, 3, 1) !== 7 || f(-1.5, 4, 0.25) !== -5.75) return { ok: false, fused: undefined };
  const a = 1 + 2 ** -12;
  const r = f(a, a, -(1 + 2 ** -11));
  if (r === 0) return { ok: true, fused: false };
  if (r === 2 ** -24) return { ok: true, fused: true };
  return { ok: false, fused: undefined };
}

/** dot4 of splatted int8 a and 7-bit b plus c: 4ab + c for a few sign/magnitude cases. */
function probeRelaxedDot(): boolean {
  const f = instantiateProbe(RELAXED_DOT_PROBE);
  if (!f) return false;
  const cases: [number, number, number][] = [
    [1, 1, 0],
    [-3, 5, 10],
    [-128, 127, -7],
    [127, 127, 100000],
  ];
  return cases.every(([a, b, c]) => f(a, b, c) === 4 * a * b + c);
}

/** One dot-add probe case: a (i8), b (bytes), c (i32 per lane). */
export interface DotCase {
  a: readonly number[];
  b: readonly number[];
  c: readonly number[];
}

/**
 * The lane-varied cases. 0: b within [0, 127] (both readings agree). 1: b >= 128 everywhere it matters: lane 0
 * and 1 are -128 x 255 and 127 x 255 four times (|pair sums| of 65280 and 64770 saturate an i16 pmaddubsw;
 * as i8 they are small), lanes 2-3 mix signs and magnitudes so a lane swap or a dropped c shows.
 */
export const DOT_PROBE_CASES: readonly DotCase[] = [
  {
    a: [-128, 127, 3, -7, 100, -100, 1, 0, 55, -1, -128, 127, 9, 8, -9, 77],
    b: [127, 127, 0, 5, 1, 2, 3, 4, 126, 127, 64, 63, 100, 17, 33, 1],
    c: [5, -7, 100000, -123456],
  },
  {
    a: [-128, -128, -128, -128, 127, 127, 127, 127, -128, 127, 5, -7, 1, -2, 3, -4],
    b: [255, 255, 255, 255, 255, 255, 255, 255, 128, 1, 200, 130, 129, 3, 250, 7],
    c: [5, -7, 100000, -123456],
  },
];

/** dot4(a, b) + c per lane, reading b as u8 or as i8. */
export function expectedDot(k: DotCase, b: 'unsigned' | 'signed'): number[] {
  return [0, 1, 2, 3].map((j) => {
    let s = k.c[j]!;
    for (let i = 4 * j; i < 4 * j + 4; i++) s += k.a[i]! * (b === 'unsigned' ? k.b[i]! & 255 : (k.b[i]! << 24) >> 24);
    return s;
  });
}

/** Which reading of b (high bit set) the engine's dot-add computes exactly, or 'none'. */
function probeRelaxedDotB(): RelaxedDotB {
  try {
    if (!WebAssembly.validate(RELAXED_DOT_LANES_PROBE)) return 'none';
    const inst = new WebAssembly.Instance(new WebAssembly.Module(RELAXED_DOT_LANES_PROBE), {});
    const f = inst.exports['f'] as () => void;
    const mem = inst.exports['m'] as WebAssembly.Memory;
    const run = (k: DotCase): number[] => {
      new Int8Array(mem.buffer, 0, 16).set(k.a);
      new Uint8Array(mem.buffer, 16, 16).set(k.b.map((x) => x & 255));
      new Int32Array(mem.buffer, 32, 4).set(k.c);
      f();
      return [...new Int32Array(mem.buffer, 48, 4)];
    };
    const same = (x: number[], y: number[]): boolean => x.every((v, i) => v === y[i]);
    const [low, high] = DOT_PROBE_CASES as [DotCase, DotCase];
    if (!same(run(low), expectedDot(low, 'signed'))) return 'none';
    const got = run(high);
    if (same(got, expectedDot(high, 'unsigned'))) return 'unsigned';
    if (same(got, expectedDot(high, 'signed'))) return 'signed';
    return 'none';
  } catch {
    return 'none';
  }
}

function probeThreads(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

let cached: WasmFeatures | undefined;

/** Probe (once) what the current engine supports. */
export function detectFeatures(opts: { refresh?: boolean } = {}): WasmFeatures {
  if (cached && !opts.refresh) return cached;
  const simd = probeSimd();
  const relaxed = simd ? probeRelaxed() : { ok: false, fused: undefined };
  const dotAdd = relaxed.ok && probeRelaxedDot();
  cached = {
    simd,
    relaxedSimd: relaxed.ok,
    relaxedMaddFused: relaxed.fused,
    relaxedDotAdd: dotAdd,
    relaxedDotB: dotAdd ? probeRelaxedDotB() : 'none',
    threads: probeThreads(),
  };
  return cached;
}

/** The node flag that enables relaxed SIMD on Node 20 (V8 11.3); harmless on engines that ship it. */
export const RELAXED_SIMD_NODE_FLAG = '--experimental-wasm-relaxed-simd';
