/**
 * Data-movement operators: every reference computes, for each output element, the flat offset of its source
 * element (tensor-util index maps) and gathers, so values are copied, never converted. Attributes that later opsets moved to inputs (Slice 10, Pad 11, Squeeze/Unsqueeze/Split 13) are read
 * from whichever the node's opset uses. Shape inference works on partially known `Dim`s and uses constant
 * input values (shapes, axes, starts) when known; small all-constant nodes are folded by `withFolding`.
 */
import { allocData } from '../ir/dtype.js';
import { type Dim, attrFloat, attrInt, attrInts, attrString } from '../ir/graph.js';
import { type Tensor, makeTensor, sizeOf, stridesOf } from '../ir/tensor.js';
import {
  broadcastDims,
  broadcastOffsets,
  broadcastShapes,
  checkedSize,
  copyElems,
  dimProduct,
  fromNumbers,
  gatherByOffsets,
  hasInput,
  nodeError,
  normalizeAxes,
  normalizeAxis,
  offsetsFromAxisMaps,
  offsetsFromStrides,
  readInts,
  readNumbers,
  requireInput,
  withFolding,
} from './tensor-util.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/**
 * An integer list that is an attribute before opset `inputSince` and input `index` from it on. Undefined when
 * absent; in inference also when the input's value is unknown (check `known`).
 */
function intsParam(
  ctx: OpContext,
  attr: string,
  index: number,
  inputSince: number,
  value: Tensor | undefined,
): { known: boolean; ints: number[] | undefined } {
  if (ctx.opset < inputSince) return { known: true, ints: attrInts(ctx.node, attr) };
  if (!hasInput(ctx, index)) return { known: true, ints: undefined };
  if (value === undefined) return { known: false, ints: undefined };
  return { known: true, ints: readInts(value, ctx, attr) };
}

// ---------------------------------------------------------------------------------------------------------
// Shape, Concat, Split, Slice, Gather

function shapeRange(rank: number, ctx: OpContext): [number, number] {
  const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clampAxis(attrInt(ctx.node, 'start', 0));
  const endAttr = attrInt(ctx.node, 'end');
  const end = endAttr === undefined ? rank : clampAxis(endAttr);
  return [start, Math.max(start, end)];
}

/** Shape's output value needs only the input's shape, so it folds even when the input's data is unknown. */
const SHAPE: OpDef = {
  opType: 'Shape',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const [s, e] = shapeRange(x.shape.length, ctx);
    const dims = x.shape.slice(s, e);
    return [fromNumbers('int64', [dims.length], dims)];
  },
  inferTypes(inputs, ctx) {
    const shape = inputs[0]?.shape;
    if (shape === undefined) return [{ dtype: 'int64', shape: [null] }];
    const [s, e] = shapeRange(shape.length, ctx);
    const dims = shape.slice(s, e);
    const out: ValueType = { dtype: 'int64', shape: [dims.length] };
    if (dims.every((d) => typeof d === 'number')) out.value = fromNumbers('int64', [dims.length], dims as number[]);
    return [out];
  },
};

function concatAxis(ctx: OpContext): number {
  const axis = attrInt(ctx.node, 'axis');
  if (axis === undefined) throw nodeError(ctx, "attribute 'axis' is required");
  return axis;
}

