/**
 * Data movement between layouts: NCHW <-> NHWC at the graph's edges (4 pixels x 4 channels per step, a 4x4
 * transpose in eight shuffles, lane-exact tails), ShuffleNet's channel shuffle (out[g*i + j] = in[(C/g)*j + i]
 * per pixel; g = 2 interleaves two 4-channel loads), DepthToSpace/SpaceToDepth over NHWC views, and a generic
 * transpose of flat row-major tensors. Loads may read past a row (the memory plan allows 16 bytes); stores never
 * leave the destination view.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { lanesOf, loadVec, MEMORY_BOUND, requireSupported, storeVec, sweepChannels } from './simd-loops.js';
import type { ActivationRef, KernelFamily, KernelVariant } from './types.js';

/** Conversion direction: `to-nhwc` reads a dense NCHW buffer, `to-nchw` writes one. */
export const LAYOUT_DIRECTIONS = ['to-nhwc', 'to-nchw'] as const;
export type LayoutDirection = (typeof LAYOUT_DIRECTIONS)[number];

export interface LayoutSpec {
  direction: LayoutDirection;
  batch: number;
  channels: number;
  height: number;
  width: number;
}

export interface LayoutAddresses {
  /** The dense NCHW buffer (source for to-nhwc, destination for to-nchw). */
  nchw: number;
  /** The NHWC view. */
  nhwc: ActivationRef;
}

const LAYOUT_VARIANTS: readonly KernelVariant[] = [{ tile: '4x4', isa: 'wasmsimd' }];

/** In-register 4x4 transpose of v128 locals r[0..3] into o[0..3] (t: 4 scratch locals). */
export function transpose4x4(fn: FunctionBuilder, r: readonly Local[], t: readonly Local[], o: readonly Local[]): void {
  fn.localGet(r[0]!).localGet(r[1]!).i32x4Shuffle(0, 4, 1, 5).localSet(t[0]!);
  fn.localGet(r[0]!).localGet(r[1]!).i32x4Shuffle(2, 6, 3, 7).localSet(t[1]!);
  fn.localGet(r[2]!).localGet(r[3]!).i32x4Shuffle(0, 4, 1, 5).localSet(t[2]!);
  fn.localGet(r[2]!).localGet(r[3]!).i32x4Shuffle(2, 6, 3, 7).localSet(t[3]!);
  fn.localGet(t[0]!).localGet(t[2]!).i32x4Shuffle(0, 1, 4, 5).localSet(o[0]!);
  fn.localGet(t[0]!).localGet(t[2]!).i32x4Shuffle(2, 3, 6, 7).localSet(o[1]!);
  fn.localGet(t[1]!).localGet(t[3]!).i32x4Shuffle(0, 1, 4, 5).localSet(o[2]!);
  fn.localGet(t[1]!).localGet(t[3]!).i32x4Shuffle(2, 3, 6, 7).localSet(o[3]!);
}

