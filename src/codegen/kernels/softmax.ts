/**
 * Softmax (and LogSoftmax) over the last axis of a row-major [rows, cols] view, one row per work item.
 * Three passes per row: the max (four vector accumulators with pmax, the partial last vector masked to -inf; a
 * NaN still poisons its row through exp), then e = exp(x - max) summed (and stored, for Softmax; masked tail
 * lanes never reach the sum or memory), then Softmax scales by 1/sum while LogSoftmax writes
 * (x - max) - log(sum). exp and log are the shared vector ones (relative error ~2e-7). In place is safe.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { ExpEmitter } from './eltwise.js';
import { MEMORY_BOUND, requireSupported, storeVec } from './simd-loops.js';
import type { ActivationRef, KernelFamily, KernelVariant } from './types.js';

export interface SoftmaxSpec {
  rows: number;
  cols: number;
  /** LogSoftmax: x - max - log(sum exp(x - max)). */
  log?: boolean;
}

export interface SoftmaxAddresses {
  /** Row r at addrBytes + r * pixelStride * 4. */
  input: ActivationRef;
  output: ActivationRef;
}

const SOFTMAX_VARIANTS: readonly KernelVariant[] = [{ tile: 'x16', isa: 'wasmsimd' }];

/** Reduce the four lanes of v128 local `v` with f32x4 op `op` into all lanes. */
function horizontal(fn: FunctionBuilder, v: Local, op: (fn: FunctionBuilder) => void): void {
  fn.localGet(v).localGet(v).localGet(v).i32x4Shuffle(2, 3, 0, 1);
  op(fn);
  fn.localSet(v);
  fn.localGet(v).localGet(v).localGet(v).i32x4Shuffle(1, 0, 3, 2);
  op(fn);
  fn.localSet(v);
}

/** Softmax along the last axis. */
export const softmax: KernelFamily<SoftmaxSpec, KernelVariant, SoftmaxAddresses, undefined> = {
  family: 'softmax',
  variants: SOFTMAX_VARIANTS,
  supports(s) {
    return s.rows >= 1 && s.cols >= 1;
  },
  id(s, v) {
    return `f32-${s.log ? 'logsoftmax' : 'softmax'}-${v.tile}-${v.isa}`;
  },
  parallelExtent(s) {
    return s.rows;
  },
  ...MEMORY_BOUND,
  emit(fn, s, v, a) {
    requireSupported(this, s, v);
    for (const r of [a.input, a.output]) {
      if (r.addrBytes % 4 !== 0 || r.pixelStride < s.cols) {
        throw new EdgecnnError(
          `${this.id(s, v)}: view ${JSON.stringify(r)} does not fit ${s.cols} columns`,
          'internal',
        );
      }
    }
    const ex = new ExpEmitter(fn, false, !!s.log);
    const [row, ip, op, c] = fn.locals('i32', 4);
    const acc = fn.locals('v128', 4);
    const x = fn.local('v128');
    const m = fn.local('v128');
    const sum = fn.local('v128');
    const ninf = fn.local('v128');
    fn.v128ConstF32(-Infinity).localSet(ninf);
    const zero = fn.local('v128');
    fn.v128ConstF32(0).localSet(zero);
    const full16 = Math.floor(s.cols / 16);
    const restVec = Math.floor((s.cols - 16 * full16) / 4);
    const lanes = s.cols % 4;
    // lanes beyond the row's end take `fillWith` (a v128 local) so they cannot affect a reduction
    const maskTail = (fillWith: Local): void => {
      const keep = [0, 1, 2, 3].map((l) => (l < lanes ? -1 : 0));
      fn.localGet(x)
        .localGet(fillWith)
        .v128ConstI32(keep[0]!, keep[1]!, keep[2]!, keep[3]!)
        .v128Bitselect()
        .localSet(x);
    };
    /** For each vector of the row: load into x, run body(k) with k the accumulator index. */
    const sweep = (load: Local, body: (k: number, constOff: number, storeLanes: number) => void): void => {
      if (full16 > 0) {
        fn.forRange(
          c,
          (b) => b.i32Const(0),
          (b) => b.i32Const(64 * full16),
          64,
          () => {
            for (let k = 0; k < 4; k++) {
              fn.localGet(load)
                .localGet(c)
                .i32Add()
                .v128Load(16 * k, 0)
                .localSet(x);
              body(k, 16 * k, 4);
            }
          },
        );
      }
      fn.i32Const(64 * full16).localSet(c);
      for (let k = 0; k < restVec + (lanes ? 1 : 0); k++) {
        fn.localGet(load)
          .localGet(c)
          .i32Add()
          .v128Load(16 * k, 0)
          .localSet(x);
        body(k, 16 * k, k === restVec ? lanes : 4);
      }
    };
    fn.forRange(
      row,
      (b) => b.localGet(fn.param(0)),
      (b) => b.localGet(fn.param(1)),
      1,
      () => {
        fn.localGet(row)
          .i32Const(a.input.pixelStride * 4)
          .i32Mul()
          .i32Const(a.input.addrBytes)
          .i32Add()
          .localSet(ip);
        fn.localGet(row)
          .i32Const(a.output.pixelStride * 4)
          .i32Mul()
          .i32Const(a.output.addrBytes)
          .i32Add()
          .localSet(op);
        // 1. max
        for (const l of acc) fn.localGet(ninf).localSet(l);
        sweep(ip, (k, _o, n) => {
          if (n < 4) maskTail(ninf);
          fn.localGet(acc[k]!).localGet(x).f32x4Pmax().localSet(acc[k]!);
        });
        fn.localGet(acc[0]!)
          .localGet(acc[1]!)
          .f32x4Pmax()
          .localGet(acc[2]!)
          .localGet(acc[3]!)
          .f32x4Pmax()
          .f32x4Pmax()
          .localSet(m);
        horizontal(fn, m, (b) => b.f32x4Pmax());
        // 2. e = exp(x - max), summed (and stored for softmax)
        for (const l of acc) fn.localGet(zero).localSet(l);
        sweep(ip, (k, o, n) => {
          fn.localGet(x).localGet(m).f32x4Sub().localSet(x);
          ex.exp(x, x);
          if (n < 4) maskTail(zero);
          fn.localGet(acc[k]!).localGet(x).f32x4Add().localSet(acc[k]!);
          if (!s.log) storeVec(fn, x, op, c, o, n);
        });
        fn.localGet(acc[0]!)
          .localGet(acc[1]!)
          .f32x4Add()
          .localGet(acc[2]!)
          .localGet(acc[3]!)
          .f32x4Add()
          .f32x4Add()
          .localSet(sum);
        horizontal(fn, sum, (b) => b.f32x4Add());
        if (s.log) {
          // 3. out = (x - max) - log(sum): x - max is exact near the max, where the result is small
          ex.log(sum, sum);
          sweep(ip, (_k, o, n) => {
            fn.localGet(x).localGet(m).f32x4Sub().localGet(sum).f32x4Sub().localSet(x);
            storeVec(fn, x, op, c, o, n);
          });
        } else {
          // 3. scale
          fn.v128ConstF32(1).localGet(sum).f32x4Div().localSet(m);
          sweep(op, (_k, o, n) => {
            fn.localGet(x).localGet(m).f32x4Mul().localSet(x);
            storeVec(fn, x, op, c, o, n);
          });
        }
      },
    );
  },
};