const CONCAT: OpDef = withFolding({
  opType: 'Concat',
  domain: '',
  sinceVersion: 4,
  reference(inputs, ctx) {
    const xs = inputs.filter((t): t is Tensor => t !== undefined);
    if (xs.length === 0) throw nodeError(ctx, 'needs at least one input');
    const first = xs[0]!;
    const rank = first.shape.length;
    const axis = normalizeAxis(concatAxis(ctx), rank, ctx);
    for (const x of xs) {
      if (x.dtype !== first.dtype) throw nodeError(ctx, `inputs mix dtypes ${first.dtype} and ${x.dtype}`);
      const ok = x.shape.length === rank && x.shape.every((d, i) => i === axis || d === first.shape[i]);
      if (!ok) {
        throw nodeError(
          ctx,
          `input shapes [${first.shape.join(',')}] and [${x.shape.join(',')}] differ off axis ${axis}`,
        );
      }
    }
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    const outer = sizeOf(first.shape.slice(0, axis));
    const out = allocData(first.dtype, sizeOf(shape));
    const rowLen = sizeOf(shape.slice(axis));
    let colOff = 0;
    for (const x of xs) {
      const chunk = sizeOf(x.shape.slice(axis));
      for (let o = 0; o < outer; o++) copyElems(out, o * rowLen + colOff, x.data, o * chunk, chunk);
      colOff += chunk;
    }
    return [makeTensor(first.dtype, shape, out)];
  },
  inferTypes(inputs, ctx) {
    const xs = inputs.filter((t, i) => ctx.node.inputs[i] !== '' && t !== undefined) as ValueType[];
    const dtype = xs.find((x) => x.dtype)?.dtype;
    const withShape = xs.find((x) => x.shape !== undefined);
    if (withShape === undefined || xs.length !== ctx.node.inputs.filter((n) => n !== '').length) {
      return [{ dtype, shape: withShape ? withShape.shape!.map(() => null) : undefined }];
    }
    const rank = withShape.shape!.length;
    const axis = normalizeAxis(concatAxis(ctx), rank, ctx);
    const shape: Dim[] = [];
    for (let i = 0; i < rank; i++) {
      if (i === axis) {
        const ds = xs.map((x) => x.shape?.[i]);
        shape.push(ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((a, b) => a + b, 0) : null);
      } else {
        const ds = xs.map((x) => x.shape?.[i]).filter((d) => d !== undefined && d !== null);
        shape.push(ds.find((d) => typeof d === 'number') ?? ds[0] ?? null);
      }
    }
    return [{ dtype, shape }];
  },
});

/** Split sizes along an axis of length `dim`: explicit, num_outputs (opset 18, last chunk smaller), or equal. */
function splitSizes(ctx: OpContext, dim: number, split: number[] | undefined): number[] {
  const count = ctx.node.outputs.length;
  if (split !== undefined && split.length > 0) {
    if (split.length !== count) throw nodeError(ctx, `split has ${split.length} entries for ${count} outputs`);
    if (split.reduce((a, b) => a + b, 0) !== dim || split.some((s) => s < 0)) {
      throw nodeError(ctx, `split [${split.join(',')}] does not sum to the axis length ${dim}`);
    }
    return split;
  }
  const numOutputs = ctx.opset >= 18 ? attrInt(ctx.node, 'num_outputs') : undefined;
  if (numOutputs !== undefined) {
    if (numOutputs !== count) throw nodeError(ctx, `num_outputs ${numOutputs} but the node has ${count} outputs`);
    const chunk = Math.ceil(dim / numOutputs);
    return Array.from({ length: numOutputs }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  }
  if (dim % count !== 0) throw nodeError(ctx, `axis length ${dim} does not split evenly into ${count} outputs`);
  return new Array<number>(count).fill(dim / count);
}

const SPLIT: OpDef = withFolding({
  opType: 'Split',
  domain: '',
  sinceVersion: 2,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, ctx);
    const split = intsParam(ctx, 'split', 1, 13, inputs[1]).ints;
    const sizes = splitSizes(ctx, x.shape[axis]!, split);
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    let start = 0;
    return sizes.map((len) => {
      const shape = [...x.shape];
      shape[axis] = len;
      const out = allocData(x.dtype, sizeOf(shape));
      for (let o = 0; o < outer; o++) {
        copyElems(out, o * len * inner, x.data, (o * x.shape[axis]! + start) * inner, len * inner);
      }
      start += len;
      return makeTensor(x.dtype, shape, out);
    });
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const count = ctx.node.outputs.length;
    const unknown = (): ValueType[] =>
      Array.from({ length: count }, () => ({ dtype: x?.dtype, shape: x?.shape?.map(() => null) }));
    if (x?.shape === undefined) return unknown();
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape.length, ctx);
    const p = intsParam(ctx, 'split', 1, 13, inputs[1]?.value);
    const dim = x.shape[axis];
    if (!p.known || (typeof dim !== 'number' && p.ints === undefined)) return unknown();
    const sizes = p.ints ?? splitSizes(ctx, dim as number, undefined);
    return sizes.map((len) => {
      const shape = [...x.shape!];
      shape[axis] = len;
      return { dtype: x.dtype, shape };
    });
  },
});