/** NCHW <-> NHWC conversion. */
export const layout: KernelFamily<LayoutSpec, KernelVariant, LayoutAddresses, undefined> = {
  family: 'layout',
  variants: LAYOUT_VARIANTS,
  supports(s) {
    return s.batch >= 1 && s.channels >= 1 && s.height >= 1 && s.width >= 1;
  },
  id(s, v) {
    return `f32-${s.direction === 'to-nhwc' ? 'nchw2nhwc' : 'nhwc2nchw'}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.batch * s.height;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    requireSupported(this, s, v);
    if (a.nhwc.addrBytes % 4 !== 0 || a.nchw % 4 !== 0 || a.nhwc.pixelStride < s.channels) {
      throw new EdgecnnError(`${this.id(s, v)}: bad views ${JSON.stringify(a)}`, 'internal');
    }
    emitLayout(fn, s, a);
  },
};

function emitLayout(fn: FunctionBuilder, s: LayoutSpec, a: LayoutAddresses): void {
  const toNhwc = s.direction === 'to-nhwc';
  const { channels: C, height: H, width: W } = s;
  const planeB = H * W * 4;
  const psB = a.nhwc.pixelStride * 4;
  const [row, b, y, planeRow, pixRow, x, c, src, dst] = fn.locals('i32', 9);
  const r = fn.locals('v128', 4);
  const t = fn.locals('v128', 4);
  const o = fn.locals('v128', 4);

  // One 4-pixel x 4-channel tile at pixel offset x (local, within the row) and channel c (local):
  // `pixels` (1..4) and `lanes` (1..4) are compile-time.
  const tile = (pixels: number, lanes: number): void => {
    if (toNhwc) {
      // src = plane c of this row at pixel x; planes are planeB apart
      fn.localGet(planeRow).localGet(c).i32Const(planeB).i32Mul().i32Add().localGet(x).i32Const(4).i32Mul().i32Add();
      fn.localSet(src);
      for (let k = 0; k < 4; k++)
        fn.localGet(src)
          .v128Load(Math.min(k, lanes - 1) * planeB, 0)
          .localSet(r[k]!);
      transpose4x4(fn, r, t, o);
      fn.localGet(pixRow).localGet(x).i32Const(psB).i32Mul().i32Add().localGet(c).i32Const(4).i32Mul().i32Add();
      fn.localSet(dst);
      for (let p = 0; p < pixels; p++) storeVec(fn, o[p]!, dst, undefined, p * psB, lanes);
    } else {
      fn.localGet(pixRow).localGet(x).i32Const(psB).i32Mul().i32Add().localGet(c).i32Const(4).i32Mul().i32Add();
      fn.localSet(src);
      for (let p = 0; p < 4; p++)
        fn.localGet(src)
          .v128Load(Math.min(p, pixels - 1) * psB, 0)
          .localSet(r[p]!);
      transpose4x4(fn, r, t, o);
      fn.localGet(planeRow).localGet(c).i32Const(planeB).i32Mul().i32Add().localGet(x).i32Const(4).i32Mul().i32Add();
      fn.localSet(dst);
      for (let k = 0; k < lanes; k++) storeVec(fn, o[k]!, dst, undefined, k * planeB, pixels);
    }
  };
  const fullC = Math.floor(C / 4);
  const restC = C - 4 * fullC;
  const channelSweep = (pixels: number): void => {
    if (fullC > 0)
      fn.forRange(
        c,
        (bb) => bb.i32Const(0),
        (bb) => bb.i32Const(4 * fullC),
        4,
        () => tile(pixels, 4),
      );
    if (restC > 0) {
      fn.i32Const(4 * fullC).localSet(c);
      tile(pixels, restC);
    }
  };
  const fullX = Math.floor(W / 4);
  const restX = W - 4 * fullX;
  fn.forRange(
    row,
    (bb) => bb.localGet(fn.param(0)),
    (bb) => bb.localGet(fn.param(1)),
    1,
    () => {
      fn.localGet(row).i32Const(H).i32DivU().localSet(b);
      fn.localGet(row).localGet(b).i32Const(H).i32Mul().i32Sub().localSet(y);
      // planeRow = row y of plane 0 of image b in NCHW; pixRow = pixel (b, y, 0) in NHWC
      fn.localGet(b)
        .i32Const(C * planeB)
        .i32Mul()
        .localGet(y)
        .i32Const(W * 4)
        .i32Mul()
        .i32Add();
      fn.i32Const(a.nchw).i32Add().localSet(planeRow);
      fn.localGet(row)
        .i32Const(W * psB)
        .i32Mul()
        .i32Const(a.nhwc.addrBytes)
        .i32Add()
        .localSet(pixRow);
      if (fullX > 0)
        fn.forRange(
          x,
          (bb) => bb.i32Const(0),
          (bb) => bb.i32Const(4 * fullX),
          4,
          () => channelSweep(4),
        );
      if (restX > 0) {
        fn.i32Const(4 * fullX).localSet(x);
        channelSweep(restX);
      }
    },
  );
}

// ---- channel shuffle ----------------------------------------------------------------------------------------

export interface ChannelShuffleSpec {
  pixels: number;
  channels: number;
  groups: number;
}

export interface ChannelShuffleAddresses {
  input: ActivationRef;
  output: ActivationRef;
}

/** ShuffleNet's channel shuffle in NHWC (out of place). */
export const channelShuffle: KernelFamily<ChannelShuffleSpec, KernelVariant, ChannelShuffleAddresses, undefined> = {
  family: 'shuffle',
  variants: [{ tile: 'x4', isa: 'wasmsimd' }],
  supports(s) {
    return s.pixels >= 1 && s.groups >= 1 && s.channels >= s.groups && s.channels % s.groups === 0;
  },
  id(s, v) {
    return `f32-shuffle-g${s.groups}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.pixels;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    if (!this.supports(s, v) || a.input.pixelStride < s.channels || a.output.pixelStride < s.channels) {
      throw new EdgecnnError(`${this.id(s, v)}: bad spec or views`, 'internal');
    }
    const G = s.groups;
    const K = s.channels / G;
    const [p, ip, op, i] = fn.locals('i32', 4);
    const [va, vb, lo] = fn.locals('v128', 3);
    fn.localGet(fn.param(0))
      .i32Const(a.input.pixelStride * 4)
      .i32Mul()
      .i32Const(a.input.addrBytes)
      .i32Add()
      .localSet(ip);
    fn.localGet(fn.param(0))
      .i32Const(a.output.pixelStride * 4)
      .i32Mul()
      .i32Const(a.output.addrBytes)
      .i32Add()
      .localSet(op);
    // g = 2: interleave 4 channels of each half into 8 output channels
    const pair = (k: number, constIn: number, constOut: number): void => {
      fn.localGet(ip).v128Load(constIn, 0).localSet(va);
      fn.localGet(ip)
        .v128Load(constIn + K * 4, 0)
        .localSet(vb);
      fn.localGet(va).localGet(vb).i32x4Shuffle(0, 4, 1, 5).localSet(lo);
      storeVec(fn, lo, op, undefined, constOut, Math.min(4, 2 * k));
      if (k > 2) {
        fn.localGet(va).localGet(vb).i32x4Shuffle(2, 6, 3, 7).localSet(lo);
        storeVec(fn, lo, op, undefined, constOut + 16, 2 * k - 4);
      }
    };
    fn.forRange(
      p,
      (bb) => bb.localGet(fn.param(0)),
      (bb) => bb.localGet(fn.param(1)),
      1,
      () => {
        if (G === 2) {
          const full = Math.floor(K / 4);
          if (full > 4) {
            // i = byte offset in the input half; output offset is 2i
            fn.forRange(
              i,
              (bb) => bb.i32Const(0),
              (bb) => bb.i32Const(full * 16),
              16,
              () => {
                fn.localGet(ip).localGet(i).i32Add().v128Load(0, 0).localSet(va);
                fn.localGet(ip)
                  .localGet(i)
                  .i32Add()
                  .v128Load(K * 4, 0)
                  .localSet(vb);
                fn.localGet(op).localGet(i).i32Const(2).i32Mul().i32Add();
                fn.localGet(va).localGet(vb).i32x4Shuffle(0, 4, 1, 5).v128Store(0, 0);
                fn.localGet(op).localGet(i).i32Const(2).i32Mul().i32Add();
                fn.localGet(va).localGet(vb).i32x4Shuffle(2, 6, 3, 7).v128Store(16, 0);
              },
            );
          } else {
            for (let q = 0; q < full; q++) pair(4, 16 * q, 32 * q);
          }
          if (K % 4) pair(K % 4, 16 * full, 32 * full);
        } else {
          // generic g: one float at a time, loop over i, unrolled over the groups
          fn.forRange(
            i,
            (bb) => bb.i32Const(0),
            (bb) => bb.i32Const(K * 4),
            4,
            () => {
              for (let j = 0; j < G; j++) {
                fn.localGet(op).localGet(i).i32Const(G).i32Mul().i32Add();
                fn.localGet(ip)
                  .localGet(i)
                  .i32Add()
                  .f32Load(j * K * 4, 2);
                fn.f32Store(j * 4, 2);
              }
            },
          );
        }
        fn.localGet(ip)
          .i32Const(a.input.pixelStride * 4)
          .i32Add()
          .localSet(ip);
        fn.localGet(op)
          .i32Const(a.output.pixelStride * 4)
          .i32Add()
          .localSet(op);
      },
    );
  },
};

