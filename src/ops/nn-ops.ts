/** Neural-network operators (convolution, pooling, normalization, matrix products, quantization, resize). */
import { Conv, ConvTranspose } from './conv.js';
import { Gemm, MatMul } from './matmul.js';
import { BatchNormalization, InstanceNormalization, LRN } from './norm.js';
import { AveragePool, GlobalAveragePool, GlobalMaxPool, MaxPool } from './pool.js';
import {
  ConvInteger,
  DequantizeLinear,
  MatMulInteger,
  QLinearConv,
  QLinearMatMul,
  QuantizeLinear,
} from './quantize.js';
import { Resize, Upsample } from './resize.js';
import type { OpDef } from './types.js';

/** Every NN op record, sorted by opType (a test checks the order). */
export const NN_OPS: readonly OpDef[] = [
  AveragePool,
  BatchNormalization,
  Conv,
  ConvInteger,
  ConvTranspose,
  DequantizeLinear,
  Gemm,
  GlobalAveragePool,
  GlobalMaxPool,
  InstanceNormalization,
  LRN,
  MatMul,
  MatMulInteger,
  MaxPool,
  QLinearConv,
  QLinearMatMul,
  QuantizeLinear,
  Resize,
  Upsample,
];
