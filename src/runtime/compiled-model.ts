/**
 * The contract between the compiler (src/codegen/compile/) and the runtime: a CompiledModel is plain data (wasm
 * bytes, a static memory layout, and a schedule of steps), so the runtime can execute it without importing any
 * compiler code. Memory map: [0, weightsOffset) reserved, then packed weights, then the activation arena, then
 * kernel scratch. Float32 activations live in the arena, rank-4 ones as NHWC with a pixel stride (elements
 * between consecutive pixels) so that a tensor can be a channel slice of a wider one; other dtypes live on
 * the JS side (only reference fallbacks touch them).
 */
import type { DType } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/**
 * Where a value lives. `nhwc`: logical NCHW shape [N,C,H,W], element (n,c,h,w) at byte
 * `offsetBytes + 4 * (((n*H + h)*W + w) * pixelStride + c)` (offsetBytes already includes the channel
 * offset inside a wider tensor). `flat`: row-major float32 at offsetBytes. `js`: held in a JS map by name.
 */
export type ValuePlacement =
  | { name: string; dtype: 'float32'; shape: number[]; layout: 'nhwc'; offsetBytes: number; pixelStride: number }
  | { name: string; dtype: 'float32'; shape: number[]; layout: 'flat'; offsetBytes: number }
  | { name: string; dtype: DType; shape: number[]; layout: 'js' };

/** Cost and identity fields common to every step (profiler rows, `inspect`). */
export interface StepInfo {
  /** Kernel id (`f32-conv-relu-4x16-wasmsimd`), or `ref-<OpType>` for a reference fallback. */
  kernelId: string;
  nodeName: string;
  opType: string;
  macs: number;
  /** Bytes read and written by the step (activations and weights), for roofline estimates. */
  bytesMoved: number;
  /** The step computes more than one graph node (fused epilogue, or several nodes folded into it). */
  fused: boolean;
}

/** A generated kernel: call `exportName(start, end)` over [0, parallelExtent). */
export interface KernelStep extends StepInfo {
  kind: 'kernel';
  exportName: string;
  parallelExtent: number;
}

/** A node run by its naive reference implementation, reading and writing the arena with layout conversion. */
export interface FallbackStep extends StepInfo {
  kind: 'fallback';
  node: Node;
  opset: number;
  /** Per node input: a placement, a constant, or undefined for an omitted optional input. */
  inputs: ({ placement: ValuePlacement } | { constant: Tensor } | undefined)[];
  /** Per node output: where to store it (undefined when the output is unused). */
  outputs: (ValuePlacement | undefined)[];
}

export type CompiledStep = KernelStep | FallbackStep;

export interface ArenaSummary {
  offsetBytes: number;
  arenaBytes: number;
  lowerBoundBytes: number;
}

export interface CompiledModel {
  /** One module importing `env.memory`; exports one function per kernel step. */
  wasm: Uint8Array;
  /** Linear memory size the module needs (a multiple of 64 KiB). */
  memoryBytes: number;
  /** Packed weights to copy into memory at instantiation. */
  weights: { offsetBytes: number; data: Uint8Array }[];
  arena: ArenaSummary;
  steps: CompiledStep[];
  /** Graph inputs in order, with their placement (the runtime converts NCHW to it) and declared shape. */
  inputs: ValuePlacement[];
  /** Graph outputs in order; outputs that are constants are given as tensors. */
  outputs: (ValuePlacement | { name: string; constant: Tensor })[];
  /** Names of nodes run by the reference fallback. */
  fallbackNodes: string[];
  /** Whether the module uses relaxed SIMD (needs the engine feature). */
  usesRelaxedSimd: boolean;
  /**
   * The reading of the relaxed int8 dot-add's b (`WasmFeatures.relaxedDotB`) that the module's `-wasmusdot` /
   * `-wasmsdot` kernels rely on; absent when it has none. An engine that reads it otherwise computes wrong sums.
   */
  relaxedDotB?: 'unsigned' | 'signed';
}