/** First index and count that Slice selects on an axis of length `dim` (ONNX clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): [number, number] {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
  } else {
    start = Math.min(Math.max(start, 0), dim - 1);
    end = Math.min(Math.max(end, -1), dim - 1);
  }
  return [start, Math.max(0, Math.ceil((end - start) / step))];
}

interface SliceParams {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

/** Slice parameters from attributes (opset < 10) or inputs; undefined when an input value is unknown. */
function sliceParams(ctx: OpContext, rank: number, vals: readonly (Tensor | undefined)[]): SliceParams | undefined {
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(ctx.node, 'starts');
    ends = attrInts(ctx.node, 'ends');
    axes = attrInts(ctx.node, 'axes');
    if (starts === undefined || ends === undefined) throw nodeError(ctx, "attributes 'starts' and 'ends' are required");
  } else {
    const read = (i: number, what: string): number[] | undefined | null => {
      if (!hasInput(ctx, i)) return undefined;
      const v = vals[i];
      return v === undefined ? null : readInts(v, ctx, what);
    };
    const s = read(1, 'starts');
    const e = read(2, 'ends');
    const a = read(3, 'axes');
    const st = read(4, 'steps');
    if (s === null || e === null || a === null || st === null) return undefined;
    if (s === undefined || e === undefined) throw nodeError(ctx, 'inputs starts and ends are required');
    [starts, ends, axes, steps] = [s, e, a, st];
  }
  const n = starts.length;
  axes ??= Array.from({ length: n }, (_, i) => i);
  steps ??= new Array<number>(n).fill(1);
  if (ends.length !== n || axes.length !== n || steps.length !== n) {
    throw nodeError(
      ctx,
      `starts, ends, axes and steps must have equal lengths (${n}, ${ends.length}, ${axes.length}, ${steps.length})`,
    );
  }
  if (steps.some((s) => s === 0)) throw nodeError(ctx, 'steps must not be zero');
  return { starts, ends, axes: normalizeAxes(axes, rank, ctx), steps };
}

const SLICE: OpDef = withFolding({
  opType: 'Slice',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const p = sliceParams(ctx, x.shape.length, inputs)!;
    const maps = x.shape.map((d) => Int32Array.from({ length: d }, (_, i) => i));
    const shape = [...x.shape];
    p.axes.forEach((a, i) => {
      const [first, count] = sliceRange(x.shape[a]!, p.starts[i]!, p.ends[i]!, p.steps[i]!);
      shape[a] = count;
      maps[a] = Int32Array.from({ length: count }, (_, k) => first + k * p.steps[i]!);
    });
    return [gatherByOffsets(x, shape, offsetsFromAxisMaps(shape, x.shape, maps))];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    if (x?.shape === undefined) return [{ dtype: x?.dtype }];
    const p = sliceParams(
      ctx,
      x.shape.length,
      inputs.map((t) => t?.value),
    );
    if (p === undefined) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    const shape = [...x.shape];
    p.axes.forEach((a, i) => {
      const d = x.shape![a];
      shape[a] = typeof d === 'number' ? sliceRange(d, p.starts[i]!, p.ends[i]!, p.steps[i]!)[1] : null;
    });
    return [{ dtype: x.dtype, shape }];
  },
});

