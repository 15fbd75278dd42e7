/**
 * Kernel selection: for one graph node and the layouts of its values, which kernel family and which variant
 * computes it, as a `LoweredKernel` the compiler can place (weights to pack, scratch) and emit. Selection rules
 * live here, apart from kernel code; a node no family supports returns undefined and runs on the reference
 * fallback. Rules: 1x1/stride-1/unpadded/ungrouped convolutions and Gemm/MatMul with a constant B are GEMMs
 * over pixels; group == C_in == C_out convolutions are depthwise; other convolutions go to the direct conv
 * family. Relaxed-SIMD variants are chosen only when the caller says the engine has them. Where a family offers
 * several supported variants, the step is a choice point (`KernelChoice`): its candidates in cost-model order,
 * of which `SelectContext.choose` (the tuner, src/tune/) may take another than the first.
 */
import { EdgecnnError } from '../ir/errors.js';
import { type Node, attrFloats, attrInt, attrString } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { convGeometry } from '../ops/conv.js';
import type { FunctionBuilder } from './wasm/index.js';
import type { ValueLayout } from './compile/assign-layouts.js';
import { activationFromOnnx } from './kernels/epilogue.js';
import { type ConvVariant, conv } from './kernels/conv.js';
import { type DwconvVariant, dwconv } from './kernels/dwconv.js';
import { type GemmVariant, gemm } from './kernels/gemm.js';
import { type WinogradVariant, winograd } from './kernels/winograd.js';
import { lowerConvTransposeGemm, lowerPixelScatter } from './compile/lower-conv-transpose.js';
import { lowerFakeQuantize } from './compile/lower-fake-quant.js';
import { INT8_OPS, lowerInt8, touchesInt8 } from './compile/lower-int8.js';
import { lowerSmall } from './compile/lower-small.js';
import type {
  ActivationRef,
  ConvAddresses,
  ConvSpec,
  ConvWeights,
  EpilogueSpec,
  GemmAddresses,
  GemmSpec,
  GemmWeights,
  KernelFamily,
  KernelVariant,
} from './kernels/types.js';

/** A value as a kernel sees it: its layout plus (for inputs) a constant tensor when known at compile time. */
export interface OperandInfo {
  layout?: ValueLayout;
  constant?: Tensor;
}

/** Where the compiler put everything a kernel touches; all byte addresses in the one linear memory. */
export interface KernelAddresses {
  /** Per node input (undefined for omitted or constant inputs that the kernel packed). */
  inputs: (number | undefined)[];
  /** Per node output. */
  outputs: (number | undefined)[];
  /** Per packed weight buffer, in the order of `LoweredKernel.weights`. */
  weights: number[];
  /** Scratch buffer (undefined when scratchBytes is 0). */
  scratch: number | undefined;
  /** The shared all-zero read-only region (undefined when zeroBytes is 0). */
  zero: number | undefined;
}

/** One kernel step ready to be placed and emitted. */
export interface LoweredKernel {
  /** `<dtype>-<family>[-<epilogue>]-<tile>-<isa>`. */
  id: string;
  parallelExtent: number;
  macs: number;
  bytesMoved: number;
  /** More than one graph node computed (fused epilogue). */
  fused: boolean;
  /** Packed weight buffers (copied into memory at instantiation, 64-byte aligned). */
  weights: Uint8Array[];
  scratchBytes: number;
  /** Size of the always-zero region the kernel reads (shared by all kernels). */
  zeroBytes: number;
  /** Node input indices whose storage output 0 may reuse (the kernel reads each element before writing it). */
  inPlaceInputs: number[];
  usesRelaxedSimd: boolean;
  /** Emit the body of `(start: i32, end: i32) -> ()` over [start, end) of the parallel extent. */
  emit(fn: FunctionBuilder, addresses: KernelAddresses): void;
}

/** One way to compute a step: its kernel id, and how to lower it (weights are packed only when asked). */
export interface KernelCandidate {
  id: string;
  lower(): LoweredKernel;
}

