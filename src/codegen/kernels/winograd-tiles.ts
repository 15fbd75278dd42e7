/**
 * The tile walk the two Winograd F(2x2,3x3) kernels (f32 `winograd.ts`, int8 `qs8-winograd.ts`) share. An item
 * covers `rows` output tile rows starting at tile row `th0` of one image; tile (rr, tw) reads the 4x4 input patch
 * at ((th0 + rr) * 2 - padTop, tw * 2 - padLeft). Taps outside the image read one address of constant bytes
 * (zeros for f32, the input zero point for int8), so the transforms need no bounds checks.
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';

/** Geometry of the walk (pixel stride in bytes). */
export interface TileGeometry {
  rows: number;
  tilesW: number;
  inH: number;
  inW: number;
  pixelStrideBytes: number;
  padTop: number;
  padLeft: number;
}

/** The item's locals the walk reads (`th0`, `inImg`: the image's first input byte) and sets (`rr`, `th`, `tw`). */
export interface TileLocals {
  rr: Local;
  th: Local;
  th0: Local;
  tw: Local;
  inImg: Local;
}

export interface TileWalk {
  /** Loop rr over [0, rows) (setting th = th0 + rr) and tw over [0, tilesW), running `body` per tile. */
  forTiles(body: () => void): void;
  /** Push (rr * tilesW + tw) * rowBytes: the tile's row offset in a transform-domain matrix. */
  tileIndexBytes(rowBytes: number): void;
  /** Set `ptr[r * 4 + c]` to the address of the tile's input tap (r, c), or `outsideAddr` outside the image. */
  tapPointers(outsideAddr: number): void;
  /** The 16 tap addresses set by `tapPointers`, row-major. */
  ptr: Local[];
}

/** Emit-time helpers over `fn` for one kernel; allocates the tap locals. */
export function tileWalk(fn: FunctionBuilder, g: TileGeometry, l: TileLocals): TileWalk {
  const iy = fn.locals('i32', 4);
  const ix = fn.local('i32');
  const ptr = fn.locals('i32', 16);
  return {
    ptr,
    forTiles(body) {
      fn.forRange(
        l.rr,
        (b) => b.i32Const(0),
        (b) => b.i32Const(g.rows),
        1,
        () => {
          fn.localGet(l.th0).localGet(l.rr).i32Add().localSet(l.th);
          fn.forRange(
            l.tw,
            (b) => b.i32Const(0),
            (b) => b.i32Const(g.tilesW),
            1,
            body,
          );
        },
      );
    },
    tileIndexBytes(rowBytes) {
      fn.localGet(l.rr).i32Const(g.tilesW).i32Mul().localGet(l.tw).i32Add().i32Const(rowBytes).i32Mul();
    },
    tapPointers(outsideAddr) {
      for (let r = 0; r < 4; r++) {
        fn.localGet(l.th)
          .i32Const(2)
          .i32Mul()
          .i32Const(r - g.padTop)
          .i32Add()
          .localSet(iy[r]!);
      }
      for (let c = 0; c < 4; c++) {
        fn.localGet(l.tw)
          .i32Const(2)
          .i32Mul()
          .i32Const(c - g.padLeft)
          .i32Add()
          .localSet(ix);
        for (let r = 0; r < 4; r++) {
          // Unsigned compares reject negative coordinates too.
          fn.localGet(iy[r]!).i32Const(g.inW).i32Mul().localGet(ix).i32Add().i32Const(g.pixelStrideBytes).i32Mul();
          fn.localGet(l.inImg).i32Add().i32Const(outsideAddr);
          fn.localGet(iy[r]!).i32Const(g.inH).i32LtU().localGet(ix).i32Const(g.inW).i32LtU().i32And();
          fn.select().localSet(ptr[r * 4 + c]!);
        }
      }
    },
  };
}

/** Locals of `itemSlots`: it reads `it`, `grp` (the item's tile-row group) and `start`; sets `vBase`, `mBase`, `tmp`. */
export interface SlotLocals {
  it: Local;
  grp: Local;
  start: Local;
  tmp: Local;
  vBase: Local;
  mBase: Local;
}

/**
 * Set `mBase` to item `it`'s scratch slot + `mOffset`, and `vBase` to the slot holding the item's transformed
 * input: its own, or with `splits` > 1 items per tile-row group, the slot of the range's first item of the group
 * (max(start, grp * splits)): only that item transforms, the range's later items reuse it; no other range writes
 * that slot. With `splits` > 1 it opens an `if` (this item transforms) the caller closes after the transform.
 */