const GATHER: OpDef = withFolding({
  opType: 'Gather',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const data = requireInput(inputs, 0, ctx);
    const indices = requireInput(inputs, 1, ctx);
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32') {
      throw nodeError(ctx, `indices must be int32 or int64, got ${indices.dtype}`);
    }
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), data.shape.length, ctx);
    const dim = data.shape[axis]!;
    const idx = readNumbers(indices).map((v) => {
      const j = v < 0 ? v + dim : v;
      if (j < 0 || j >= dim) throw nodeError(ctx, `index ${v} is out of range for axis ${axis} of length ${dim}`);
      return j;
    });
    const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
    const outer = sizeOf(data.shape.slice(0, axis));
    const inner = sizeOf(data.shape.slice(axis + 1));
    const offs = new Int32Array(outer * idx.length * inner);
    let k = 0;
    for (let o = 0; o < outer; o++) {
      for (const j of idx) for (let i = 0; i < inner; i++) offs[k++] = (o * dim + j) * inner + i;
    }
    return [gatherByOffsets(data, shape, offs)];
  },
  inferTypes(inputs, ctx) {
    const data = inputs[0];
    const ind = inputs[1];
    if (data?.shape === undefined || ind?.shape === undefined) return [{ dtype: data?.dtype }];
    const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), data.shape.length, ctx);
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...ind.shape, ...data.shape.slice(axis + 1)] }];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile

/** Reshape's target: 0 copies the input dim (unless allowzero), one -1 takes the remaining size. */
function reshapeDims(inDims: readonly Dim[], target: readonly number[], allowZero: boolean, ctx: OpContext): Dim[] {
  if (target.filter((d) => d === -1).length > 1)
    throw nodeError(ctx, `shape [${target.join(',')}] has more than one -1`);
  const out: Dim[] = target.map((d, i) => {
    if (d < -1) throw nodeError(ctx, `shape [${target.join(',')}] has an invalid dimension ${d}`);
    if (d === 0 && !allowZero) {
      if (i >= inDims.length) throw nodeError(ctx, `shape [${target.join(',')}] copies dim ${i} the input lacks`);
      return inDims[i]!;
    }
    return d;
  });
  const total = dimProduct(inDims);
  const hole = out.indexOf(-1);
  if (hole >= 0) {
    const rest = dimProduct(out.filter((_, i) => i !== hole));
    if (total !== null && rest !== null) {
      if (rest === 0 || total % rest !== 0) {
        throw nodeError(ctx, `cannot reshape [${inDims.join(',')}] to [${target.join(',')}]`);
      }
      out[hole] = total / rest;
    } else
      out[hole] = symbolicQuotient(
        inDims,
        out.filter((_, i) => i !== hole),
      );
  } else {
    const p = dimProduct(out);
    if (total !== null && p !== null && p !== total) {
      throw nodeError(ctx, `cannot reshape [${inDims.join(',')}] (${total} elements) to [${target.join(',')}]`);
    }
  }
  return out;
}

/**
 * total(num) / total(den) when the symbolic dims on both sides are the same multiset (they cancel), as for
 * Reshape [N, 3, 4] -> [0, -1] = [N, 12]; null otherwise.
 */
function symbolicQuotient(num: readonly Dim[], den: readonly Dim[]): Dim {
  const syms = (ds: readonly Dim[]) => ds.filter((d) => typeof d !== 'number');
  const a = syms(num);
  const b = syms(den);
  if (a.includes(null) || b.includes(null) || a.length !== b.length) return null;
  const sa = (a as string[]).sort().join('\u0000');
  const sb = (b as string[]).sort().join('\u0000');
  if (sa !== sb) return null;
  const p = dimProduct(num.filter((d) => typeof d === 'number'))!;
  const q = dimProduct(den.filter((d) => typeof d === 'number'))!;
  return q !== 0 && p % q === 0 ? p / q : null;
}

/** Product of dims, keeping a lone symbol ([N, 1] -> N) so that Flatten of a batch dim stays symbolic. */
function dimsProduct(ds: readonly Dim[]): Dim {
  const syms = ds.filter((d) => typeof d !== 'number');
  const nums = dimProduct(ds.filter((d) => typeof d === 'number'))!;
  if (syms.length === 0) return nums;
  return syms.length === 1 && nums === 1 ? syms[0]! : null;
}