/**
 * A step with more than one usable variant. `specKey` names what is computed (family group, shapes,
 * epilogue) and not how: the key of the tuning database. `candidates` come in cost-model order.
 */
export interface KernelChoice {
  node: Node;
  specKey: string;
  candidates: readonly KernelCandidate[];
  /** The context the choice was made in (operand layouts, for measuring a candidate on the real shapes). */
  ctx: SelectContext;
}

/** Returns the candidate to use (one of `choice.candidates`). */
export type ChooseKernel = (choice: KernelChoice) => KernelCandidate;

/** The spec key of a choice point: `<group> <spec as JSON>` (spec objects are built in one fixed key order). */
export function specKey(group: string, spec: object): string {
  return `${group} ${JSON.stringify(spec)}`;
}

/** Lower the candidate `ctx.choose` takes (the first, the cost model's, without a chooser or a choice). */
export function chooseKernel(
  node: Node,
  ctx: SelectContext,
  key: string,
  candidates: readonly KernelCandidate[],
): LoweredKernel | undefined {
  if (candidates.length === 0) return undefined;
  const c = candidates.length > 1 && ctx.choose ? ctx.choose({ node, specKey: key, candidates, ctx }) : candidates[0]!;
  return c.lower();
}

export interface SelectContext {
  relaxedSimd: boolean;
  /** The probed reading of the relaxed int8 dot-add's b (`WasmFeatures.relaxedDotB`); absent = 'none'. */
  relaxedDotB?: 'unsigned' | 'signed' | 'none';
  /** Picks among a step's candidates (default: the first, the cost model's choice). */
  choose?: ChooseKernel;
  /** Opset of the node's domain. */
  opset(node: Node): number;
  /** Look up operand layouts / constants by value name. */
  operand(name: string): OperandInfo;
}

/** Kernel families the compiler can use; filled as families land (one line each). */
export interface Families {
  gemm?: KernelFamily<GemmSpec, GemmVariant, GemmAddresses, GemmWeights>;
  conv?: KernelFamily<ConvSpec, ConvVariant, ConvAddresses, ConvWeights>;
  dwconv?: KernelFamily<ConvSpec, DwconvVariant, ConvAddresses, ConvWeights>;
  winograd?: KernelFamily<ConvSpec, WinogradVariant, ConvAddresses, ConvWeights>;
}

export const FAMILIES: Families = { gemm, conv, dwconv, winograd };

/** The kernel for `node`, or undefined when it must run on the reference fallback. */
export function selectKernel(node: Node, ctx: SelectContext, families: Families = FAMILIES): LoweredKernel | undefined {
  const op =
    node.domain === 'edgecnn'
      ? `edgecnn:${node.opType}`
      : node.domain === '' || node.domain === 'ai.onnx'
        ? node.opType
        : '';
  switch (op) {
    case 'Conv':
    case 'edgecnn:FusedConv':
      return lowerConv(node, ctx, families);
    case 'Gemm':
    case 'edgecnn:FusedGemm':
    case 'MatMul':
      return lowerGemm(node, ctx, families);
    case 'edgecnn:ConvTransposeGemm':
      return lowerConvTransposeGemm(node, ctx);
    case 'edgecnn:PixelScatter':
      return lowerPixelScatter(node, ctx);
    case 'edgecnn:FakeQuantize':
      return lowerFakeQuantize(node, ctx);
    default:
      if (
        (node.domain === 'edgecnn' && (INT8_OPS as readonly string[]).includes(node.opType)) ||
        touchesInt8(node, ctx)
      )
        return lowerInt8(node, ctx);
      return lowerSmall(node, ctx);
  }
}

/**
 * The variants that support `spec` with an ISA the engine has (relaxed variants only when allowed), best
 * first by estimated cost; ties keep the family's list order. Without a cost model: list order, relaxed
 * first (fused multiply-add is both faster and at least as accurate).
 */
