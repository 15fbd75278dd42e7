/**
 * The requantization epilogue shared by the qs8 kernel families, and the packing of its per-channel constants.
 * Activations are signed int8 with real = scale * (q - zero) (uint8 tensors are shifted by -128 at the graph
 * boundary, zero point too, which changes nothing in real terms). An accumulator starts at biasInt =
 * -zeroIn * sum(w) + the int32 bias (exact); q = clamp(nearest(f32(acc) * mult + biasF) + outZero, lo, hi) with
 * mult = f32(f32(inScale * wScale) / outScale) and biasF = 0, exactly QLinearConv's (and onnxruntime's) integer
 * path. A bias known only as float gives biasF = bias / outScale: ties may then round the other way (1 LSB).
 * The rounding is the magic-number one: y + 1.5 * 2^23 rounds y half to even into the float's low mantissa bits,
 * so an i32 subtract yields nearest(y) + outZero (no f32x4.nearest, no saturating float-to-int conversion).
 */
import { EdgecnnError } from '../../ir/errors.js';
import { roundHalfEven } from '../../ops/tensor-util.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';

/** Quantization parameters of one int8 layer (per-channel weight scales), in the signed int8 domain. */
export interface Qs8Quant {
  inScale: number;
  /** Input zero point in [-128, 127]. */
  inZero: number;
  /** One per output channel (or one for all). */
  weightScales: Float32Array;
  outScale: number;
  /** Output zero point in [-128, 127]. */
  outZero: number;
}

/**
 * Bytes of one packed channel block's header: biasInt i32 x 8, mult f32 x 8, biasF f32 x 8, then x 4 each: the
 * magic f32 1.5 * 2^23, its bits less `outZero - lo` (the i32 floor: an output of lo, -128 unless a clamp was
 * packed) and its bits less `outZero`; then the packed clamp's `hi` as 16 int8 lanes.
 */
export const QS8_HEADER_BYTES = 160;

/** 1.5 * 2^23: adding it to |y| < 2^22 leaves nearest-even(y) in the low mantissa bits. */
const MAGIC = 12582912;
/** The bits of MAGIC as an i32. */
const MAGIC_BITS = 0x4b400000;
/** Output channels per packed block (two i32x4 accumulators). */
export const QS8_BLOCK = 8;

/** Check a zero point / scale pair; throws EdgecnnError naming `what`. */
export function checkQuant(q: Qs8Quant, what: string): void {
  const ok = (s: number): boolean => Number.isFinite(s) && s > 0;
  if (!ok(q.inScale) || !ok(q.outScale) || !q.weightScales.every(ok)) {
    throw new EdgecnnError(`${what}: scales must be positive and finite`, 'bad-model');
  }
  for (const z of [q.inZero, q.outZero]) {
    if (!Number.isInteger(z) || z < -128 || z > 127) {
      throw new EdgecnnError(`${what}: zero point ${z} is outside the signed int8 range`, 'bad-model');
    }
  }
}

/**
 * Write the header of the channel block starting at output channel `n0` into `view` at `offsetBytes`.
 * `weightSum(n)` is sum(w) over channel n's reduction; `bias(n)` its real-valued bias (0 when none).
 */
export function packHeader(
  view: DataView,
  offsetBytes: number,
  n0: number,
  outC: number,
  q: Qs8Quant,
  weightSum: (n: number) => number,
  bias: { int?: Int32Array; float?: Float32Array },
  clamp: { lo: number; hi: number } = { lo: -128, hi: 127 },
): void {
  for (let j = 0; j < QS8_BLOCK; j++) {
    const n = n0 + j;
    const live = n < outC;
    const ws = q.weightScales.length === 1 ? q.weightScales[0]! : (q.weightScales[n] ?? 1);
    const bi = bias.int?.[n] ?? 0;
    const bf = bias.int ? 0 : (bias.float?.[n] ?? 0) / q.outScale;
    view.setInt32(offsetBytes + 4 * j, live ? -q.inZero * weightSum(n) + bi : 0, true);
    view.setFloat32(offsetBytes + 32 + 4 * j, live ? Math.fround(Math.fround(q.inScale * ws) / q.outScale) : 0, true);
    view.setFloat32(offsetBytes + 64 + 4 * j, live ? bf : 0, true);
  }
  for (let j = 0; j < 4; j++) {
    view.setFloat32(offsetBytes + 96 + 4 * j, MAGIC, true);
    view.setInt32(offsetBytes + 112 + 4 * j, MAGIC_BITS + clamp.lo - q.outZero, true);
    view.setInt32(offsetBytes + 128 + 4 * j, MAGIC_BITS - q.outZero, true);
  }
  for (let j = 0; j < 16; j++) view.setInt8(offsetBytes + 144 + j, clamp.hi);
}

/**
 * Emit the requantization of accumulators `acc0` (channels 0-3) and `acc1` (4-7) of a block whose header is
 * at `hdr + hdrOffBytes`; leaves the 8 int8 results in the low 8 bytes of `dst`. `lo`/`hi` are the clamp bounds
 * (fused ReLU/ReLU6 are tighter). With `clampPacked` the header holds them (packHeader's `clamp`: lo is the i32
 * floor, hi one load); otherwise they are emitted as constants.
 */
