/**
 * The row-tile walk of the qs8 depthwise kernels (qs8-dwconv's i16 row tiles and qs8-dwconv-rdot's): an item is
 * `rows` output rows of one image (an odd last row shares the item before it, which then writes its first row
 * twice with equal bytes) times a group of whole 8-channel blocks (threads). Per item: the packed weight set of
 * its slot-validity pattern (a slot is an input row the item reads; one in the padding reads a clamped row with
 * zero weights, the pattern's bias holding its zero-point term), each slot's row address, then along the row the
 * left border pixels one by one at compile time, runtime tiles of `px` interior pixels, the interior's remainder
 * as one compile-time tile, and the right border. Per pixel group every channel block of the item's group runs
 * the kernel's block body, or (`stream`) the block loop is outside the row so a block's constants stay in
 * registers along it. The kernels supply what differs: slot offsets, weight layout and the block body.
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { DWCONV_MIN_ITEMS } from './dwconv.js';
import type { Qs8ConvAddresses, Qs8ConvSpec } from './qs8-gemm.js';
import { QS8_BLOCK } from './requantize.js';

/** Items per image: groups of `rows` output rows. */
export const dwItemsPerImage = (s: Qs8ConvSpec, rows: number): number => Math.ceil(s.outH / rows);

/** The first output row of an image's item k (the last item starts at outH - rows). */
const firstRow = (s: Qs8ConvSpec, rows: number, k: number): number => Math.min(k * rows, s.outH - rows);

/**
 * Items x channel groups: groups of whole 8-channel blocks so that late layers (7 or 14 rows, hundreds of
 * channels) still offer DWCONV_MIN_ITEMS items to the threads (as the f32 depthwise kernel does).
 */
export function dwChannelGroups(s: Qs8ConvSpec, rows: number): { groups: number; groupBlocks: number } {
  const items = s.batch * dwItemsPerImage(s, rows);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  const want = Math.min(blocks, Math.ceil(DWCONV_MIN_ITEMS / items));
  if (want <= 1) return { groups: 1, groupBlocks: blocks };
  const groupBlocks = Math.ceil(blocks / want);
  return { groups: Math.ceil(blocks / groupBlocks), groupBlocks };
}

/** An image's items in runs of equal slot validity (top border, interior, bottom border). */
export interface DwSlotPatterns {
  runs: { lo: number; hi: number; pattern: number }[];
  /** Per pattern, whether each slot's input row is inside the image. */
  patterns: boolean[][];
}

/** Slot validity per item; slot t reads input row firstRow * strideH - padTop + slotOffsets[t]. */
export function dwSlotPatterns(s: Qs8ConvSpec, rows: number, slotOffsets: readonly number[]): DwSlotPatterns {
  const patterns: boolean[][] = [];
  const runs: DwSlotPatterns['runs'] = [];
  for (let k = 0; k < dwItemsPerImage(s, rows); k++) {
    const iy0 = firstRow(s, rows, k) * s.strideH - s.padTop;
    const pt = slotOffsets.map((o) => iy0 + o >= 0 && iy0 + o < s.inH);
    let i = patterns.findIndex((q) => q.join() === pt.join());
    if (i < 0) i = patterns.push(pt) - 1;
    const last = runs[runs.length - 1];
    if (last && last.pattern === i) last.hi = k + 1;
    else runs.push({ lo: k, hi: k + 1, pattern: i });
  }
  return { runs, patterns };
}

/** What a kernel tells the walk. */
export interface DwRowWalk {
  /** Output pixels per runtime tile. */
  px: number;
  /** Channel blocks outside the row (the block's constants loaded once per row by `loadBlockConstants`). */
  stream: boolean;
  /** Output rows per item. */
  rows: number;
  /** Per slot, its input row relative to the item's first window top. */
  slotOffsets: readonly number[];
  /** Bytes of one packed 8-channel block; a pattern's blocks follow each other from `weightsAt`. */
  blockBytes: number;
  weightsAt: number;
  /** Output column x reads only columns inside the row (a runtime tile may hold it). */
  interior: (x: number) => boolean;
}

/** The walk's locals a block body reads: per slot its row pointer plus the pixels' column and block offset. */
export interface DwRowLocals {
  /** Per slot: row address + the first pixel's input column + the block's first channel. */
  rp: readonly Local[];
  /** The first pixel's output address + the block's first channel. */
  op: Local;
  /** The block's packed weights (header first). */
  wp: Local;
}

