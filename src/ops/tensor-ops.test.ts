import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Attribute, Dim, Node } from '../ir/graph.js';
import { type Tensor, f32, i64, makeTensor } from '../ir/tensor.js';
import { CLAIMED_OPS, getOp } from './registry.js';
import { TENSOR_OPS } from './tensor-ops.js';
import type { OpContext, ValueType } from './types.js';

/**
 * One or more valid calls per tensor op, keyed by opType (the keys are also the list of ops this module must
 * provide). `constant` lists the inputs a graph would typically hold as constants (shapes, axes, pads).
 */
interface Example {
  inputs: (Tensor | undefined)[];
  attrs?: Record<string, Attribute>;
  opset?: number;
  nOut?: number;
}

const int = (value: number): Attribute => ({ kind: 'int', value });
const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
const float = (value: number): Attribute => ({ kind: 'float', value });
const str = (value: string): Attribute => ({ kind: 'string', value });
const iota = (shape: number[], scale = 1, offset = 0) =>
  f32(
    shape,
    Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i - offset) * scale),
  );
const x234 = iota([2, 3, 4], 0.25, 11);
const pos = iota([2, 3], 0.5, -1);
const unary = (attrs: Record<string, Attribute> = {}): Example[] => [{ inputs: [x234], attrs }];

