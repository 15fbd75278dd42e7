/**
 * Protobuf wire format, hand-written: a bounds-checked reader over one Uint8Array and a chunked writer.
 * Reader invariant: every read checks against `end` (the end of the enclosing length-delimited field) before
 * touching memory or allocating, so truncated or corrupt input throws EdgecnnError('bad-model') naming the
 * field path and byte offset. Length-delimited fields are returned as subarrays of the input (zero-copy).
 * Writer: a message is a list of chunks; large byte fields are appended by reference and copied once by finish().
 */
import type { DType, TypedArray } from '../ir/dtype.js';
import { EdgecnnError } from '../ir/errors.js';

/** Wire types of the protobuf encoding (groups, 3 and 4, are not used by ONNX and are rejected). */
export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;
const utf8 = new TextDecoder('utf-8');
const utf8Enc = new TextEncoder();

/** Decode UTF-8; short ASCII strings (most ONNX names) skip TextDecoder, which is slow for tiny inputs. */
export function decodeUtf8(b: Uint8Array): string {
  if (b.length < 32) {
    let s = '';
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c >= 0x80) return utf8.decode(b);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(b);
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8Enc.encode(s);
}

/**
 * Reads one message: fields from `pos` up to `end` of the shared buffer. `path` names the message for errors
 * (e.g. "graph.node[12].attribute[2]"); byte offsets in errors are relative to the start of `bytes`.
 */
