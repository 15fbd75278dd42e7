/**
 * A small standalone host for one kernel step, used by kernel tests and micro-benchmarks (not by the
 * runtime): a bump allocator over one imported memory (16-byte aligned buffers followed by 16 bytes of
 * slack, as the memory plan guarantees), a module with the kernel exported as `<id>`, and helpers to run
 * [start, end) ranges. Memory starts filled with a NaN sentinel so stray reads/writes show up in tests.
 */
import { ModuleBuilder, type FunctionBuilder } from '../wasm/index.js';

/** Bit pattern written everywhere before a test (a quiet NaN with a recognisable payload). */
export const SENTINEL_BITS = 0x7fc0dead;

export class KernelHarness {
  readonly memory: WebAssembly.Memory;
  private next = 64;

  constructor(pages = 64) {
    this.memory = new WebAssembly.Memory({ initial: pages });
    new Uint32Array(this.memory.buffer).fill(SENTINEL_BITS);
  }

  /** Reserve `floats` f32 slots (16-byte aligned, 16 bytes slack after); returns the byte address. */
  alloc(floats: number): number {
    const addr = this.next;
    this.next = Math.ceil((addr + floats * 4 + 16) / 16) * 16;
    if (this.next > this.memory.buffer.byteLength) {
      const old = this.memory.buffer.byteLength;
      this.memory.grow(Math.ceil((this.next - old) / 65536));
      new Uint32Array(this.memory.buffer, old).fill(SENTINEL_BITS);
    }
    return addr;
  }

  /** Reserve an all-zero region. */
  allocZero(bytes: number): number {
    const addr = this.alloc(Math.ceil(bytes / 4));
    this.f32(addr, Math.ceil(bytes / 4)).fill(0);
    return addr;
  }

  /** Copy values into a new buffer; returns its byte address. */
  put(values: ArrayLike<number>): number {
    const addr = this.alloc(values.length);
    this.f32(addr, values.length).set(values);
    return addr;
  }

  /** A live view of `floats` f32 at byte address `addr`. */
  f32(addr: number, floats: number): Float32Array {
    return new Float32Array(this.memory.buffer, addr, floats);
  }

  /**
   * Build a module with one `(start, end) -> ()` function whose body `emit` writes, and return it.
   * Kernels using relaxed SIMD only compile where the engine has it (see relaxed-child.ts for tests).
   */
  build(
    name: string,
    emit: (fn: FunctionBuilder) => void,
  ): { run: (start: number, end: number) => void; bytes: number } {
    const m = new ModuleBuilder();
    m.importMemory('env', 'memory', { initialPages: 1 });
    const fn = m.addFunction(name, ['i32', 'i32'], []);
    emit(fn);
    m.exportFunction(name, fn.index);
    const bytes = m.build();
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: this.memory } });
    return { run: inst.exports[name] as (s: number, e: number) => void, bytes: bytes.length };
  }
}

/** Deterministic pseudo-random floats in [-1, 1) (xorshift), so failures reproduce. */
export function randomFloats(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
