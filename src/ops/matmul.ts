/**
 * Matrix-product references. MatMul follows numpy.matmul: a 1-D A is a row [1, K] and a 1-D B a column [K, 1]
 * (the added axis is dropped from the result), and the leading batch axes broadcast. Gemm is
 * Y = alpha * op(A) @ op(B) + beta * C with A, B 2-D, op = transpose when transA/transB, and C broadcast
 * unidirectionally to [M, N]. Sums accumulate in doubles; `matmulAccumulate` is shared with MatMulInteger and
 * QLinearMatMul (quantize.ts), which pass zero-point-shifted values.
 */
import { type Dim, attrFloat, attrInt } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { fmtShape, knownSize, nodeError, numbersOf, requireInput, sameDType, tensorFromNumbers } from './nn-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/** How a batched product maps onto row-major A [..., M, K], B [..., K, N] and Y [..., M, N]. */
export interface MatMulPlan {
  M: number;
  K: number;
  N: number;
  /** Y's shape with the 1-D axes already dropped. */
  outShape: number[];
  /** For each output batch, the matrix index into A and into B (broadcast batches repeat an index). */
  aBatch: number[];
  bBatch: number[];
}

/** Broadcast two batch shapes numpy-style; null where they conflict. */
function broadcastDims(a: readonly Dim[], b: readonly Dim[]): Dim[] | null {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const y = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return null;
      out.push(x);
    } else out.push(typeof x === 'number' ? x : typeof y === 'number' ? y : x === y ? x : null);
  }
  return out;
}

/** The plan for numpy.matmul of concrete shapes, or a named error when K or the batch axes disagree. */
export function matmulPlan(aShape: readonly number[], bShape: readonly number[], ctx: OpContext): MatMulPlan {
  if (aShape.length === 0 || bShape.length === 0) throw nodeError(ctx, 'MatMul inputs must have rank >= 1');
  const a = aShape.length === 1 ? [1, aShape[0]!] : [...aShape];
  const b = bShape.length === 1 ? [bShape[0]!, 1] : [...bShape];
  const M = a[a.length - 2]!;
  const K = a[a.length - 1]!;
  const N = b[b.length - 1]!;
  if (b[b.length - 2] !== K) {
    throw nodeError(
      ctx,
      `inner dimensions differ: A ${fmtShape(aShape as number[])} and B ${fmtShape(bShape as number[])}`,
    );
  }
  const aB = a.slice(0, -2);
  const bB = b.slice(0, -2);
  const batch = broadcastDims(aB, bB) as number[] | null;
  if (batch === null) {
    throw nodeError(
      ctx,
      `batch dimensions of A ${fmtShape(aShape as number[])} and B ${fmtShape(bShape as number[])} do not broadcast`,
    );
  }
  const count = batch.reduce((x, y) => x * y, 1);
  const aBatch: number[] = [];
  const bBatch: number[] = [];
  for (let i = 0; i < count; i++) {
    // Decompose the output batch index, then re-compose it in each operand with its broadcast axes pinned to 0.
    let rest = i;
    let ai = 0;
    let bi = 0;
    let aStride = 1;
    let bStride = 1;
    for (let d = batch.length - 1; d >= 0; d--) {
      const idx = rest % batch[d]!;
      rest = Math.floor(rest / batch[d]!);
      const ad = d - (batch.length - aB.length);
      const bd = d - (batch.length - bB.length);
      if (ad >= 0) {
        ai += (aB[ad] === 1 ? 0 : idx) * aStride;
        aStride *= aB[ad]!;
      }
      if (bd >= 0) {
        bi += (bB[bd] === 1 ? 0 : idx) * bStride;
        bStride *= bB[bd]!;
      }
    }
    aBatch.push(ai);
    bBatch.push(bi);
  }
  const outShape = [...batch];
  if (aShape.length !== 1) outShape.push(M);
  if (bShape.length !== 1) outShape.push(N);
  return { M, K, N, outShape, aBatch, bBatch };
}

/** Y[b, i, j] = sum_k A[aBatch[b], i, k] * B[bBatch[b], k, j]. */
export function matmulAccumulate(a: ArrayLike<number>, b: ArrayLike<number>, p: MatMulPlan): Float64Array {
  const { M, K, N } = p;
  const y = new Float64Array(p.aBatch.length * M * N);
  for (let bt = 0; bt < p.aBatch.length; bt++) {
    const aBase = p.aBatch[bt]! * M * K;
    const bBase = p.bBatch[bt]! * K * N;
    const yBase = bt * M * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[aBase + i * K + k]! * b[bBase + k * N + j]!;
        y[yBase + i * N + j] = acc;
      }
    }
  }
  return y;
}

