/**
 * f32 depthwise convolution (group = inC = outC) over NHWC, channels in SIMD lanes.
 * Weights are packed [bias | tap 0 | tap 1 | ...] with taps in (ky, kx) order, each Cpad = ceil(C/4)*4 floats.
 * A step computes one output row: for each output pixel and each block of 4*vecs channels, accumulators start
 * at the bias, a runtime loop runs over the valid kernel rows (computed per output row, so top/bottom padding
 * costs nothing) and the kernel columns are unrolled; columns near the left/right border get their own code
 * with only the valid taps, the interior columns share one loop. No zero buffer is needed.
 * Multi-pixel variants (`px` > 1) compute px adjacent interior output pixels per step: per kernel row each
 * input column and each weight vector is loaded once and reused across the pixels (loads per FMA drop from
 * 2 to under 1); they apply when the step's live vectors fit V8's 15 allocatable xmm registers.
 * parallelExtent = batch * outH output rows x `channelGroups` groups of whole channel blocks (item i is row
 * floor(i / groups), group i % groups): late layers have few rows (7 or 14) but hundreds of channels, and whole
 * rows alone gave two threads 4 + 3 rows; with one group the code is the row-only kernel.
 */
import type { FunctionBuilder, Local } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';
import { emitConvRowWindow } from './conv.js';
import { EpilogueEmitter, emitTileEpilogue, kernelId } from './epilogue.js';
import {
  type ConvAddresses,
  type ConvSpec,
  type ConvWeights,
  type Isa,
  type KernelFamily,
  type KernelVariant,
  checkConvSpec,
} from './types.js';

/** A depthwise variant: `vecs` f32x4 vectors (4*vecs channels) x `px` output pixels per step. */
export interface DwconvVariant extends KernelVariant {
  readonly vecs: number;
  readonly px: number;
}

function v(vecs: number, isa: Isa, px = 1): DwconvVariant {
  return { tile: px === 1 ? `${4 * vecs}c` : `${px}x${4 * vecs}c`, vecs, px, isa };
}

/** Live v128 values in one kernel-row step of a multi-pixel tile (accumulators, weights, input columns). */
function liveVectors(spec: ConvSpec, vr: DwconvVariant): number {
  const cols = (vr.px - 1) * spec.strideW + (spec.kernelW - 1) * spec.dilationW + 1;
  return vr.vecs * (vr.px + spec.kernelW + cols);
}

/** xmm registers V8 can allocate on x64 (xmm15 is its scratch register). */
const VECTOR_REGISTERS = 15;

/** The depthwise variants (the only hand-edited list). */
export const DWCONV_VARIANTS: readonly DwconvVariant[] = [
  // Measured order (MobileNetV2/EfficientNet layers, V8 x64): multi-pixel tiles where they fit, else 8 channels.
  v(1, 'wasmrelaxed', 4),
  v(1, 'wasmrelaxed', 3),
  v(1, 'wasmrelaxed', 2),
  v(2, 'wasmrelaxed'),
  v(1, 'wasmrelaxed'),
  v(4, 'wasmrelaxed'),
  v(1, 'wasmsimd', 4),
  v(1, 'wasmsimd', 3),
  v(1, 'wasmsimd', 2),
  v(2, 'wasmsimd'),
  v(1, 'wasmsimd'),
  v(4, 'wasmsimd'),
];

/**
 * Fewest parallel items a step should offer: 4 threads x 4 chunks x 2 items, so chunks of the default pool
 * sizes differ by at most half an item's work.
 */
export const DWCONV_MIN_ITEMS = 32;

/**
 * Channel groups per output row: 1 when there are DWCONV_MIN_ITEMS rows, else as many (up to one channel block
 * each) as bring rows x groups to DWCONV_MIN_ITEMS, every group but the last the same whole number of blocks.
 */