/** A view with a new shape: the same data, since every layout here is row-major. */
function withShape(x: Tensor, shape: readonly number[]): Tensor {
  return makeTensor(x.dtype, shape, x.data);
}

const RESHAPE: OpDef = withFolding({
  opType: 'Reshape',
  domain: '',
  sinceVersion: 5,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const target = readInts(requireInput(inputs, 1, ctx), ctx, 'shape');
    const allowZero = ctx.opset >= 14 && attrInt(ctx.node, 'allowzero', 0) === 1;
    return [withShape(x, reshapeDims(x.shape, target, allowZero, ctx) as number[])];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const s = inputs[1];
    if (s?.value !== undefined && x?.shape !== undefined) {
      const allowZero = ctx.opset >= 14 && attrInt(ctx.node, 'allowzero', 0) === 1;
      return [{ dtype: x.dtype, shape: reshapeDims(x.shape, readInts(s.value, ctx, 'shape'), allowZero, ctx) }];
    }
    if (s?.value !== undefined) {
      const t = readInts(s.value, ctx, 'shape');
      return [{ dtype: x?.dtype, shape: t.map((d) => (d > 0 ? d : null)) }];
    }
    const len = s?.shape?.[0];
    return [{ dtype: x?.dtype, shape: typeof len === 'number' ? new Array<Dim>(len).fill(null) : undefined }];
  },
});

function flattenDims(shape: readonly Dim[], ctx: OpContext): Dim[] {
  const r = shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < -r || axis > r) throw nodeError(ctx, `axis ${axis} is out of range for rank ${r}`);
  if (axis < 0) axis += r;
  return [dimsProduct(shape.slice(0, axis)), dimsProduct(shape.slice(axis))];
}

const FLATTEN: OpDef = withFolding({
  opType: 'Flatten',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    return [withShape(x, flattenDims(x.shape, ctx) as number[])];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    return [{ dtype: x?.dtype, shape: x?.shape ? flattenDims(x.shape, ctx) : [null, null] }];
  },
});

/**
 * Squeeze and Unsqueeze: a reshape whose new dims follow from `axes` (an attribute before opset 13, input 1
 * from it on). Inference gives only the dtype while the shape or the axes are unknown.
 */
function axesReshapeOp(
  opType: string,
  dims: (shape: readonly Dim[], axes: number[] | undefined, ctx: OpContext) => Dim[] | undefined,
): OpDef {
  return withFolding({
    opType,
    domain: '',
    sinceVersion: 1,
    reference(inputs, ctx) {
      const x = requireInput(inputs, 0, ctx);
      const axes = intsParam(ctx, 'axes', 1, 13, inputs[1]).ints;
      return [withShape(x, dims(x.shape, axes, ctx) as number[])];
    },
    inferTypes(inputs, ctx) {
      const x = inputs[0];
      const p = intsParam(ctx, 'axes', 1, 13, inputs[1]?.value);
      if (x?.shape === undefined || !p.known) return [{ dtype: x?.dtype }];
      return [{ dtype: x.dtype, shape: dims(x.shape, p.ints, ctx) }];
    },
  });
}

function squeezeDims(shape: readonly Dim[], axes: number[] | undefined, ctx: OpContext): Dim[] | undefined {
  if (axes === undefined || axes.length === 0) {
    if (shape.some((d) => typeof d !== 'number')) return undefined;
    return shape.filter((d) => d !== 1);
  }
  const ax = normalizeAxes(axes, shape.length, ctx);
  for (const a of ax) {
    if (typeof shape[a] === 'number' && shape[a] !== 1) {
      throw nodeError(ctx, `cannot squeeze axis ${a} of size ${shape[a]}`);
    }
  }
  return shape.filter((_, i) => !ax.includes(i));
}

const SQUEEZE = axesReshapeOp('Squeeze', squeezeDims);

