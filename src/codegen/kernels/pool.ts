/**
 * Max/average pooling over NHWC views (channels in SIMD lanes, blocks of 4*blockVectors), parallel over output
 * rows. Pixels whose window lies inside the input (a compile-time rectangle) run unrolled taps with constant
 * load offsets; border pixels clip the window at run time and average over ONNX's divisor (real taps, or taps
 * inside the explicit padding, never the ceil_mode overhang). Global pools reduce one (image, channel block)
 * per work item; channel pools reduce each pixel's channels.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import {
  type ChannelBlock,
  lanesOf,
  loadVec,
  MEMORY_BOUND,
  requireSupported,
  storeVec,
  sweepChannels,
} from './simd-loops.js';
import type { ActivationRef, KernelFamily, KernelVariant } from './types.js';

export const POOL_KINDS = ['max', 'avg'] as const;
export type PoolKind = (typeof POOL_KINDS)[number];

/** A 2-D pooling window (ONNX MaxPool/AveragePool with explicit pads; ceil_mode already folded into outH/outW). */
export interface PoolSpec {
  kind: PoolKind;
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  outH: number;
  outW: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  /** Trailing pads (they bound the count_include_pad divisor; the ceil_mode overhang is never counted). */
  padBottom: number;
  padRight: number;
  dilationH: number;
  dilationW: number;
  /** AveragePool count_include_pad. */
  countIncludePad: boolean;
}

export interface PoolAddresses {
  input: ActivationRef;
  output: ActivationRef;
}

export interface PoolVariant extends KernelVariant {
  /** f32x4 vectors per channel block. */
  readonly blockVectors: number;
}

const POOL_VARIANTS: readonly PoolVariant[] = [
  { tile: '16c', isa: 'wasmsimd', blockVectors: 4 },
  { tile: '8c', isa: 'wasmsimd', blockVectors: 2 },
];

function checkRefs(what: string, ...refs: [ActivationRef | undefined, number][]): void {
  for (const [r, c] of refs) {
    if (!r || r.addrBytes % 4 !== 0 || r.pixelStride < c) {
      throw new EdgecnnError(`${what}: bad activation view ${JSON.stringify(r)} for ${c} channels`, 'internal');
    }
  }
}

/** [lo, hi): output positions whose window [o*s - pad, o*s - pad + (k-1)*d] lies inside [0, inLen). */
export function interiorRange(
  outLen: number,
  inLen: number,
  k: number,
  s: number,
  pad: number,
  d: number,
): [number, number] {
  const lo = Math.min(outLen, Math.ceil(pad / s));
  const last = inLen - 1 - (k - 1) * d + pad;
  const hi = last < 0 ? lo : Math.max(lo, Math.min(outLen, Math.floor(last / s) + 1));
  return [lo, hi];
}

/**
 * For a window starting at input index `i0` (i32 local) with `k` taps `d` apart: the first real tap kStart,
 * the end kEnd (>= kStart) of the real taps below `limit`, and optionally kPadEnd, the end of the taps below
 * `padLimit` (input length + trailing pad).
 */
function emitWindowBounds(
  fn: FunctionBuilder,
  i0: Local,
  d: number,
  k: number,
  limit: number,
  kStart: Local,
  kEnd: Local,
  kPadEnd: Local | undefined,
  padLimit: number,
): void {
  // kStart = i0 < 0 ? ceil(-i0 / d) : 0
  fn.i32Const(d - 1)
    .localGet(i0)
    .i32Sub()
    .i32Const(d)
    .i32DivS();
  fn.i32Const(0).localGet(i0).i32Const(0).i32LtS().select().localSet(kStart);
  // kEnd = min(k, ceil((limit - i0) / d)) (may be <= kStart: no taps)
  const endOf = (lim: number, dst: Local): void => {
    fn.i32Const(lim + d - 1)
      .localGet(i0)
      .i32Sub()
      .i32Const(d)
      .i32DivS()
      .localSet(dst);
    fn.i32Const(k).localGet(dst).localGet(dst).i32Const(k).i32GtS().select().localSet(dst);
  };
  endOf(limit, kEnd);
  // kEnd >= kStart, so that kEnd - kStart counts the real taps
  fn.localGet(kEnd).localGet(kStart).localGet(kEnd).localGet(kStart).i32GtS().select().localSet(kEnd);
  if (kPadEnd !== undefined) endOf(padLimit, kPadEnd);
}

