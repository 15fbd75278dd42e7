/**
 * Softmax and LogSoftmax. The input is viewed as [outer, n, inner]: before opset 13 the tensor is coerced to
 * 2-D at `axis` (default 1), so n is the product of all dims from `axis` on and inner = 1; from opset 13 the
 * op normalises along the single `axis` (default -1), so n = dims[axis]. Each row subtracts its maximum before
 * exponentiating, which keeps exp from overflowing without changing the result.
 */
import { attrInt } from '../ir/graph.js';
import { sizeOf } from '../ir/tensor.js';
import { fromNumbers, nodeError, normalizeAxis, readNumbers, withFolding } from './tensor-util.js';
import type { OpDef } from './types.js';

function softmaxOp(opType: 'Softmax' | 'LogSoftmax'): OpDef {
  const log = opType === 'LogSoftmax';
  return withFolding({
    opType,
    domain: '',
    sinceVersion: 1,
    reference(inputs, ctx) {
      const x = inputs[0];
      if (x === undefined) throw nodeError(ctx, 'input 0 is missing');
      if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16') {
        throw nodeError(ctx, `input has dtype ${x.dtype}; only float types are accepted`);
      }
      const rank = x.shape.length;
      const coerce2d = ctx.opset < 13;
      const axis = normalizeAxis(attrInt(ctx.node, 'axis', coerce2d ? 1 : -1), Math.max(rank, 1), ctx);
      const outer = sizeOf(x.shape.slice(0, axis));
      const n = coerce2d ? sizeOf(x.shape.slice(axis)) : (x.shape[axis] ?? 1);
      const inner = coerce2d ? 1 : sizeOf(x.shape.slice(axis + 1));
      const v = readNumbers(x);
      const out = new Float64Array(v.length);
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < inner; i++) {
          const at = (j: number) => (o * n + j) * inner + i;
          let max = -Infinity;
          for (let j = 0; j < n; j++) max = Math.max(max, v[at(j)]!);
          let sum = 0;
          for (let j = 0; j < n; j++) sum += Math.exp(v[at(j)]! - max);
          const logSum = Math.log(sum);
          for (let j = 0; j < n; j++) {
            const d = v[at(j)]! - max;
            out[at(j)] = log ? d - logSum : Math.exp(d) / sum;
          }
        }
      return [fromNumbers(x.dtype, x.shape, out)];
    },
    inferTypes(inputs) {
      const x = inputs[0];
      return [{ dtype: x?.dtype, shape: x?.shape ? [...x.shape] : undefined }];
    },
  });
}

/** Softmax and LogSoftmax records. */
export const SOFTMAX_OPS: readonly OpDef[] = [softmaxOp('LogSoftmax'), softmaxOp('Softmax')];
