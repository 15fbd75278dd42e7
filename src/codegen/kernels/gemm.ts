/**
 * f32 GEMM: C[M, N] = A[M, K] * B[K, N] + bias, then residual and activation (epilogue.ts).
 * A and C are row-major with row strides (NHWC pixels: M = pixels, K/N = channels). B is constant and packed
 * into panels of NR columns: per panel, NR bias values then K rows of NR values (zero-padded past N).
 * An MR x NR register tile keeps MR * NR/4 f32x4 accumulators; each k step splats A[i][k] (v128.load32_splat)
 * and multiplies it by the NR/4 vectors of B's row k. The K loop is unrolled by `kUnroll` and addresses are
 * load offsets from one A pointer and one B pointer. Loop nest: panel blocks (B block sized for L2) >
 * row tiles [start, end) > panels of the block. parallelExtent = ceil(M / MR) row tiles, or for `split: 'n'`
 * variants ceil(N / NR) panels (then the loop nest is panels [start, end) > all row tiles). A split-M GEMM with
 * fewer rows than columns (late 1x1 layers: 49 pixels, 320-1280 channels) instead offers panel groups x row
 * tiles, group-major (the same order as the blocks): threads taking the two ends of the extent then each stream
 * half of B, which dominates these layers' memory traffic, instead of both streaming all of it.
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';
import { EpilogueEmitter, emitTileEpilogue, kernelId } from './epilogue.js';
import type { GemmAddresses, GemmSpec, GemmWeights, Isa, KernelFamily, KernelVariant } from './types.js';

/** A GEMM register tile. */
export interface GemmVariant extends KernelVariant {
  /** Rows of A/C per tile. */
  readonly mr: number;
  /** Columns per panel (multiple of 4). */
  readonly nr: number;
  /** K steps per loop iteration. */
  readonly kUnroll: number;
  /**
   * Parallel dimension: 'm' = row tiles (the default), 'n' = NR-column panels, for GEMMs with few rows
   * (M = 1 classifier heads, squeeze-excite) that threads could not otherwise split.
   */
  readonly split: 'm' | 'n';
  /**
   * Accumulator sets used round-robin over k (summed before the epilogue). With one row the FMA latency chain,
   * not throughput, bounds a 1xNR tile; independent sets hide it (measured 1x8: 5 -> ~20 GFLOP/s with FMA).
   */
  readonly kacc: number;
}

function v(mr: number, nr: number, isa: Isa, kUnroll = 1, split: 'm' | 'n' = 'm', kacc = 1): GemmVariant {
  const tile = `${mr}x${nr}${kUnroll === 1 ? '' : `k${kUnroll}`}${kacc === 1 ? '' : `a${kacc}`}${split === 'n' ? 'n' : ''}`;
  return { tile, mr, nr, isa, kUnroll, split, kacc };
}

/** Bytes of packed B a panel block may span (fits comfortably in a 1-2 MiB L2 with A and C traffic). */
const PANEL_BLOCK_BYTES = 512 * 1024;

/** The GEMM variants (the only hand-edited list): tests and benchmarks iterate it. */
export const GEMM_VARIANTS: readonly GemmVariant[] = [
  // Measured order (256^3 and MobileNetV2 1x1 shapes, V8 x64): 4x8 and 2x16 lead; selectors take the first usable.
  v(4, 8, 'wasmrelaxed'),
  v(2, 16, 'wasmrelaxed'),
  v(3, 8, 'wasmrelaxed'),
  v(1, 8, 'wasmrelaxed', 1, 'm', 4),
  v(1, 8, 'wasmrelaxed', 1, 'n', 4),
  v(1, 8, 'wasmrelaxed'),
  v(1, 8, 'wasmrelaxed', 1, 'n'),
  v(4, 8, 'wasmsimd'),
  v(2, 16, 'wasmsimd'),
  v(3, 8, 'wasmsimd'),
  v(1, 8, 'wasmsimd', 1, 'm', 4),
  v(1, 8, 'wasmsimd', 1, 'n', 4),
  v(1, 8, 'wasmsimd'),
  v(1, 8, 'wasmsimd', 1, 'n'),
];

function panels(spec: GemmSpec, vr: GemmVariant): number {
  return Math.ceil(spec.n / vr.nr);
}