export function dwconvChannelGroups(spec: ConvSpec, vr: DwconvVariant): { groups: number; groupBlocks: number } {
  const rows = spec.batch * spec.outH;
  const blocks = Math.ceil(spec.inC / (4 * vr.vecs));
  const want = Math.min(blocks, Math.ceil(DWCONV_MIN_ITEMS / rows));
  if (want <= 1) return { groups: 1, groupBlocks: blocks };
  const groupBlocks = Math.ceil(blocks / want);
  return { groups: Math.ceil(blocks / groupBlocks), groupBlocks };
}

function isDepthwise(s: ConvSpec): boolean {
  return s.group === s.inC && s.outC === s.inC && s.group > 1;
}

function cpad(s: ConvSpec): number {
  return Math.ceil(s.inC / 4) * 4;
}

/** Pack ONNX depthwise weights [C, 1, kH, kW] (+ bias) as [bias | taps (ky, kx)] x Cpad. */
export function packDwconv(spec: ConvSpec, _vr: DwconvVariant, w: ConvWeights): Float32Array {
  checkConvSpec(spec, 'dwconv');
  const C = spec.inC;
  const taps = spec.kernelH * spec.kernelW;
  if (w.weights.length !== C * taps) {
    throw new EdgecnnError(
      `dwconv pack: weights have ${w.weights.length} values, expected ${C}x1x${spec.kernelH}x${spec.kernelW}`,
      'bad-model',
    );
  }
  if (w.bias && w.bias.length !== C)
    throw new EdgecnnError(`dwconv pack: bias has ${w.bias.length} values, expected ${C}`, 'bad-model');
  const cp = cpad(spec);
  const out = new Float32Array((taps + 1) * cp);
  for (let c = 0; c < C; c++) {
    out[c] = w.bias ? w.bias[c]! : 0;
    for (let t = 0; t < taps; t++) out[(t + 1) * cp + c] = w.weights[c * taps + t]!;
  }
  return out;
}

function tileName(spec: ConvSpec, vr: DwconvVariant): string {
  const d = spec.dilationH > 1 || spec.dilationW > 1 ? `d${spec.dilationH}` : '';
  const s = spec.strideH === spec.strideW ? `s${spec.strideH}` : `s${spec.strideH}x${spec.strideW}`;
  return `${spec.kernelH}x${spec.kernelW}${s}${d}-${vr.tile}`;
}

