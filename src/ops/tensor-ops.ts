/**
 * Elementwise, activation, reduction and tensor-manipulation operators: the one list registry.ts reads. Each
 * record lives in its table module (elementwise, shape-ops, constant-ops, reduce, softmax); this file only gathers them,
 * sorted by opType so that a test can check the list against CLAIMED_OPS.
 */
import { CONSTANT_OPS } from './constant-ops.js';
import { ELEMENTWISE_OPS } from './elementwise.js';
import { REDUCE_OPS } from './reduce.js';
import { SHAPE_OPS } from './shape-ops.js';
import { SOFTMAX_OPS } from './softmax.js';
import type { OpDef } from './types.js';

/** Every tensor-side OpDef, sorted by opType. */
export const TENSOR_OPS: readonly OpDef[] = [
  ...CONSTANT_OPS,
  ...ELEMENTWISE_OPS,
  ...REDUCE_OPS,
  ...SHAPE_OPS,
  ...SOFTMAX_OPS,
].sort((a, b) => (a.opType < b.opType ? -1 : a.opType > b.opType ? 1 : 0));
