/**
 * Elementwise kernels over NHWC views: binary ops with the broadcasts CNNs use (same shape, per-channel vector per
 * image, scalar, per-pixel value) and a fused activation, and unary ops. Dense views without per-channel/pixel
 * broadcast run as one flat array in runs of 4*vectors floats; otherwise work items are pixels, channels swept.
 * exp(x) = p(r) * 2^n1 * 2^n2: n = round(x log2e) split in halves so both factors stay normal (exact down to
 * denormals, +inf past ln(FLT_MAX)), r = x - n ln2 in two parts, p a degree-5 minimax fit: rel. error < 2e-7.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EpilogueEmitter, epilogueTag } from './epilogue.js';
import {
  type ChannelBlock,
  lanesOf,
  loadVec,
  MEMORY_BOUND,
  requireSupported,
  storeVec,
  sweepChannels,
} from './simd-loops.js';
import type { Activation, ActivationRef, KernelFamily, KernelVariant } from './types.js';

// ---- exp and tanh -----------------------------------------------------------------------------------------

const LOG2E = 1.4426950408889634;
// n * LN2_HI is exact for |n| < 2^9 (LN2_HI has 15 significant bits); |n| <= 231 after the clamp.
const LN2_HI = 0.693145751953125;
const LN2_LO = 1.4286068203094173e-6;
// exp(r) ~ 1 + r + r^2 (c2 + r (c3 + r (c4 + r c5))): relative-error minimax fit on [-ln2/2, ln2/2] (1.05e-7).
const EXP_C = [0.499992311000824, 0.16667114198207855, 0.041890114545822144, 0.008312525227665901] as const;
// 1.5 * 2^23: x + MAGIC rounds x to an integer (ties to even) for |x| < 2^22; bits(x + MAGIC) - bits(MAGIC) = it.
const MAGIC = 12582912;
// |x| beyond 160 changes nothing (exp over/underflows) but keeps n1, n2 in the normal exponent range.
const EXP_CLAMP = 160;
// tanh(x) ~ x + x^3 (t3 + x^2 (t5 + x^2 (t7 + x^2 t9))) for |x| < TANH_SMALL: relative-error fit (1.9e-7).
const TANH_SMALL = 0.625;
const TANH_C = [-0.3333234190940857, 0.13308174908161163, -0.05194789543747902, 0.015195360407233238] as const;

// log1p(y) = 2 atanh(u), u = y / (2 + y): 2u (1 + u^2/3 + u^4/5 + ...). |u| <= 1/3 for y in [0, 1] (8 terms,
// truncation < 2e-8) and |u| <= 0.172 for log's mantissa in [sqrt(1/2), sqrt(2)).
const LOG1P_C = [1, 1 / 3, 1 / 5, 1 / 7, 1 / 9, 1 / 11, 1 / 13, 1 / 15] as const;
// bits of sqrt(1/2): subtracting them before the exponent shift puts the mantissa in [sqrt(1/2), sqrt(2)).
const SQRT_HALF_BITS = 0x3f3504f3;

/** Emits vector exp/tanh/log with constants hoisted into v128 locals at construction (before any loop). */
export class ExpEmitter {
  private readonly k: Record<string, Local> = {};
  private readonly t: Local[];

  constructor(
    private readonly fn: FunctionBuilder,
    withTanh = false,
    withLog = false,
  ) {
    const k = (name: string, v: number): void => {
      const l = fn.local('v128');
      fn.v128ConstF32(v).localSet(l);
      this.k[name] = l;
    };
    k('lo', -EXP_CLAMP);
    k('hi', EXP_CLAMP);
    k('log2e', LOG2E);
    k('mln2hi', -LN2_HI);
    k('mln2lo', -LN2_LO);
    EXP_C.forEach((c, i) => k(`c${i + 2}`, c));
    k('one', 1);
    k('magic', MAGIC);
    this.k['bias'] = fn.local('v128');
    fn.v128ConstI32(127).localSet(this.k['bias']);
    if (withTanh) {
      k('small', TANH_SMALL);
      k('mtwo', -2);
      TANH_C.forEach((c, i) => k(`t${2 * i + 3}`, c));
    }
    if (withLog) {
      k('two', 2);
      k('ln2hi', LN2_HI);
      k('ln2lo', LN2_LO);
      k('inf', Infinity);
      k('ninf', -Infinity);
      k('nan', NaN);
      k('zero', 0);
      LOG1P_C.forEach((c, i) => k(`l${2 * i + 1}`, c));
    }
    this.t = fn.locals('v128', withTanh || withLog ? 6 : 3);
  }