export function candidateVariants<S, V extends KernelVariant>(
  family: KernelFamily<S, V, unknown, unknown>,
  spec: S,
  relaxedSimd: boolean,
  cost?: (spec: S, variant: V) => number,
): V[] {
  const usable = family.variants.filter((v) => (v.isa === 'wasmsimd' || relaxedSimd) && family.supports(spec, v));
  const isaRank = (v: V): number => (v.isa === 'wasmrelaxed' ? 0 : 1);
  // Ties in cost go to the variant with more parallel work items (e.g. a one-row GEMM split by column panels
  // instead of one row tile): the same single-threaded work, but threads can share it.
  const keyed = usable.map((v) => ({
    v,
    key: [isaRank(v), cost ? cost(spec, v) : 0, -family.parallelExtent(spec, v)],
  }));
  keyed.sort((a, b) => {
    const i = a.key.findIndex((k, j) => k !== b.key[j]);
    return i < 0 ? 0 : a.key[i]! - b.key[i]!;
  });
  return keyed.map((k) => k.v);
}

/** The first of `candidateVariants`: the variant the cost model prefers. */
export function pickVariant<S, V extends KernelVariant>(
  family: KernelFamily<S, V, unknown, unknown>,
  spec: S,
  relaxedSimd: boolean,
  cost?: (spec: S, variant: V) => number,
): V | undefined {
  return candidateVariants(family, spec, relaxedSimd, cost)[0];
}

/**
 * Instructions per k step of an MR x NR tile (MR splat loads, NR/4 B loads, MR*NR/4 multiply-adds, each two
 * instructions without relaxed SIMD) times the tiles needed, padding included: the register-blocking model.
 */
export function gemmCost(spec: GemmSpec, v: GemmVariant): number {
  const fmaCost = v.isa === 'wasmrelaxed' ? 1 : 2;
  const perStep = v.mr + v.nr / 4 + (fmaCost * v.mr * v.nr) / 4;
  const tiles = Math.ceil(spec.m / v.mr) * Math.ceil(spec.n / v.nr);
  return tiles * perStep * spec.k;
}

/** The GEMM register-tile model applied to a direct convolution: MR pixels of a row x NR channels per tile. */
export function convCost(spec: ConvSpec, v: ConvVariant): number {
  const fmaCost = v.isa === 'wasmrelaxed' ? 1 : 2;
  const perStep = v.mr + v.nr / 4 + (fmaCost * v.mr * v.nr) / 4;
  const ocg = spec.outC / spec.group;
  const tiles = spec.batch * spec.outH * Math.ceil(spec.outW / v.mr) * Math.ceil(ocg / v.nr) * spec.group;
  return tiles * perStep * (spec.inC / spec.group) * spec.kernelH * spec.kernelW;
}

/**
 * Depthwise, instructions per output row (the same number of rows and valid kernel rows for every variant):
 * per kernel row and block of 4*vecs channels, a one-pixel step loads kw weight and kw input vectors and does
 * kw multiply-adds per vector; a px-pixel step loads kw weights and (px-1)*stride+kw input columns once for its
 * px pixels. Multi-pixel tiles cover only the interior run of output columns (all taps valid) in whole tiles;
 * the rest of the row runs one pixel at a time with the variant's block width. Padded channels cost as much as
 * real ones; blocks of more than two vectors lose to register pressure (measured on MobileNetV2: 8c beats 16c by
 * 20-40%). The multi-pixel tiles measured 1.3-1.6x faster than 8c where the family supports them.
 */
