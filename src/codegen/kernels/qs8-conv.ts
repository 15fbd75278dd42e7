/**
 * qs8 dense convolution (group 1, any kernel/stride/pad/dilation, incl. the 3-channel first layer) over NHWC
 * int8: the GEMM tile of qs8-gemm.ts with one reduction segment per kernel tap. Each pixel's tap pointer is
 * computed once per (tap, channel block); taps in the padding point at the packed pad row of input-zero bytes,
 * which contributes exactly zero after the zero-point correction. Tile `4x8c2`: 4 pixels x 8 channels.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { FunctionBuilder } from '../wasm/index.js';
import {
  QS8_GEMM_VARIANTS,
  type Qs8ConvAddresses,
  type Qs8ConvSpec,
  type Qs8ConvWeights,
  type Qs8GemmVariant,
  denseMacs,
  emitDense,
  packDense,
} from './qs8-gemm.js';

/** The qs8 dense conv family; ids `qs8-conv[-minmax]-<kh>x<kw>s<s>-4x8c2-wasmsimd`. */
export const qs8Conv = {
  family: 'qs8-conv',
  variants: QS8_GEMM_VARIANTS,
  supports: (s: Qs8ConvSpec, _v: Qs8GemmVariant): boolean => s.group === 1,
  id: (s: Qs8ConvSpec, v: Qs8GemmVariant): string =>
    `qs8-conv${s.outMin > -128 || s.outMax < 127 ? '-minmax' : ''}-${s.kernelH}x${s.kernelW}s${s.strideH}-${v.tile}-${v.isa}`,
  parallelExtent: (s: Qs8ConvSpec): number => s.batch * s.outH * s.outW,
  pack: (s: Qs8ConvSpec, v: Qs8GemmVariant, w: Qs8ConvWeights): Uint8Array => packDense(s, w, 'qs8-conv', v.layout),
  emit(fn: FunctionBuilder, s: Qs8ConvSpec, v: Qs8GemmVariant, a: Qs8ConvAddresses): void {
    if (s.group !== 1) throw new EdgecnnError(`qs8-conv: group ${s.group} is not supported`, 'internal');
    emitDense(fn, s, v, a, 'qs8-conv');
  },
  macs: denseMacs,
} as const;
