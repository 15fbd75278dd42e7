/**
 * Fused epilogues: `out = activation(acc + bias + residual)` applied to f32x4 accumulators before the store.
 * Kernels initialise accumulators with the bias, add the residual themselves (they know its addressing), then
 * call `EpilogueEmitter.apply` on each accumulator local. Constants are hoisted into v128 locals once per
 * function (`new EpilogueEmitter(fn, act, relaxed)` must run before the first loop). Sigmoid/SiLU use
 * e = exp(z), z = -|x| (flushed to 0 below -87.33, where 2^n leaves the normal range), as 2^n * p(t): n = round(z*log2(e)) via the
 * magic-bias trick, t = z - n*ln2 (two-part ln2), p a degree-5 polynomial fitted for relative error on
 * |t| <= ln2/2 (9.5e-8 with f32 coefficients); then sigmoid = e/(1+e) mirrored for x > 0. Relaxed variants
 * evaluate the polynomial with relaxed_madd (fused or not, the error bound holds).
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import type { Activation, EpilogueSpec } from './types.js';

/**
 * The activation for a FusedConv/FusedGemm `activation` attribute (or an unfused activation node's opType) and
 * its `activation_params`. Throws EdgecnnError for names the kernels cannot fuse.
 */
export function activationFromOnnx(name: string | undefined, params: readonly number[] = [], where = ''): Activation {
  const at = where ? ` (${where})` : '';
  switch (name) {
    case undefined:
    case '':
      return { kind: 'none' };
    case 'Relu':
      return { kind: 'relu' };
    case 'Clip': {
      const min = params[0] ?? -Infinity;
      const max = params[1] ?? Infinity;
      return { kind: 'clip', min, max };
    }
    case 'LeakyRelu':
      return { kind: 'leakyrelu', alpha: params[0] ?? 0.01 };
    case 'HardSigmoid':
      return { kind: 'hardsigmoid', alpha: params[0] ?? 0.2, beta: params[1] ?? 0.5 };
    case 'HardSwish':
      return { kind: 'hardswish' };
    case 'Sigmoid':
      return { kind: 'sigmoid' };
    case 'Silu':
      return { kind: 'silu' };
    default:
      throw new EdgecnnError(`activation ${name} cannot be fused into a kernel epilogue${at}`, 'unsupported-operator');
  }
}

/** The epilogue part of a kernel id: '' (none), `relu`, `relu6`, `clip`, `lrelu`, ..., prefixed `add-` with a residual. */
export function epilogueTag(e: EpilogueSpec): string {
  const a = e.activation;
  let t = '';
  switch (a.kind) {
    case 'none':
      break;
    case 'clip':
      t = a.min === 0 && a.max === 6 ? 'relu6' : 'clip';
      break;
    case 'leakyrelu':
      t = 'lrelu';
      break;
    case 'hardsigmoid':
      t = 'hsigmoid';
      break;
    case 'hardswish':
      t = 'hswish';
      break;
    default:
      t = a.kind;
  }
  if (e.residual) t = t ? `add-${t}` : 'add';
  return t;
}

/** `<dtype>-<family>[-<epilogue>]-<tile>-<isa>`. */
export function kernelId(dtype: string, family: string, e: EpilogueSpec, tile: string, isa: string): string {
  const tag = epilogueTag(e);
  return `${dtype}-${family}${tag ? `-${tag}` : ''}-${tile}-${isa}`;
}

/** Scalar model of an activation (used by tests and by kernels' reference checks). */
export function applyActivationScalar(a: Activation, x: number): number {
  switch (a.kind) {
    case 'none':
      return x;
    case 'relu':
      return x < 0 ? 0 : x;
    case 'clip':
      return Math.min(Math.max(x, a.min), a.max);
    case 'leakyrelu':
      return x < 0 ? a.alpha * x : x;
    case 'hardsigmoid':
      return Math.max(0, Math.min(1, a.alpha * x + a.beta));
    case 'hardswish':
      return x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'silu':
      return x / (1 + Math.exp(-x));
  }
}

