/**
 * Loop shapes shared by the memory-bound kernel families (pool, eltwise, copy, layout, resize, softmax).
 * A pixel's C channels are swept in blocks of `blockVectors` f32x4 vectors; the last block holds the
 * remainder, its last vector possibly partial (1-3 lanes). Partial vectors are loaded whole (the memory plan
 * allows reading 16 bytes past any buffer) but stored lane by lane, so a kernel never writes outside its
 * channel slice (a neighbouring concat slice, or the caller's data, may live right after it).
 * Also holds the family members those kernels share (no weights, no zero region, no MACs; the spec check).
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';
import type { KernelVariant } from './types.js';

/**
 * The members of a memory-bound family with nothing to pack, no zero region and no multiply-accumulates; a
 * family with constant operands (vbinary, resize) spreads this and then overrides `pack`.
 */
export const MEMORY_BOUND = {
  pack: (): Float32Array => new Float32Array(0),
  zeroBytes: (): number => 0,
  macs: (): number => 0,
};

/** The kernel id of (`s`, `v`); throws an internal EdgecnnError naming it when the family cannot run `s`. */
export function requireSupported<S, V extends KernelVariant>(
  family: { id(s: S, v: V): string; supports(s: S, v: V): boolean },
  s: S,
  v: V,
): string {
  const id = family.id(s, v);
  if (!family.supports(s, v)) throw new EdgecnnError(`${id}: unsupported spec ${JSON.stringify(s)}`, 'internal');
  return id;
}

/** One block of a channel sweep: `vectors` f32x4 vectors, of which the last holds `lastLanes` (1..4) lanes. */
export interface ChannelBlock {
  vectors: number;
  lastLanes: number;
}

/** Lanes used by vector `j` of a block. */
export function lanesOf(blk: ChannelBlock, j: number): number {
  return j === blk.vectors - 1 ? blk.lastLanes : 4;
}

/**
 * Emit a sweep over `channels` floats. `body(blk, off, constOffBytes)` emits the code for one block whose first
 * channel is at byte offset `off + constOffBytes` from each operand's pixel address (`off` is an i32 local
 * when the sweep loops, undefined when the block's position is a compile-time constant). Full blocks loop
 * when there are more than `unrollBlocks` of them, otherwise they are unrolled.
 */
export function sweepChannels(
  fn: FunctionBuilder,
  channels: number,
  blockVectors: number,
  body: (blk: ChannelBlock, off: Local | undefined, constOffBytes: number) => void,
  unrollBlocks = 2,
): void {
  const blockFloats = 4 * blockVectors;
  const full = Math.floor(channels / blockFloats);
  const blockBytes = blockFloats * 4;
  const whole: ChannelBlock = { vectors: blockVectors, lastLanes: 4 };
  if (full > unrollBlocks) {
    const off = fn.local('i32');
    fn.forRange(
      off,
      (b) => b.i32Const(0),
      (b) => b.i32Const(full * blockBytes),
      blockBytes,
      () => body(whole, off, 0),
    );
  } else {
    for (let i = 0; i < full; i++) body(whole, undefined, i * blockBytes);
  }
  const rest = channels - full * blockFloats;
  if (rest > 0) body({ vectors: Math.ceil(rest / 4), lastLanes: rest % 4 || 4 }, undefined, full * blockBytes);
}

/** Push the address `base + off + constOff` (base and off are i32 locals; off may be absent). */
export function pushAddr(fn: FunctionBuilder, base: Local, off: Local | undefined): void {
  fn.localGet(base);
  if (off !== undefined) fn.localGet(off).i32Add();
}

/** Load one vector of `base + off + constOffBytes` into `dst` (whole vector even when partial: see header). */
export function loadVec(
  fn: FunctionBuilder,
  dst: Local,
  base: Local,
  off: Local | undefined,
  constOffBytes: number,
): void {
  pushAddr(fn, base, off);
  fn.v128Load(constOffBytes, 0).localSet(dst);
}

/** Store `lanes` (1..4) lanes of the v128 local `src` to `base + off + constOffBytes`. */
export function storeVec(
  fn: FunctionBuilder,
  src: Local,
  base: Local,
  off: Local | undefined,
  constOffBytes: number,
  lanes: number,
): void {
  pushAddr(fn, base, off);
  fn.localGet(src);
  switch (lanes) {
    case 4:
      fn.v128Store(constOffBytes, 0);
      return;
    case 1:
      fn.v128Store32Lane(0, constOffBytes, 0);
      return;
    case 2:
      fn.v128Store64Lane(0, constOffBytes, 0);
      return;
    case 3:
      fn.v128Store64Lane(0, constOffBytes, 0);
      pushAddr(fn, base, off);
      fn.localGet(src).v128Store32Lane(2, constOffBytes + 8, 0);
      return;
    default:
      throw new Error(`storeVec: ${lanes} lanes`);
  }
}

/**
 * Loop `i` over [start, end) (i32 locals or params), keeping each pointer in `ptrs` advanced by its
 * `strideBytes` per iteration; pointers must already hold their value for `i = start`.
 */
export function forEachItem(
  fn: FunctionBuilder,
  i: Local,
  start: Local,
  end: Local,
  ptrs: readonly { ptr: Local; strideBytes: number }[],
  body: () => void,
): void {
  fn.localGet(start).localSet(i);
  const exit = fn.block();
  const top = fn.loop();
  fn.localGet(i).localGet(end).i32GeS().brIf(exit);
  body();
  for (const p of ptrs) {
    if (p.strideBytes !== 0) fn.localGet(p.ptr).i32Const(p.strideBytes).i32Add().localSet(p.ptr);
  }
  fn.localGet(i).i32Const(1).i32Add().localSet(i);
  fn.br(top);
  fn.end().end();
}

/** Set `ptr = base + index * strideBytes` where index is an i32 local. */
export function setPtr(fn: FunctionBuilder, ptr: Local, baseBytes: number, index: Local, strideBytes: number): void {
  fn.localGet(index);
  if (strideBytes !== 1) fn.i32Const(strideBytes).i32Mul();
  if (baseBytes !== 0) fn.i32Const(baseBytes).i32Add();
  fn.localSet(ptr);
}