  /** dst = exp(src) (dst may equal src). */
  exp(dst: Local, src: Local): void {
    const b = this.fn;
    const k = this.k;
    const [x, n, r] = this.t as [Local, Local, Local];
    // pmax(x, lo) = x < lo ? lo : x and pmin(x, hi) = hi < x ? hi : x keep a NaN x (one instruction each,
    // unlike the IEEE min/max)
    b.localGet(src).localGet(k['lo']!).f32x4Pmax().localGet(k['hi']!).f32x4Pmin().localSet(x);
    // n = round(x log2e): adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits
    b.localGet(x).localGet(k['log2e']!).f32x4Mul().localGet(k['magic']!).f32x4Add().localSet(n);
    b.localGet(n).localGet(k['magic']!).f32x4Sub().localSet(r);
    b.localGet(n).localGet(k['magic']!).i32x4Sub().localSet(n);
    // r = x - n ln2 (two parts)
    b.localGet(r).localGet(k['mln2hi']!).f32x4Mul().localGet(x).f32x4Add();
    b.localGet(r).localGet(k['mln2lo']!).f32x4Mul().f32x4Add().localSet(r);
    // x <- p(r)
    b.localGet(k['c5']!).localGet(r).f32x4Mul().localGet(k['c4']!).f32x4Add();
    b.localGet(r).f32x4Mul().localGet(k['c3']!).f32x4Add();
    b.localGet(r).f32x4Mul().localGet(k['c2']!).f32x4Add();
    b.localGet(r).localGet(r).f32x4Mul().f32x4Mul().localGet(r).f32x4Add().localGet(k['one']!).f32x4Add().localSet(x);
    // n holds the integer n (garbage for NaN, harmless: p is NaN then); r <- n1 = n >> 1; n <- n2 = n - n1
    b.localGet(n).i32Const(1).i32x4ShrS().localSet(r);
    b.localGet(n).localGet(r).i32x4Sub().localSet(n);
    // dst = p * 2^n1 * 2^n2 (each factor built from its exponent bits)
    b.localGet(x).localGet(r).localGet(k['bias']!).i32x4Add().i32Const(23).i32x4Shl().f32x4Mul();
    b.localGet(n).localGet(k['bias']!).i32x4Add().i32Const(23).i32x4Shl().f32x4Mul().localSet(dst);
  }

  /** dst = 2u * P(u^2), u = y / (2 + y) = log1p(y) for y >= 0 (terms: how many series terms; needs withLog). */
  private atanhSeries(dst: Local, y: Local, terms: number): void {
    const b = this.fn;
    const k = this.k;
    const [u, w] = this.t.slice(3, 5) as [Local, Local];
    b.localGet(y).localGet(y).localGet(k['two']!).f32x4Add().f32x4Div().localSet(u);
    b.localGet(u).localGet(u).f32x4Mul().localSet(w);
    b.localGet(k[`l${2 * terms - 1}`]!);
    for (let i = terms - 2; i >= 0; i--)
      b.localGet(w)
        .f32x4Mul()
        .localGet(k[`l${2 * i + 1}`]!)
        .f32x4Add();
    b.localGet(u).f32x4Mul().localGet(k['two']!).f32x4Mul().localSet(dst);
  }

  /** dst = log1p(y) for y in [0, 1] (relative error ~2e-7; exact behaviour for tiny y). */
  log1pUnit(dst: Local, y: Local): void {
    if (!this.k['two']) throw new EdgecnnError('ExpEmitter: constructed without log constants', 'internal');
    this.atanhSeries(dst, y, 8);
  }

