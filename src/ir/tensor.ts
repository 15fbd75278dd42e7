/**
 * Dense tensors with a concrete shape. Data is row-major (C order), in the dtype's array type (see dtype.ts).
 * A Tensor is treated as immutable once it is shared: ops allocate new outputs.
 */
import { type DType, type TensorData, allocData } from './dtype.js';

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** Number of elements of a concrete shape (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function makeTensor(dtype: DType, shape: readonly number[], data?: TensorData): Tensor {
  const n = sizeOf(shape);
  const d = data ?? allocData(dtype, n);
  if (d.length !== n) {
    throw new Error(`tensor data has ${d.length} elements but shape [${shape.join(',')}] needs ${n}`);
  }
  return { dtype, shape: [...shape], data: d };
}

/** Element values as JS numbers (int64 converted; precision loss beyond 2^53 is accepted for indices/shapes). */
export function toNumbers(t: Tensor): number[] {
  const out = new Array<number>(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = Number(t.data[i]);
  return out;
}

/** A float32 tensor from a shape and values. */
export function f32(shape: readonly number[], values: ArrayLike<number>): Tensor {
  return makeTensor('float32', shape, Float32Array.from(values));
}

/** An int64 tensor from a shape and values. */
export function i64(shape: readonly number[], values: ArrayLike<number | bigint>): Tensor {
  const a = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) a[i] = BigInt(values[i]!);
  return makeTensor('int64', shape, a);
}