function unsqueezeDims(shape: readonly Dim[], axes: number[] | undefined, ctx: OpContext): Dim[] {
  if (axes === undefined) throw nodeError(ctx, 'axes are required');
  const r = shape.length + axes.length;
  const ax = normalizeAxes(axes, r, ctx);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(ax.includes(i) ? 1 : shape[j++]!);
  return out;
}

const UNSQUEEZE = axesReshapeOp('Unsqueeze', unsqueezeDims);

function transposePerm(rank: number, ctx: OpContext): number[] {
  const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw nodeError(ctx, `perm [${perm.join(',')}] is not a permutation of ${rank} axes`);
  }
  return perm;
}

const TRANSPOSE: OpDef = withFolding({
  opType: 'Transpose',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const perm = transposePerm(x.shape.length, ctx);
    const st = stridesOf(x.shape);
    const shape = perm.map((p) => x.shape[p]!);
    return [
      gatherByOffsets(
        x,
        shape,
        offsetsFromStrides(
          shape,
          perm.map((p) => st[p]!),
          0,
        ),
      ),
    ];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    if (x?.shape === undefined) return [{ dtype: x?.dtype }];
    const shape = x.shape;
    return [{ dtype: x.dtype, shape: transposePerm(shape.length, ctx).map((p) => shape[p]!) }];
  },
});

const EXPAND: OpDef = withFolding({
  opType: 'Expand',
  domain: '',
  sinceVersion: 8,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const target = readInts(requireInput(inputs, 1, ctx), ctx, 'shape');
    const shape = broadcastShapes([x.shape, target], ctx);
    return [gatherByOffsets(x, shape, broadcastOffsets(x.shape, shape))];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const s = inputs[1];
    if (s?.value !== undefined) {
      return [{ dtype: x?.dtype, shape: broadcastDims([x?.shape, readInts(s.value, ctx, 'shape')], ctx) }];
    }
    return [{ dtype: x?.dtype }];
  },
});

const TILE: OpDef = withFolding({
  opType: 'Tile',
  domain: '',
  sinceVersion: 6,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const reps = readInts(requireInput(inputs, 1, ctx), ctx, 'repeats');
    if (reps.length !== x.shape.length || reps.some((r) => r < 0)) {
      throw nodeError(ctx, `repeats [${reps.join(',')}] must be ${x.shape.length} non-negative counts`);
    }
    const shape = x.shape.map((d, i) => d * reps[i]!);
    checkedSize(shape, ctx);
    const maps = shape.map((n, a) => Int32Array.from({ length: n }, (_, o) => o % x.shape[a]!));
    return [gatherByOffsets(x, shape, offsetsFromAxisMaps(shape, x.shape, maps))];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const r = inputs[1]?.value;
    if (x?.shape === undefined) return [{ dtype: x?.dtype }];
    if (r === undefined) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    const reps = readInts(r, ctx, 'repeats');
    return [
      {
        dtype: x.dtype,
        shape: x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i]! : reps[i] === 1 ? d : null)),
      },
    ];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Pad, DepthToSpace, SpaceToDepth

const PAD_MODES = ['constant', 'reflect', 'edge', 'wrap'] as const;
type PadMode = (typeof PAD_MODES)[number];

interface PadParams {
  mode: PadMode;
  /** Per axis [begin, end]; negative values crop. */
  pads: [number, number][];
}

/** Pad amounts from the attribute (opset < 11) or the pads/axes inputs; undefined when a value is unknown. */
function padParams(ctx: OpContext, rank: number, vals: readonly (Tensor | undefined)[]): PadParams | undefined {
  const mode = attrString(ctx.node, 'mode', 'constant') as PadMode;
  if (!PAD_MODES.includes(mode)) throw nodeError(ctx, `mode '${mode}' is not one of ${PAD_MODES.join(', ')}`);
  let flat: number[];
  let axes = Array.from({ length: rank }, (_, i) => i);
  if (ctx.opset < 11) {
    flat = attrInts(ctx.node, 'pads') ?? attrInts(ctx.node, 'paddings', []);
  } else {
    if (!hasInput(ctx, 1)) throw nodeError(ctx, 'input pads is required');
    if (vals[1] === undefined) return undefined;
    flat = readInts(vals[1], ctx, 'pads');
    if (ctx.opset >= 18 && hasInput(ctx, 3)) {
      if (vals[3] === undefined) return undefined;
      axes = normalizeAxes(readInts(vals[3], ctx, 'axes'), rank, ctx);
    }
  }
  if (flat.length !== 2 * axes.length) {
    throw nodeError(ctx, `pads has ${flat.length} values, expected ${2 * axes.length}`);
  }
  const pads: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
  axes.forEach((a, i) => (pads[a] = [flat[i]!, flat[i + axes.length]!]));
  return { mode, pads };
}