const EXAMPLES: Record<string, Example[]> = {
  Abs: unary(),
  Add: [{ inputs: [x234, iota([3, 1])] }, { inputs: [i64([1], [2]), i64([], [3])] }],
  ArgMax: [{ inputs: [x234], attrs: { axis: int(-1), keepdims: int(0) } }],
  Cast: [{ inputs: [x234], attrs: { to: int(7) } }],
  Ceil: unary(),
  Clip: [
    { inputs: [x234, f32([], [-1]), f32([], [1])], opset: 13 },
    { inputs: [x234], attrs: { min: float(0) }, opset: 6 },
  ],
  Concat: [
    { inputs: [x234, iota([2, 1, 4])], attrs: { axis: int(1) } },
    { inputs: [i64([1], [1]), i64([2], [2, 3])], attrs: { axis: int(0) } },
  ],
  Constant: [{ inputs: [], attrs: { value_ints: ints(1, 2, 3) } }],
  ConstantOfShape: [{ inputs: [i64([2], [2, 3])], attrs: { value: { kind: 'tensor', value: i64([1], [5]) } } }],
  DepthToSpace: [{ inputs: [iota([1, 8, 2, 3])], attrs: { blocksize: int(2), mode: str('CRD') } }],
  Div: [{ inputs: [x234, f32([4], [1, 2, 4, 8])] }, { inputs: [i64([1], [116]), i64([], [2])] }],
  Dropout: [{ inputs: [x234], nOut: 2, opset: 13 }],
  Elu: unary({ alpha: float(0.5) }),
  Equal: [{ inputs: [i64([3], [1, 2, 3]), i64([1], [2])] }],
  Erf: unary(),
  Exp: unary(),
  Expand: [{ inputs: [iota([3, 1]), i64([3], [2, 1, 4])] }],
  Flatten: [{ inputs: [x234], attrs: { axis: int(2) } }],
  Floor: unary(),
  Gather: [
    { inputs: [x234, i64([2], [-1, 0])], attrs: { axis: int(1) } },
    { inputs: [i64([4], [1, 116, 28, 28]), i64([], [1])] },
  ],
  HardSigmoid: unary({ alpha: float(0.25) }),
  HardSwish: unary(),
  Identity: unary(),
  LeakyRelu: unary(),
  LogSoftmax: [
    { inputs: [x234], opset: 11 },
    { inputs: [x234], attrs: { axis: int(1) }, opset: 13 },
  ],
  Max: [{ inputs: [x234, iota([4]), f32([], [0])] }],
  Mean: [{ inputs: [x234, iota([3, 1])] }],
  Min: [{ inputs: [x234, iota([4])] }],
  Mul: [{ inputs: [x234, iota([2, 1, 1])] }],
  Neg: unary(),
  PRelu: [{ inputs: [x234, f32([3, 1], [0.1, 0.2, 0.3])] }],
  Pad: [
    { inputs: [x234, i64([6], [0, 1, 2, 0, 0, 1]), f32([], [9])], opset: 13 },
    { inputs: [x234, i64([2], [1, 2]), undefined, i64([1], [-1])], attrs: { mode: str('reflect') }, opset: 18 },
  ],
  Pow: [{ inputs: [pos, i64([], [2])] }],
  Range: [{ inputs: [i64([], [1]), i64([], [10]), i64([], [3])] }],
  Reciprocal: [{ inputs: [pos] }],
  ReduceL2: [{ inputs: [x234], attrs: { axes: ints(0, 2) }, opset: 13 }],
  ReduceMax: [{ inputs: [x234, i64([1], [1])], attrs: { keepdims: int(0) }, opset: 18 }],
  ReduceMean: [{ inputs: [x234], attrs: { axes: ints(-1) }, opset: 13 }],
  ReduceSum: [{ inputs: [x234, i64([2], [0, 1])], opset: 13 }],
  Relu: unary(),
  Reshape: [{ inputs: [x234, i64([2], [0, -1])] }, { inputs: [x234, i64([3], [4, 3, 2])] }],
  Selu: unary(),
  Shape: [{ inputs: [x234], attrs: { start: int(1) }, opset: 15 }],
  Sigmoid: unary(),
  Slice: [{ inputs: [x234, i64([2], [-1, 1]), i64([2], [-1000, 3]), i64([2], [1, 2]), i64([2], [-1, 2])] }],
  Softmax: [
    { inputs: [x234], opset: 11 },
    { inputs: [x234], opset: 13 },
  ],
  Softplus: unary(),
  SpaceToDepth: [{ inputs: [iota([1, 2, 4, 6])], attrs: { blocksize: int(2) } }],
  Split: [
    { inputs: [x234, i64([2], [1, 2])], attrs: { axis: int(1) }, opset: 13, nOut: 2 },
    { inputs: [x234], attrs: { axis: int(-1), num_outputs: int(3) }, opset: 18, nOut: 3 },
  ],
  Sqrt: [{ inputs: [pos] }],
  Squeeze: [{ inputs: [iota([1, 3, 1]), i64([1], [0])], opset: 13 }],
  Sub: [{ inputs: [x234, iota([4])] }],
  Sum: [{ inputs: [x234, iota([3, 4])] }],
  Tanh: unary(),
  Tile: [{ inputs: [iota([2, 3]), i64([2], [2, 1])] }],
  Transpose: [{ inputs: [x234], attrs: { perm: ints(2, 0, 1) } }],
  Unsqueeze: [
    { inputs: [x234, i64([2], [0, -1])], opset: 13 },
    { inputs: [i64([], [7])], attrs: { axes: ints(0) }, opset: 11 },
  ],
  Where: [{ inputs: [makeTensor('bool', [3, 1], Uint8Array.of(1, 0, 1)), x234, f32([], [0])] }],
};

function ctxFor(opType: string, ex: Example): OpContext {
  const node: Node = {
    name: 'n',
    opType,
    domain: '',
    inputs: ex.inputs.map((t, i) => (t === undefined ? '' : `x${i}`)),
    outputs: Array.from({ length: ex.nOut ?? 1 }, (_, i) => `y${i}`),
    attributes: new Map(Object.entries(ex.attrs ?? {})),
  };
  return { node, opset: ex.opset ?? 17 };
}

/** Deterministic pseudo-random choices, so that failures reproduce. */
function chooser(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
}