  /**
   * dst = log(x): x = 2^e * m with m in [sqrt(1/2), sqrt(2)), log = e ln2 + log1p(m - 1). log(0) = -inf,
   * log(+inf) = +inf, negative or NaN -> NaN; denormal inputs are not supported (treated as their bits say).
   */
  log(dst: Local, x: Local): void {
    const b = this.fn;
    const k = this.k;
    if (!k['two']) throw new EdgecnnError('ExpEmitter: constructed without log constants', 'internal');
    const [e, m] = this.t.slice(0, 2) as [Local, Local];
    // e = (bits - bits(sqrt(1/2))) >> 23; m = bits - (e << 23), i.e. x / 2^e
    b.localGet(x).v128ConstI32(SQRT_HALF_BITS).i32x4Sub().i32Const(23).i32x4ShrS().localSet(e);
    b.localGet(x).localGet(e).i32Const(23).i32x4Shl().i32x4Sub().localGet(k['one']!).f32x4Sub().localSet(m);
    this.atanhSeries(m, m, 5);
    b.localGet(e).f32x4ConvertI32x4S().localSet(e);
    b.localGet(e).localGet(k['ln2lo']!).f32x4Mul().localGet(m).f32x4Add();
    b.localGet(e).localGet(k['ln2hi']!).f32x4Mul().f32x4Add().localSet(m);
    // special values: 0 -> -inf, +inf -> +inf, x < 0 or NaN -> NaN
    b.localGet(k['ninf']!).localGet(m).localGet(x).localGet(k['zero']!).f32x4Eq().v128Bitselect().localSet(m);
    b.localGet(k['inf']!).localGet(m).localGet(x).localGet(k['inf']!).f32x4Eq().v128Bitselect().localSet(m);
    b.localGet(m).localGet(k['nan']!).localGet(x).localGet(k['zero']!).f32x4Ge().v128Bitselect().localSet(dst);
  }

  /** dst = tanh(src): odd polynomial below TANH_SMALL, (1 - e) / (1 + e) with e = exp(-2|x|) above. */
  tanh(dst: Local, src: Local): void {
    const b = this.fn;
    const k = this.k;
    const [, , , ax, e, p] = this.t as [Local, Local, Local, Local, Local, Local];
    if (!k['small']) throw new EdgecnnError('ExpEmitter: constructed without tanh constants', 'internal');
    b.localGet(src).f32x4Abs().localSet(ax);
    // p = x + x^3 P(x^2) (e holds x^2 meanwhile)
    b.localGet(src).localGet(src).f32x4Mul().localSet(e);
    b.localGet(k['t9']!).localGet(e).f32x4Mul().localGet(k['t7']!).f32x4Add();
    b.localGet(e).f32x4Mul().localGet(k['t5']!).f32x4Add();
    b.localGet(e).f32x4Mul().localGet(k['t3']!).f32x4Add();
    b.localGet(e).f32x4Mul().localGet(src).f32x4Mul().localGet(src).f32x4Add().localSet(p);
    b.localGet(ax).localGet(k['mtwo']!).f32x4Mul().localSet(e);
    this.exp(e, e);
    b.localGet(k['one']!).localGet(e).f32x4Sub().localGet(k['one']!).localGet(e).f32x4Add().f32x4Div();
    // copy the sign of src onto the positive quotient
    b.localGet(src).v128ConstI32(-0x80000000).v128And().v128Or();
    // select: |x| < small ? p : big  (NaN compares false -> big path, which is NaN)
    b.localSet(e);
    b.localGet(p).localGet(e).localGet(ax).localGet(k['small']!).f32x4Lt().v128Bitselect().localSet(dst);
  }
}

// ---- the shared elementwise driver ------------------------------------------------------------------------

/** Variants: vectors per unrolled step (work item in dense mode, channel block otherwise). */
export interface EltwiseVariant extends KernelVariant {
  readonly vectors: number;
}

const ELTWISE_VARIANTS: readonly EltwiseVariant[] = [
  { tile: 'x16', isa: 'wasmsimd', vectors: 4 },
  { tile: 'x8', isa: 'wasmsimd', vectors: 2 },
];

/** The geometry every elementwise spec shares. */
export interface EltwiseShape {
  /** Output pixels (N*H*W; 1 per row for flat [N, C] values). */
  pixels: number;
  channels: number;
  /** Every full-size view is dense (pixel stride == channels) and nothing is broadcast per channel. */
  dense: boolean;
}