/**
 * Panel groups of a split-M GEMM's parallel extent (see the file header): 1 (the row-tile extent, panel blocks
 * of the L2 size inside each item) unless M < N, then groups of at most half the panels and one L2 block.
 */
export function gemmPanelGroups(spec: GemmSpec, vr: GemmVariant): { groups: number; groupPanels: number } {
  const P = panels(spec, vr);
  if (vr.split !== 'm' || spec.m >= spec.n || P < 2) return { groups: 1, groupPanels: P };
  const groupPanels = Math.min(panelBlock(spec, vr), Math.ceil(P / 2));
  return { groups: Math.ceil(P / groupPanels), groupPanels };
}

/** Panels per L2 block (PANEL_BLOCK_BYTES of packed B). */
function panelBlock(spec: GemmSpec, vr: GemmVariant): number {
  return Math.max(1, Math.floor(PANEL_BLOCK_BYTES / (panelFloats(spec, vr) * 4)));
}

/** Floats per packed panel: NR bias values + K rows of NR. */
function panelFloats(spec: GemmSpec, vr: GemmVariant): number {
  return (spec.k + 1) * vr.nr;
}

function checkSpec(spec: GemmSpec): void {
  for (const [name, x] of [
    ['M', spec.m],
    ['N', spec.n],
    ['K', spec.k],
  ] as const) {
    if (!Number.isInteger(x) || x < 1)
      throw new EdgecnnError(`gemm: ${name} = ${x} must be a positive integer`, 'internal');
  }
}

/** Pack B (and bias) into NR-column panels. */
export function packGemmB(spec: GemmSpec, vr: GemmVariant, w: GemmWeights): Float32Array {
  checkSpec(spec);
  const { n, k } = spec;
  if (w.b.length !== n * k) {
    throw new EdgecnnError(`gemm pack: B has ${w.b.length} values, expected K*N = ${k}*${n}`, 'bad-model');
  }
  if (w.bias && w.bias.length !== n) {
    throw new EdgecnnError(`gemm pack: bias has ${w.bias.length} values, expected N = ${n}`, 'bad-model');
  }
  const nr = vr.nr;
  const pf = panelFloats(spec, vr);
  const out = new Float32Array(panels(spec, vr) * pf);
  for (let p = 0; p < panels(spec, vr); p++) {
    const base = p * pf;
    for (let c = 0; c < nr; c++) {
      const col = p * nr + c;
      if (col >= n) break;
      out[base + c] = w.bias ? w.bias[col]! : 0;
      for (let kk = 0; kk < k; kk++) {
        out[base + (kk + 1) * nr + c] = w.layout === 'kn' ? w.b[kk * n + col]! : w.b[col * k + kk]!;
      }
    }
  }
  return out;
}

/**
 * Emit one MR' x NV-vector tile: accumulators start at the panel's bias, run the K loop, then the epilogue.
 * `bPtr` points at the panel (bias first); `aPtr` at row 0 of the tile.
 */