const LOG2E = 1.4426950408889634;
// ln2 split so that n * LN2_HI is exact for |n| < 2^8 (low 8 mantissa bits of LN2_HI are zero).
const LN2_HI = 0.693145751953125;
const LN2_LO = 1.428606765330187e-6;
// 1.5 * 2^23 + 127: adding it leaves round(z * log2e) + 127 in the low mantissa bits.
const MAGIC = 12582912 + 127;
// exp(t) ~ 1 + t*(C1 + t*(C2 + t*(C3 + t*(C4 + t*C5)))) on |t| <= ln2/2 (Lawson-weighted least squares).
const EXP_C1 = 0.9999997019767761;
const EXP_C2 = 0.4999915063381195;
const EXP_C3 = 0.1666763573884964;
const EXP_C4 = 0.04189793020486832;
const EXP_C5 = 0.008290314115583897;
// Below this, 2^n would not be a normal float: exp is flushed to 0 there (sigmoid < 1.2e-38 anyway).
const EXP_CUTOFF = -87.33;

/** Emits `v = activation(v)` for v128 locals, with constants hoisted into locals at construction. */
export class EpilogueEmitter {
  private readonly c: Record<string, Local> = {};
  private readonly tmp: Local[] = [];

  constructor(
    private readonly fn: FunctionBuilder,
    readonly activation: Activation,
    /** Use f32x4.relaxed_madd where a multiply-add appears (only in relaxed-SIMD kernels). */
    private readonly relaxed = false,
  ) {
    const k = (name: string, v: number): void => {
      const l = fn.local('v128');
      fn.v128ConstF32(v).localSet(l);
      this.c[name] = l;
    };
    const a = activation;
    switch (a.kind) {
      case 'none':
        break;
      case 'relu':
        k('zero', 0);
        break;
      case 'clip':
        k('min', a.min);
        k('max', a.max);
        break;
      case 'leakyrelu':
        k('alpha', a.alpha);
        k('zero', 0);
        break;
      case 'hardsigmoid':
        k('alpha', a.alpha);
        k('beta', a.beta);
        k('zero', 0);
        k('one', 1);
        break;
      case 'hardswish':
        k('alpha', 1 / 6);
        k('beta', 0.5);
        k('zero', 0);
        k('one', 1);
        break;
      case 'sigmoid':
      case 'silu':
        k('log2e', LOG2E);
        k('magic', MAGIC);
        k('mln2hi', -LN2_HI);
        k('mln2lo', -LN2_LO);
        k('c5', EXP_C5);
        k('c4', EXP_C4);
        k('c3', EXP_C3);
        k('c2', EXP_C2);
        k('c1', EXP_C1);
        k('one', 1);
        k('cutoff', EXP_CUTOFF);
        k('zero', 0);
        this.tmp.push(...fn.locals('v128', 5));
        break;
    }
    if (a.kind === 'hardswish') this.tmp.push(fn.local('v128'));
  }

  /** Replace the v128 local `v` by activation(v). */
  apply(v: Local): void {
    const b = this.fn;
    const c = this.c;
    const a = this.activation;
    switch (a.kind) {
      case 'none':
        return;
      case 'relu':
        // pmax(v, 0) = v < 0 ? 0 : v (NaN passes through, like max)
        b.localGet(v).localGet(c['zero']!).f32x4Pmax().localSet(v);
        return;
      case 'clip':
        b.localGet(v).localGet(c['min']!).f32x4Pmax().localGet(c['max']!).f32x4Pmin().localSet(v);
        return;
      case 'leakyrelu':
        b.localGet(v).localGet(c['alpha']!).f32x4Mul().localGet(v);
        b.localGet(v).localGet(c['zero']!).f32x4Lt().v128Bitselect().localSet(v);
        return;
      case 'hardsigmoid':
        b.localGet(v).localGet(c['alpha']!).f32x4Mul().localGet(c['beta']!).f32x4Add();
        b.localGet(c['zero']!).f32x4Pmax().localGet(c['one']!).f32x4Pmin().localSet(v);
        return;
      case 'hardswish':
        b.localGet(v);
        b.localGet(v).localGet(c['alpha']!).f32x4Mul().localGet(c['beta']!).f32x4Add();
        b.localGet(c['zero']!).f32x4Pmax().localGet(c['one']!).f32x4Pmin().f32x4Mul().localSet(v);
        return;
      case 'sigmoid':
      case 'silu':
        this.sigmoid(v, a.kind === 'silu');
        return;
    }
  }

  /** Stack: [a, b, c] -> a*b + c. */
  private madd(): void {
    if (this.relaxed) this.fn.f32x4RelaxedMadd();
    else {
      // [a, b, c]: multiply needs a, b on top; c is below them, so rotate through a temp
      const [, , , tmpC] = this.tmp as [Local, Local, Local, Local];
      this.fn.localSet(tmpC).f32x4Mul().localGet(tmpC).f32x4Add();
    }
  }