/** Source coordinate for each output coordinate on one axis; -1 for constant fill. */
function padAxisMap(n: number, begin: number, end: number, mode: PadMode, ctx: OpContext): Int32Array {
  // Negative pads crop first; the remaining positive pads extend the cropped range.
  const cropB = Math.max(0, -begin);
  const m = n - cropB - Math.max(0, -end);
  const padB = Math.max(0, begin);
  const outLen = m + padB + Math.max(0, end);
  if (m < 0 || outLen < 0) throw nodeError(ctx, `pads [${begin}, ${end}] crop more than the axis length ${n}`);
  checkedSize([outLen], ctx);
  if (m === 0 && outLen > 0 && mode !== 'constant') throw nodeError(ctx, `cannot ${mode}-pad an empty axis`);
  const map = new Int32Array(outLen);
  for (let o = 0; o < outLen; o++) {
    let i = o - padB;
    if (i < 0 || i >= m) {
      if (mode === 'constant') {
        map[o] = -1;
        continue;
      }
      if (mode === 'edge') i = i < 0 ? 0 : m - 1;
      else if (mode === 'wrap') i = ((i % m) + m) % m;
      else if (m === 1) i = 0;
      else {
        // reflect without repeating the edge: period 2(m-1), folded back into [0, m).
        const p = 2 * (m - 1);
        i = ((i % p) + p) % p;
        if (i >= m) i = p - i;
      }
    }
    map[o] = i + cropB;
  }
  return map;
}

const PAD: OpDef = withFolding({
  opType: 'Pad',
  domain: '',
  sinceVersion: 2,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const p = padParams(ctx, x.shape.length, inputs)!;
    const maps = x.shape.map((n, a) => padAxisMap(n, p.pads[a]![0], p.pads[a]![1], p.mode, ctx));
    const shape = maps.map((m) => m.length);
    checkedSize(shape, ctx);
    let fill: number | bigint | string = 0;
    if (ctx.opset < 11) fill = fromNumbers(x.dtype, [], [attrFloat(ctx.node, 'value', 0)]).data[0]!;
    else if (inputs[2] !== undefined && inputs[2].data.length > 0) {
      if (inputs[2].dtype !== x.dtype)
        throw nodeError(ctx, `constant_value dtype ${inputs[2].dtype} is not ${x.dtype}`);
      fill = inputs[2].data[0]!;
    } else fill = fromNumbers(x.dtype, [], [0]).data[0]!;
    return [gatherByOffsets(x, shape, offsetsFromAxisMaps(shape, x.shape, maps), fill)];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    if (x?.shape === undefined) return [{ dtype: x?.dtype }];
    const p = padParams(
      ctx,
      x.shape.length,
      inputs.map((t) => t?.value),
    );
    if (p === undefined) return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
    const shape = x.shape.map((d, a) => {
      const [b, e] = p.pads[a]!;
      return typeof d === 'number' ? d + b + e : b === 0 && e === 0 ? d : null;
    });
    return [{ dtype: x.dtype, shape }];
  },
});

function blockSize(ctx: OpContext): number {
  const b = attrInt(ctx.node, 'blocksize');
  if (b === undefined || b < 1) throw nodeError(ctx, `attribute 'blocksize' must be a positive integer, got ${b}`);
  return b;
}

