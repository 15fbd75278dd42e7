/**
 * qs8 depthwise convolution on the relaxed int8 dot `i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c)` (used only
 * where the start-up probe proved it exact: `wasmusdot` reads b as u8, `wasmsdot` as i8; see qs8-gemm-rdot.ts).
 * One i32 lane = 4 kernel rows of one channel at one kernel column: a = packed weights [w(r0) w(r1) w(r2) w(r3)]
 * per channel (4 channels per vector), b = the 4 input rows' bytes of those channels at one input column. The
 * kernel rows go in groups of 4 (3x3: rows 0-2 and a zero-weight row; 5x5: rows 0-3, then row 4 and three zero
 * rows); a group's zero-weight rows reuse its last real row's vector (no load). Per group and input column, 4
 * loads of 8 channels, 2 byte interleaves (rows 0/1, 2/3) and 2 16-bit interleaves give 2 vectors of
 * [tap0 tap1 tap2 tap3] for channels 0-3 and 4-7 (xor 0x80 for u8 feeding: q + 128); every output pixel of the
 * tile whose window covers that column takes them with its weights of that column (kw x 4 rows x 8 channels
 * in kw x 2 dots). Row tiles as qs8-dwconv's `<px>x8c[r]`: items = output rows x channel groups, px pixels per
 * step sharing a column's interleaves, columns in order and a pixel requantized right after its last column (at
 * most ceil(kw / stride) pixels' accumulators live). Padding as there: one packed weight set per row-validity
 * pattern (rows in the padding read a clamped row with zero weights, their zFed * w moved into the bias),
 * columns outside the image read input-zero-point lanes. The accumulator starts at bias - zFed * sum(live w)
 * (zFed = zIn + 128 for u8 feeding) and ends equal to qs8-dwconv's; the epilogue is the shared one
 * (requantize.ts): outputs are bit-identical to qs8-dwconv.
 * `r` tiles keep a block's weight vectors in registers along the row (3x3: 6 vectors); the others load them
 * at each use. Any kernel size, stride and dilation is supported; lowering offers these kernels for 3x3 and 5x5
 * (measured), other shapes stay on qs8-dwconv.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { type Qs8ConvAddresses, type Qs8ConvSpec, type Qs8ConvWeights, biasOf, checkFloatBias } from './qs8-gemm.js';
import { type RdotIsa, rdotIsaOf } from './qs8-gemm-rdot.js';
import { INTERLEAVE, isDepthwise, qs8DwconvChannelGroups, rowPatterns } from './qs8-dwconv.js';
import { QS8_BLOCK, QS8_HEADER_BYTES, checkQuant, emitRequantize, emitStoreBytes, packHeader } from './requantize.js';
import type { KernelVariant } from './types.js';
import { checkConvSpec } from './types.js';

export interface Qs8DwconvRdotVariant extends KernelVariant {
  readonly isa: RdotIsa;
  /** Output pixels per step along a row. */
  readonly px: number;
  /** Channel blocks outside the row's pixels with the block's weights in registers (3x3 only); else inside. */
  readonly stream: boolean;
}

const TILES: readonly { px: number; stream: boolean }[] = [
  { px: 4, stream: true },
  { px: 8, stream: true },
  { px: 4, stream: false },
  { px: 8, stream: false },
];

/** Every tile for both readings of b. */
export const QS8_DWCONV_RDOT_VARIANTS: readonly Qs8DwconvRdotVariant[] = (['wasmusdot', 'wasmsdot'] as const).flatMap(
  (isa) => TILES.map(({ px, stream }) => ({ tile: `${px}x8c4${stream ? 'r' : ''}`, isa, px, stream })),
);

/** Kernel-row groups of 4 (one i32 lane each). */
const groupsOf = (s: Qs8ConvSpec): number => Math.ceil(s.kernelH / 4);

/** Weight vectors per 8-channel block: groups x kernel columns x 2 (channels 0-3, 4-7). */
const weightVectors = (s: Qs8ConvSpec): number => groupsOf(s) * s.kernelW * 2;

/** `stream` keeps the weights in registers: only where they fit beside the accumulators (V8 x64: 16 xmm). */
const fitsRegisters = (s: Qs8ConvSpec): boolean => weightVectors(s) <= 6;

/**
 * The variants usable for a depthwise conv with the probed reading of b, the preferred first; none when the dot is
 * inexact or the shape is not one measured faster than qs8-dwconv (3x3 and 5x5 kernels, stride 1 or 2, no
 * dilation: MobileNet, EfficientNet, ShuffleNet).
 */