/** numpy.matmul's result shape over possibly unknown dims; undefined when a rank is unknown. */
export function matmulShape(a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): Dim[] | undefined {
  if (a === undefined || b === undefined || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastDims(a2.slice(0, -2), b2.slice(0, -2)) ?? a2.slice(0, -2).map(() => null);
  const out: Dim[] = [...batch];
  if (a.length !== 1) out.push(a2[a2.length - 2]!);
  if (b.length !== 1) out.push(b2[b2.length - 1]!);
  return out;
}

/** MACs of numpy.matmul: prod(Y) * K. */
export function matmulMacs(inputs: readonly (ValueType | undefined)[], outputs: readonly ValueType[]): number {
  const y = outputs[0]?.shape;
  const a = inputs[0]?.shape;
  if (y === undefined || a === undefined || a.length === 0) return 0;
  const k = a[a.length - 1];
  const n = knownSize(y);
  return n === null || typeof k !== 'number' ? 0 : n * k;
}

const MATMUL_DTYPES = ['float32', 'float64', 'float16', 'int32', 'int64', 'uint32', 'uint64'];

/** ONNX MatMul, opsets 1..21 (N-d batched with broadcasting, 1-D operands). int64 loses precision past 2^53. */
export const MatMul: OpDef = {
  opType: 'MatMul',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const a = requireInput(inputs, 0, 'A', ctx);
    const b = requireInput(inputs, 1, 'B', ctx);
    if (!MATMUL_DTYPES.includes(a.dtype))
      throw nodeError(ctx, `A must be one of ${MATMUL_DTYPES.join('/')}, got ${a.dtype}`);
    if (b.dtype !== a.dtype) throw nodeError(ctx, `B is ${b.dtype} but A is ${a.dtype}`);
    const plan = matmulPlan(a.shape, b.shape, ctx);
    return [tensorFromNumbers(a.dtype, plan.outShape, matmulAccumulate(numbersOf(a), numbersOf(b), plan))];
  },
  inferTypes: (inputs) => sameDType(inputs, matmulShape(inputs[0]?.shape, inputs[1]?.shape)),
  macs: matmulMacs,
};

function gemmDims(
  a: readonly Dim[],
  b: readonly Dim[],
  transA: boolean,
  transB: boolean,
): { M: Dim; K: Dim; N: Dim; Kb: Dim } {
  return {
    M: transA ? a[1]! : a[0]!,
    K: transA ? a[0]! : a[1]!,
    Kb: transB ? b[1]! : b[0]!,
    N: transB ? b[0]! : b[1]!,
  };
}

function gemm(inputs: readonly (Tensor | undefined)[], ctx: OpContext): Tensor[] {
  const A = requireInput(inputs, 0, 'A', ctx);
  const B = requireInput(inputs, 1, 'B', ctx);
  const C = inputs[2];
  if (!MATMUL_DTYPES.includes(A.dtype))
    throw nodeError(ctx, `A must be one of ${MATMUL_DTYPES.join('/')}, got ${A.dtype}`);
  if (B.dtype !== A.dtype) throw nodeError(ctx, `B is ${B.dtype} but A is ${A.dtype}`);
  if (A.shape.length !== 2 || B.shape.length !== 2) {
    throw nodeError(
      ctx,
      `A and B must be 2-D, got ${fmtShape(A.shape as number[])} and ${fmtShape(B.shape as number[])}`,
    );
  }
  if (C === undefined && ctx.opset < 11) throw nodeError(ctx, 'input C is required before opset 11');
  const transA = attrInt(ctx.node, 'transA', 0) !== 0;
  const transB = attrInt(ctx.node, 'transB', 0) !== 0;
  const alpha = attrFloat(ctx.node, 'alpha', 1);
  const beta = attrFloat(ctx.node, 'beta', 1);
  const { M, K, N, Kb } = gemmDims(A.shape, B.shape, transA, transB) as { M: number; K: number; N: number; Kb: number };
  if (K !== Kb) {
    throw nodeError(
      ctx,
      `inner dimensions differ: op(A) is [${M},${K}] and op(B) is [${Kb},${N}] (transA=${+transA}, transB=${+transB})`,
    );
  }
  const av = numbersOf(A);
  const bv = numbersOf(B);
  let cv: Float64Array | undefined;
  let cRowStride = 0;
  let cColStride = 0;
  if (C !== undefined) {
    // Unidirectional broadcast of C to [M, N]: right-aligned, each dim 1 or equal.
    const cs = C.shape;
    const cm = cs.length >= 2 ? cs[cs.length - 2]! : 1;
    const cn = cs.length >= 1 ? cs[cs.length - 1]! : 1;
    if (cs.length > 2 || (cm !== 1 && cm !== M) || (cn !== 1 && cn !== N)) {
      throw nodeError(ctx, `C ${fmtShape(cs as number[])} does not broadcast to [${M},${N}]`);
    }
    cv = numbersOf(C);
    cRowStride = cm === 1 ? 0 : cn;
    cColStride = cn === 1 ? 0 : 1;
  }
  const y = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? av[k * M + i]! : av[i * K + k]!;
        const b = transB ? bv[j * K + k]! : bv[k * N + j]!;
        acc += a * b;
      }
      let v = alpha * acc;
      if (cv !== undefined) v += beta * cv[i * cRowStride + j * cColStride]!;
      y[i * N + j] = v;
    }
  }
  return [tensorFromNumbers(A.dtype, [M, N], y)];
}

/** ONNX Gemm, opsets 7..21 (transA/transB, alpha/beta, C broadcast; C optional from opset 11). */
export const Gemm: OpDef = {
  opType: 'Gemm',
  domain: '',
  sinceVersion: 7,
  reference: gemm,
  inferTypes(inputs, ctx) {
    const t: ValueType = {};
    if (inputs[0]?.dtype !== undefined) t.dtype = inputs[0].dtype;
    const a = inputs[0]?.shape;
    const b = inputs[1]?.shape;
    const transA = attrInt(ctx.node, 'transA', 0) !== 0;
    const transB = attrInt(ctx.node, 'transB', 0) !== 0;
    const M = a?.length === 2 ? (transA ? a[1]! : a[0]!) : null;
    const N = b?.length === 2 ? (transB ? b[0]! : b[1]!) : null;
    t.shape = [M, N];
    return [t];
  },
  macs(inputs, outputs, ctx) {
    const a = inputs[0]?.shape;
    const y = outputs[0]?.shape;
    if (a?.length !== 2 || y === undefined) return 0;
    const k = attrInt(ctx.node, 'transA', 0) !== 0 ? a[0] : a[1];
    const n = knownSize(y);
    return n === null || typeof k !== 'number' ? 0 : n * k;
  },
};
