/**
 * One record per operator: which ONNX versions it covers, shape/dtype inference, the naive reference
 * implementation (the oracle every kernel is tested against), and its cost model for `inspect`.
 * References are written for clarity, not speed: plain loops over row-major data.
 */
import type { DType } from '../ir/dtype.js';
import type { Dim, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/** What shape inference knows about one value. `value` is set when the value is a known constant. */
export interface ValueType {
  dtype?: DType;
  shape?: Dim[];
  value?: Tensor;
}

export interface OpContext {
  node: Node;
  /** Opset version imported for the node's domain. */
  opset: number;
}

export interface OpDef {
  opType: string;
  /** '' for ONNX's default domain, 'com.microsoft', 'edgecnn', ... */
  domain: string;
  /** Oldest opset version whose semantics the record implements (the claim covers sinceVersion..21). */
  sinceVersion: number;
  /**
   * Compute the outputs from the inputs. `inputs[i]` is undefined for an omitted optional input.
   * Throws an Error naming the node for inputs it cannot handle (wrong rank, unsupported attribute value).
   */
  reference(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[];
  /**
   * Output types from input types. Returns one entry per node output; unknown parts stay undefined/null.
   * Must not throw on partially unknown inputs.
   */
  inferTypes(inputs: readonly (ValueType | undefined)[], ctx: OpContext): ValueType[];
  /** Multiply-accumulate count for concrete shapes (0 when the op does no MACs). */
  macs?(inputs: readonly (ValueType | undefined)[], outputs: readonly ValueType[], ctx: OpContext): number;
}

/** Registry key for an op: `domain:opType`, the default domain written ''. */
export function opKey(domain: string, opType: string): string {
  return `${domain === 'ai.onnx' ? '' : domain}:${opType}`;
}