export function dwconvCost(spec: ConvSpec, v: DwconvVariant): number {
  const fmaCost = v.isa === 'wasmrelaxed' ? 1 : 2;
  const kw = spec.kernelW;
  const blocks = Math.ceil(spec.inC / (4 * v.vecs));
  const pressure = v.vecs > 2 ? 1.5 : 1;
  // Per kernel row and block: loads + multiply-adds + about one instruction of loop/address overhead.
  const onePixel = (v.vecs * (2 * kw + fmaCost * kw) + 1) * pressure;
  const cols = (v.px - 1) * spec.strideW + (kw - 1) * spec.dilationW + 1;
  const tile = v.vecs * (kw + cols + fmaCost * kw * v.px) + 1;
  let interior = 0;
  if (v.px > 1) {
    const full = (ox: number): boolean => {
      const first = ox * spec.strideW - spec.padLeft;
      return first >= 0 && first + (kw - 1) * spec.dilationW < spec.inW;
    };
    let left = 0;
    while (left < spec.outW && !full(left)) left++;
    let right = spec.outW;
    while (right > left && !full(right - 1)) right--;
    interior = Math.floor((right - left) / v.px);
  }
  const singles = spec.outW - interior * v.px;
  return blocks * (interior * tile + singles * onePixel);
}

function epilogueOf(node: Node, residual: boolean): EpilogueSpec {
  const name = node.domain === 'edgecnn' ? attrString(node, 'activation') : undefined;
  return {
    activation: activationFromOnnx(name, attrFloats(node, 'activation_params', []), node.name),
    residual,
  };
}

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function nhwc(info: OperandInfo | undefined): ValueLayout | undefined {
  return info?.layout?.layout === 'nhwc' ? info.layout : undefined;
}

function float32Constant(info: OperandInfo | undefined): Float32Array | undefined {
  const c = info?.constant;
  return c && c.dtype === 'float32' ? (c.data as Float32Array) : undefined;
}

