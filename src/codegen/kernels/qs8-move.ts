/**
 * int8 data movement over NHWC int8 views (pixel strides in bytes): the channel-slice copy (a Concat input that
 * cannot be written in place) and ShuffleNet's channel shuffle, out[g*i + j] = in[(C/g)*j + i] per pixel. Both
 * move bytes with no arithmetic, so they are exact. The copy is one memory.copy per pixel (one in all when both
 * views are dense); the shuffle with 2 groups interleaves two 16-byte halves with i8x16.shuffle, other group
 * counts move byte by byte. Work items are pixels; nothing is written outside a pixel's C bytes.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder } from '../wasm/index.js';
import { storeBytes16 } from './qs8-pool.js';
import type { ActivationRef, KernelVariant } from './types.js';

export interface Qs8MoveSpec {
  pixels: number;
  channels: number;
  /** 'copy', or the channel shuffle with `groups` groups. */
  op: 'copy' | 'shuffle';
  groups?: number;
}

export interface Qs8MoveAddresses {
  input: ActivationRef;
  output: ActivationRef;
}

export const QS8_MOVE_VARIANTS: readonly KernelVariant[] = [{ tile: 'x16', isa: 'wasmsimd' }];

const INTERLEAVE_LO = Array.from({ length: 16 }, (_, i) => (i & 1 ? 16 : 0) + (i >> 1));
const INTERLEAVE_HI = INTERLEAVE_LO.map((l) => l + 8);

function emit(fn: FunctionBuilder, s: Qs8MoveSpec, _v: KernelVariant, a: Qs8MoveAddresses): void {
  const C = s.channels;
  const G = s.groups ?? 1;
  if (a.input.pixelStride < C || a.output.pixelStride < C || (s.op === 'shuffle' && (G < 1 || C % G !== 0)))
    throw new EdgecnnError(`qs8-${s.op}: bad spec or views (${C} channels, ${G} groups)`, 'internal');
  const [start, end] = [fn.param(0), fn.param(1)];
  const [p, ip, op, i] = fn.locals('i32', 4);
  const [va, vb, t] = fn.locals('v128', 3);
  if (s.op === 'copy' && a.input.pixelStride === C && a.output.pixelStride === C) {
    fn.localGet(start).i32Const(C).i32Mul().i32Const(a.output.addrBytes).i32Add();
    fn.localGet(start).i32Const(C).i32Mul().i32Const(a.input.addrBytes).i32Add();
    fn.localGet(end).localGet(start).i32Sub().i32Const(C).i32Mul().memoryCopy();
    return;
  }
  fn.forRange(
    p,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(p).i32Const(a.input.pixelStride).i32Mul().i32Const(a.input.addrBytes).i32Add().localSet(ip);
      fn.localGet(p).i32Const(a.output.pixelStride).i32Mul().i32Const(a.output.addrBytes).i32Add().localSet(op);
      if (s.op === 'copy') {
        fn.localGet(op).localGet(ip).i32Const(C).memoryCopy();
        return;
      }
      const K = C / G;
      if (G === 2) {
        // 16 channels of each half make 32 output channels; a partial last block stores only its lanes.
        for (let j = 0; j < K; j += 16) {
          const n = Math.min(16, K - j);
          fn.localGet(ip).v128Load(j, 0).localSet(va);
          fn.localGet(ip)
            .v128Load(K + j, 0)
            .localSet(vb);
          fn.localGet(va).localGet(vb).i8x16Shuffle(INTERLEAVE_LO).localSet(t);
          storeBytes16(fn, op, 2 * j, t, Math.min(16, 2 * n));
          if (2 * n > 16) {
            fn.localGet(va).localGet(vb).i8x16Shuffle(INTERLEAVE_HI).localSet(t);
            storeBytes16(fn, op, 2 * j + 16, t, 2 * n - 16);
          }
        }
        return;
      }
      fn.forRange(
        i,
        (b) => b.i32Const(0),
        (b) => b.i32Const(K),
        1,
        () => {
          for (let j = 0; j < G; j++) {
            // out[G*i + j] = in[K*j + i]
            fn.localGet(op).localGet(i).i32Const(G).i32Mul().i32Add();
            fn.localGet(ip)
              .localGet(i)
              .i32Add()
              .i32Load8U(K * j)
              .i32Store8(j);
          }
        },
      );
    },
  );
}

/** The int8 move family: ids `qs8-copy-x16-wasmsimd`, `qs8-shuffle-g<G>-x16-wasmsimd`. */
export const qs8Move = {
  family: 'qs8-move',
  variants: QS8_MOVE_VARIANTS,
  id: (s: Qs8MoveSpec, v: KernelVariant): string =>
    `qs8-${s.op === 'copy' ? 'copy' : `shuffle-g${s.groups ?? 1}`}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8MoveSpec): number => s.pixels,
  bytesMoved: (s: Qs8MoveSpec): number => 2 * s.pixels * s.channels,
  emit,
} as const;