  private sigmoid(v: Local, silu: boolean): void {
    const b = this.fn;
    const c = this.c;
    const [z, n, e, , t] = this.tmp as [Local, Local, Local, Local, Local];
    // z = -|v| (set the sign bit)
    b.localGet(v).v128ConstI32(-0x80000000).v128Or().localSet(z);
    // n = z*log2e + magic; 2^round(z*log2e) = low bits of n shifted into the exponent (kept in e for now)
    b.localGet(z).localGet(c['log2e']!).localGet(c['magic']!);
    this.madd();
    b.localTee(n).i32Const(23).i32x4Shl().localSet(e);
    b.localGet(n).localGet(c['magic']!).f32x4Sub().localSet(n);
    // t = z - n*ln2 in two steps
    b.localGet(n).localGet(c['mln2hi']!).localGet(z);
    this.madd();
    b.localSet(t).localGet(n).localGet(c['mln2lo']!).localGet(t);
    this.madd();
    b.localSet(t);
    // p(t) = 1 + t*(c1 + t*(c2 + t*(c3 + t*(c4 + t*c5)))), Horner with t in z
    b.localGet(c['c5']!).localGet(t).localGet(c['c4']!);
    this.madd();
    for (const k of ['c3', 'c2', 'c1', 'one']) {
      b.localGet(t).localGet(c[k]!);
      this.madd();
    }
    // e = 2^n * p, zeroed where 2^n left the normal range (its bits are garbage there, maybe Inf/NaN);
    // f = e / (1 + e) = sigmoid(-|v|); sigmoid(v) = v > 0 ? 1 - f : f
    b.localGet(e).f32x4Mul().localGet(z).localGet(c['cutoff']!).f32x4Lt().v128Andnot().localTee(e);
    b.localGet(e).localGet(c['one']!).f32x4Add().f32x4Div().localSet(e);
    b.localGet(c['one']!).localGet(e).f32x4Sub().localGet(e);
    b.localGet(v).localGet(c['zero']!).f32x4Gt().v128Bitselect();
    if (silu) b.localGet(v).f32x4Mul();
    b.localSet(v);
  }
}

/** Where a tile of accumulators goes: rows of C (and of the residual) at constant strides from base locals. */
export interface TileStore {
  /** acc[i][j]: row i, column vector j (4 channels). */
  acc: readonly (readonly Local[])[];
  /** Rows actually stored (<= acc.length). */
  rows: number;
  /** Columns actually stored (<= 4 * acc[0].length); a last partial vector is stored lane by lane. */
  cols: number;
  /** i32 local: byte address of row 0, column 0 of the tile in C. */
  cPtr: Local;
  /** Bytes between rows of C. */
  cRowBytes: number;
  /** Residual (when the epilogue has one): base local and row stride, same tile position as C. */
  rPtr?: Local;
  rRowBytes?: number;
}

/**
 * Add the residual, apply the activation and store a tile (bias was already in the accumulators).
 * Partial last vectors use store64_lane/store32_lane so nothing outside [0, cols) is written; the residual is
 * read with full vector loads (over-read allowed by the memory-plan slack invariant).
 */
export function emitTileEpilogue(fn: FunctionBuilder, ep: EpilogueEmitter, t: TileStore): void {
  const nvec = Math.ceil(t.cols / 4);
  for (let i = 0; i < t.rows; i++) {
    for (let j = 0; j < nvec; j++) {
      const a = t.acc[i]![j]!;
      if (t.rPtr !== undefined) {
        fn.localGet(a)
          .localGet(t.rPtr)
          .v128Load(i * t.rRowBytes! + j * 16)
          .f32x4Add()
          .localSet(a);
      }
      ep.apply(a);
      const off = i * t.cRowBytes + j * 16;
      const rem = Math.min(4, t.cols - 4 * j);
      if (rem === 4) {
        fn.localGet(t.cPtr).localGet(a).v128Store(off);
      } else {
        if (rem >= 2) fn.localGet(t.cPtr).localGet(a).v128Store64Lane(0, off);
        if (rem === 1) fn.localGet(t.cPtr).localGet(a).v128Store32Lane(0, off);
        if (rem === 3)
          fn.localGet(t.cPtr)
            .localGet(a)
            .v128Store32Lane(2, off + 8);
      }
    }
  }
}
