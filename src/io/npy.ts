/**
 * NumPy .npy files (format versions 1-3): a magic string, a little header dict (descr, fortran_order, shape)
 * and raw data. Little-endian numeric dtypes only; fortran_order is rejected rather than silently transposed.
 */
import type { DType, TensorData } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';

const DESCR: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<f2': 'float16',
  '|i1': 'int8',
  '|u1': 'uint8',
  '<i2': 'int16',
  '<u2': 'uint16',
  '<i4': 'int32',
  '<u4': 'uint32',
  '<i8': 'int64',
  '<u8': 'uint64',
  '|b1': 'bool',
};

export function readNpy(bytes: Uint8Array, where = 'npy data'): Tensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) {
    throw new EdgecnnError(`${where}: not a .npy file (bad magic)`, 'bad-input');
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new EdgecnnError(`${where}: truncated .npy header`, 'bad-input');
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) {
    throw new EdgecnnError(`${where}: malformed .npy header '${header.trim()}'`, 'bad-input');
  }
  const dtype = DESCR[descr];
  if (!dtype) throw new EdgecnnError(`${where}: unsupported .npy dtype '${descr}'`, 'bad-input');
  if (fortran === 'True')
    throw new EdgecnnError(`${where}: Fortran-ordered .npy arrays are not supported`, 'bad-input');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const n = sizeOf(shape);
  const dataStart = start + headerLen;
  const elem = dtype === 'bool' || dtype === 'int8' || dtype === 'uint8' ? 1 : Number(descr.slice(2));
  if (bytes.length - dataStart < n * elem) {
    throw new EdgecnnError(
      `${where}: truncated .npy data (${bytes.length - dataStart} bytes, need ${n * elem})`,
      'bad-input',
    );
  }
  const buf = bytes.slice(dataStart, dataStart + n * elem).buffer;
  const data: TensorData = {
    float32: () => new Float32Array(buf),
    float64: () => new Float64Array(buf),
    float16: () => new Uint16Array(buf),
    int8: () => new Int8Array(buf),
    uint8: () => new Uint8Array(buf),
    bool: () => new Uint8Array(buf),
    int16: () => new Int16Array(buf),
    uint16: () => new Uint16Array(buf),
    int32: () => new Int32Array(buf),
    uint32: () => new Uint32Array(buf),
    int64: () => new BigInt64Array(buf),
    uint64: () => new BigUint64Array(buf),
    string: () => [] as string[],
  }[dtype]();
  return makeTensor(dtype, shape, data);
}

const DESCR_OF = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k])) as Record<string, string>;

export function writeNpy(t: Tensor): Uint8Array {
  const descr = DESCR_OF[t.dtype];
  if (!descr || Array.isArray(t.data))
    throw new EdgecnnError(`cannot write ${t.dtype} tensors as .npy`, 'bad-argument');
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const data = t.data as Exclude<typeof t.data, string[]>;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
