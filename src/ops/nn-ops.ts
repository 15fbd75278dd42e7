/** Neural-network operators (convolution, pooling, normalization, matrix products, quantization, resize). */
import type { OpDef } from './types.js';

export const NN_OPS: readonly OpDef[] = [];
