/**
 * Normalization references over X [N, C, D1..Dr] (r >= 0): BatchNormalization in inference form
 * y = (x - mean) / sqrt(var + eps) * scale + B with per-channel statistics (or per-element ones, [C, D1..Dr],
 * for opset 7/8's spatial=0), InstanceNormalization (statistics of each (n, c) plane, population variance),
 * and LRN (across-channel window of `size` centred on c, floor((size-1)/2) channels before it).
 */
import { attrFloat, attrInt } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import {
  fmtShape,
  nodeError,
  numbersOf,
  requireFloat,
  requireInput,
  sameDType,
  tensorFromNumbers,
  unsupported,
} from './nn-util.js';
import type { OpContext, OpDef } from './types.js';

function planeOf(x: Tensor, ctx: OpContext): { batch: number; channels: number; plane: number } {
  if (x.shape.length < 2) throw nodeError(ctx, `X must be [N, C, ...], got ${fmtShape(x.shape as number[])}`);
  return { batch: x.shape[0]!, channels: x.shape[1]!, plane: x.shape.slice(2).reduce((a, b) => a * b, 1) };
}

function batchNormalization(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const x = requireInput(inputs, 0, 'X', ctx);
  requireFloat(x, 'X', ctx);
  if (ctx.opset >= 14 && attrInt(ctx.node, 'training_mode', 0) !== 0) {
    throw unsupported(ctx, 'training_mode=1 is not supported (inference only)');
  }
  if (ctx.node.outputs.slice(1).some((o) => o !== '')) {
    throw unsupported(ctx, 'the optional running-statistics outputs are training-only and not supported');
  }
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const spatial = ctx.opset < 9 ? attrInt(ctx.node, 'spatial', 1) : 1;
  const { batch, channels, plane } = planeOf(x, ctx);
  // Per-channel statistics are indexed by c; spatial=0 ones by (c, position) over the trailing dims.
  const perElement = spatial === 0;
  const want = perElement ? channels * plane : channels;
  const names = ['scale', 'B', 'mean', 'var'];
  const params = names.map((name, i) => {
    const t = requireInput(inputs, i + 1, name, ctx);
    requireFloat(t, name, ctx);
    const ok = perElement
      ? t.data.length === want && t.shape[0] === channels
      : t.shape.length === 1 && t.shape[0] === channels;
    if (!ok) {
      const expect = perElement ? `[${[channels, ...x.shape.slice(2)].join(',')}]` : `[${channels}]`;
      throw nodeError(ctx, `${name} must have shape ${expect}, got ${fmtShape(t.shape as number[])}`);
    }
    return numbersOf(t);
  });
  const [scale, bias, mean, variance] = params as [Float64Array, Float64Array, Float64Array, Float64Array];
  const xv = numbersOf(x);
  const y = new Float64Array(xv.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * plane;
      for (let i = 0; i < plane; i++) {
        const p = perElement ? c * plane + i : c;
        y[base + i] = ((xv[base + i]! - mean[p]!) / Math.sqrt(variance[p]! + eps)) * scale[p]! + bias[p]!;
      }
    }
  }
  return [tensorFromNumbers(x.dtype, x.shape, y)];
}

/** ONNX BatchNormalization in inference form, opsets 7..21 (spatial of 7/8; training_mode=0 only). */
export const BatchNormalization: OpDef = {
  opType: 'BatchNormalization',
  domain: '',
  sinceVersion: 7,
  reference: batchNormalization,
  inferTypes(inputs, ctx) {
    const y = sameDType(inputs, inputs[0]?.shape === undefined ? undefined : [...inputs[0].shape]);
    // Training-only statistics outputs (rejected by the reference) are typed like the per-channel mean.
    const stat = inputs[3]?.dtype === undefined ? {} : { dtype: inputs[3].dtype };
    return [...y, ...ctx.node.outputs.slice(1).map(() => ({ ...stat }))];
  },
};

/** ONNX InstanceNormalization, opsets 6..21. */
export const InstanceNormalization: OpDef = {
  opType: 'InstanceNormalization',
  domain: '',
  sinceVersion: 6,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, 'input', ctx);
    requireFloat(x, 'input', ctx);
    const { batch, channels, plane } = planeOf(x, ctx);
    if (x.shape.length < 3)
      throw nodeError(ctx, `input must be [N, C, D1..Dr] with r >= 1, got ${fmtShape(x.shape as number[])}`);
    const [scale, bias] = [1, 2].map((i) => {
      const name = i === 1 ? 'scale' : 'B';
      const t = requireInput(inputs, i, name, ctx);
      if (t.shape.length !== 1 || t.shape[0] !== channels)
        throw nodeError(ctx, `${name} must have shape [${channels}], got ${fmtShape(t.shape as number[])}`);
      return numbersOf(t);
    }) as [Float64Array, Float64Array];
    const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
    const xv = numbersOf(x);
    const y = new Float64Array(xv.length);
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        const base = (n * channels + c) * plane;
        let sum = 0;
        for (let i = 0; i < plane; i++) sum += xv[base + i]!;
        const mean = sum / plane;
        let sq = 0;
        for (let i = 0; i < plane; i++) sq += (xv[base + i]! - mean) ** 2;
        const inv = 1 / Math.sqrt(sq / plane + eps);
        for (let i = 0; i < plane; i++) y[base + i] = (xv[base + i]! - mean) * inv * scale[c]! + bias[c]!;
      }
    }
    return [tensorFromNumbers(x.dtype, x.shape, y)];
  },
  inferTypes: (inputs) => sameDType(inputs, inputs[0]?.shape === undefined ? undefined : [...inputs[0].shape]),
};

/** ONNX LRN (local response normalization across channels), opsets 1..21. */
export const LRN: OpDef = {
  opType: 'LRN',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, 'X', ctx);
    requireFloat(x, 'X', ctx);
    const size = attrInt(ctx.node, 'size');
    if (size === undefined || !(size >= 1)) throw nodeError(ctx, `size attribute must be a positive int, got ${size}`);
    const alpha = attrFloat(ctx.node, 'alpha', 1e-4);
    const beta = attrFloat(ctx.node, 'beta', 0.75);
    const bias = attrFloat(ctx.node, 'bias', 1);
    const { batch, channels, plane } = planeOf(x, ctx);
    const before = Math.floor((size - 1) / 2);
    const after = Math.ceil((size - 1) / 2);
    const xv = numbersOf(x);
    const y = new Float64Array(xv.length);
    for (let n = 0; n < batch; n++) {
      for (let c = 0; c < channels; c++) {
        const lo = Math.max(0, c - before);
        const hi = Math.min(channels - 1, c + after);
        for (let i = 0; i < plane; i++) {
          let sq = 0;
          for (let j = lo; j <= hi; j++) sq += xv[(n * channels + j) * plane + i]! ** 2;
          const at = (n * channels + c) * plane + i;
          y[at] = xv[at]! / (bias + (alpha / size) * sq) ** beta;
        }
      }
    }
    return [tensorFromNumbers(x.dtype, x.shape, y)];
  },
  inferTypes: (inputs) => sameDType(inputs, inputs[0]?.shape === undefined ? undefined : [...inputs[0].shape]),
};