// ---- generic transpose (flat row-major tensors) ---------------------------------------------------------------

/** ONNX Transpose of a dense row-major tensor (rank 1..6) into a dense row-major output. */
export interface TransposeSpec {
  /** Input dims. */
  shape: readonly number[];
  /** Output axis i is input axis perm[i]. */
  perm: readonly number[];
}

export interface TransposeAddresses {
  input: number;
  output: number;
}

function transposeGeometry(s: TransposeSpec): {
  outShape: number[];
  inStrideOfOut: number[];
  rows: number;
  cols: number;
} {
  const r = s.shape.length;
  const inStrides = new Array<number>(r);
  for (let i = r - 1, acc = 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= s.shape[i]!;
  }
  const outShape = s.perm.map((p) => s.shape[p]!);
  const inStrideOfOut = s.perm.map((p) => inStrides[p]!);
  const cols = outShape[r - 1] ?? 1;
  const rows = outShape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { outShape, inStrideOfOut, rows, cols };
}

/**
 * Generic transpose (attention heads, NHWC<->NCHW of flat values). The parallel dimension is output rows; a row's
 * input start comes from its output coordinates (div/mod by the compile-time dims). When the output's last axis
 * is also the input's last (stride 1) a row is a contiguous copy in vectors; otherwise elements are gathered one
 * by one at the input stride (four per step).
 */