export function candidateQs8DwconvRdotVariants(
  s: Qs8ConvSpec,
  b: 'unsigned' | 'signed' | 'none' | undefined,
): Qs8DwconvRdotVariant[] {
  const isa = rdotIsaOf(b);
  const square = s.kernelH === s.kernelW && (s.kernelH === 3 || s.kernelH === 5);
  const strided = s.strideH === s.strideW && (s.strideH === 1 || s.strideH === 2);
  if (!isa || !isDepthwise(s) || !square || !strided || s.dilationH !== 1 || s.dilationW !== 1) return [];
  const mine = QS8_DWCONV_RDOT_VARIANTS.filter((v) => v.isa === isa && (!v.stream || fitsRegisters(s)));
  const want = fitsRegisters(s) ? '4x8c4r' : '4x8c4';
  const pick = mine.find((v) => v.tile === want)!;
  return [pick, ...mine.filter((v) => v !== pick)];
}

function check(s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): void {
  checkConvSpec({ ...s, epilogue: { activation: { kind: 'none' }, residual: false } }, 'qs8-dwconv-rdot');
  if (!isDepthwise(s)) throw new EdgecnnError('qs8-dwconv: not a depthwise conv (group == C_in == C_out)', 'internal');
  if (v.stream && !fitsRegisters(s))
    throw new EdgecnnError(`qs8-dwconv: ${v.tile} needs a 3-column kernel`, 'internal');
}

/** Packed prefix: 16 input-zero-point bytes (the padding lanes), then per pattern and channel block its bytes. */
const ZERO_LANES_BYTES = 16;

const blockBytes = (s: Qs8ConvSpec): number => QS8_HEADER_BYTES + weightVectors(s) * 16;

/** Pack weights [C, 1, kh, kw]: per row-validity pattern and 8-channel block a header, then the weight vectors. */
function pack(s: Qs8ConvSpec, v: Qs8DwconvRdotVariant, w: Qs8ConvWeights): Uint8Array {
  check(s, v);
  checkQuant(w.quant, 'qs8-dwconv');
  checkFloatBias(s, w, 'qs8-dwconv');
  const { kernelH: kh, kernelW: kw } = s;
  const taps = kh * kw;
  if (w.weights.length !== s.outC * taps) {
    throw new EdgecnnError(`qs8-dwconv: ${w.weights.length} weights, expected ${s.outC * taps}`, 'bad-model');
  }
  const bytes = blockBytes(s);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  const { patterns } = rowPatterns(s);
  const out = new Uint8Array(ZERO_LANES_BYTES + patterns.length * blocks * bytes);
  out.fill(w.quant.inZero & 0xff, 0, ZERO_LANES_BYTES);
  const view = new DataView(out.buffer);
  // u8 feeding reads q + 128, whose zero point is zIn + 128 (the padding lanes hold zIn and are flipped too).
  const fed = { ...w.quant, inZero: w.quant.inZero + (v.isa === 'wasmusdot' ? 128 : 0) };
  patterns.forEach((pattern, pi) => {
    for (let b = 0; b < blocks; b++) {
      const base = ZERO_LANES_BYTES + (pi * blocks + b) * bytes;
      // Only the taps of rows inside the image count: the others meet zero weights.
      const sum = (n: number): number => {
        let t = 0;
        for (let k = 0; k < taps; k++) if (pattern[Math.floor(k / kw)]) t += w.weights[n * taps + k]!;
        return t;
      };
      packHeader(view, base, b * QS8_BLOCK, s.outC, fed, sum, biasOf(w), { lo: s.outMin, hi: s.outMax });
      for (let j = 0; j < QS8_BLOCK && b * QS8_BLOCK + j < s.outC; j++) {
        const n = b * QS8_BLOCK + j;
        for (let g = 0; g < groupsOf(s); g++)
          for (let kx = 0; kx < kw; kx++)
            for (let t = 0; t < 4; t++) {
              const ky = 4 * g + t;
              if (ky >= kh || !pattern[ky]) continue;
              const at = base + QS8_HEADER_BYTES + ((g * kw + kx) * 2 + (j >> 2)) * 16 + (j & 3) * 4 + t;
              view.setInt8(at, w.weights[n * taps + ky * kw + kx]!);
            }
      }
    }
  });
  return out;
}

/** Bytes 0-7 of two vectors interleaved: [a0 b0 a1 b1 ... a7 b7]. */
const BYTES_LO = Array.from({ length: 16 }, (_, i) => (i & 1 ? 16 : 0) + (i >> 1));

function emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8DwconvRdotVariant, a: Qs8ConvAddresses): void {
  check(s, v);
  const { px, stream } = v;
  const unsigned = v.isa === 'wasmusdot';
  const { kernelH: kh, kernelW: kw, strideH: sH, strideW: sW, dilationH: dH, dilationW: dW } = s;
  const { inH, inW, outH, outW } = s;
  const G = groupsOf(s);
  const inStride = a.input.pixelStride;
  const outStride = a.output.pixelStride;
  const bytes = blockBytes(s);
  const blocks = Math.ceil(s.outC / QS8_BLOCK);
  const { groups, groupBlocks } = qs8DwconvChannelGroups(s);
  const nFull = Math.floor(s.outC / QS8_BLOCK);
  const rest = s.outC - nFull * QS8_BLOCK;
  const floatBias = s.floatBias === true;
  const [start, end] = [fn.param(0), fn.param(1)];
  const [item, row, grp, cbLo, cbHi, oy, bb, wset, rowOut, ox, cb, pixIn, pixOut, ip, op, wp] = fn.locals('i32', 16);
  // Per kernel row: the input row's address (clamped into the image), and that plus the pixels' column and channels.
  const rowPtr = fn.locals('i32', kh);
  const rp = fn.locals('i32', kh);
  const [flip, res, ab, bv] = fn.locals('v128', 4) as [Local, Local, Local, Local];
  const q = fn.locals('v128', 2);
  const acc = Array.from({ length: px }, () => fn.locals('v128', 2));
  const wLocals = stream ? fn.locals('v128', weightVectors(s)) : [];
  const pool: Local[] = [];
  const take = (): Local => pool.pop() ?? fn.local('v128');
  if (unsigned) fn.v128ConstI32(0x80808080 | 0).localSet(flip);

  const colValid = (ix: number): boolean => ix >= 0 && ix < inW;
  const interior = (x: number): boolean =>
    Array.from({ length: kw }, (_, kx) => x * sW - s.padLeft + kx * dW).every(colValid);
  let oxL = 0;
  while (oxL < outW && !interior(oxL)) oxL++;
  let oxR = oxL;
  while (oxR < outW && interior(oxR)) oxR++;

  const weightOff = (g: number, kx: number, h: number): number => QS8_HEADER_BYTES + ((g * kw + kx) * 2 + h) * 16;
  const pushWeight = (g: number, kx: number, h: number): void => {
    if (stream) fn.localGet(wLocals[(g * kw + kx) * 2 + h]!);
    else fn.localGet(wp).v128Load(weightOff(g, kx, h));
  };
  const loadBlockWeights = (): void => {
    for (let g = 0; g < G; g++)
      for (let kx = 0; kx < kw; kx++)
        for (let h = 0; h < 2; h++)
          fn.localGet(wp)
            .v128Load(weightOff(g, kx, h))
            .localSet(wLocals[(g * kw + kx) * 2 + h]!);
  };

  /**
   * One block of `lanes` channels for `n` pixels: ip/op/wp set. `constX`: the output column of a compile-time
   * pixel (columns outside the image read zero-point lanes); undefined for a tile whose columns are all inside.
   */
  const blockBody = (n: number, lanes: number, constX?: number): void => {
    // Input columns (relative to the first pixel's window) in order; each pixel's terms per column.
    const cols = new Map<number, { p: number; kx: number }[]>();
    for (let p = 0; p < n; p++)
      for (let kx = 0; kx < kw; kx++) {
        const j = p * sW + kx * dW;
        (cols.get(j) ?? cols.set(j, []).get(j)!).push({ p, kx });
      }
    const order = [...cols.keys()].sort((x, y) => x - y);
    const lastCol = Array.from({ length: n }, (_, p) => p * sW + (kw - 1) * dW);
    const started = acc.map(() => [false, false]);
    for (const j of order) {
      const ix = constX === undefined ? j : constX * sW - s.padLeft + j;
      const inside = constX === undefined || colValid(ix);
      for (let g = 0; g < G; g++) {
        // The group's 4 row vectors; rows past the kernel reuse its last row (their weights are zero).
        const rows: Local[] = [];
        for (let t = 0; t < 4; t++) {
          const ky = Math.min(4 * g + t, kh - 1);
          if (4 * g + t >= kh) {
            rows.push(rows[t - 1]!);
            continue;
          }
          const l = take();
          if (inside)
            fn.localGet(rp[ky]!)
              .v128Load64Zero(ix * inStride)
              .localSet(l);
          else fn.i32Const(a.packedWeights).v128Load64Zero().localSet(l);
          rows.push(l);
        }
        fn.localGet(rows[0]!).localGet(rows[1]!).i8x16Shuffle(BYTES_LO).localSet(ab);
        fn.localGet(rows[2]!).localGet(rows[3]!).i8x16Shuffle(BYTES_LO).localSet(bv);
        for (const l of new Set(rows)) pool.push(l);
        for (let h = 0; h < 2; h++) {
          fn.localGet(ab)
            .localGet(bv)
            .i8x16Shuffle(INTERLEAVE[h as 0 | 1]);
          if (unsigned) fn.localGet(flip).v128Xor();
          fn.localSet(q[h]!);
        }
        for (const { p, kx } of cols.get(j)!)
          for (let h = 0; h < 2; h++) {
            pushWeight(g, kx, h);
            fn.localGet(q[h]!);
            if (started[p]![h]) fn.localGet(acc[p]![h]!);
            else fn.localGet(wp).v128Load(16 * h);
            fn.i32x4RelaxedDotI8x16I7x16AddS().localSet(acc[p]![h]!);
            started[p]![h] = true;
          }
      }
      // Pixels whose window ends at this column are done: requantize and store them now (fewer live registers).
      for (let p = 0; p < n; p++) {
        if (lastCol[p] !== j) continue;
        emitRequantize(fn, acc[p]![0]!, acc[p]![1]!, wp, 0, s.outMin, s.outMax, res, true, floatBias);
        emitStoreBytes(fn, op, p * outStride, res, lanes);
      }
    }
  };

  // The channel blocks of this item's group: full blocks in a loop, then the partial one (in the last group).
  const channelBlocks = (body: (lanes: number) => void): void => {
    const setWeights = (): void => {
      fn.localGet(cb)
        .i32Const(bytes / QS8_BLOCK)
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
          body(QS8_BLOCK);
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
      body(rest);
      if (groups > 1) fn.end();
    }
  };

  let streamLanes = QS8_BLOCK;
  // n pixels whose pixIn/pixOut are set (pixIn 0 for compile-time pixels, whose loads add their column).
  const pixels = (n: number, constX?: number): void => {
    const block = (lanes: number): void => {
      fn.localGet(pixIn).localGet(cb).i32Add().localSet(ip);
      for (let ky = 0; ky < kh; ky++) fn.localGet(rowPtr[ky]!).localGet(ip).i32Add().localSet(rp[ky]!);
      fn.localGet(pixOut).localGet(cb).i32Add().localSet(op);
      blockBody(n, lanes, constX);
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

  const { runs } = rowPatterns(s);
  // The weights of the row's validity pattern (the longest run, the interior, needs no compare).
  const main = runs.reduce((m, r, i) => (r.hi - r.lo > runs[m]!.hi - runs[m]!.lo ? i : m), 0);
  const weightSet = (pattern: number): void =>
    void fn.i32Const(a.packedWeights + ZERO_LANES_BYTES + pattern * blocks * bytes).localSet(wset);

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
      fn.localGet(row).i32Const(outH).i32DivU().localSet(bb);
      fn.localGet(row).localGet(bb).i32Const(outH).i32Mul().i32Sub().localSet(oy);
      fn.localGet(row)
        .i32Const(outW * outStride)
        .i32Mul()
        .i32Const(a.output.addrBytes)
        .i32Add()
        .localSet(rowOut);
      weightSet(runs[main]!.pattern);
      for (const r of runs) {
        if (r === runs[main] || r.pattern === runs[main]!.pattern) continue;
        fn.localGet(oy).i32Const(r.lo).i32GeU().localGet(oy).i32Const(r.hi).i32LtU().i32And().if();
        weightSet(r.pattern);
        fn.end();
      }
      // Kernel row ky reads input row clamp(oy * sH - padTop + ky * dH, 0, inH - 1) of image bb.
      for (let ky = 0; ky < kh; ky++) {
        fn.localGet(oy)
          .i32Const(sH)
          .i32Mul()
          .i32Const(ky * dH - s.padTop)
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
          .localSet(rowPtr[ky]!);
      }
      if (!stream) return rowPixels();
      channelBlocks((lanes) => {
        streamLanes = lanes;
        loadBlockWeights();
        rowPixels();
      });
    },
  );
}

/** The relaxed-dot qs8 depthwise family; ids `qs8-dwconv[-minmax]-3x3s1-4x8c4r-wasmusdot`. */
export const qs8DwconvRdot = {
  family: 'qs8-dwconv',
  variants: QS8_DWCONV_RDOT_VARIANTS,
  supports: (s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): boolean => isDepthwise(s) && (!v.stream || fitsRegisters(s)),
  id: (s: Qs8ConvSpec, v: Qs8DwconvRdotVariant): string =>
    `qs8-dwconv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * qs8DwconvChannelGroups(s).groups,
  pack,
  emit,
  macs: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW * s.outC * s.kernelH * s.kernelW,
} as const;
