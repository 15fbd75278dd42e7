/**
 * A precompiled model as one binary file, so a page can run a model without the compiler. Layout:
 * "ECNN" | u32 version | u32 header bytes | header (UTF-8 JSON of the CompiledModel) | zero pad to 8 | blob.
 * Every typed array in the model (wasm bytes, weights, constant tensors, fallback attributes) moves to the
 * blob, 8-byte aligned, and is replaced in the JSON by { $ta: constructor name, o: offset, n: length };
 * bigints become { $big: decimal }. Decoding copies each array out, so the result owns its memory.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { CompiledModel } from '../runtime/compiled-model.js';

const MAGIC = 0x4e4e4345; // "ECNN" little-endian
const VERSION = 1;

const ARRAYS = {
  Float32Array,
  Float64Array,
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type ArrayName = keyof typeof ARRAYS;

/** Serialize a compiled model (see the file comment for the layout). */
export function encodeArtifact(compiled: CompiledModel): Uint8Array {
  const parts: { off: number; bytes: Uint8Array }[] = [];
  let size = 0;
  const header = JSON.stringify(compiled, (_k, v: unknown) => {
    if (typeof v === 'bigint') return { $big: v.toString() };
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name as ArrayName;
      if (!(name in ARRAYS)) throw new EdgecnnError(`cannot store a ${name} in an artifact`, 'internal');
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const off = size;
      parts.push({ off, bytes });
      size = Math.ceil((size + bytes.length) / 8) * 8;
      return { $ta: name, o: off, n: (v as unknown as { length: number }).length };
    }
    return v;
  });
  const head = new TextEncoder().encode(header);
  const blobStart = Math.ceil((12 + head.length) / 8) * 8;
  const out = new Uint8Array(blobStart + size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, head.length, true);
  out.set(head, 12);
  for (const p of parts) out.set(p.bytes, blobStart + p.off);
  return out;
}

/** Parse an artifact; a wrong magic, version or truncated file is a named error. */
export function decodeArtifact(bytes: Uint8Array): CompiledModel {
  if (bytes.length < 12) throw new EdgecnnError(`artifact too short (${bytes.length} bytes)`, 'bad-model');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC)
    throw new EdgecnnError('not an edgecnn artifact (magic is not ECNN)', 'bad-model');
  const version = dv.getUint32(4, true);
  if (version !== VERSION) {
    throw new EdgecnnError(`artifact version ${version} is not supported (expected ${VERSION})`, 'bad-model');
  }
  const headLen = dv.getUint32(8, true);
  if (12 + headLen > bytes.length) throw new EdgecnnError('artifact truncated inside its header', 'bad-model');
  const blobStart = Math.ceil((12 + headLen) / 8) * 8;
  const text = new TextDecoder().decode(bytes.subarray(12, 12 + headLen));
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object') {
      const o = v as { $big?: string; $ta?: ArrayName; o?: number; n?: number };
      if (typeof o.$big === 'string') return BigInt(o.$big);
      if (typeof o.$ta === 'string') {
        const C = ARRAYS[o.$ta];
        if (!C) throw new EdgecnnError(`artifact holds an unknown array type '${o.$ta}'`, 'bad-model');
        const byteLen = o.n! * C.BYTES_PER_ELEMENT;
        const start = blobStart + o.o!;
        if (start + byteLen > bytes.length) throw new EdgecnnError('artifact truncated inside its data', 'bad-model');
        const copy = new Uint8Array(bytes.subarray(start, start + byteLen));
        return new C(copy.buffer, 0, o.n!);
      }
    }
    return v;
  }) as CompiledModel;
}
