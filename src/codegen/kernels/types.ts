/**
 * The contract between kernel families (gemm, conv, dwconv, ...) and the compiler.
 *
 * Layout: activations are NHWC float32 with an explicit pixel stride (elements between consecutive pixels);
 * an `ActivationRef` points at channel 0 *of the view* (channel offset already folded into the address), so a
 * kernel reads/writes a channel slice of a wider tensor. Pixel (b, y, x) of a [N, H, W, C] view lives at
 * `addrBytes + ((b * H + y) * W + x) * pixelStride * 4`; its channels are contiguous.
 * Memory-plan invariants the compiler guarantees: every address is a multiple of 4; packed weights are at a
 * multiple of 16; kernels may READ (never write) up to 16 bytes past the end of any activation or weight
 * buffer, so the plan keeps 16 bytes of slack after the last buffer; a kernel's `zeroBytes` region is
 * all-zero and never written by anyone (it can be shared by all kernels).
 *
 * Every family module exports one object implementing `KernelFamily` (`gemm`, `conv`, `dwconv`), whose
 * `variants` list is the only hand-edited list of its tiles/ISAs. Each step is emitted into a function
 * `(start: i32, end: i32) -> ()` computing [start, end) of `parallelExtent(spec, variant)`. Steps write only
 * the outputs of their own range and never write shared scratch, so disjoint ranges may run concurrently on a
 * shared memory (threads).
 */
import type { FunctionBuilder } from '../wasm/index.js';
import { EdgecnnError } from '../../ir/errors.js';

/**
 * Instruction sets a variant may require. `wasmrelaxed` = SIMD128 + relaxed SIMD (probed at start-up);
 * `wasmusdot` / `wasmsdot` = relaxed SIMD whose int8 dot-add the probe proved exact reading b bytes >= 128 as u8
 * (x86 VNNI) / as i8 (ARM sdot) (`WasmFeatures.relaxedDotB`).
 */
export const ISAS = ['wasmsimd', 'wasmrelaxed', 'wasmusdot', 'wasmsdot'] as const;
export type Isa = (typeof ISAS)[number];

/** Where an NHWC activation view lives (see the file header). */
export interface ActivationRef {
  /** Byte address of pixel 0, channel 0 of the view. */
  addrBytes: number;
  /** Elements between consecutive pixels (>= the view's channel count). */
  pixelStride: number;
}

/** Activation functions an epilogue applies (after bias and residual add). */
export const ACTIVATION_KINDS = [
  'none',
  'relu',
  'clip',
  'leakyrelu',
  'hardsigmoid',
  'hardswish',
  'sigmoid',
  'silu',
] as const;
export type ActivationKind = (typeof ACTIVATION_KINDS)[number];

/** An activation with its parameters. relu6 is `{ kind: 'clip', min: 0, max: 6 }`. */
export type Activation =
  | { kind: 'none' }
  | { kind: 'relu' }
  | { kind: 'clip'; min: number; max: number }
  | { kind: 'leakyrelu'; alpha: number }
  | { kind: 'hardsigmoid'; alpha: number; beta: number }
  | { kind: 'hardswish' }
  | { kind: 'sigmoid' }
  | { kind: 'silu' };

/**
 * What happens to each accumulator before the store: `out = activation(acc + bias + residual)`.
 * Bias is always part of the packed weights (zeros when the node has none: it initialises the accumulators,
 * so it costs nothing).
 */
export interface EpilogueSpec {
  activation: Activation;
  /** A residual NHWC tensor (same shape as the output, own pixel stride) is added before the activation. */
  residual: boolean;
}

/** One variant of a kernel family: a tile shape and the ISA it needs. */
export interface KernelVariant {
  /** Tile part of the kernel id, e.g. `4x8`, `3x3s2-8c`. */
  readonly tile: string;
  readonly isa: Isa;
}

/**
 * A kernel family. `S` is the shape spec (compile-time shapes and attributes, no addresses), `V` its variant
 * type, `A` the addresses the compiler assigns, `W` the weights the compiler hands to `pack`.
 */