function lowerConv(node: Node, ctx: SelectContext, families: Families): LoweredKernel | undefined {
  const x = nhwc(ctx.operand(node.inputs[0]!));
  const out = nhwc(ctx.operand(node.outputs[0]!));
  const wInfo = ctx.operand(node.inputs[1]!);
  const w = float32Constant(wInfo);
  const bias = node.inputs[2] ? float32Constant(ctx.operand(node.inputs[2])) : undefined;
  if (node.inputs[2] && !bias) return undefined;
  const resName = node.domain === 'edgecnn' ? node.inputs[3] : undefined;
  const res = resName ? nhwc(ctx.operand(resName)) : undefined;
  if (!x || !out || !w || (resName && !res)) return undefined;
  const g = convGeometry(x.type.shape, wInfo.constant!.shape, { node, opset: ctx.opset(node) });
  if (g.outSpatial.length !== 2) return undefined;
  const epilogue = epilogueOf(node, res !== undefined);
  const spec: ConvSpec = {
    batch: g.batch,
    inH: g.inSize[1],
    inW: g.inSize[2],
    inC: g.inChannels,
    outH: g.outSize[1],
    outW: g.outSize[2],
    outC: g.outChannels,
    kernelH: g.kernel[1],
    kernelW: g.kernel[2],
    strideH: g.strides[1],
    strideW: g.strides[2],
    padTop: g.padBegin[1],
    padLeft: g.padBegin[2],
    dilationH: g.dilations[1],
    dilationW: g.dilations[2],
    group: g.group,
    epilogue,
  };
  const fused = node.domain === 'edgecnn' && (epilogue.activation.kind !== 'none' || epilogue.residual);
  const ref = (l: ValueLayout, addr: number | undefined): ActivationRef => {
    if (addr === undefined) throw new EdgecnnError(`node '${node.name}': value '${l.name}' has no address`, 'internal');
    return { addrBytes: addr, pixelStride: l.pixelStride };
  };
  const actBytes = 4 * (size(x) + size(out) * (res ? 2 : 1));
  // The epilogue reads each residual element right before storing the output element at the same position,
  // so the output may take over the residual's storage (ResNet/MobileNet skip connections).

  const pointwise =
    spec.kernelH === 1 &&
    spec.kernelW === 1 &&
    spec.strideH === 1 &&
    spec.strideW === 1 &&
    spec.padTop === 0 &&
    spec.padLeft === 0 &&
    spec.group === 1 &&
    spec.outH === spec.inH &&
    spec.outW === spec.inW;
  if (pointwise && families.gemm) {
    const family = families.gemm;
    const gs: GemmSpec = { m: spec.batch * spec.inH * spec.inW, n: spec.outC, k: spec.inC, epilogue };
    const candidates = candidateVariants(family, gs, ctx.relaxedSimd, gemmCost).map((v): KernelCandidate => ({
      id: family.id(gs, v),
      lower() {
        const packed = family.pack(gs, v, bias ? { b: w, layout: 'nk', bias } : { b: w, layout: 'nk' });
        return {
          id: family.id(gs, v),
          parallelExtent: family.parallelExtent(gs, v),
          macs: family.macs(gs),
          bytesMoved: actBytes + packed.byteLength,
          fused,
          weights: [bytesOf(packed)],
          scratchBytes: 0,
          zeroBytes: family.zeroBytes(gs, v),
          inPlaceInputs: res ? [3] : [],
          usesRelaxedSimd: v.isa === 'wasmrelaxed',
          emit(fn, a) {
            const addrs: GemmAddresses = {
              a: ref(x, a.inputs[0]),
              packedB: a.weights[0]!,
              c: ref(out, a.outputs[0]),
            };
            if (res) addrs.residual = ref(res, a.inputs[3]);
            family.emit(fn, gs, v, addrs);
          },
        };
      },
    }));
    if (candidates.length > 0) return chooseKernel(node, ctx, specKey('f32-gemm', gs), candidates);
  }
  const depthwise = spec.group === spec.inC && spec.outC === spec.inC && spec.group > 1;
  const convCandidate = <V extends KernelVariant>(
    family: KernelFamily<ConvSpec, V, ConvAddresses, ConvWeights>,
    v: V,
  ): KernelCandidate => ({
    id: family.id(spec, v),
    lower() {
      const packed = family.pack(spec, v, bias ? { weights: w, bias } : { weights: w });
      return {
        id: family.id(spec, v),
        parallelExtent: family.parallelExtent(spec, v),
        macs: family.macs(spec),
        bytesMoved: actBytes + packed.byteLength,
        fused,
        weights: [bytesOf(packed)],
        scratchBytes: family.scratchBytes?.(spec, v) ?? 0,
        zeroBytes: family.zeroBytes(spec, v),
        inPlaceInputs: res ? [3] : [],
        usesRelaxedSimd: v.isa === 'wasmrelaxed',
        emit(fn, a) {
          const addrs: ConvAddresses = {
            input: ref(x, a.inputs[0]),
            packedWeights: a.weights[0]!,
            output: ref(out, a.outputs[0]),
          };
          if (res) addrs.residual = ref(res, a.inputs[3]);
          if (a.zero !== undefined) addrs.zero = a.zero;
          if (a.scratch !== undefined) addrs.scratch = a.scratch;
          family.emit(fn, spec, v, addrs);
        },
      };
    },
  });
  const candidates: KernelCandidate[] = [];
  if (depthwise && families.dwconv) {
    const family = families.dwconv;
    for (const v of candidateVariants(family, spec, ctx.relaxedSimd, dwconvCost)) {
      candidates.push(convCandidate(family, v));
    }
  } else {
    // Winograd F(2x2,3x3) first where its family says it wins (3x3 stride 1, enough tiles and channels), then
    // direct convolution: the tuner may find the other way round on this device.
    const { winograd: wino, conv: direct } = families;
    if (wino) for (const v of candidateVariants(wino, spec, ctx.relaxedSimd)) candidates.push(convCandidate(wino, v));
    if (direct) {
      for (const v of candidateVariants(direct, spec, ctx.relaxedSimd, convCost)) {
        candidates.push(convCandidate(direct, v));
      }
    }
  }
  return chooseKernel(node, ctx, specKey(depthwise ? 'f32-dwconv' : 'f32-conv', spec), candidates);
}

function size(l: ValueLayout): number {
  return l.type.shape.reduce((a, b) => a * b, 1);
}

/**
 * Gemm (transA = 0, alpha = 1, constant B, bias C of N values or absent with beta = 1) and MatMul with a
 * constant 2-D B, over a flat (or one-pixel NHWC) A: rows of A are pixels.
 */