export const transpose: KernelFamily<TransposeSpec, KernelVariant, TransposeAddresses, undefined> = {
  family: 'transpose',
  variants: [{ tile: 'x4', isa: 'wasmsimd' }],
  supports(s) {
    const r = s.shape.length;
    if (r < 1 || r > 6 || s.perm.length !== r || s.shape.some((d) => !(d >= 1))) return false;
    return [...s.perm].sort((a, b) => a - b).every((p, i) => p === i);
  },
  id(s, v) {
    return `f32-transpose-${s.perm.join('')}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return transposeGeometry(s).rows;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    if (!this.supports(s, v) || a.input % 4 !== 0 || a.output % 4 !== 0) {
      throw new EdgecnnError(`${this.id(s, v)}: bad spec or addresses`, 'internal');
    }
    const { outShape, inStrideOfOut, cols } = transposeGeometry(s);
    const r = outShape.length;
    const [row, q, coord, ip, op, c] = fn.locals('i32', 6);
    const tmp = fn.local('v128');
    const contiguous = inStrideOfOut[r - 1] === 1;
    const step = inStrideOfOut[r - 1]! * 4;
    fn.forRange(
      row,
      (bb) => bb.localGet(fn.param(0)),
      (bb) => bb.localGet(fn.param(1)),
      1,
      () => {
        // ip = input + 4 * sum(coord_i * inStride_i) over the output's leading axes (innermost first)
        fn.localGet(row).localSet(q);
        fn.i32Const(a.input).localSet(ip);
        for (let i = r - 2; i >= 0; i--) {
          const d = outShape[i]!;
          if (i > 0) fn.localGet(q).i32Const(d).i32RemU().localSet(coord);
          else fn.localGet(q).localSet(coord);
          fn.localGet(coord)
            .i32Const(inStrideOfOut[i]! * 4)
            .i32Mul()
            .localGet(ip)
            .i32Add()
            .localSet(ip);
          if (i > 0) fn.localGet(q).i32Const(d).i32DivU().localSet(q);
        }
        fn.localGet(row)
          .i32Const(cols * 4)
          .i32Mul()
          .i32Const(a.output)
          .i32Add()
          .localSet(op);
        if (contiguous) {
          sweepChannels(fn, cols, 4, (blk, off, constOff) => {
            for (let j = 0; j < blk.vectors; j++) {
              loadVec(fn, tmp, ip, off, constOff + 16 * j);
              storeVec(fn, tmp, op, off, constOff + 16 * j, lanesOf(blk, j));
            }
          });
          return;
        }
        const quads = Math.floor(cols / 4);
        if (quads > 0) {
          fn.forRange(
            c,
            (bb) => bb.i32Const(0),
            (bb) => bb.i32Const(quads),
            1,
            () => {
              for (let k = 0; k < 4; k++)
                fn.localGet(op)
                  .localGet(ip)
                  .f32Load(k * step, 2)
                  .f32Store(4 * k, 2);
              fn.localGet(ip)
                .i32Const(4 * step)
                .i32Add()
                .localSet(ip);
              fn.localGet(op).i32Const(16).i32Add().localSet(op);
            },
          );
        }
        for (let k = 0; k < cols % 4; k++)
          fn.localGet(op)
            .localGet(ip)
            .f32Load(k * step, 2)
            .f32Store(4 * k, 2);
      },
    );
  },
};

// ---- DepthToSpace / SpaceToDepth ------------------------------------------------------------------------------

export const DEPTH_SPACE_KINDS = ['depth-to-space-dcr', 'depth-to-space-crd', 'space-to-depth'] as const;
export type DepthSpaceKind = (typeof DEPTH_SPACE_KINDS)[number];

/** ONNX DepthToSpace (DCR or CRD mode) / SpaceToDepth over NHWC views; shapes are the input's. */
export interface DepthSpaceSpec {
  kind: DepthSpaceKind;
  blocksize: number;
  batch: number;
  /** Input channels, height, width. */
  channels: number;
  height: number;
  width: number;
}

function depthSpaceOut(s: DepthSpaceSpec): { C: number; H: number; W: number } {
  const b = s.blocksize;
  return s.kind === 'space-to-depth'
    ? { C: s.channels * b * b, H: s.height / b, W: s.width / b }
    : { C: s.channels / (b * b), H: s.height * b, W: s.width * b };
}

/**
 * Pixel shuffles. DCR DepthToSpace and SpaceToDepth move whole runs of C' = C / b^2 contiguous channels between
 * an input pixel and an output pixel (vector copies, block offsets compile-time constants); CRD DepthToSpace
 * (PyTorch's PixelShuffle) gathers each output pixel's channels at stride b^2. The parallel dimension is output
 * rows.
 */
export const depthSpace: KernelFamily<DepthSpaceSpec, KernelVariant, ChannelShuffleAddresses, undefined> = {
  family: 'depthspace',
  variants: [{ tile: '16c', isa: 'wasmsimd' }],
  supports(s) {
    const b = s.blocksize;
    if (!(b >= 1 && s.batch >= 1 && s.channels >= 1 && s.height >= 1 && s.width >= 1)) return false;
    return s.kind === 'space-to-depth' ? s.height % b === 0 && s.width % b === 0 : s.channels % (b * b) === 0;
  },
  id(s, v) {
    const k = { 'depth-to-space-dcr': 'd2s', 'depth-to-space-crd': 'd2scrd', 'space-to-depth': 's2d' }[s.kind];
    return `f32-${k}-b${s.blocksize}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.batch * depthSpaceOut(s).H;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    const o = depthSpaceOut(s);
    if (!this.supports(s, v) || a.input.pixelStride < s.channels || a.output.pixelStride < o.C) {
      throw new EdgecnnError(`${this.id(s, v)}: bad spec or views`, 'internal');
    }
    const b = s.blocksize;
    const psB = a.input.pixelStride * 4;
    const opsB = a.output.pixelStride * 4;
    const [row, img, y, i, src, op, x, c] = fn.locals('i32', 8);
    const tmp = fn.locals('v128', 4);
    // copy `n` contiguous channels from src + srcOff to op + dstOff
    const run = (n: number, srcOff: number, dstOff: number): void => {
      sweepChannels(fn, n, 4, (blk, off, constOff) => {
        for (let j = 0; j < blk.vectors; j++) loadVec(fn, tmp[j]!, src, off, srcOff + constOff + 16 * j);
        for (let j = 0; j < blk.vectors; j++)
          storeVec(fn, tmp[j]!, op, off, dstOff + constOff + 16 * j, lanesOf(blk, j));
      });
    };
    fn.forRange(
      row,
      (bb) => bb.localGet(fn.param(0)),
      (bb) => bb.localGet(fn.param(1)),
      1,
      () => {
        fn.localGet(row).i32Const(o.H).i32DivU().localSet(img);
        fn.localGet(row).localGet(img).i32Const(o.H).i32Mul().i32Sub().localSet(y);
        fn.localGet(row)
          .i32Const(o.W * opsB)
          .i32Mul()
          .i32Const(a.output.addrBytes)
          .i32Add()
          .localSet(op);
        if (s.kind === 'space-to-depth') {
          // output pixel (y, x) gathers input pixels (y*b + i, x*b + j): constant offsets from (y*b, x*b)
          fn.localGet(img)
            .i32Const(s.height * s.width * psB)
            .i32Mul();
          fn.localGet(y)
            .i32Const(b * s.width * psB)
            .i32Mul()
            .i32Add()
            .i32Const(a.input.addrBytes)
            .i32Add()
            .localSet(src);
          fn.forRange(
            x,
            (bb) => bb.i32Const(0),
            (bb) => bb.i32Const(o.W),
            1,
            () => {
              for (let bi = 0; bi < b; bi++) {
                for (let bj = 0; bj < b; bj++)
                  run(s.channels, (bi * s.width + bj) * psB, (bi * b + bj) * s.channels * 4);
              }
              fn.localGet(src)
                .i32Const(b * psB)
                .i32Add()
                .localSet(src);
              fn.localGet(op).i32Const(opsB).i32Add().localSet(op);
            },
          );
          return;
        }
        // depth to space: output row y reads input row y / b, block row i = y % b
        const Cp = o.C;
        fn.localGet(y).i32Const(b).i32RemU().localSet(i);
        fn.localGet(img).i32Const(s.height).i32Mul().localGet(y).i32Const(b).i32DivU().i32Add();
        fn.i32Const(s.width * psB)
          .i32Mul()
          .i32Const(a.input.addrBytes)
          .i32Add();
        // DCR: block (i, j) is channels [(i*b + j) C', ...); CRD: channel c*b*b + i*b + j
        fn.localGet(i)
          .i32Const((s.kind === 'depth-to-space-dcr' ? b * Cp : b) * 4)
          .i32Mul()
          .i32Add()
          .localSet(src);
        fn.forRange(
          x,
          (bb) => bb.i32Const(0),
          (bb) => bb.i32Const(s.width),
          1,
          () => {
            for (let bj = 0; bj < b; bj++) {
              if (s.kind === 'depth-to-space-dcr') run(Cp, bj * Cp * 4, bj * opsB);
              else {
                fn.forRange(
                  c,
                  (bb) => bb.i32Const(0),
                  (bb) => bb.i32Const(Cp * 4),
                  4,
                  () => {
                    fn.localGet(op).localGet(c).i32Add();
                    fn.localGet(src)
                      .localGet(c)
                      .i32Const(b * b)
                      .i32Mul()
                      .i32Add()
                      .f32Load(bj * 4, 2);
                    fn.f32Store(bj * opsB, 2);
                  },
                );
              }
            }
            fn.localGet(src).i32Const(psB).i32Add().localSet(src);
            fn.localGet(op)
              .i32Const(b * opsB)
              .i32Add()
              .localSet(op);
          },
        );
      },
    );
  },
};