function emitTile(
  fn: FunctionBuilder,
  spec: GemmSpec,
  vr: GemmVariant,
  ep: EpilogueEmitter,
  sets: Local[][][],
  bVec: Local[],
  aSplat: Local,
  ptr: { a: Local; b: Local; c: Local; r: Local | undefined; ka: Local; kb: Local; kEnd: Local },
  rows: number,
  cols: number,
  aRowBytes: number,
  cRowBytes: number,
  rRowBytes: number,
): void {
  const nvec = Math.ceil(cols / 4);
  const nrBytes = vr.nr * 4;
  const relaxed = vr.isa === 'wasmrelaxed';
  const acc = sets[0]!;
  for (let s = 1; s < sets.length; s++) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < nvec; j++) fn.v128ConstI32(0).localSet(sets[s]![i]![j]!);
  }
  for (let j = 0; j < nvec; j++) {
    fn.localGet(ptr.b)
      .v128Load(j * 16, 4)
      .localTee(acc[0]![j]!);
    for (let i = 1; i < rows; i++) fn.localTee(acc[i]![j]!);
    fn.drop();
  }
  // One k step at byte offsets (aOff into A rows, bOff into the packed rows), into accumulator set `set`.
  const step = (aOff: number, bOff: number, set = 0): void => {
    for (let j = 0; j < nvec; j++)
      fn.localGet(ptr.kb)
        .v128Load(bOff + j * 16, 4)
        .localSet(bVec[j]!);
    for (let i = 0; i < rows; i++) {
      fn.localGet(ptr.ka)
        .v128Load32Splat(i * aRowBytes + aOff)
        .localSet(aSplat);
      for (let j = 0; j < nvec; j++) {
        const a = sets[set]![i]![j]!;
        if (relaxed) {
          fn.localGet(aSplat).localGet(bVec[j]!).localGet(a).f32x4RelaxedMadd().localSet(a);
        } else {
          fn.localGet(a).localGet(aSplat).localGet(bVec[j]!).f32x4Mul().f32x4Add().localSet(a);
        }
      }
    }
  };
  fn.localGet(ptr.a).localSet(ptr.ka);
  fn.localGet(ptr.b).i32Const(nrBytes).i32Add().localSet(ptr.kb);
  if (sets.length > 1) {
    // Round-robin accumulator sets; pointers advance after every step so all loads use the same offsets.
    const na = sets.length;
    const advance = (): void => {
      fn.localGet(ptr.ka).i32Const(4).i32Add().localSet(ptr.ka);
      fn.localGet(ptr.kb).i32Const(nrBytes).i32Add().localSet(ptr.kb);
    };
    const kMainA = Math.floor(spec.k / na) * na;
    if (kMainA > 0) {
      fn.localGet(ptr.kb)
        .i32Const(kMainA * nrBytes)
        .i32Add()
        .localSet(ptr.kEnd);
      const top = fn.loop();
      for (let st = 0; st < na; st++) {
        step(0, 0, st);
        advance();
      }
      fn.localGet(ptr.kb).localGet(ptr.kEnd).i32Ne().brIf(top);
      fn.end();
    }
    for (let st = 0; st < spec.k - kMainA; st++) {
      step(0, 0, st);
      advance();
    }
    for (let st = 1; st < na; st++) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < nvec; j++)
          fn.localGet(acc[i]![j]!).localGet(sets[st]![i]![j]!).f32x4Add().localSet(acc[i]![j]!);
      }
    }
    emitTileEpilogue(fn, ep, {
      acc,
      rows,
      cols,
      cPtr: ptr.c,
      cRowBytes,
      ...(ptr.r !== undefined ? { rPtr: ptr.r, rRowBytes } : {}),
    });
    return;
  }
  const u = vr.kUnroll;
  const kMain = Math.floor(spec.k / u) * u;
  if (kMain > 0) {
    fn.localGet(ptr.kb)
      .i32Const(kMain * nrBytes)
      .i32Add()
      .localSet(ptr.kEnd);
    const top = fn.loop();
    for (let s = 0; s < u; s++) step(s * 4, s * nrBytes);
    fn.localGet(ptr.ka)
      .i32Const(u * 4)
      .i32Add()
      .localSet(ptr.ka);
    fn.localGet(ptr.kb)
      .i32Const(u * nrBytes)
      .i32Add()
      .localTee(ptr.kb);
    fn.localGet(ptr.kEnd).i32Ne().brIf(top);
    fn.end();
  }
  for (let s = 0; s < spec.k - kMain; s++) step(s * 4, s * nrBytes);
  emitTileEpilogue(fn, ep, {
    acc,
    rows,
    cols,
    cPtr: ptr.c,
    cRowBytes,
    ...(ptr.r !== undefined ? { rPtr: ptr.r, rRowBytes } : {}),
  });
}

/**
 * Runtime bases for a GEMM embedded in another kernel (e.g. the 16 GEMMs of a Winograd step): i32 locals
 * added to the (then relative) addresses of A, packed B and C, and the row-tile range to compute.
 */
export interface GemmRuntimeBases {
  a: Local;
  b: Local;
  c: Local;
  /** Emit the first and the end row tile (i32). */
  tileStart: (fn: FunctionBuilder) => void;
  tileEnd: (fn: FunctionBuilder) => void;
}

/** Emit the GEMM step `(start, end)` over row tiles. */
export function emitGemm(fn: FunctionBuilder, spec: GemmSpec, vr: GemmVariant, addr: GemmAddresses): void {
  emitGemmBody(fn, spec, vr, addr, undefined);
}