export function emitRequantize(
  fn: FunctionBuilder,
  acc0: Local,
  acc1: Local,
  hdr: Local,
  hdrOffBytes: number,
  lo: number,
  hi: number,
  dst: Local,
  clampPacked = false,
  floatBias = true,
): void {
  emitRequantizeHalf(fn, acc0, hdr, hdrOffBytes, 0, floatBias);
  emitRequantizeHalf(fn, acc1, hdr, hdrOffBytes, 1, floatBias);
  fn.i16x8NarrowI32x4S();
  fn.localTee(dst).localGet(dst).i8x16NarrowI16x8S();
  emitClampBytes(fn, lo, hi, clampPacked ? { hdr, hdrOffBytes } : undefined);
  fn.localSet(dst);
}

/**
 * Push nearest(f32(acc) * mult + biasF) + outZero as i32x4 for channels 4j..4j+3 of the block whose header is at
 * `hdr + hdrOffBytes`, floored so that narrowing saturates exactly as a clamp to [-128, 127] (or the packed lo)
 * would. `floatBias` false skips the biasF add: the caller knows it is 0 (an int32 bias or none; adding +0 is exact,
 * so the results are the same).
 */
export function emitRequantizeHalf(
  fn: FunctionBuilder,
  acc: Local,
  hdr: Local,
  hdrOffBytes: number,
  j: 0 | 1,
  floatBias = true,
): void {
  fn.localGet(acc).f32x4ConvertI32x4S();
  fn.localGet(hdr)
    .v128Load(hdrOffBytes + 32 + 16 * j)
    .f32x4Mul();
  if (floatBias)
    fn.localGet(hdr)
      .v128Load(hdrOffBytes + 64 + 16 * j)
      .f32x4Add();
  // y + MAGIC: nearest-even(y) for |y| < 2^22. Past that the float's bits still grow with y, so the i32 floor (an
  // output of -128) and the saturating narrowings give the clamped result; a sum below 0 has negative bits (floored
  // too), which would otherwise wrap in the subtraction. The zero point is added after rounding, as QLinearConv does.
  fn.localGet(hdr)
    .v128Load(hdrOffBytes + 96)
    .f32x4Add();
  fn.localGet(hdr)
    .v128Load(hdrOffBytes + 112)
    .i32x4MaxS();
  fn.localGet(hdr)
    .v128Load(hdrOffBytes + 128)
    .i32x4Sub();
}

/**
 * Clamp the int8 lanes on the stack to [lo, hi] (nothing at the int8 limits: the narrowings saturated there).
 * With `packed` (the header that packHeader gave the clamp) lo was the i32 floor already and hi is loaded from it.
 */
export function emitClampBytes(
  fn: FunctionBuilder,
  lo: number,
  hi: number,
  packed?: { hdr: Local; hdrOffBytes: number },
): void {
  if (packed) {
    if (hi < 127)
      fn.localGet(packed.hdr)
        .v128Load(packed.hdrOffBytes + 144)
        .i8x16MinS();
    return;
  }
  if (lo > -128) fn.v128ConstI32(splatByte(lo)).i8x16MaxS();
  if (hi < 127) fn.v128ConstI32(splatByte(hi)).i8x16MinS();
}

function splatByte(b: number): number {
  return Math.imul(b & 0xff, 0x01010101) | 0;
}

/** Store the low `lanes` (1..16) bytes of `v` at `ptr + offBytes` (8 or 16 lanes in one store, others in pieces). */
export function emitStoreBytes(fn: FunctionBuilder, ptr: Local, offBytes: number, v: Local, lanes: number): void {
  if (lanes === 16) {
    fn.localGet(ptr).localGet(v).v128Store(offBytes, 0);
    return;
  }
  let i = 0;
  if (lanes >= 8) {
    fn.localGet(ptr).localGet(v).v128Store64Lane(0, offBytes, 0);
    i = 8;
  }
  if (lanes - i >= 4) {
    fn.localGet(ptr)
      .localGet(v)
      .v128Store32Lane(i >> 2, offBytes + i, 0);
    i += 4;
  }
  for (; i < lanes; i++)
    fn.localGet(ptr)
      .localGet(v)
      .v128Store8Lane(i, offBytes + i);
}

/** The int8 clamp bounds of an activation fused before the output quantizer (relu, clip; none = full range). */
export function clampBounds(
  act: { kind: 'none' } | { kind: 'relu' } | { kind: 'clip'; min: number; max: number },
  outScale: number,
  outZero: number,
): [number, number] {
  // Rounding as QuantizeLinear: half to even on the float32 quotient.
  const q = (x: number): number => Math.min(127, Math.max(-128, roundHalfEven(Math.fround(x / outScale)) + outZero));
  if (act.kind === 'none') return [-128, 127];
  if (act.kind === 'relu') return [Math.max(-128, outZero), 127];
  return [Math.max(-128, q(act.min)), Math.min(127, q(act.max))];
}