function need4d(x: Tensor, ctx: OpContext): [number, number, number, number] {
  if (x.shape.length !== 4) throw nodeError(ctx, `input must be 4-D NCHW, got shape [${x.shape.join(',')}]`);
  return x.shape as unknown as [number, number, number, number];
}

const DEPTH_TO_SPACE: OpDef = withFolding({
  opType: 'DepthToSpace',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const [N, C, H, W] = need4d(x, ctx);
    const b = blockSize(ctx);
    const crd = ctx.opset >= 11 && attrString(ctx.node, 'mode', 'DCR') === 'CRD';
    if (C % (b * b) !== 0) throw nodeError(ctx, `channels ${C} are not divisible by blocksize^2 = ${b * b}`);
    const c2 = C / (b * b);
    const shape = [N, c2, H * b, W * b];
    const offs = new Int32Array(sizeOf(shape));
    let k = 0;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < c2; c++)
        for (let y = 0; y < H * b; y++)
          for (let xx = 0; xx < W * b; xx++) {
            const i = y % b;
            const j = xx % b;
            // DCR: depth is (blockRow, blockCol, channel); CRD: (channel, blockRow, blockCol).
            const src = crd ? c * b * b + i * b + j : (i * b + j) * c2 + c;
            offs[k++] = ((n * C + src) * H + Math.floor(y / b)) * W + Math.floor(xx / b);
          }
    return [gatherByOffsets(x, shape, offs)];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const s = x?.shape;
    if (s === undefined || s.length !== 4) return [{ dtype: x?.dtype, shape: [null, null, null, null] }];
    const b = blockSize(ctx);
    const m = (d: Dim, f: number) => (typeof d === 'number' ? d * f : null);
    return [
      { dtype: x!.dtype, shape: [s[0]!, typeof s[1] === 'number' ? s[1] / (b * b) : null, m(s[2]!, b), m(s[3]!, b)] },
    ];
  },
});

const SPACE_TO_DEPTH: OpDef = withFolding({
  opType: 'SpaceToDepth',
  domain: '',
  sinceVersion: 1,
  reference(inputs, ctx) {
    const x = requireInput(inputs, 0, ctx);
    const [N, C, H, W] = need4d(x, ctx);
    const b = blockSize(ctx);
    if (H % b !== 0 || W % b !== 0) throw nodeError(ctx, `spatial size ${H}x${W} is not divisible by blocksize ${b}`);
    const shape = [N, C * b * b, H / b, W / b];
    const offs = new Int32Array(sizeOf(shape));
    let k = 0;
    for (let n = 0; n < N; n++)
      for (let d = 0; d < C * b * b; d++)
        for (let y = 0; y < H / b; y++)
          for (let xx = 0; xx < W / b; xx++) {
            const c = d % C;
            const blk = Math.floor(d / C);
            const i = Math.floor(blk / b);
            const j = blk % b;
            offs[k++] = ((n * C + c) * H + y * b + i) * W + xx * b + j;
          }
    return [gatherByOffsets(x, shape, offs)];
  },
  inferTypes(inputs, ctx) {
    const x = inputs[0];
    const s = x?.shape;
    if (s === undefined || s.length !== 4) return [{ dtype: x?.dtype, shape: [null, null, null, null] }];
    const b = blockSize(ctx);
    const d = (v: Dim) => (typeof v === 'number' ? v / b : null);
    return [{ dtype: x!.dtype, shape: [s[0]!, typeof s[1] === 'number' ? s[1] * b * b : null, d(s[2]!), d(s[3]!)] }];
  },
});

/** Every shape/data-movement OpDef (unsorted; tensor-ops.ts sorts the full list). */
export const SHAPE_OPS: readonly OpDef[] = [
  CONCAT,
  DEPTH_TO_SPACE,
  EXPAND,
  FLATTEN,
  GATHER,
  PAD,
  RESHAPE,
  SHAPE,
  SLICE,
  SPACE_TO_DEPTH,
  SPLIT,
  SQUEEZE,
  TILE,
  TRANSPOSE,
  UNSQUEEZE,
];