/** The GEMM loop nest; with `bases`, addresses are relative to runtime locals (split 'm' variants only). */
export function emitGemmBody(
  fn: FunctionBuilder,
  spec: GemmSpec,
  vr: GemmVariant,
  addr: GemmAddresses,
  bases: GemmRuntimeBases | undefined,
): void {
  checkSpec(spec);
  if (bases && vr.split !== 'm') throw new EdgecnnError('gemm: runtime bases need a split-M variant', 'internal');
  // push base + constant (the constant alone without runtime bases)
  const pushAddr = (base: Local | undefined, k: number): void => {
    if (base === undefined) fn.i32Const(k);
    else fn.localGet(base).i32Const(k).i32Add();
  };
  if (spec.epilogue.residual && !addr.residual) {
    throw new EdgecnnError('gemm: the epilogue adds a residual but no residual address was given', 'internal');
  }
  const { m, n, k } = spec;
  const { mr, nr } = vr;
  const nvecFull = nr / 4;
  const P = panels(spec, vr);
  const fullPanels = Math.floor(n / nr);
  const colsLast = n - fullPanels * nr; // 0 when N is a multiple of NR
  const fullTiles = Math.floor(m / mr);
  const rowsLast = m - fullTiles * mr;
  const panelBytes = panelFloats(spec, vr) * 4;
  const PB = panelBlock(spec, vr);
  const aRowBytes = addr.a.pixelStride * 4;
  const cRowBytes = addr.c.pixelStride * 4;
  const rRowBytes = (addr.residual?.pixelStride ?? 0) * 4;
  if (addr.a.pixelStride < k || addr.c.pixelStride < n) {
    throw new EdgecnnError(
      `gemm: row strides (lda ${addr.a.pixelStride}, ldc ${addr.c.pixelStride}) below K/N`,
      'internal',
    );
  }

  const ep = new EpilogueEmitter(fn, spec.epilogue.activation, vr.isa === 'wasmrelaxed');
  const sets = Array.from({ length: vr.kacc }, () => Array.from({ length: mr }, () => fn.locals('v128', nvecFull)));
  const bVec = fn.locals('v128', nvecFull);
  const aSplat = fn.local('v128');
  const tile = fn.local('i32');
  const pb0 = fn.local('i32');
  const pbEnd = fn.local('i32');
  const p = fn.local('i32');
  const ptr = {
    a: fn.local('i32'),
    b: fn.local('i32'),
    c: fn.local('i32'),
    r: addr.residual ? fn.local('i32') : undefined,
    ka: fn.local('i32'),
    kb: fn.local('i32'),
    kEnd: fn.local('i32'),
  };
  const cTile = fn.local('i32');
  const rTile = fn.local('i32');

  // Panels [pb0, pbEnd) of the current block for a tile of `rows` rows.
  const panelsOfBlock = (rows: number): void => {
    // full panels: p in [pb0, min(pbEnd, fullPanels))
    if (fullPanels > 0) {
      fn.localGet(pb0).localSet(p);
      const exit = fn.block();
      const top = fn.loop();
      fn.localGet(p).localGet(pbEnd).i32GeS().localGet(p).i32Const(fullPanels).i32GeS().i32Or().brIf(exit);
      fn.localGet(p).i32Const(panelBytes).i32Mul();
      pushAddr(bases?.b, addr.packedB);
      fn.i32Add().localSet(ptr.b);
      fn.localGet(p)
        .i32Const(nr * 4)
        .i32Mul()
        .localTee(ptr.kEnd)
        .localGet(cTile)
        .i32Add()
        .localSet(ptr.c);
      if (ptr.r !== undefined) fn.localGet(ptr.kEnd).localGet(rTile).i32Add().localSet(ptr.r);
      emitTile(fn, spec, vr, ep, sets, bVec, aSplat, ptr, rows, nr, aRowBytes, cRowBytes, rRowBytes);
      fn.localGet(p).i32Const(1).i32Add().localSet(p).br(top);
      fn.end().end();
    }
    if (colsLast > 0) {
      // the partial last panel, when it belongs to this block
      fn.localGet(pbEnd).i32Const(P).i32Eq();
      fn.if();
      pushAddr(bases?.b, addr.packedB + fullPanels * panelBytes);
      fn.localSet(ptr.b);
      fn.localGet(cTile)
        .i32Const(fullPanels * nr * 4)
        .i32Add()
        .localSet(ptr.c);
      if (ptr.r !== undefined)
        fn.localGet(rTile)
          .i32Const(fullPanels * nr * 4)
          .i32Add()
          .localSet(ptr.r);
      emitTile(fn, spec, vr, ep, sets, bVec, aSplat, ptr, rows, colsLast, aRowBytes, cRowBytes, rRowBytes);
      fn.end();
    }
  };

  // One row tile: base pointers, then the panels of the current block (a partial last tile has rowsLast rows).
  const tileBody = (): void => {
    fn.localGet(tile)
      .i32Const(mr * aRowBytes)
      .i32Mul();
    pushAddr(bases?.a, addr.a.addrBytes);
    fn.i32Add().localSet(ptr.a);
    fn.localGet(tile)
      .i32Const(mr * cRowBytes)
      .i32Mul();
    pushAddr(bases?.c, addr.c.addrBytes);
    fn.i32Add().localSet(cTile);
    if (addr.residual) {
      fn.localGet(tile)
        .i32Const(mr * rRowBytes)
        .i32Mul()
        .i32Const(addr.residual.addrBytes)
        .i32Add();
      fn.localSet(rTile);
    }
    if (rowsLast === 0) {
      panelsOfBlock(mr);
    } else {
      fn.localGet(tile).i32Const(fullTiles).i32LtS();
      fn.if();
      panelsOfBlock(mr);
      fn.else();
      panelsOfBlock(rowsLast);
      fn.end();
    }
  };
  const tiles = Math.ceil(m / mr);

  const start = bases ? undefined : fn.param(0);
  const end = bases ? undefined : fn.param(1);
  const emitStart = (b: FunctionBuilder): void => void (bases ? bases.tileStart(b) : b.localGet(start!));
  const emitEnd = (b: FunctionBuilder): void => void (bases ? bases.tileEnd(b) : b.localGet(end!));
  if (vr.split === 'n') {
    // [start, end) is a range of panels; every row tile is computed for it.
    fn.localGet(start!).localSet(pb0);
    fn.localGet(end!).localSet(pbEnd);
    fn.forRange(
      tile,
      (b) => b.i32Const(0),
      (b) => b.i32Const(tiles),
      1,
      tileBody,
    );
    return;
  }
  const { groups, groupPanels } = bases ? { groups: 1, groupPanels: P } : gemmPanelGroups(spec, vr);
  if (groups > 1) {
    // [start, end) is a range of (group, row tile) items, group-major.
    const item = fn.local('i32');
    fn.forRange(
      item,
      (b) => b.localGet(start!),
      (b) => b.localGet(end!),
      1,
      () => {
        fn.localGet(item).i32Const(tiles).i32DivU().localSet(pb0); // the group, until scaled below
        fn.localGet(item).localGet(pb0).i32Const(tiles).i32Mul().i32Sub().localSet(tile);
        fn.localGet(pb0).i32Const(groupPanels).i32Mul().localTee(pb0).i32Const(groupPanels).i32Add().localTee(pbEnd);
        fn.i32Const(P).i32GtS().if();
        fn.i32Const(P).localSet(pbEnd).end();
        tileBody();
      },
    );
    return;
  }
  fn.i32Const(0).localSet(pb0);
  const blocks = fn.loop();
  fn.localGet(pb0).i32Const(PB).i32Add().localTee(pbEnd).i32Const(P).i32GtS();
  fn.if();
  fn.i32Const(P).localSet(pbEnd).end();
  fn.forRange(tile, emitStart, emitEnd, 1, tileBody);
  fn.localGet(pbEnd).localTee(pb0).i32Const(P).i32LtS().brIf(blocks);
  fn.end();
}

/** The f32 GEMM family. */
export const gemm: KernelFamily<GemmSpec, GemmVariant, GemmAddresses, GemmWeights> = {
  family: 'gemm',
  variants: GEMM_VARIANTS,
  supports(spec) {
    return spec.m >= 1 && spec.n >= 1 && spec.k >= 1;
  },
  id(spec, vr) {
    return kernelId('f32', 'gemm', spec.epilogue, vr.tile, vr.isa);
  },
  parallelExtent(spec, vr) {
    return vr.split === 'n' ? Math.ceil(spec.n / vr.nr) : Math.ceil(spec.m / vr.mr) * gemmPanelGroups(spec, vr).groups;
  },
  pack: packGemmB,
  zeroBytes() {
    return 0;
  },
  emit: emitGemm,
  macs(spec) {
    return spec.m * spec.n * spec.k;
  },
};