function lowerGemm(node: Node, ctx: SelectContext, families: Families): LoweredKernel | undefined {
  const family = families.gemm;
  if (!family) return undefined;
  const aInfo = ctx.operand(node.inputs[0]!);
  const bInfo = ctx.operand(node.inputs[1]!);
  const a = aInfo.layout;
  const out = ctx.operand(node.outputs[0]!).layout;
  const b = float32Constant(bInfo);
  if (!a || !out || a.layout === 'js' || out.layout === 'js' || !b) return undefined;
  const isMatMul = node.opType === 'MatMul';
  const bShape = bInfo.constant!.shape;
  if (bShape.length !== 2) return undefined;
  let transB = false;
  let bias: Float32Array | undefined;
  if (!isMatMul) {
    if (attrInt(node, 'transA', 0) !== 0) return undefined;
    if (attrFloatOr(node, 'alpha', 1) !== 1) return undefined;
    transB = attrInt(node, 'transB', 0) === 1;
    if (node.inputs[2]) {
      const cInfo = ctx.operand(node.inputs[2]);
      const c = float32Constant(cInfo);
      const n = transB ? bShape[0]! : bShape[1]!;
      if (!c || c.length !== n || cInfo.constant!.shape.slice(0, -1).some((d) => d !== 1)) return undefined;
      const beta = attrFloatOr(node, 'beta', 1);
      bias = beta === 1 ? c : c.map((v) => v * beta);
    }
  }
  const K = transB ? bShape[1]! : bShape[0]!;
  const N = transB ? bShape[0]! : bShape[1]!;
  const aShape = a.type.shape;
  // A's rows: a flat [.., K] value, or an NHWC value with one pixel per image ([N, K, 1, 1]).
  if (a.layout === 'flat' ? aShape[aShape.length - 1] !== K : aShape[1] !== K || aShape[2]! * aShape[3]! !== 1) {
    return undefined;
  }
  if (a.layout === 'nhwc' && a.pixelStride !== K) return undefined;
  const M = size(a) / K;
  if (out.layout !== 'flat' || size(out) !== M * N) return undefined;
  const epilogue = epilogueOf(node, false);
  const gs: GemmSpec = { m: M, n: N, k: K, epilogue };
  const candidates = candidateVariants(family, gs, ctx.relaxedSimd, gemmCost).map((v): KernelCandidate => ({
    id: family.id(gs, v),
    lower() {
      const packed = family.pack(
        gs,
        v,
        bias ? { b, layout: transB ? 'nk' : 'kn', bias } : { b, layout: transB ? 'nk' : 'kn' },
      );
      return {
        id: family.id(gs, v),
        parallelExtent: family.parallelExtent(gs, v),
        macs: family.macs(gs),
        bytesMoved: 4 * (M * K + M * N) + packed.byteLength,
        fused: node.domain === 'edgecnn' && epilogue.activation.kind !== 'none',
        weights: [bytesOf(packed)],
        scratchBytes: 0,
        zeroBytes: family.zeroBytes(gs, v),
        inPlaceInputs: [],
        usesRelaxedSimd: v.isa === 'wasmrelaxed',
        emit(fn, addr) {
          const ai = addr.inputs[0];
          const co = addr.outputs[0];
          if (ai === undefined || co === undefined)
            throw new EdgecnnError(`node '${node.name}': missing address`, 'internal');
          family.emit(fn, gs, v, {
            a: { addrBytes: ai, pixelStride: K },
            packedB: addr.weights[0]!,
            c: { addrBytes: co, pixelStride: N },
          });
        },
      };
    },
  }));
  return chooseKernel(node, ctx, specKey('f32-gemm', gs), candidates);
}

function attrFloatOr(node: Node, name: string, dflt: number): number {
  const a = node.attributes.get(name);
  return a && (a.kind === 'float' || a.kind === 'int') ? a.value : dflt;
}
