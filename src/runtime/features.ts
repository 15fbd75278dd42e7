/**
 * Start-up probes of the WebAssembly engine: SIMD128, relaxed SIMD (validated AND semantically checked:
 * relaxed_madd must compute a*b+c, fused or not), and threads (shared memory). The probe modules are tiny
 * hand-encoded binaries because runtime/ must not import the compiler (the test checks they equal what the
 * emitter produces). Results are memoised per process; `detectFeatures({ refresh: true })` re-probes.
 */

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

/** The probe binaries, exposed for the test that checks them against the emitter. */
export const PROBE_MODULES = {
  relaxedMadd: RELAXED_MADD_PROBE,
  simd: SIMD_PROBE,
  relaxedDot: RELAXED_DOT_PROBE,
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
  cached = {
    simd,
    relaxedSimd: relaxed.ok,
    relaxedMaddFused: relaxed.fused,
    relaxedDotAdd: relaxed.ok && probeRelaxedDot(),
    threads: probeThreads(),
  };
  return cached;
}

/** The node flag that enables relaxed SIMD on Node 20 (V8 11.3); harmless on engines that ship it. */
export const RELAXED_SIMD_NODE_FLAG = '--experimental-wasm-relaxed-simd';