interface MapPlan {
  shape: EltwiseShape;
  vectors: number;
  out: ActivationRef;
  ins: readonly ActivationRef[];
  /** A per-channel vector per image (pointer advanced every `imagePixels` pixels); sweep mode only. */
  perImage?: { addrBytes: number; strideBytes: number; imagePixels: number };
  /** One value per pixel (splat across the channels into `chan.pixel`); sweep mode only. */
  perPixel?: ActivationRef;
  /** Hoist constants (runs before any loop). */
  setup(): void;
  /**
   * Compute `dst` for vector j of a block from the loaded full-size inputs; `chan` addresses the same
   * channels in the per-image vector (pointer local, optional running offset, constant offset) and holds the
   * pixel's splat per-pixel value.
   */
  compute(
    loaded: readonly Local[],
    dst: Local,
    chan: { ptr: Local; off: Local | undefined; constOff: number; pixel: Local },
  ): void;
}

function mapExtent(shape: EltwiseShape, vectors: number): number {
  return shape.dense ? Math.ceil((shape.pixels * shape.channels) / (4 * vectors)) : shape.pixels;
}

function checkViews(what: string, shape: EltwiseShape, refs: readonly ActivationRef[]): void {
  for (const r of refs) {
    if (r.addrBytes % 4 !== 0 || r.pixelStride < shape.channels || (shape.dense && r.pixelStride !== shape.channels)) {
      throw new EdgecnnError(
        `${what}: view ${JSON.stringify(r)} does not fit ${shape.channels} channels${shape.dense ? ' densely' : ''}`,
        'internal',
      );
    }
  }
}

function emitMap(fn: FunctionBuilder, plan: MapPlan): void {
  const { shape, vectors } = plan;
  const start = fn.param(0);
  const end = fn.param(1);
  plan.setup();
  const ptrs = plan.ins.map(() => fn.local('i32'));
  const outp = fn.local('i32');
  const chanPtr = fn.local('i32');
  const loaded = fn.locals('v128', plan.ins.length);
  const dst = fn.local('v128');
  const i = fn.local('i32');
  const pixPtr = fn.local('i32');
  const pixVal = fn.local('v128');

  const block = (blk: ChannelBlock, off: Local | undefined, constOff: number): void => {
    for (let j = 0; j < blk.vectors; j++) {
      plan.ins.forEach((_, k) => loadVec(fn, loaded[k]!, ptrs[k]!, off, constOff + 16 * j));
      plan.compute(loaded, dst, { ptr: chanPtr, off, constOff: constOff + 16 * j, pixel: pixVal });
      storeVec(fn, dst, outp, off, constOff + 16 * j, lanesOf(blk, j));
    }
  };
  const all = [...plan.ins, plan.out];
  const allPtrs = [...ptrs, outp];

  if (shape.dense) {
    const total = shape.pixels * shape.channels;
    const itemBytes = 16 * vectors;
    const fullItems = Math.floor(total / (4 * vectors));
    all.forEach((r, k) => {
      fn.localGet(start).i32Const(itemBytes).i32Mul().i32Const(r.addrBytes).i32Add().localSet(allPtrs[k]!);
    });
    // i runs to min(end, fullItems); the partial last item (if any) follows with constant addresses
    const stop = fn.local('i32');
    fn.localGet(end).i32Const(fullItems).localGet(end).i32Const(fullItems).i32LtS().select().localSet(stop);
    fn.localGet(start).localSet(i);
    const exit = fn.block();
    const top = fn.loop();
    fn.localGet(i).localGet(stop).i32GeS().brIf(exit);
    block({ vectors, lastLanes: 4 }, undefined, 0);
    for (const p of allPtrs) fn.localGet(p).i32Const(itemBytes).i32Add().localSet(p);
    fn.localGet(i).i32Const(1).i32Add().localSet(i).br(top);
    fn.end().end();
    const tail = total - fullItems * 4 * vectors;
    if (tail > 0) {
      fn.localGet(end).i32Const(fullItems).i32GtS().if();
      all.forEach((r, k) => fn.i32Const(r.addrBytes + fullItems * itemBytes).localSet(allPtrs[k]!));
      block({ vectors: Math.ceil(tail / 4), lastLanes: tail % 4 || 4 }, undefined, 0);
      fn.end();
    }
    return;
  }

  all.forEach((r, k) => {
    fn.localGet(start)
      .i32Const(r.pixelStride * 4)
      .i32Mul()
      .i32Const(r.addrBytes)
      .i32Add()
      .localSet(allPtrs[k]!);
  });
  const px = plan.perPixel;
  if (px)
    fn.localGet(start)
      .i32Const(px.pixelStride * 4)
      .i32Mul()
      .i32Const(px.addrBytes)
      .i32Add()
      .localSet(pixPtr);
  const img = plan.perImage;
  const multiImage = img !== undefined && img.imagePixels < shape.pixels;
  const left = fn.local('i32');
  if (img) {
    if (multiImage) {
      // chanPtr = base + (start / imagePixels) * stride; left = pixels until the next image
      fn.localGet(start).i32Const(img.imagePixels).i32DivU().i32Const(img.strideBytes).i32Mul();
      fn.i32Const(img.addrBytes).i32Add().localSet(chanPtr);
      fn.i32Const(img.imagePixels).localGet(start).i32Const(img.imagePixels).i32RemU().i32Sub().localSet(left);
    } else {
      fn.i32Const(img.addrBytes).localSet(chanPtr);
    }
  }
  fn.localGet(start).localSet(i);
  const exit = fn.block();
  const top = fn.loop();
  fn.localGet(i).localGet(end).i32GeS().brIf(exit);
  if (px) fn.localGet(pixPtr).v128Load32Splat(0, 2).localSet(pixVal);
  sweepChannels(fn, shape.channels, vectors, block);
  if (px)
    fn.localGet(pixPtr)
      .i32Const(px.pixelStride * 4)
      .i32Add()
      .localSet(pixPtr);
  all.forEach((r, k) =>
    fn
      .localGet(allPtrs[k]!)
      .i32Const(r.pixelStride * 4)
      .i32Add()
      .localSet(allPtrs[k]!),
  );
  if (img && multiImage) {
    fn.localGet(left).i32Const(1).i32Sub().localTee(left).i32Eqz().if();
    fn.i32Const(img.imagePixels).localSet(left);
    fn.localGet(chanPtr).i32Const(img.strideBytes).i32Add().localSet(chanPtr);
    fn.end();
  }
  fn.localGet(i).i32Const(1).i32Add().localSet(i).br(top);
  fn.end().end();
}

