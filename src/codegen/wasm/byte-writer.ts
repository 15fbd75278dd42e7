/**
 * A growable byte buffer with the primitive encodings of the WebAssembly binary format: unsigned and signed
 * LEB128 (32-bit and 64-bit), little-endian IEEE floats, UTF-8 names and length-prefixed vectors.
 * Invariant: `bytes()` returns a copy of exactly `length` bytes; the backing store doubles on demand so that
 * emitting a large kernel stays linear in its size.
 */
import { EdgecnnError } from '../../ir/errors.js';

const f32Scratch = new Float32Array(1);
const f32ScratchBytes = new Uint8Array(f32Scratch.buffer);
const f64Scratch = new Float64Array(1);
const f64ScratchBytes = new Uint8Array(f64Scratch.buffer);
const utf8 = new TextEncoder();

/** Append-only byte buffer with WebAssembly encodings. */
export class ByteWriter {
  private buf: Uint8Array<ArrayBuffer>;
  /** Number of bytes written so far. */
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** One raw byte (0..255). */
  u8(b: number): this {
    if (this.length === this.buf.length) this.ensure(1);
    this.buf[this.length++] = b;
    return this;
  }

  /** Unsigned LEB128 of a value in [0, 2^32). */
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new EdgecnnError(`u32 LEB128: ${v} is not an integer in [0, 2^32)`, 'internal');
    }
    this.ensure(5);
    do {
      let byte = v & 0x7f;
      v = Math.floor(v / 128);
      if (v !== 0) byte |= 0x80;
      this.buf[this.length++] = byte;
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a value in [-2^31, 2^32) (values >= 2^31 are taken as their i32 bit pattern). */
  s32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
      throw new EdgecnnError(`s32 LEB128: ${v} is not a 32-bit integer`, 'internal');
    }
    v |= 0; // wrap to the i32 bit pattern; arithmetic shift below keeps the sign
    this.ensure(5);
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
      this.buf[this.length++] = done ? byte : byte | 0x80;
      if (done) return this;
    }
  }

  /** Signed LEB128 of a 64-bit integer. */
  s64(v: bigint): this {
    v = BigInt.asIntN(64, v);
    this.ensure(10);
    for (;;) {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
      this.buf[this.length++] = done ? byte : byte | 0x80;
      if (done) return this;
    }
  }

  /** Little-endian IEEE-754 single. */
  f32(v: number): this {
    f32Scratch[0] = v;
    return this.raw(f32ScratchBytes);
  }

  /** Little-endian IEEE-754 double. */
  f64(v: number): this {
    f64Scratch[0] = v;
    return this.raw(f64ScratchBytes);
  }

  /** Bytes copied verbatim. */
  raw(bytes: ArrayLike<number>): this {
    this.ensure(bytes.length);
    if (bytes instanceof Uint8Array) this.buf.set(bytes, this.length);
    else for (let i = 0; i < bytes.length; i++) this.buf[this.length + i] = bytes[i]!;
    this.length += bytes.length;
    return this;
  }

  /** A name: u32 byte length then UTF-8. */
  name(s: string): this {
    const b = utf8.encode(s);
    return this.u32(b.length).raw(b);
  }

  /** Another writer's content prefixed by its u32 length (sections, function bodies). */
  sized(inner: ByteWriter): this {
    this.u32(inner.length);
    this.ensure(inner.length);
    this.buf.set(inner.buf.subarray(0, inner.length), this.length);
    this.length += inner.length;
    return this;
  }

  /** A view of the written bytes (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** A copy of the written bytes. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}