/** Max/average pooling. */
export const pool: KernelFamily<PoolSpec, PoolVariant, PoolAddresses, undefined> = {
  family: 'pool',
  variants: POOL_VARIANTS,
  supports(s) {
    return (
      s.batch >= 1 &&
      s.channels >= 1 &&
      s.outH >= 1 &&
      s.outW >= 1 &&
      s.kernelH >= 1 &&
      s.kernelW >= 1 &&
      s.strideH >= 1 &&
      s.strideW >= 1 &&
      s.dilationH >= 1 &&
      s.dilationW >= 1 &&
      s.padTop >= 0 &&
      s.padLeft >= 0
    );
  },
  id(s, v) {
    const dil = s.dilationH !== 1 || s.dilationW !== 1 ? `d${s.dilationH}x${s.dilationW}` : '';
    const stride = s.strideH === s.strideW ? `s${s.strideH}` : `s${s.strideH}x${s.strideW}`;
    return `f32-${s.kind}pool-${s.kernelH}x${s.kernelW}${stride}${dil}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.batch * s.outH;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    requireSupported(this, s, v);
    checkRefs(`pool ${this.id(s, v)}`, [a.input, s.channels], [a.output, s.channels]);
    emitPool(fn, s, v, a);
  },
};

function emitPool(fn: FunctionBuilder, s: PoolSpec, v: PoolVariant, a: PoolAddresses): void {
  const isMax = s.kind === 'max';
  const psB = a.input.pixelStride * 4;
  const opsB = a.output.pixelStride * 4;
  const [oyLo, oyHi] = interiorRange(s.outH, s.inH, s.kernelH, s.strideH, s.padTop, s.dilationH);
  const [oxLo, oxHi] = interiorRange(s.outW, s.inW, s.kernelW, s.strideW, s.padLeft, s.dilationW);
  const taps = s.kernelH * s.kernelW;
  const tapOffset = (ky: number, kx: number): number => (ky * s.dilationH * s.inW + kx * s.dilationW) * psB;

  const [r, b, oy, iy0, ix0, win, outp, ox, rowInt] = fn.locals('i32', 9);
  const [kyS, kyE, kxS, kxE, ky, kx, rowPtr, tapPtr] = fn.locals('i32', 8);
  const kyPE = !isMax && s.countIncludePad ? fn.local('i32') : undefined;
  const kxPE = !isMax && s.countIncludePad ? fn.local('i32') : undefined;
  const acc = fn.locals('v128', v.blockVectors);
  const tmp = fn.local('v128');
  const scale = fn.local('v128');
  const interiorScale = isMax ? undefined : fn.local('v128');
  if (interiorScale !== undefined) fn.v128ConstF32(1 / taps).localSet(interiorScale);

  const combine = (j: number): void => {
    fn.localGet(acc[j]!).localGet(tmp);
    if (isMax) fn.f32x4Pmax();
    else fn.f32x4Add();
    fn.localSet(acc[j]!);
  };
  const finish = (blk: ChannelBlock, off: Local | undefined, constOff: number, sc: Local | undefined): void => {
    for (let j = 0; j < blk.vectors; j++) {
      if (sc !== undefined) fn.localGet(acc[j]!).localGet(sc).f32x4Mul().localSet(acc[j]!);
      storeVec(fn, acc[j]!, outp, off, constOff + 16 * j, lanesOf(blk, j));
    }
  };

  const interiorBody = (): void => {
    sweepChannels(fn, s.channels, v.blockVectors, (blk, off, constOff) => {
      for (let t = 0; t < taps; t++) {
        const o = tapOffset(Math.floor(t / s.kernelW), t % s.kernelW);
        for (let j = 0; j < blk.vectors; j++) {
          if (t === 0) loadVec(fn, acc[j]!, win, off, constOff + o + 16 * j);
          else {
            loadVec(fn, tmp, win, off, constOff + o + 16 * j);
            combine(j);
          }
        }
      }
      finish(blk, off, constOff, interiorScale);
    });
  };

  const genericBody = (): void => {
    fn.localGet(ox).i32Const(s.strideW).i32Mul().i32Const(s.padLeft).i32Sub().localSet(ix0);
    emitWindowBounds(fn, ix0, s.dilationW, s.kernelW, s.inW, kxS, kxE, kxPE, s.inW + s.padRight);
    if (!isMax) {
      // scale = 1 / divisor: real taps, or taps inside the explicit padding (windows start inside it, so
      // those count from 0); an empty window gives 0 * inf = NaN, as the reference does
      fn.f32Const(1);
      if (s.countIncludePad) fn.localGet(kyPE!).localGet(kxPE!).i32Mul();
      else fn.localGet(kyE).localGet(kyS).i32Sub().localGet(kxE).localGet(kxS).i32Sub().i32Mul();
      fn.f32ConvertI32S().f32Div().f32x4Splat().localSet(scale);
    }
    sweepChannels(fn, s.channels, v.blockVectors, (blk, off, constOff) => {
      for (let j = 0; j < blk.vectors; j++) fn.v128ConstF32(isMax ? -Infinity : 0).localSet(acc[j]!);
      fn.forRange(
        ky,
        (bb) => bb.localGet(kyS),
        (bb) => bb.localGet(kyE),
        1,
        () => {
          fn.localGet(ky)
            .i32Const(s.dilationH * s.inW * psB)
            .i32Mul()
            .localGet(win)
            .i32Add()
            .localSet(rowPtr);
          fn.forRange(
            kx,
            (bb) => bb.localGet(kxS),
            (bb) => bb.localGet(kxE),
            1,
            () => {
              fn.localGet(kx)
                .i32Const(s.dilationW * psB)
                .i32Mul()
                .localGet(rowPtr)
                .i32Add()
                .localSet(tapPtr);
              for (let j = 0; j < blk.vectors; j++) {
                loadVec(fn, tmp, tapPtr, off, constOff + 16 * j);
                combine(j);
              }
            },
          );
        },
      );
      finish(blk, off, constOff, isMax ? undefined : scale);
    });
  };

  fn.forRange(
    r,
    (bb) => bb.localGet(fn.param(0)),
    (bb) => bb.localGet(fn.param(1)),
    1,
    () => {
      fn.localGet(r).i32Const(s.outH).i32DivU().localSet(b);
      fn.localGet(r).localGet(b).i32Const(s.outH).i32Mul().i32Sub().localSet(oy);
      fn.localGet(oy).i32Const(s.strideH).i32Mul().i32Const(s.padTop).i32Sub().localSet(iy0);
      // win = top-left tap of the (possibly clipped) window; may point before the image, never dereferenced there
      fn.localGet(b)
        .i32Const(s.inH * s.inW * psB)
        .i32Mul();
      fn.localGet(iy0).i32Const(s.inW).i32Mul().i32Const(s.padLeft).i32Sub().i32Const(psB).i32Mul().i32Add();
      fn.i32Const(a.input.addrBytes).i32Add().localSet(win);
      fn.localGet(r)
        .i32Const(s.outW * opsB)
        .i32Mul()
        .i32Const(a.output.addrBytes)
        .i32Add()
        .localSet(outp);
      fn.localGet(oy)
        .i32Const(oyLo)
        .i32Sub()
        .i32Const(oyHi - oyLo)
        .i32LtU()
        .localSet(rowInt);
      emitWindowBounds(fn, iy0, s.dilationH, s.kernelH, s.inH, kyS, kyE, kyPE, s.inH + s.padBottom);
      fn.forRange(
        ox,
        (bb) => bb.i32Const(0),
        (bb) => bb.i32Const(s.outW),
        1,
        () => {
          fn.localGet(rowInt)
            .localGet(ox)
            .i32Const(oxLo)
            .i32Sub()
            .i32Const(oxHi - oxLo)
            .i32LtU()
            .i32And();
          fn.if();
          interiorBody();
          fn.else();
          genericBody();
          fn.end();
          fn.localGet(win)
            .i32Const(s.strideW * psB)
            .i32Add()
            .localSet(win);
          fn.localGet(outp).i32Const(opsB).i32Add().localSet(outp);
        },
      );
    },
  );
}

/** GlobalAveragePool / GlobalMaxPool over all `pixels` (H*W) of each image. */
export interface GlobalPoolSpec {
  kind: PoolKind;
  batch: number;
  pixels: number;
  channels: number;
}

function channelGroups(s: GlobalPoolSpec, v: PoolVariant): number {
  return Math.ceil(s.channels / (4 * v.blockVectors));
}

/**
 * Global pooling. Work item = (image, channel block), so threads split even a 1x1280x7x7 tensor; each item
 * walks the image's pixels once, keeping its block's accumulators in registers.
 */
export const globalPool: KernelFamily<GlobalPoolSpec, PoolVariant, PoolAddresses, undefined> = {
  family: 'globalpool',
  // 32-channel blocks first: fewer passes over the image (each pass streams every pixel's cache lines)
  variants: [{ tile: '32c', isa: 'wasmsimd', blockVectors: 8 }, ...POOL_VARIANTS],
  supports(s) {
    return s.batch >= 1 && s.pixels >= 1 && s.channels >= 1;
  },
  id(s, v) {
    return `f32-g${s.kind}pool-${v.tile}-${v.isa}`;
  },
  parallelExtent(s, v) {
    return s.batch * channelGroups(s, v);
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    requireSupported(this, s, v);
    checkRefs(`global pool ${this.id(s, v)}`, [a.input, s.channels], [a.output, s.channels]);
    const isMax = s.kind === 'max';
    const groups = channelGroups(s, v);
    const blockFloats = 4 * v.blockVectors;
    const fullGroups = Math.floor(s.channels / blockFloats);
    const psB = a.input.pixelStride * 4;
    const [item, b, g, inp, outp, p] = fn.locals('i32', 6);
    // Narrow blocks (<= 4 vectors) keep two accumulator sets (even and odd pixels) to halve the add-latency
    // chain; wider blocks have enough independent chains and would run out of registers.
    const dual = v.blockVectors <= 4;
    const acc = fn.locals('v128', v.blockVectors);
    const acc2 = dual ? fn.locals('v128', v.blockVectors) : acc;
    const tmp = fn.local('v128');
    const reduce = (dst: Local, src: Local): void => {
      fn.localGet(dst).localGet(src);
      if (isMax) fn.f32x4Pmax();
      else fn.f32x4Add();
      fn.localSet(dst);
    };
    const accumulate = (blk: ChannelBlock, into: Local[], constOff: number): void => {
      for (let j = 0; j < blk.vectors; j++) {
        loadVec(fn, tmp, inp, undefined, constOff + 16 * j);
        reduce(into[j]!, tmp);
      }
    };
    const pairs = Math.floor(s.pixels / 2);
    const body = (blk: ChannelBlock): void => {
      for (let j = 0; j < blk.vectors; j++) {
        fn.v128ConstF32(isMax ? -Infinity : 0).localSet(acc[j]!);
        if (dual) fn.v128ConstF32(isMax ? -Infinity : 0).localSet(acc2[j]!);
      }
      if (dual) {
        fn.forRange(
          p,
          (bb) => bb.i32Const(0),
          (bb) => bb.i32Const(pairs),
          1,
          () => {
            accumulate(blk, acc, 0);
            accumulate(blk, acc2, psB);
            fn.localGet(inp)
              .i32Const(2 * psB)
              .i32Add()
              .localSet(inp);
          },
        );
        if (s.pixels % 2) accumulate(blk, acc, 0);
      } else {
        fn.forRange(
          p,
          (bb) => bb.i32Const(0),
          (bb) => bb.i32Const(s.pixels),
          1,
          () => {
            accumulate(blk, acc, 0);
            fn.localGet(inp).i32Const(psB).i32Add().localSet(inp);
          },
        );
      }
      for (let j = 0; j < blk.vectors; j++) {
        if (dual) reduce(acc[j]!, acc2[j]!);
        if (!isMax)
          fn.localGet(acc[j]!)
            .v128ConstF32(1 / s.pixels)
            .f32x4Mul()
            .localSet(acc[j]!);
        storeVec(fn, acc[j]!, outp, undefined, 16 * j, lanesOf(blk, j));
      }
    };
    fn.forRange(
      item,
      (bb) => bb.localGet(fn.param(0)),
      (bb) => bb.localGet(fn.param(1)),
      1,
      () => {
        fn.localGet(item).i32Const(groups).i32DivU().localSet(b);
        fn.localGet(item).localGet(b).i32Const(groups).i32Mul().i32Sub().localSet(g);
        fn.localGet(b)
          .i32Const(s.pixels * psB)
          .i32Mul()
          .localGet(g)
          .i32Const(blockFloats * 4)
          .i32Mul()
          .i32Add();
        fn.i32Const(a.input.addrBytes).i32Add().localSet(inp);
        fn.localGet(b)
          .i32Const(a.output.pixelStride * 4)
          .i32Mul()
          .localGet(g)
          .i32Const(blockFloats * 4)
          .i32Mul();
        fn.i32Add().i32Const(a.output.addrBytes).i32Add().localSet(outp);
        const rest = s.channels - fullGroups * blockFloats;
        if (rest === 0) body({ vectors: v.blockVectors, lastLanes: 4 });
        else if (fullGroups === 0) body({ vectors: Math.ceil(rest / 4), lastLanes: rest % 4 || 4 });
        else {
          fn.localGet(g).i32Const(fullGroups).i32LtU().if();
          body({ vectors: v.blockVectors, lastLanes: 4 });
          fn.else();
          body({ vectors: Math.ceil(rest / 4), lastLanes: rest % 4 || 4 });
          fn.end();
        }
      },
    );
  },
};

/** Reduction over the channels of each pixel: ReduceMean/ReduceMax/ReduceSum over C (NHWC) or the last axis. */
export const CHANNEL_POOL_KINDS = ['avg', 'max', 'sum'] as const;
export type ChannelPoolKind = (typeof CHANNEL_POOL_KINDS)[number];

export interface ChannelPoolSpec {
  kind: ChannelPoolKind;
  pixels: number;
  channels: number;
}

/**
 * Channel pooling: one output float per pixel (CBAM's channel mean/max maps, LayerNorm's row mean). Up to four
 * vector accumulators per pixel, the partial last vector masked to the identity (0 or -inf), then a
 * horizontal reduction; the output view holds one channel (its pixel stride may be wider). Max uses pmax (one
 * instruction; like MaxPool here, a NaN input is not guaranteed to propagate).
 */
export const channelPool: KernelFamily<ChannelPoolSpec, PoolVariant, PoolAddresses, undefined> = {
  family: 'channelpool',
  variants: [POOL_VARIANTS[0]!],
  supports(s) {
    return s.pixels >= 1 && s.channels >= 1 && (CHANNEL_POOL_KINDS as readonly string[]).includes(s.kind);
  },
  id(s, v) {
    return `f32-c${s.kind}pool-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.pixels;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    requireSupported(this, s, v);
    checkRefs(`channel pool ${this.id(s, v)}`, [a.input, s.channels], [a.output, 1]);
    const isMax = s.kind === 'max';
    const [p, inp, outp] = fn.locals('i32', 3);
    const acc = fn.locals('v128', v.blockVectors);
    const tmp = fn.local('v128');
    const ident = fn.local('v128');
    fn.v128ConstF32(isMax ? -Infinity : 0).localSet(ident);
    const combine = (dst: Local, src: Local): void => {
      fn.localGet(dst).localGet(src);
      if (isMax) fn.f32x4Pmax();
      else fn.f32x4Add();
      fn.localSet(dst);
    };
    fn.localGet(fn.param(0))
      .i32Const(a.input.pixelStride * 4)
      .i32Mul()
      .i32Const(a.input.addrBytes)
      .i32Add();
    fn.localSet(inp);
    fn.localGet(fn.param(0))
      .i32Const(a.output.pixelStride * 4)
      .i32Mul()
      .i32Const(a.output.addrBytes)
      .i32Add();
    fn.localSet(outp);
    fn.forRange(
      p,
      (bb) => bb.localGet(fn.param(0)),
      (bb) => bb.localGet(fn.param(1)),
      1,
      () => {
        for (const l of acc) fn.localGet(ident).localSet(l);
        sweepChannels(fn, s.channels, v.blockVectors, (blk, off, constOff) => {
          for (let j = 0; j < blk.vectors; j++) {
            loadVec(fn, tmp, inp, off, constOff + 16 * j);
            const lanes = lanesOf(blk, j);
            if (lanes < 4) {
              // lanes past the row end (neighbouring data) take the identity
              const keep = [0, 1, 2, 3].map((l) => (l < lanes ? -1 : 0)) as [number, number, number, number];
              fn.localGet(tmp)
                .localGet(ident)
                .v128ConstI32(...keep)
                .v128Bitselect()
                .localSet(tmp);
            }
            combine(acc[j]!, tmp);
          }
        });
        for (let j = 1; j < v.blockVectors; j++) combine(acc[0]!, acc[j]!);
        const a0 = acc[0]!;
        fn.localGet(a0).localGet(a0).localGet(a0).i32x4Shuffle(2, 3, 0, 1);
        if (isMax) fn.f32x4Pmax();
        else fn.f32x4Add();
        fn.localSet(a0);
        fn.localGet(a0).localGet(a0).localGet(a0).i32x4Shuffle(1, 0, 3, 2);
        if (isMax) fn.f32x4Pmax();
        else fn.f32x4Add();
        if (s.kind === 'avg') fn.v128ConstF32(1 / s.channels).f32x4Mul();
        fn.localSet(a0);
        fn.localGet(outp).localGet(a0).v128Store32Lane(0, 0, 0);
        fn.localGet(inp)
          .i32Const(a.input.pixelStride * 4)
          .i32Add()
          .localSet(inp);
        fn.localGet(outp)
          .i32Const(a.output.pixelStride * 4)
          .i32Add()
          .localSet(outp);
      },
    );
  },
};
