/**
 * Kernel selection: for one graph node and the layouts of its values, which kernel family and which variant
 * computes it, as a `LoweredKernel` the compiler can place (weights to pack, scratch) and emit. Selection rules
 * live here, apart from kernel code; a node no family supports returns undefined and runs on the reference
 * fallback. Relaxed-SIMD variants are chosen only when the caller says the engine has them.
 */
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { FunctionBuilder } from './wasm/index.js';
import type { ValueLayout } from './compile/assign-layouts.js';

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
  /** Packed weight buffers (copied into memory at instantiation). */
  weights: Uint8Array[];
  scratchBytes: number;
  /** Node input indices whose storage output 0 may reuse (the kernel reads each element before writing it). */
  inPlaceInputs: number[];
  usesRelaxedSimd: boolean;
  /** Emit the body of `(start: i32, end: i32) -> ()` over [start, end) of the parallel extent. */
  emit(fn: FunctionBuilder, addresses: KernelAddresses): void;
}

export interface SelectContext {
  relaxedSimd: boolean;
  /** Look up operand layouts / constants by value name. */
  operand(name: string): OperandInfo;
}

/** The kernel for `node`, or undefined when it must run on the reference fallback. */
export function selectKernel(node: Node, ctx: SelectContext): LoweredKernel | undefined {
  void node;
  void ctx;
  return undefined;
}
