/**
 * Reductions as a table (REDUCE_ROWS: initial value, accumulate step, final step) plus ArgMax. Every input
 * element is sent to the output offset of its index with the reduced axes zeroed (a stride-0 index map), so
 * one loop serves every axis set. Axes come from the attribute, or from the optional input from opset 13
 * (ReduceSum) / 18 (the others); no axes means all axes unless noop_with_empty_axes is set.
 */
import { attrInt, attrInts } from '../ir/graph.js';
import type { Dim } from '../ir/graph.js';
import { type Tensor, sizeOf, stridesOf } from '../ir/tensor.js';
import {
  fromNumbers,
  hasInput,
  isNumericDType,
  nodeError,
  normalizeAxes,
  normalizeAxis,
  offsetsFromStrides,
  readInts,
  readNumbers,
  withFolding,
} from './tensor-util.js';
import type { OpContext, OpDef } from './types.js';

/** A reduction: acc = step(acc, x) from `init` over the reduced elements, then finish(acc, count). */
export interface ReduceRow {
  opType: string;
  sinceVersion: number;
  /** Opset from which axes are an input rather than an attribute. */
  axesInputSince: number;
  init: number;
  step(acc: number, x: number): number;
  finish(acc: number, count: number): number;
}

/** One row per reduction; sorted by opType. */
export const REDUCE_ROWS: readonly ReduceRow[] = [
  {
    opType: 'ReduceL2',
    sinceVersion: 1,
    axesInputSince: 18,
    init: 0,
    step: (a, x) => a + x * x,
    finish: (a) => Math.sqrt(a),
  },
  {
    opType: 'ReduceMax',
    sinceVersion: 1,
    axesInputSince: 18,
    init: -Infinity,
    step: (a, x) => (Number.isNaN(a) || x > a || Number.isNaN(x) ? x : a),
    finish: (a) => a,
  },
  {
    opType: 'ReduceMean',
    sinceVersion: 1,
    axesInputSince: 18,
    init: 0,
    step: (a, x) => a + x,
    finish: (a, c) => a / c,
  },
  { opType: 'ReduceSum', sinceVersion: 1, axesInputSince: 13, init: 0, step: (a, x) => a + x, finish: (a) => a },
];

/** Reduced axes (sorted), or 'noop' when the op must return its input; undefined when the axes input is unknown. */
function reduceAxes(
  row: ReduceRow,
  ctx: OpContext,
  rank: number,
  axesValue: Tensor | undefined,
): number[] | 'noop' | undefined {
  let axes: number[] | undefined;
  if (ctx.opset < row.axesInputSince) axes = attrInts(ctx.node, 'axes');
  else if (hasInput(ctx, 1)) {
    if (axesValue === undefined) return undefined;
    axes = readInts(axesValue, ctx, 'axes');
  }
  if (axes === undefined || axes.length === 0) {
    const noop = ctx.opset >= row.axesInputSince && attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1;
    return noop ? 'noop' : Array.from({ length: rank }, (_, i) => i);
  }
  return normalizeAxes(axes, rank, ctx).sort((a, b) => a - b);
}

function reducedDims<D extends Dim>(shape: readonly D[], axes: readonly number[], keep: boolean): (D | 1)[] {
  const out: (D | 1)[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

function reduceOp(row: ReduceRow): OpDef {
  return withFolding({
    opType: row.opType,
    domain: '',
    sinceVersion: row.sinceVersion,
    reference(inputs, ctx) {
      const x = inputs[0];
      if (x === undefined) throw nodeError(ctx, 'input 0 is missing');
      if (!isNumericDType(x.dtype)) throw nodeError(ctx, `input has dtype ${x.dtype}, which this op does not accept`);
      const axes = reduceAxes(row, ctx, x.shape.length, inputs[1]);
      if (axes === 'noop') return [x];
      if (axes === undefined) throw nodeError(ctx, 'input axes is missing');
      const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
      const keptShape = reducedDims(x.shape, axes, true);
      const outStrides = stridesOf(keptShape).map((s, i) => (axes.includes(i) ? 0 : s));
      const dst = offsetsFromStrides(x.shape, outStrides, 0);
      const n = sizeOf(keptShape);
      const acc = new Float64Array(n).fill(row.init);
      const v = readNumbers(x);
      for (let k = 0; k < v.length; k++) acc[dst[k]!] = row.step(acc[dst[k]!]!, v[k]!);
      const count = x.shape.length === 0 ? 1 : v.length / Math.max(n, 1);
      for (let k = 0; k < n; k++) acc[k] = row.finish(acc[k]!, count);
      return [fromNumbers(x.dtype, reducedDims(x.shape, axes, keep), acc)];
    },
    inferTypes(inputs, ctx) {
      const x = inputs[0];
      if (x?.shape === undefined) return [{ dtype: x?.dtype }];
      const axes = reduceAxes(row, ctx, x.shape.length, inputs[1]?.value);
      if (axes === 'noop') return [{ dtype: x.dtype, shape: [...x.shape] }];
      if (axes === undefined) return [{ dtype: x.dtype }];
      return [{ dtype: x.dtype, shape: reducedDims(x.shape, axes, attrInt(ctx.node, 'keepdims', 1) === 1) }];
    },
  });
}

/** ArgMax: int64 index of the first (or, with select_last_index, last) maximum along `axis`. */
const ARG_MAX: OpDef = withFolding({
  opType: 'ArgMax',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = inputs[0];
    if (x === undefined) throw nodeError(ctx, 'input 0 is missing');
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, ctx);
    const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
    const last = ctx.opset >= 12 && attrInt(ctx.node, 'select_last_index', 0) === 1;
    const dim = x.shape[axis]!;
    if (dim === 0) throw nodeError(ctx, `cannot take ArgMax over empty axis ${axis}`);
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const v = readNumbers(x);
    const out = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        let best = 0;
        for (let j = 1; j < dim; j++) {
          const a = v[(o * dim + j) * inner + i]!;
          const b = v[(o * dim + best) * inner + i]!;
          if (a > b || (last && a === b)) best = j;
        }
        out[o * inner + i] = best;
      }
    return [fromNumbers('int64', reducedDims(x.shape, [axis], keep), out)];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    if (x?.shape === undefined) return [{ dtype: 'int64' }];
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, ctx);
    return [{ dtype: 'int64', shape: reducedDims(x.shape, [axis], attrInt(ctx.node, 'keepdims', 1) === 1) }];
  },
});

/** Every reduction OpDef (unsorted; tensor-ops.ts sorts the full list). */
export const REDUCE_OPS: readonly OpDef[] = [...REDUCE_ROWS.map(reduceOp), ARG_MAX];