/** A block body: `n` pixels, `lanes` channels; `constX`, the output column of a compile-time border pixel. */
export interface DwRowBody {
  block(n: number, lanes: number, constX?: number): void;
  /** With `stream`: load the current block's constants (wp set) before a row's pixels. */
  loadBlockConstants(): void;
}

/** Allocate the walk's locals; `emit` then writes the item loop around the kernel's block body. */
export function dwRowWalk(
  fn: FunctionBuilder,
  s: Qs8ConvSpec,
  a: Qs8ConvAddresses,
  w: DwRowWalk,
): { locals: DwRowLocals; emit(body: DwRowBody): void } {
  const { px, stream, rows: R, slotOffsets } = w;
  const { strideH: sH, strideW: sW, inH, inW, outH, outW } = s;
  const inStride = a.input.pixelStride;
  const outStride = a.output.pixelStride;
  const nSlots = slotOffsets.length;
  const ipi = dwItemsPerImage(s, R);
  const { groups, groupBlocks } = dwChannelGroups(s, R);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  const nFull = Math.floor(s.outC / QS8_BLOCK);
  const rest = s.outC - nFull * QS8_BLOCK;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [item, row, grp, cbLo, cbHi, oy, bb, wset, rowOut, ox, cb, pixIn, pixOut, ip, op, wp] = fn.locals('i32', 16);
  // The item's first output row (oy itself for one-row items).
  const y0 = R > 1 ? fn.local('i32') : oy;
  const rowPtr = fn.locals('i32', nSlots);
  const rp = fn.locals('i32', nSlots);

  let oxL = 0;
  while (oxL < outW && !w.interior(oxL)) oxL++;
  let oxR = oxL;
  while (oxR < outW && w.interior(oxR)) oxR++;

  const emit = (body: DwRowBody): void => {
    // The channel blocks of this item's group: full blocks in a loop, then the partial one (in the last group).
    const channelBlocks = (run: (lanes: number) => void): void => {
      const setWeights = (): void => {
        fn.localGet(cb)
          .i32Const(w.blockBytes / QS8_BLOCK)
          .i32Mul()
          .localGet(wset)
          .i32Add()
          .localSet(wp);
      };
      if (nFull > 0) {
        fn.forRange(
          cb,
          (b) => b.localGet(cbLo),
          (b) => b.localGet(cbHi),
          QS8_BLOCK,
          () => {
            setWeights();
            run(QS8_BLOCK);
          },
        );
      }
      if (rest > 0) {
        if (groups > 1)
          fn.localGet(grp)
            .i32Const(groups - 1)
            .i32Eq()
            .if();
        fn.i32Const(nFull * QS8_BLOCK).localSet(cb);
        setWeights();
        run(rest);
        if (groups > 1) fn.end();
      }
    };

    let streamLanes = QS8_BLOCK;
    // n pixels whose pixIn/pixOut are set (pixIn 0 for compile-time pixels, whose loads add their column).
    const pixels = (n: number, constX?: number): void => {
      const block = (lanes: number): void => {
        fn.localGet(pixIn).localGet(cb).i32Add().localSet(ip);
        for (let u = 0; u < nSlots; u++) fn.localGet(rowPtr[u]!).localGet(ip).i32Add().localSet(rp[u]!);
        fn.localGet(pixOut).localGet(cb).i32Add().localSet(op);
        body.block(n, lanes, constX);
      };
      if (stream) block(streamLanes);
      else channelBlocks(block);
    };

    const rowPixels = (): void => {
      const constPixel = (x: number): void => {
        fn.i32Const(0).localSet(pixIn);
        fn.localGet(rowOut)
          .i32Const(x * outStride)
          .i32Add()
          .localSet(pixOut);
        pixels(1, x);
      };
      for (let x = 0; x < Math.min(oxL, outW); x++) constPixel(x);
      const tiled = Math.floor((oxR - oxL) / px) * px;
      if (tiled > 0) {
        fn.forRange(
          ox,
          (b) => b.i32Const(oxL),
          (b) => b.i32Const(oxL + tiled),
          px,
          () => {
            fn.localGet(ox)
              .i32Const(sW * inStride)
              .i32Mul()
              .i32Const(s.padLeft * inStride)
              .i32Sub()
              .localSet(pixIn);
            fn.localGet(ox).i32Const(outStride).i32Mul().localGet(rowOut).i32Add().localSet(pixOut);
            pixels(px);
          },
        );
      }
      // The interior's last pixels (fewer than a tile) as one compile-time tile: all their columns are inside.
      if (oxR - oxL > tiled) {
        const x = oxL + tiled;
        fn.i32Const((x * sW - s.padLeft) * inStride).localSet(pixIn);
        fn.localGet(rowOut)
          .i32Const(x * outStride)
          .i32Add()
          .localSet(pixOut);
        pixels(oxR - oxL - tiled);
      }
      for (let x = Math.max(oxR, oxL); x < outW; x++) constPixel(x);
    };

    const { runs } = dwSlotPatterns(s, R, slotOffsets);
    // The weights of the item's validity pattern (the longest run, the interior, needs no compare).
    const main = runs.reduce((m, r, i) => (r.hi - r.lo > runs[m]!.hi - runs[m]!.lo ? i : m), 0);
    const weightSet = (pattern: number): void =>
      void fn.i32Const(w.weightsAt + pattern * blocks * w.blockBytes).localSet(wset);

    fn.forRange(
      item,
      (b) => b.localGet(start),
      (b) => b.localGet(end),
      1,
      () => {
        if (groups > 1) {
          fn.localGet(item).i32Const(groups).i32DivU().localSet(row);
          fn.localGet(item).localGet(row).i32Const(groups).i32Mul().i32Sub().localSet(grp);
          fn.localGet(grp)
            .i32Const(groupBlocks * QS8_BLOCK)
            .i32Mul()
            .localTee(cbLo)
            .i32Const(groupBlocks * QS8_BLOCK)
            .i32Add();
          fn.i32Const(nFull * QS8_BLOCK);
          fn.localGet(grp)
            .i32Const(groups - 1)
            .i32LtU()
            .select()
            .localSet(cbHi);
        } else {
          fn.localGet(item).localSet(row);
          fn.i32Const(0).localSet(cbLo);
          fn.i32Const(nFull * QS8_BLOCK).localSet(cbHi);
        }
        // bb: the image; oy: the item's index in it; y0: its first output row.
        fn.localGet(row).i32Const(ipi).i32DivU().localSet(bb);
        fn.localGet(row).localGet(bb).i32Const(ipi).i32Mul().i32Sub().localSet(oy);
        if (R === 1) {
          fn.localGet(row)
            .i32Const(outW * outStride)
            .i32Mul();
        } else {
          fn.localGet(oy).i32Const(R).i32Mul().localSet(y0);
          fn.localGet(y0)
            .i32Const(outH - R)
            .localGet(y0)
            .i32Const(outH - R)
            .i32LtS()
            .select()
            .localSet(y0);
          fn.localGet(bb)
            .i32Const(outH)
            .i32Mul()
            .localGet(y0)
            .i32Add()
            .i32Const(outW * outStride)
            .i32Mul();
        }
        fn.i32Const(a.output.addrBytes).i32Add().localSet(rowOut);
        weightSet(runs[main]!.pattern);
        for (const r of runs) {
          if (r === runs[main] || r.pattern === runs[main]!.pattern) continue;
          fn.localGet(oy).i32Const(r.lo).i32GeU().localGet(oy).i32Const(r.hi).i32LtU().i32And().if();
          weightSet(r.pattern);
          fn.end();
        }
        // Slot u reads input row clamp(y0 * sH - padTop + offset(u), 0, inH - 1) of image bb.
        for (let u = 0; u < nSlots; u++) {
          fn.localGet(y0)
            .i32Const(sH)
            .i32Mul()
            .i32Const(slotOffsets[u]! - s.padTop)
            .i32Add()
            .localSet(ip);
          fn.localGet(ip).i32Const(0).localGet(ip).i32Const(0).i32GtS().select().localSet(ip);
          fn.localGet(ip)
            .i32Const(inH - 1)
            .localGet(ip)
            .i32Const(inH - 1)
            .i32LtS()
            .select();
          fn.localGet(bb).i32Const(inH).i32Mul().i32Add();
          fn.i32Const(inW * inStride)
            .i32Mul()
            .i32Const(a.input.addrBytes)
            .i32Add()
            .localSet(rowPtr[u]!);
        }
        if (!stream) return rowPixels();
        channelBlocks((lanes) => {
          streamLanes = lanes;
          body.loadBlockConstants();
          rowPixels();
        });
      },
    );
  };
  return { locals: { rp, op, wp }, emit };
}