/** Emit the depthwise step `(start, end)` over (output row, channel group) items. */
export function emitDwconv(fn: FunctionBuilder, spec: ConvSpec, vr: DwconvVariant, addr: ConvAddresses): void {
  checkConvSpec(spec, 'dwconv');
  if (!isDepthwise(spec)) throw new EdgecnnError('dwconv: spec is not a depthwise convolution', 'internal');
  if (spec.epilogue.residual && !addr.residual) throw new EdgecnnError('dwconv: residual address missing', 'internal');
  const { inW, outW, kernelW: kw, strideW: sW, dilationH: dH, dilationW: dW } = spec;
  const C = spec.inC;
  const cp = cpad(spec);
  const psIn = addr.input.pixelStride * 4;
  const psOut = addr.output.pixelStride * 4;
  const psRes = (addr.residual?.pixelStride ?? 0) * 4;
  const relaxed = vr.isa === 'wasmrelaxed';
  const blockCh = 4 * vr.vecs;
  const nFull = Math.floor(C / blockCh);
  const remCh = C - nFull * blockCh;
  const { groups, groupBlocks } = dwconvChannelGroups(spec, vr);

  const start = fn.param(0);
  const end = fn.param(1);
  const ep = new EpilogueEmitter(fn, spec.epilogue.activation, vr.isa === 'wasmrelaxed');
  const accP = Array.from({ length: vr.px }, () => fn.locals('v128', vr.vecs));
  const acc = accP[0]!;
  const nCols = (vr.px - 1) * sW + (kw - 1) * dW + 1;
  const wv = vr.px > 1 ? fn.locals('v128', kw) : [];
  const iv = vr.px > 1 ? fn.locals('v128', nCols) : [];
  const r = fn.local('i32');
  const oy = fn.local('i32');
  const iy0 = fn.local('i32');
  const kyS = fn.local('i32');
  const nky = fn.local('i32');
  const rowIn = fn.local('i32');
  const rowOut = fn.local('i32');
  const rowRes = fn.local('i32');
  const wRow0 = fn.local('i32');
  const ox = fn.local('i32');
  const pixIn = fn.local('i32');
  const pixOut = fn.local('i32');
  const pixRes = fn.local('i32');
  const cb = fn.local('i32');
  const ip = fn.local('i32');
  const wp = fn.local('i32');
  const k = fn.local('i32');
  const op = fn.local('i32');
  const rp = fn.local('i32');
  // With channel groups: the item index, its group, and the group's range of full blocks [cbLo, cbHi) in bytes.
  const grp =
    groups > 1
      ? { item: fn.local('i32'), g: fn.local('i32'), cbLo: fn.local('i32'), cbHi: fn.local('i32') }
      : undefined;
  const fullLo = (b: FunctionBuilder): void => void (grp ? b.localGet(grp.cbLo) : b.i32Const(0));
  const fullHi = (b: FunctionBuilder): void => void (grp ? b.localGet(grp.cbHi) : b.i32Const(nFull * blockCh * 4));
  // The partial block (remCh channels) belongs to the last group.
  const inLastGroup = (emitRem: () => void): void => {
    if (!grp) return emitRem();
    fn.localGet(grp.g)
      .i32Const(groups - 1)
      .i32Eq()
      .if();
    emitRem();
    fn.end();
  };

  // Runs `taps` once per valid kernel row (k = nky down to 1), stepping ip and wp to the next kernel row after
  // each: the loop every channel-block body shares.
  const kernelRowLoop = (taps: () => void): void => {
    fn.localGet(nky).localSet(k);
    const exit = fn.block();
    const top = fn.loop();
    fn.localGet(k).i32Eqz().brIf(exit);
    taps();
    fn.localGet(ip)
      .i32Const(dH * inW * psIn)
      .i32Add()
      .localSet(ip);
    fn.localGet(wp)
      .i32Const(kw * cp * 4)
      .i32Add()
      .localSet(wp);
    fn.localGet(k).i32Const(1).i32Sub().localSet(k).br(top);
    fn.end().end();
  };

  // Bias/residual/activation and store of channel block cb for `rows` pixels (output rows `outRowBytes` apart).
  const storeBlock = (accs: Local[][], rows: number, cols: number, outRowBytes: number, resRowBytes: number): void => {
    fn.localGet(pixOut).localGet(cb).i32Add().localSet(op);
    if (addr.residual) fn.localGet(pixRes).localGet(cb).i32Add().localSet(rp);
    emitTileEpilogue(fn, ep, {
      acc: accs,
      rows,
      cols,
      cPtr: op,
      cRowBytes: outRowBytes,
      ...(addr.residual ? { rPtr: rp, rRowBytes: resRowBytes } : {}),
    });
  };

  // Channel-block body: pixel pointers + cb offset; kxs = valid kernel columns (first one at pixIn).
  const body = (kxs: number[], vecs: number, cols: number): void => {
    const kx0 = kxs[0];
    fn.localGet(pixIn).localGet(cb).i32Add().localSet(ip);
    fn.localGet(wRow0).localGet(cb).i32Add().localSet(wp);
    for (let j = 0; j < vecs; j++)
      fn.i32Const(addr.packedWeights)
        .localGet(cb)
        .i32Add()
        .v128Load(j * 16, 4)
        .localSet(acc[j]!);
    if (kx0 !== undefined) {
      kernelRowLoop(() => {
        for (const kx of kxs) {
          for (let j = 0; j < vecs; j++) {
            const inOff = (kx - kx0) * dW * psIn + j * 16;
            const wOff = (1 + kx) * cp * 4 + j * 16;
            if (relaxed) {
              fn.localGet(ip).v128Load(inOff).localGet(wp).v128Load(wOff, 4).localGet(acc[j]!).f32x4RelaxedMadd();
            } else {
              fn.localGet(acc[j]!).localGet(ip).v128Load(inOff).localGet(wp).v128Load(wOff, 4).f32x4Mul().f32x4Add();
            }
            fn.localSet(acc[j]!);
          }
        }
      });
    }
    storeBlock([acc], 1, cols, 0, 0);
  };

  // Channel-block body of a px-pixel interior tile starting at pixIn/pixOut/pixRes (all taps valid).
  const bodyTile = (vecs: number, cols: number): void => {
    const px = vr.px;
    fn.localGet(pixIn).localGet(cb).i32Add().localSet(ip);
    fn.localGet(wRow0).localGet(cb).i32Add().localSet(wp);
    for (let j = 0; j < vecs; j++) {
      fn.i32Const(addr.packedWeights)
        .localGet(cb)
        .i32Add()
        .v128Load(j * 16, 4);
      for (let p = 0; p < px; p++) fn.localTee(accP[p]![j]!);
      fn.drop();
    }
    kernelRowLoop(() => {
      for (let j = 0; j < vecs; j++) {
        for (let kx = 0; kx < kw; kx++)
          fn.localGet(wp)
            .v128Load((1 + kx) * cp * 4 + j * 16, 4)
            .localSet(wv[kx]!);
        for (let c = 0; c < nCols; c++)
          fn.localGet(ip)
            .v128Load(c * psIn + j * 16)
            .localSet(iv[c]!);
        for (let p = 0; p < px; p++) {
          for (let kx = 0; kx < kw; kx++) {
            const a = accP[p]![j]!;
            const x = iv[p * sW + kx * dW]!;
            if (relaxed) fn.localGet(x).localGet(wv[kx]!).localGet(a).f32x4RelaxedMadd();
            else fn.localGet(a).localGet(x).localGet(wv[kx]!).f32x4Mul().f32x4Add();
            fn.localSet(a);
          }
        }
      }
    });
    storeBlock(accP, px, cols, psOut, psRes);
  };

  // All channel blocks of a px-pixel interior tile.
  const pixelTile = (): void => {
    if (nFull > 0) fn.forRange(cb, fullLo, fullHi, blockCh * 4, () => bodyTile(vr.vecs, blockCh));
    if (remCh > 0) {
      inLastGroup(() => {
        fn.i32Const(nFull * blockCh * 4).localSet(cb);
        bodyTile(Math.ceil(remCh / 4), remCh);
      });
    }
  };

  // All channel blocks of one output pixel.
  const pixel = (kxs: number[]): void => {
    if (nFull > 0) fn.forRange(cb, fullLo, fullHi, blockCh * 4, () => body(kxs, vr.vecs, blockCh));
    if (remCh > 0) {
      inLastGroup(() => {
        fn.i32Const(nFull * blockCh * 4).localSet(cb);
        body(kxs, Math.ceil(remCh / 4), remCh);
      });
    }
  };

  // Pixel pointers for output column `ox` (a local or constant) whose first valid tap is kx0.
  const setPixel = (oxEmit: () => void, kx0: number): void => {
    oxEmit();
    fn.i32Const(sW)
      .i32Mul()
      .i32Const(kx0 * dW - spec.padLeft)
      .i32Add()
      .i32Const(psIn)
      .i32Mul()
      .localGet(rowIn)
      .i32Add()
      .localSet(pixIn);
    oxEmit();
    fn.i32Const(psOut).i32Mul().localGet(rowOut).i32Add().localSet(pixOut);
    if (addr.residual) {
      oxEmit();
      fn.i32Const(psRes).i32Mul().localGet(rowRes).i32Add().localSet(pixRes);
    }
  };

  const validKx = (x: number): number[] => {
    const out: number[] = [];
    for (let kx = 0; kx < kw; kx++) {
      const ix = x * sW - spec.padLeft + kx * dW;
      if (ix >= 0 && ix < inW) out.push(kx);
    }
    return out;
  };
  const allKx = Array.from({ length: kw }, (_, i) => i);
  let oxL = 0;
  while (oxL < outW && validKx(oxL).length !== kw) oxL++;
  let oxR = outW;
  while (oxR > oxL && validKx(oxR - 1).length !== kw) oxR--;

  const row = (): void => {
    emitConvRowWindow(fn, spec, addr, { r, oy, iy0, kyS, nky, rowIn, rowOut, rowRes }, { clampNky: true });
    fn.localGet(kyS)
      .i32Const(kw * cp * 4)
      .i32Mul()
      .i32Const(addr.packedWeights)
      .i32Add()
      .localSet(wRow0);

    for (let x = 0; x < oxL; x++) {
      const kxs = validKx(x);
      setPixel(() => fn.i32Const(x), kxs[0] ?? 0);
      pixel(kxs);
    }
    // interior: px-pixel tiles, then single pixels up to oxR
    const tiled = vr.px > 1 ? Math.floor((oxR - oxL) / vr.px) * vr.px : 0;
    if (tiled > 0) {
      fn.forRange(
        ox,
        (b) => b.i32Const(oxL),
        (b) => b.i32Const(oxL + tiled),
        vr.px,
        () => {
          setPixel(() => fn.localGet(ox), 0);
          pixelTile();
        },
      );
    }
    if (oxR > oxL + tiled) {
      fn.forRange(
        ox,
        (b) => b.i32Const(oxL + tiled),
        (b) => b.i32Const(oxR),
        1,
        () => {
          setPixel(() => fn.localGet(ox), 0);
          pixel(allKx);
        },
      );
    }
    for (let x = Math.max(oxR, oxL); x < outW; x++) {
      const kxs = validKx(x);
      setPixel(() => fn.i32Const(x), kxs[0] ?? 0);
      pixel(kxs);
    }
  };

  if (!grp) {
    fn.forRange(
      r,
      (b) => b.localGet(start),
      (b) => b.localGet(end),
      1,
      row,
    );
    return;
  }
  const { item, g, cbLo, cbHi } = grp;
  const groupBytes = groupBlocks * blockCh * 4;
  fn.forRange(
    item,
    (b) => b.localGet(start),
    (b) => b.localGet(end),
    1,
    () => {
      fn.localGet(item).i32Const(groups).i32DivU().localSet(r);
      fn.localGet(item).localGet(r).i32Const(groups).i32Mul().i32Sub().localSet(g);
      fn.localGet(g).i32Const(groupBytes).i32Mul().localSet(cbLo);
      // Full blocks end at nFull: only the last group can stop short of cbLo + groupBytes.
      fn.localGet(cbLo).i32Const(groupBytes).i32Add();
      fn.i32Const(nFull * blockCh * 4);
      fn.localGet(g)
        .i32Const(groups - 1)
        .i32LtU();
      fn.select().localSet(cbHi);
      row();
    },
  );
}