// ---- unary ------------------------------------------------------------------------------------------------

export const UNARY_OPS = [
  'relu',
  'clip',
  'leakyrelu',
  'hardsigmoid',
  'hardswish',
  'sigmoid',
  'silu',
  'tanh',
  'exp',
  'sqrt',
  'abs',
  'neg',
  'floor',
  'ceil',
  'reciprocal',
  'elu',
  'selu',
  'softplus',
  'mish',
  'affine',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/**
 * The ONNX operator each unary op implements (Silu is the optimizer's x * sigmoid(x); `affine`, alpha * x + beta,
 * is a Mul-then-Add by scalar constants in one pass, as PP-LCNetV3's learnable affine blocks do).
 */
export const UNARY_ONNX: Record<UnaryOp, string> = {
  relu: 'Relu',
  clip: 'Clip',
  leakyrelu: 'LeakyRelu',
  hardsigmoid: 'HardSigmoid',
  hardswish: 'HardSwish',
  sigmoid: 'Sigmoid',
  silu: 'Silu',
  tanh: 'Tanh',
  exp: 'Exp',
  sqrt: 'Sqrt',
  abs: 'Abs',
  neg: 'Neg',
  floor: 'Floor',
  ceil: 'Ceil',
  reciprocal: 'Reciprocal',
  elu: 'Elu',
  selu: 'Selu',
  softplus: 'Softplus',
  mish: 'Mish',
  affine: 'Mul+Add',
};

export interface UnarySpec extends EltwiseShape {
  op: UnaryOp;
  /** LeakyRelu/HardSigmoid/Elu/Selu alpha (ONNX defaults when absent); affine's scale. */
  alpha?: number;
  /** Selu gamma. */
  gamma?: number;
  /** HardSigmoid beta; affine's offset. */
  beta?: number;
  /** Clip bounds (absent: unbounded). */
  min?: number;
  max?: number;
}

export interface UnaryAddresses {
  input: ActivationRef;
  output: ActivationRef;
}

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

/** The epilogue activation computing a unary op, when it is one of the fusable ones. */
export function unaryActivation(s: UnarySpec): Activation | undefined {
  switch (s.op) {
    case 'relu':
    case 'hardswish':
    case 'sigmoid':
    case 'silu':
      return { kind: s.op };
    case 'clip':
      return { kind: 'clip', min: s.min ?? -Infinity, max: s.max ?? Infinity };
    case 'leakyrelu':
      return { kind: 'leakyrelu', alpha: s.alpha ?? 0.01 };
    case 'hardsigmoid':
      return { kind: 'hardsigmoid', alpha: s.alpha ?? 0.2, beta: s.beta ?? 0.5 };
    default:
      return undefined;
  }
}

/** Unary elementwise kernels (activations, exp, tanh, sqrt, ...). In place is safe. */
export const vunary: KernelFamily<UnarySpec, EltwiseVariant, UnaryAddresses, undefined> = {
  family: 'vunary',
  variants: ELTWISE_VARIANTS,
  supports(s) {
    return s.pixels >= 1 && s.channels >= 1 && (UNARY_OPS as readonly string[]).includes(s.op);
  },
  id(s, v) {
    return `f32-v${s.op}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s, v) {
    return mapExtent(s, v.vectors);
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    requireSupported(this, s, v);
    checkViews(this.id(s, v), s, [a.input, a.output]);
    const act = unaryActivation(s);
    let ep: EpilogueEmitter | undefined;
    let ex: ExpEmitter | undefined;
    let c: Local[] = [];
    emitMap(fn, {
      shape: s,
      vectors: v.vectors,
      out: a.output,
      ins: [a.input],
      setup() {
        if (act) ep = new EpilogueEmitter(fn, act);
        const needsExp = ['tanh', 'exp', 'elu', 'selu', 'softplus', 'mish'].includes(s.op);
        if (needsExp)
          ex = new ExpEmitter(fn, s.op === 'tanh' || s.op === 'mish', s.op === 'softplus' || s.op === 'mish');
        const consts = (...vals: number[]): void => {
          c = vals.map((val) => {
            const l = fn.local('v128');
            fn.v128ConstF32(val).localSet(l);
            return l;
          });
        };
        if (s.op === 'elu') consts(s.alpha ?? 1, 1, 0);
        else if (s.op === 'selu')
          consts((s.alpha ?? SELU_ALPHA) * (s.gamma ?? SELU_GAMMA), 1, 0, s.gamma ?? SELU_GAMMA);
        else if (s.op === 'reciprocal') consts(1);
        else if (s.op === 'affine') consts(s.alpha ?? 1, s.beta ?? 0);
        else if (s.op === 'softplus' || s.op === 'mish') {
          consts(0, -0);
          c.push(fn.local('v128'));
        }
      },
      compute([x], dst) {
        const b = fn;
        switch (s.op) {
          case 'tanh':
            ex!.tanh(dst, x!);
            return;
          case 'exp':
            ex!.exp(dst, x!);
            return;
          case 'elu':
            // x > 0 ? x : alpha * (exp(x) - 1)
            ex!.exp(dst, x!);
            b.localGet(x!).localGet(dst).localGet(c[1]!).f32x4Sub().localGet(c[0]!).f32x4Mul();
            b.localGet(x!).localGet(c[2]!).f32x4Gt().v128Bitselect().localSet(dst);
            return;
          case 'selu':
            // x > 0 ? gamma * x : gamma * alpha * (exp(x) - 1)
            ex!.exp(dst, x!);
            b.localGet(x!).localGet(c[3]!).f32x4Mul();
            b.localGet(dst).localGet(c[1]!).f32x4Sub().localGet(c[0]!).f32x4Mul();
            b.localGet(x!).localGet(c[2]!).f32x4Gt().v128Bitselect().localSet(dst);
            return;
          case 'softplus':
          case 'mish': {
            // softplus(x) = max(x, 0) + log1p(exp(-|x|)): no overflow, exact for very negative x
            const sp = c[2]!;
            b.localGet(x!).localGet(c[1]!).v128Or().localSet(sp);
            ex!.exp(sp, sp);
            ex!.log1pUnit(sp, sp);
            b.localGet(x!)
              .localGet(c[0]!)
              .f32x4Pmax()
              .localGet(sp)
              .f32x4Add()
              .localSet(s.op === 'mish' ? sp : dst);
            if (s.op === 'mish') {
              ex!.tanh(dst, sp);
              b.localGet(dst).localGet(x!).f32x4Mul().localSet(dst);
            }
            return;
          }
          case 'sqrt':
            b.localGet(x!).f32x4Sqrt().localSet(dst);
            return;
          case 'abs':
            b.localGet(x!).f32x4Abs().localSet(dst);
            return;
          case 'neg':
            b.localGet(x!).f32x4Neg().localSet(dst);
            return;
          case 'floor':
            b.localGet(x!).f32x4Floor().localSet(dst);
            return;
          case 'ceil':
            b.localGet(x!).f32x4Ceil().localSet(dst);
            return;
          case 'reciprocal':
            b.localGet(c[0]!).localGet(x!).f32x4Div().localSet(dst);
            return;
          case 'affine':
            // two roundings, as the Mul and Add it replaces
            b.localGet(x!).localGet(c[0]!).f32x4Mul().localGet(c[1]!).f32x4Add().localSet(dst);
            return;
          default:
            b.localGet(x!).localSet(dst);
            ep!.apply(dst);
        }
      },
    });
  },
};

// ---- binary -----------------------------------------------------------------------------------------------

/** prelu: A < 0 ? A * B : A (ONNX PRelu, B the slope); never swapped. */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'max', 'min', 'prelu'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/**
 * How operand B covers the output: same shape; one [C] vector per image (or one for all); one scalar; one value
 * per pixel broadcast across the channels (B [N, 1, H, W], e.g. a spatial attention map, or [rows, 1] against
 * flat [rows, cols], e.g. LayerNorm's mean and deviation).
 */
export const BROADCASTS = ['none', 'channel', 'scalar', 'pixel'] as const;
export type Broadcast = (typeof BROADCASTS)[number];

export interface BinarySpec extends EltwiseShape {
  op: BinaryOp;
  broadcast: Broadcast;
  /** The broadcast operand is ONNX's first input (out = op(B, A)); matters for sub and div. */
  swapped: boolean;
  /** B is a compile-time constant handed to `pack` (channel: C values, scalar: 1). */
  constantB: boolean;
  /** channel broadcast of a runtime B: output pixels per image (B holds one vector per image). */
  imagePixels?: number;
  /** Fused activation on the result. */
  activation: Activation;
}

export interface BinaryAddresses {
  a: ActivationRef;
  /**
   * Runtime B: same shape as A (none), [N, C, 1, 1] NHWC with one pixel per image (channel: image n's
   * vector at addrBytes + n * pixelStride * 4), one float (scalar), or one float per output pixel (pixel: pixel
   * p's at addrBytes + p * pixelStride * 4). Absent when constantB.
   */
  b?: ActivationRef;
  /** The packed constant B (constantB). */
  packedB?: number;
  output: ActivationRef;
}

/** The constant operand's values (C for channel broadcast, 1 for scalar). */
export interface BinaryWeights {
  values: Float32Array;
}

const BROADCAST_TAG: Record<Broadcast, string> = { none: '', channel: 'c', scalar: 's', pixel: 'p' };

/** Binary elementwise ops with broadcasts and a fused activation. Output may alias A (or B when same shape). */
export const vbinary: KernelFamily<BinarySpec, EltwiseVariant, BinaryAddresses, BinaryWeights> = {
  family: 'vbinary',
  variants: ELTWISE_VARIANTS,
  supports(s) {
    if (!(s.pixels >= 1 && s.channels >= 1)) return false;
    if ((s.broadcast === 'channel' || s.broadcast === 'pixel') && s.dense) return false;
    if (s.broadcast === 'pixel' && s.constantB) return false;
    if (s.broadcast === 'none' && s.constantB) return false;
    if (s.op === 'prelu' && s.swapped) return false;
    if (s.broadcast === 'channel' && !s.constantB && s.imagePixels !== undefined) {
      if (!(s.imagePixels >= 1 && s.pixels % s.imagePixels === 0)) return false;
    }
    return (BINARY_OPS as readonly string[]).includes(s.op);
  },
  id(s, v) {
    const fam = `v${s.swapped && s.broadcast !== 'none' ? 'r' : ''}${s.op}${BROADCAST_TAG[s.broadcast]}`;
    const tag = epilogueTag({ activation: s.activation, residual: false });
    return `f32-${fam}${tag ? `-${tag}` : ''}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s, v) {
    return mapExtent(s, v.vectors);
  },
  ...MEMORY_BOUND,
  pack(s, _v, w) {
    const want = s.broadcast === 'channel' ? s.channels : 1;
    if (!w || w.values.length !== want) {
      throw new EdgecnnError(`vbinary pack: expected ${want} constant values, got ${w?.values.length}`, 'internal');
    }
    const out = new Float32Array(Math.ceil(want / 4) * 4);
    out.set(w.values);
    return out;
  },
  emit(fn, s, v, a) {
    const id = requireSupported(this, s, v);
    const views = [a.a, a.output];
    if (s.broadcast === 'none') {
      if (!a.b) throw new EdgecnnError(`${id}: missing B`, 'internal');
      views.push(a.b);
    }
    checkViews(id, s, views);
    let bAddr: number | undefined;
    if (s.constantB) bAddr = a.packedB;
    else if (s.broadcast !== 'none') bAddr = a.b?.addrBytes;
    if (s.broadcast !== 'none' && bAddr === undefined) throw new EdgecnnError(`${id}: missing B`, 'internal');
    if (s.broadcast === 'pixel' && !(a.b!.pixelStride >= 1 && a.b!.addrBytes % 4 === 0)) {
      throw new EdgecnnError(`${id}: bad per-pixel view ${JSON.stringify(a.b)}`, 'internal');
    }
    let ep: EpilogueEmitter | undefined;
    let bScalar: Local | undefined;
    const bVec = fn.local('v128');
    const zero = s.op === 'prelu' ? fn.local('v128') : undefined;
    const plan: MapPlan = {
      shape: s,
      vectors: v.vectors,
      out: a.output,
      ins: s.broadcast === 'none' ? [a.a, a.b!] : [a.a],
      setup() {
        ep = new EpilogueEmitter(fn, s.activation);
        if (zero !== undefined) fn.v128ConstF32(0).localSet(zero);
        if (s.broadcast === 'scalar') {
          bScalar = fn.local('v128');
          fn.i32Const(bAddr!).v128Load32Splat(0).localSet(bScalar);
        }
      },
      compute(loaded, dst, chan) {
        const x = loaded[0]!;
        let y: Local;
        if (s.broadcast === 'none') y = loaded[1]!;
        else if (s.broadcast === 'scalar') y = bScalar!;
        else if (s.broadcast === 'pixel') y = chan.pixel;
        else {
          loadVec(fn, bVec, chan.ptr, chan.off, chan.constOff);
          y = bVec;
        }
        const [l, r] = s.swapped && s.broadcast !== 'none' ? [y, x] : [x, y];
        fn.localGet(l).localGet(r);
        switch (s.op) {
          case 'add':
            fn.f32x4Add();
            break;
          case 'sub':
            fn.f32x4Sub();
            break;
          case 'mul':
            fn.f32x4Mul();
            break;
          case 'div':
            fn.f32x4Div();
            break;
          case 'max':
            fn.f32x4Max();
            break;
          case 'min':
            fn.f32x4Min();
            break;
          case 'prelu':
            fn.f32x4Mul().localGet(x).localGet(x).localGet(zero!).f32x4Lt().v128Bitselect();
            break;
        }
        fn.localSet(dst);
        ep!.apply(dst);
      },
    };
    if (s.broadcast === 'pixel') plan.perPixel = a.b!;
    if (s.broadcast === 'channel') {
      const imagePixels = s.constantB ? s.pixels : (s.imagePixels ?? s.pixels);
      const strideBytes = s.constantB ? 0 : a.b!.pixelStride * 4;
      plan.perImage = { addrBytes: bAddr!, strideBytes, imagePixels };
    }
    emitMap(fn, plan);
  },
};