/** What inference may know about an input, from everything down to nothing. */
function partialView(t: Tensor, level: number, k: number): ValueType | undefined {
  switch (level) {
    case 0:
      return { dtype: t.dtype, shape: [...t.shape], value: t };
    case 1:
      return { dtype: t.dtype, shape: [...t.shape] };
    case 2:
      return { dtype: t.dtype, shape: t.shape.map((d, i): Dim => (i === 0 ? `S${k}` : d)) };
    case 3:
      return { dtype: t.dtype, shape: t.shape.map((d, i): Dim => (i % 2 === 1 ? null : d)) };
    case 4:
      return { dtype: t.dtype };
    case 5:
      return {};
    default:
      return undefined;
  }
}

function assertConsistent(inferred: ValueType | undefined, actual: Tensor, what: string): void {
  if (inferred === undefined) return;
  if (inferred.dtype !== undefined) assert.equal(inferred.dtype, actual.dtype, `${what}: dtype`);
  if (inferred.shape !== undefined) {
    assert.equal(inferred.shape.length, actual.shape.length, `${what}: rank of [${inferred.shape.join(',')}]`);
    inferred.shape.forEach((d, i) => {
      if (typeof d === 'number')
        assert.equal(d, actual.shape[i], `${what}: dim ${i} of [${inferred.shape!.join(',')}]`);
    });
  }
  if (inferred.value !== undefined) {
    assert.deepEqual([...inferred.value.shape], [...actual.shape], `${what}: value shape`);
    assert.deepEqual(
      Array.from(inferred.value.data as ArrayLike<unknown>),
      Array.from(actual.data as ArrayLike<unknown>),
      `${what}: value`,
    );
  }
}

test('TENSOR_OPS is sorted by opType, has no duplicates and is exactly the ops with examples', () => {
  const names = TENSOR_OPS.map((d) => d.opType);
  assert.deepEqual(names, [...names].sort());
  assert.deepEqual(names, Object.keys(EXAMPLES).sort());
});

test('every tensor op is claimed and registered in the default domain', () => {
  const claimed = new Set<string>(CLAIMED_OPS);
  for (const d of TENSOR_OPS) {
    assert.ok(claimed.has(d.opType), `${d.opType} is in CLAIMED_OPS`);
    assert.equal(d.domain, '');
    assert.equal(getOp('', d.opType), d);
    assert.ok(d.sinceVersion >= 1 && d.sinceVersion <= 14, `${d.opType} sinceVersion ${d.sinceVersion}`);
  }
});

test('inference agrees with the reference when everything is known, folding small constants', () => {
  for (const [opType, examples] of Object.entries(EXAMPLES)) {
    const def = getOp('', opType)!;
    examples.forEach((ex, e) => {
      const ctx = ctxFor(opType, ex);
      const outs = def.reference(ex.inputs, ctx);
      const types = def.inferTypes(
        ex.inputs.map((t) => t && partialView(t, 0, 0)),
        ctx,
      );
      assert.equal(outs.length, ctx.node.outputs.length, `${opType}#${e}: output count`);
      outs.forEach((o, k) => {
        const t = types[k];
        assert.ok(t?.value, `${opType}#${e}: output ${k} folds when every input is a small constant`);
        assertConsistent(t, o, `${opType}#${e} output ${k}`);
        assert.deepEqual(t!.shape, [...o.shape], `${opType}#${e}: full shape`);
      });
    });
  }
});

test('inference never throws and never contradicts the reference on partially known inputs', () => {
  const pick = chooser(7);
  for (const [opType, examples] of Object.entries(EXAMPLES)) {
    const def = getOp('', opType)!;
    examples.forEach((ex, e) => {
      const ctx = ctxFor(opType, ex);
      const outs = def.reference(ex.inputs, ctx);
      for (let trial = 0; trial < 40; trial++) {
        const levels = ex.inputs.map(() => pick(7));
        const views = ex.inputs.map((t, i) => t && partialView(t, levels[i]!, i));
        let types: ValueType[] = [];
        assert.doesNotThrow(() => (types = def.inferTypes(views, ctx)), `${opType}#${e} levels ${levels.join(',')}`);
        outs.forEach((o, k) => assertConsistent(types[k], o, `${opType}#${e} levels ${levels.join(',')} output ${k}`));
      }
    });
  }
});