/** The f32 depthwise convolution family. */
export const dwconv: KernelFamily<ConvSpec, DwconvVariant, ConvAddresses, ConvWeights> = {
  family: 'dwconv',
  variants: DWCONV_VARIANTS,
  supports(spec, vr) {
    if (!isDepthwise(spec)) return false;
    if (vr.px === 1) return true;
    // Multi-pixel tiles must not spill, and with stride 2 they only pay off for 5-wide kernels (measured on
    // V8 x64: 3x3s2 px=2/3 tie or lose against 8c; 5x5s2 px=2 wins by 1.3x; stride 1 wins by 1.5-1.6x).
    return liveVectors(spec, vr) <= VECTOR_REGISTERS && (spec.strideW === 1 || spec.kernelW >= 5);
  },
  id(spec, vr) {
    return kernelId('f32', 'dwconv', spec.epilogue, tileName(spec, vr), vr.isa);
  },
  parallelExtent(spec, vr) {
    return spec.batch * spec.outH * dwconvChannelGroups(spec, vr).groups;
  },
  pack: packDwconv,
  zeroBytes() {
    return 0;
  },
  emit: emitDwconv,
  macs(spec) {
    return spec.batch * spec.outH * spec.outW * spec.outC * spec.kernelH * spec.kernelW;
  },
};