export interface KernelFamily<S, V extends KernelVariant, A, W> {
  /** Family part of the id: `gemm`, `conv`, `dwconv`. */
  readonly family: string;
  /** The only hand-edited list of variants; tests and benchmarks iterate it. */
  readonly variants: readonly V[];
  /** True when `variant` can compute `spec` (shape constraints only; the ISA check is the selector's). */
  supports(spec: S, variant: V): boolean;
  /** `<dtype>-<family>[-<epilogue>]-<tile>-<isa>`, e.g. `f32-gemm-relu-4x8-wasmsimd`. */
  id(spec: S, variant: V): string;
  /** Extent of the outermost parallel dimension: the function computes [start, end) of it. */
  parallelExtent(spec: S, variant: V): number;
  /** Pack weights (+ bias) into the variant's layout; the result is placed at a 16-byte aligned address. */
  pack(spec: S, variant: V, weights: W): Float32Array;
  /** Bytes of an always-zero read-only region the kernel needs (0 if none); its address goes in `A`. */
  zeroBytes(spec: S, variant: V): number;
  /**
   * Bytes of private scratch the step needs (absent or 0 if none), 16-byte aligned; its address goes in `A`
   * (`scratch`). Each item of the parallel extent uses its own slice, so ranges may still run concurrently.
   */
  scratchBytes?(spec: S, variant: V): number;
  /**
   * Emit the body of `fn`, a function `(start: i32, end: i32) -> ()` (params 0 and 1), computing items
   * [start, end) of the parallel extent. Addresses become i32 constants in the code.
   */
  emit(fn: FunctionBuilder, spec: S, variant: V, addresses: A): void;
  /** Multiply-accumulates performed by the whole step (for GFLOP/s reports). */
  macs(spec: S): number;
}

// ---- GEMM ------------------------------------------------------------------------------------------------

/** C[M, N] = A[M, K] * B[K, N] (+ epilogue); A and C are row-major with row strides (NHWC pixels). */
export interface GemmSpec {
  m: number;
  n: number;
  k: number;
  epilogue: EpilogueSpec;
}

export interface GemmAddresses {
  /** A: row i at `a.addrBytes + i * a.pixelStride * 4` (lda = pixelStride). */
  a: ActivationRef;
  /** The packed B (output of `pack`). */
  packedB: number;
  /** C: row i at `c.addrBytes + i * c.pixelStride * 4`. */
  c: ActivationRef;
  /** Required when `spec.epilogue.residual`: same shape as C. */
  residual?: ActivationRef;
}

/** The constant B of a Gemm/MatMul/1x1 Conv and the optional bias. */
export interface GemmWeights {
  b: Float32Array;
  /** `kn`: B[k * N + n] (MatMul, Gemm transB=0); `nk`: B[n * K + k] (1x1 Conv OIHW, Gemm transB=1). */
  layout: 'kn' | 'nk';
  /** N values, or undefined for zeros. */
  bias?: Float32Array;
}

// ---- Convolutions ----------------------------------------------------------------------------------------

/** A 2-D convolution over NHWC (ONNX Conv semantics; explicit pads, auto_pad already resolved). */
export interface ConvSpec {
  batch: number;
  inH: number;
  inW: number;
  /** Total input channels (all groups). */
  inC: number;
  outH: number;
  outW: number;
  /** Total output channels (all groups). */
  outC: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  /** Leading pads; trailing pads are implied by outH/outW. */
  padTop: number;
  padLeft: number;
  dilationH: number;
  dilationW: number;
  group: number;
  epilogue: EpilogueSpec;
}

export interface ConvAddresses {
  input: ActivationRef;
  packedWeights: number;
  output: ActivationRef;
  /** Required when `spec.epilogue.residual`. */
  residual?: ActivationRef;
  /** Address of the family's `zeroBytes` all-zero region (when it asks for one). */
  zero?: number;
  /** Address of the family's `scratchBytes` region (when it asks for one). */
  scratch?: number;
}

/** ONNX Conv weights [outC, inC / group, kH, kW] and optional bias [outC]. */
export interface ConvWeights {
  weights: Float32Array;
  bias?: Float32Array;
}

/** Output size of a convolution/pool along one axis (ONNX formula with explicit pads). */
export function convOutputSize(
  inSize: number,
  kernel: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation: number,
): number {
  return Math.floor((inSize + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * Reject conv specs no kernel can run: non-positive or non-integer sizes, strides, dilations or group, negative
 * pads. (Windows lying wholly in the padding are legal and give bias + epilogue.) Throws EdgecnnError naming
 * the field.
 */
export function checkConvSpec(s: ConvSpec, family: string): void {
  const positive = ['batch', 'inH', 'inW', 'inC', 'outH', 'outW', 'outC', 'kernelH', 'kernelW'] as const;
  for (const k of positive) {
    if (!Number.isInteger(s[k]) || s[k] < 1) {
      throw new EdgecnnError(`${family}: ${k} = ${s[k]} must be a positive integer`, 'bad-model');
    }
  }
  for (const k of ['strideH', 'strideW', 'dilationH', 'dilationW', 'group'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) {
      throw new EdgecnnError(`${family}: ${k} = ${s[k]} must be a positive integer`, 'bad-model');
    }
  }
  if (!Number.isInteger(s.padTop) || !Number.isInteger(s.padLeft) || s.padTop < 0 || s.padLeft < 0) {
    throw new EdgecnnError(`${family}: pads (${s.padTop}, ${s.padLeft}) must be non-negative integers`, 'bad-model');
  }
}