export function itemSlots(
  fn: FunctionBuilder,
  l: SlotLocals,
  splits: number,
  slotBytes: number,
  scratch: number,
  mOffset: number,
): void {
  fn.localGet(l.it).i32Const(slotBytes).i32Mul().i32Const(scratch).i32Add().localTee(l.vBase);
  fn.i32Const(mOffset).i32Add().localSet(l.mBase);
  if (splits === 1) return;
  fn.localGet(l.grp).i32Const(splits).i32Mul().localTee(l.tmp).localGet(l.start).localGet(l.tmp).localGet(l.start);
  fn.i32GtU().select().localTee(l.tmp);
  fn.i32Const(slotBytes).i32Mul().i32Const(scratch).i32Add().localSet(l.vBase);
  fn.localGet(l.it).localGet(l.tmp).i32Eq();
  fn.if();
}

/** Lane arithmetic of the input transform: f32x4 (f32 kernel) or i16x8 (int8 taps widened by their load). */
export type TransformLanes = 'f32x4' | 'i16x8';

/** Locals of `inputTransform`: `d` (16 tap vectors), `ptr` (tap addresses), `cv` (channel byte), `vt`, `tmp`. */
export interface TransformLocals {
  d: Local[];
  ptr: Local[];
  cv: Local;
  vt: Local;
  tmp: Local;
}

/**
 * The input transform V = B^T d B of one tile for the channel vector at byte `cv` of every tap: loads the 16 taps
 * into `d`, transforms columns, then rows, storing entry e = 4r + j at vt + cv * (2 for i16x8: int8 taps widen to
 * i16) + e * vMatBytes. `adjust(e)` may append an operation on entry e before its store (the int8 kernel removes
 * the input zero point from entry 5, the only one a constant patch reaches).
 */
export function inputTransform(
  fn: FunctionBuilder,
  l: TransformLocals,
  lanes: TransformLanes,
  vMatBytes: number,
  adjust?: (e: number) => void,
): void {
  const { d, ptr, cv, vt, tmp } = l;
  const add = (): void => void (lanes === 'f32x4' ? fn.f32x4Add() : fn.i16x8Add());
  const sub = (): void => void (lanes === 'f32x4' ? fn.f32x4Sub() : fn.i16x8Sub());
  // columns: t[.][c] = B^T d[.][c] = (d0 - d2, d1 + d2, d2 - d1, d1 - d3), kept in d
  for (let c = 0; c < 4; c++) {
    const [d0, d1, d2, d3] = [0, 1, 2, 3].map((r) => d[r * 4 + c]!) as [Local, Local, Local, Local];
    for (const [r, x] of [d0, d1, d2, d3].entries()) {
      fn.localGet(ptr[r * 4 + c]!)
        .localGet(cv)
        .i32Add();
      if (lanes === 'f32x4') fn.v128Load();
      else fn.v128Load8x8S();
      fn.localSet(x);
    }
    fn.localGet(d0).localGet(d2);
    sub();
    fn.localSet(d0);
    fn.localGet(d1).localGet(d3);
    sub();
    fn.localSet(d3);
    fn.localGet(d1).localGet(d2);
    add();
    fn.localGet(d2).localGet(d1);
    sub();
    fn.localSet(d2);
    fn.localSet(d1);
  }
  // rows: v[r][.] = t[r][.] B = (t0 - t2, t1 + t2, t2 - t1, t1 - t3), stored to V_{4r+j}
  fn.localGet(cv);
  if (lanes === 'i16x8') fn.i32Const(1).i32Shl();
  fn.localGet(vt).i32Add().localSet(tmp);
  for (let r = 0; r < 4; r++) {
    const t = [0, 1, 2, 3].map((c) => d[r * 4 + c]!);
    for (const [j, [x, y, op]] of (
      [
        [0, 2, sub],
        [1, 2, add],
        [2, 1, sub],
        [1, 3, sub],
      ] as const
    ).entries()) {
      fn.localGet(tmp).localGet(t[x]!).localGet(t[y]!);
      op();
      adjust?.(r * 4 + j);
      fn.v128Store((r * 4 + j) * vMatBytes);
    }
  }
}