export class ProtoReader {
  pos: number;
  /** Field number and wire type of the last tag read by next(). */
  field = 0;
  wire = 0;
  private lo = 0;
  private hi = 0;

  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly path: string,
  ) {
    this.pos = start;
  }

  /** A reader over a whole buffer. */
  static of(bytes: Uint8Array, path: string): ProtoReader {
    return new ProtoReader(bytes, 0, bytes.length, path);
  }

  /** An EdgecnnError('bad-model') naming this message's path. */
  error(msg: string, sub?: string): EdgecnnError {
    const where = sub === undefined ? this.path : this.path === '' ? sub : `${this.path}.${sub}`;
    return new EdgecnnError(`${where || 'message'}: ${msg}`, 'bad-model');
  }

  /** Advance to the next field; false at the end of the message. Sets `field` and `wire`. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const at = this.pos;
    const tag = this.varint32();
    this.field = tag >>> 3;
    this.wire = tag & 7;
    if (this.field === 0) throw this.error(`invalid field number 0 at byte ${at}`);
    if (this.wire === 3 || this.wire === 4 || this.wire > 5) {
      throw this.error(`field ${this.field} has unsupported wire type ${this.wire} at byte ${at}`);
    }
    return true;
  }

  /** Throw unless the current field has wire type `w`; `name` is the field's name for the message. */
  expect(w: number, name: string): void {
    if (this.wire !== w) {
      throw this.error(`field ${name} (#${this.field}) has wire type ${this.wire}, expected ${w}`);
    }
  }

  /** Skip the current field's value. */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.varintParts();
        return;
      case WIRE_I64:
        this.need(8, `field ${this.field}`);
        this.pos += 8;
        return;
      case WIRE_I32:
        this.need(4, `field ${this.field}`);
        this.pos += 4;
        return;
      case WIRE_LEN: {
        const n = this.length(`field ${this.field}`);
        this.pos += n;
        return;
      }
      default:
        throw this.error(`cannot skip wire type ${this.wire}`);
    }
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw this.error(`${what}: ${n} bytes run past end of data at byte ${this.pos} (${this.end - this.pos} left)`);
    }
  }

  /** Reads a varint into lo/hi (two uint32 halves of a 64-bit value). */
  private varintParts(): void {
    const b = this.bytes;
    const end = this.end;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let c: number;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw this.truncatedVarint();
      c = b[p++]!;
      lo |= (c & 0x7f) << shift;
      if (c < 0x80) {
        this.pos = p;
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (p >= end) throw this.truncatedVarint();
    c = b[p++]!;
    lo |= (c & 0x7f) << 28;
    hi = (c & 0x7f) >>> 4;
    if (c >= 0x80) {
      let shift = 3;
      for (;;) {
        if (p >= end) throw this.truncatedVarint();
        c = b[p++]!;
        hi |= (c & 0x7f) << shift;
        if (c < 0x80) break;
        shift += 7;
        if (shift > 31) throw this.error(`varint longer than 10 bytes at byte ${this.pos}`);
      }
    }
    this.pos = p;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  private truncatedVarint(): EdgecnnError {
    return this.error(`varint runs past end of data at byte ${this.pos}`);
  }

  /** A varint as uint32 (tags, lengths); the upper bits of a longer varint are dropped. */
  varint32(): number {
    if (this.pos < this.end) {
      const c = this.bytes[this.pos]!;
      if (c < 0x80) {
        this.pos++;
        return c;
      }
    }
    this.varintParts();
    return this.lo;
  }

  /** A varint read as int32 (negative int32 values are sign-extended to 10 bytes on the wire). */
  int32(): number {
    return this.varint32() | 0;
  }

  /** A varint read as int64, as a JS number (exact up to 2^53; INT64_MAX reads as 2^63). */
  int64(): number {
    if (this.pos < this.end) {
      const c = this.bytes[this.pos]!;
      if (c < 0x80) {
        this.pos++;
        return c;
      }
    }
    this.varintParts();
    return (this.hi | 0) * TWO_32 + this.lo;
  }

  /** A varint read as int64, exactly. */
  int64Big(): bigint {
    this.varintParts();
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  /** A varint read as uint64, exactly. */
  uint64Big(): bigint {
    this.varintParts();
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  float32(): number {
    this.need(4, `field ${this.field}`);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  float64(): number {
    this.need(8, `field ${this.field}`);
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /**
   * Reads a length prefix and checks it fits in the rest of the message. `what` names the field; when
   * `isPath` it is already a full path (an embedded message) and replaces this message's path in errors.
   */
  length(what: string, isPath = false): number {
    const at = this.pos;
    this.varintParts();
    if (this.hi !== 0 || this.lo > this.end - this.pos) {
      const n = this.hi * TWO_32 + this.lo;
      const msg = `length ${n} runs past end of data at byte ${at} (${this.end - this.pos} bytes left)`;
      throw isPath ? new EdgecnnError(`${what}: ${msg}`, 'bad-model') : this.error(`${what}: ${msg}`);
    }
    return this.lo;
  }

  /** A length-delimited field's bytes as a view of the input (no copy). */
  bytesView(what: string): Uint8Array {
    const n = this.length(what);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  string(what: string): string {
    return decodeUtf8(this.bytesView(what));
  }

  /** A reader over an embedded message (the current LEN field); `path` is its full path. */
  message(path: string): ProtoReader {
    const n = this.length(path, true);
    const r = new ProtoReader(this.bytes, this.pos, this.pos + n, path);
    this.pos += n;
    return r;
  }

  /**
   * Repeated varint field, packed (LEN) or not: calls `each` per element with the reader positioned on it.
   * Each element is read with one of int32/int64/int64Big/uint64Big inside `each`.
   */
  repeatedVarint(name: string, each: (r: ProtoReader) => void): void {
    if (this.wire === WIRE_VARINT) {
      each(this);
      return;
    }
    this.expect(WIRE_LEN, name);
    const n = this.length(name);
    const stop = this.pos + n;
    // A sub-reader bounds varints to the packed run, so a corrupt element cannot read past it.
    const r = new ProtoReader(this.bytes, this.pos, stop, this.path);
    while (r.pos < stop) each(r);
    this.pos = stop;
  }

  /** Repeated int64 as numbers (attribute ints, dims). */
  repeatedInt64(name: string, out: number[]): void {
    this.repeatedVarint(name, (r) => out.push(r.int64()));
  }

  /** Repeated float (fixed32), packed or not. */
  repeatedFloat32(name: string, out: number[]): void {
    this.repeatedFloat(name, out, 4);
  }

  /** Repeated double (fixed64), packed or not. */
  repeatedFloat64(name: string, out: number[]): void {
    this.repeatedFloat(name, out, 8);
  }

  /** Repeated fixed-width float of `width` bytes: one unpacked element, or a packed run of them. */
  private repeatedFloat(name: string, out: number[], width: 4 | 8): void {
    if (this.wire === (width === 4 ? WIRE_I32 : WIRE_I64)) {
      out.push(width === 4 ? this.float32() : this.float64());
      return;
    }
    this.expect(WIRE_LEN, name);
    const n = this.length(name);
    if (n % width !== 0) {
      throw this.error(`packed ${name}: length ${n} is not a multiple of ${width} at byte ${this.pos}`);
    }
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
    for (let i = 0; i < n; i += width) out.push(width === 4 ? dv.getFloat32(i, true) : dv.getFloat64(i, true));
    this.pos += n;
  }
}

/**
 * Builds one message. Scalars go to a growing scratch buffer; embedded messages and large byte fields are
 * kept as references (chunks), so weights are copied exactly once, by finish().
 */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(64);
  private pos = 0;
  /** Bytes in `chunks` (the scratch buffer's `pos` bytes come after them). */
  private chunkBytes = 0;

  get length(): number {
    return this.chunkBytes + this.pos;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const nb = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }

  private flushScratch(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.chunkBytes += this.pos;
    this.buf = new Uint8Array(Math.max(64, this.buf.length - this.pos));
    this.pos = 0;
  }

  /** Raw varint of an unsigned value below 2^53 (tags, lengths, non-negative ints). */
  private rawVarint(v: number): void {
    this.reserve(10);
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }

  /** Raw varint of a 64-bit two's-complement value given as uint32 halves. */
  private rawVarint64(lo: number, hi: number): void {
    this.reserve(10);
    const b = this.buf;
    while (hi !== 0 || lo >= 0x80) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    b[this.pos++] = lo;
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  /** An int64 given as a JS number; values beyond the int64 range clamp (2^63 is how INT64_MAX reads back). */
  private int64Value(v: number): void {
    if (!Number.isFinite(v)) throw new EdgecnnError(`cannot write ${v} as an int64`, 'internal');
    v = Math.trunc(v);
    if (v >= 0 && v < 2 ** 53) {
      this.rawVarint(v);
      return;
    }
    this.int64BigValue(BigInt(v));
  }

  private int64BigValue(v: bigint): void {
    if (v > 0x7fffffffffffffffn) v = 0x7fffffffffffffffn;
    if (v < -0x8000000000000000n) v = -0x8000000000000000n;
    const u = BigInt.asUintN(64, v);
    this.rawVarint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  /** int32/enum field (negative values are sign-extended to 64 bits, as protobuf requires). */
  int32(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    if (v >= 0) this.rawVarint(v);
    else this.rawVarint64(v >>> 0, 0xffffffff);
    return this;
  }

  int64(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    this.int64Value(v);
    return this;
  }

  float32(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
    return this;
  }

  /** A length-delimited field; data of 256 bytes or more is referenced, not copied. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(data.length);
    if (data.length >= 256) {
      this.flushScratch();
      this.chunks.push(data);
      this.chunkBytes += data.length;
    } else {
      this.reserve(data.length);
      this.buf.set(data, this.pos);
      this.pos += data.length;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, encodeUtf8(s));
  }

  /** An embedded message; `m` must not be changed afterwards (its chunks are shared). */
  message(field: number, m: ProtoWriter): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(m.length);
    this.flushScratch();
    m.flushScratch();
    for (const c of m.chunks) this.chunks.push(c);
    this.chunkBytes += m.chunkBytes;
    return this;
  }

  /** Packed repeated int64 (numbers). */
  packedInt64(field: number, vs: readonly number[]): this {
    if (vs.length === 0) return this;
    const inner = new ProtoWriter();
    for (const v of vs) inner.int64Value(v);
    return this.message(field, inner);
  }

  /** Packed repeated int64 (exact). */
  packedInt64Big(field: number, vs: ArrayLike<bigint>): this {
    if (vs.length === 0) return this;
    const inner = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) inner.int64BigValue(vs[i]!);
    return this.message(field, inner);
  }

  /** Packed repeated uint64 (exact). */
  packedUint64Big(field: number, vs: ArrayLike<bigint>): this {
    if (vs.length === 0) return this;
    const inner = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) {
      const u = BigInt.asUintN(64, vs[i]!);
      inner.rawVarint64(Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.message(field, inner);
  }

  /** Packed repeated int32. */
  packedInt32(field: number, vs: ArrayLike<number>): this {
    if (vs.length === 0) return this;
    const inner = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i]! | 0;
      if (v >= 0) inner.rawVarint(v);
      else inner.rawVarint64(v >>> 0, 0xffffffff);
    }
    return this.message(field, inner);
  }

  /** Packed repeated float. */
  packedFloat32(field: number, vs: ArrayLike<number>): this {
    if (vs.length === 0) return this;
    const a = Float32Array.from(vs as ArrayLike<number>);
    return this.bytes(field, littleEndianBytes(a));
  }

  /** Packed repeated double. */
  packedFloat64(field: number, vs: ArrayLike<number>): this {
    if (vs.length === 0) return this;
    const a = Float64Array.from(vs as ArrayLike<number>);
    return this.bytes(field, littleEndianBytes(a));
  }

  /** The message's bytes, in one new buffer. */
  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return new Uint8Array(this.chunks[0]!);
    const out = new Uint8Array(this.chunkBytes);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** True when this host stores numbers little-endian (ONNX's byte order), so typed arrays can view raw bytes. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A typed array constructor, as used to view little-endian raw bytes. */
export interface TypedArrayCtor {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * The array type holding each non-string dtype in memory (ir/dtype.ts): import views raw_data with it,
 * export checks a tensor's data against it (a mismatch would write wrong bytes silently).
 */
export const TYPED_ARRAY_OF: Record<Exclude<DType, 'string'>, TypedArrayCtor> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
};

/** A typed array's contents as little-endian bytes: a view on little-endian hosts, a swapped copy otherwise. */
export function littleEndianBytes(a: TypedArray): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (HOST_LITTLE_ENDIAN || a.BYTES_PER_ELEMENT === 1) return view;
  const out = new Uint8Array(view.length);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < view.length; i += w) for (let j = 0; j < w; j++) out[i + j] = view[i + w - 1 - j]!;
  return out;
}
