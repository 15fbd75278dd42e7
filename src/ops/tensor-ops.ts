/** Elementwise, activation, reduction and tensor-manipulation operators. */
import type { OpDef } from './types.js';

export const TENSOR_OPS: readonly OpDef[] = [];
