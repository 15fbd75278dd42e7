/**
 * Element types. Names follow ONNX's TensorProto.DataType spelled in lower case; the numeric codes are
 * ONNX's. int64/uint64 are held as BigInt64Array/BigUint64Array so that a read-write round trip is exact.
 */
export const DTYPES = [
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
] as const;
export type DType = (typeof DTYPES)[number];

/** ONNX TensorProto.DataType code for each dtype. */
export const ONNX_DTYPE_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

const CODE_TO_DTYPE = new Map<number, DType>(Object.entries(ONNX_DTYPE_CODE).map(([k, v]) => [v, k as DType]));

/** The dtype for an ONNX data type code, or undefined when edgecnn does not support it (bfloat16, complex, float8). */
export function dtypeFromOnnxCode(code: number): DType | undefined {
  return CODE_TO_DTYPE.get(code);
}

/** Bytes per element as stored in ONNX raw_data (string has none). */
export const DTYPE_SIZE_BYTES: Record<DType, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  int64: 8,
  string: 0,
  bool: 1,
  float16: 2,
  float64: 8,
  uint32: 4,
  uint64: 8,
};

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Array type used to hold each dtype in memory. float16 is held as raw Uint16Array bits; bool as Uint8Array. */
export type TensorData = TypedArray | string[];

export function isFloatDType(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16';
}

export function isIntegerDType(d: DType): boolean {
  return d !== 'string' && d !== 'bool' && !isFloatDType(d);
}

/** Allocate a zeroed array of `length` elements for dtype `d`. */
export function allocData(d: DType, length: number): TensorData {
  switch (d) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'float16':
      return new Uint16Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint32':
      return new Uint32Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'uint64':
      return new BigUint64Array(length);
    case 'string':
      return new Array<string>(length).fill('');
  }
}
