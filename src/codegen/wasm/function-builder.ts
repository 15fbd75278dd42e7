/**
 * Function-body builder: typed helpers that append WebAssembly instructions (core, SIMD128, relaxed SIMD) to
 * a body, allocate locals and track structured-control depth so branches name their target `Label` instead of
 * a hand-counted relative depth. Every helper returns `this` so that stack code reads left to right:
 * `b.localGet(p).v128Load(16).localGet(q).v128Load().f32x4Add()`.
 * Memory helpers take (offsetBytes, alignLog2); the alignment is a hint only (misaligned access never traps).
 */
import { ByteWriter } from './byte-writer.js';
import { EdgecnnError } from '../../ir/errors.js';

/** WebAssembly value types. */
export const VAL_TYPES = ['i32', 'i64', 'f32', 'f64', 'v128'] as const;
export type ValType = (typeof VAL_TYPES)[number];

/** Binary code of each value type. */
export const VAL_TYPE_CODE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** A local variable (or parameter) index, typed for readability. */
export type Local = number;

/** An open block/loop/if; branch helpers compute the relative depth from it. */
export interface Label {
  readonly depth: number;
  readonly kind: 'block' | 'loop' | 'if';
}

/** Block result: none, or one value type. */
export type BlockType = ValType | 'void';

const SIMD = 0xfd;

/** Builds one function body. Obtain it from `ModuleBuilder.addFunction`. */
export class FunctionBuilder {
  /** Instruction bytes (without the locals header and final `end`). */
  readonly code = new ByteWriter(1024);
  private readonly localTypes: ValType[] = [];
  private depth = 0;
  private finished = false;

  constructor(
    /** Index in the module's function index space (imports first). */
    readonly index: number,
    readonly params: readonly ValType[],
    readonly results: readonly ValType[],
    /** Debug name (also used in error messages). */
    readonly name: string,
  ) {}

  // ---- locals -------------------------------------------------------------------------------------------

  /** The local index of parameter `i`. */
  param(i: number): Local {
    if (i < 0 || i >= this.params.length) {
      throw new EdgecnnError(`function ${this.name}: no parameter ${i}`, 'internal');
    }
    return i;
  }

  /** Allocate a new local of type `t`. */
  local(t: ValType): Local {
    this.localTypes.push(t);
    return this.params.length + this.localTypes.length - 1;
  }

  /** Allocate `n` locals of type `t`. */
  locals(t: ValType, n: number): Local[] {
    const out: Local[] = [];
    for (let i = 0; i < n; i++) out.push(this.local(t));
    return out;
  }

  // ---- control ------------------------------------------------------------------------------------------

  private open(op: number, kind: Label['kind'], bt: BlockType): Label {
    this.code.u8(op).u8(bt === 'void' ? 0x40 : VAL_TYPE_CODE[bt]);
    this.depth++;
    return { depth: this.depth, kind };
  }

  private rel(l: Label): number {
    const d = this.depth - l.depth;
    if (d < 0) throw new EdgecnnError(`function ${this.name}: branch to a closed ${l.kind}`, 'internal');
    return d;
  }

  /** `block` (a branch to it exits the block). */
  block(bt: BlockType = 'void'): Label {
    return this.open(0x02, 'block', bt);
  }
  /** `loop` (a branch to it jumps back to the start). */
  loop(bt: BlockType = 'void'): Label {
    return this.open(0x03, 'loop', bt);
  }
  /** `if` consuming an i32 condition. */
  if(bt: BlockType = 'void'): Label {
    return this.open(0x04, 'if', bt);
  }
  else(): this {
    this.code.u8(0x05);
    return this;
  }
  /** Close the innermost open block/loop/if. */
  end(): this {
    if (this.depth === 0) throw new EdgecnnError(`function ${this.name}: end without an open block`, 'internal');
    this.depth--;
    this.code.u8(0x0b);
    return this;
  }
  br(l: Label): this {
    this.code.u8(0x0c).u32(this.rel(l));
    return this;
  }
  brIf(l: Label): this {
    this.code.u8(0x0d).u32(this.rel(l));
    return this;
  }
  brTable(targets: readonly Label[], dflt: Label): this {
    this.code.u8(0x0e).u32(targets.length);
    for (const t of targets) this.code.u32(this.rel(t));
    this.code.u32(this.rel(dflt));
    return this;
  }
  return(): this {
    return this.op(0x0f);
  }
  unreachable(): this {
    return this.op(0x00);
  }
  nop(): this {
    return this.op(0x01);
  }
  call(funcIndex: number): this {
    this.code.u8(0x10).u32(funcIndex);
    return this;
  }
  drop(): this {
    return this.op(0x1a);
  }
  select(): this {
    return this.op(0x1b);
  }

  /**
   * Counted loop helper: `for (i = from; i < to; i += step) body()` with i32 bounds given as emitters
   * (so they can be constants or locals). The body must not leave values on the stack.
   * The test is at the top, so an empty range runs the body zero times.
   */
  forRange(i: Local, from: (b: this) => void, to: (b: this) => void, step: number, body: () => void): this {
    from(this);
    this.localSet(i);
    const exit = this.block();
    const top = this.loop();
    this.localGet(i);
    to(this);
    this.i32GeS().brIf(exit);
    body();
    this.localGet(i).i32Const(step).i32Add().localSet(i).br(top);
    this.end().end();
    return this;
  }

  // ---- variables ----------------------------------------------------------------------------------------

  localGet(l: Local): this {
    this.code.u8(0x20).u32(l);
    return this;
  }
  localSet(l: Local): this {
    this.code.u8(0x21).u32(l);
    return this;
  }
  localTee(l: Local): this {
    this.code.u8(0x22).u32(l);
    return this;
  }
  globalGet(g: number): this {
    this.code.u8(0x23).u32(g);
    return this;
  }
  globalSet(g: number): this {
    this.code.u8(0x24).u32(g);
    return this;
  }

  // ---- constants ----------------------------------------------------------------------------------------

  i32Const(v: number): this {
    this.code.u8(0x41).s32(v);
    return this;
  }
  i64Const(v: bigint): this {
    this.code.u8(0x42).s64(v);
    return this;
  }
  f32Const(v: number): this {
    this.code.u8(0x43).f32(v);
    return this;
  }
  f64Const(v: number): this {
    this.code.u8(0x44).f64(v);
    return this;
  }
  /** v128.const from 16 bytes. */
  v128Const(bytes: ArrayLike<number>): this {
    if (bytes.length !== 16) throw new EdgecnnError('v128.const needs 16 bytes', 'internal');
    this.simd(0x0c).code.raw(bytes);
    return this;
  }
  /** v128.const of four f32 lanes. */
  v128ConstF32(a: number, b = a, c = a, d = a): this {
    return this.v128Const(new Uint8Array(Float32Array.of(a, b, c, d).buffer));
  }
  /** v128.const of four i32 lanes. */
  v128ConstI32(a: number, b = a, c = a, d = a): this {
    return this.v128Const(new Uint8Array(Int32Array.of(a, b, c, d).buffer));
  }

  // ---- memory -------------------------------------------------------------------------------------------

  private mem(op: number, offset: number, alignLog2: number): this {
    this.code.u8(op).u32(alignLog2).u32(offset);
    return this;
  }
  i32Load(offset = 0, alignLog2 = 2): this {
    return this.mem(0x28, offset, alignLog2);
  }
  i64Load(offset = 0, alignLog2 = 3): this {
    return this.mem(0x29, offset, alignLog2);
  }
  f32Load(offset = 0, alignLog2 = 2): this {
    return this.mem(0x2a, offset, alignLog2);
  }
  f64Load(offset = 0, alignLog2 = 3): this {
    return this.mem(0x2b, offset, alignLog2);
  }
  i32Load8S(offset = 0): this {
    return this.mem(0x2c, offset, 0);
  }
  i32Load8U(offset = 0): this {
    return this.mem(0x2d, offset, 0);
  }
  i32Load16S(offset = 0, alignLog2 = 1): this {
    return this.mem(0x2e, offset, alignLog2);
  }
  i32Load16U(offset = 0, alignLog2 = 1): this {
    return this.mem(0x2f, offset, alignLog2);
  }
  i32Store(offset = 0, alignLog2 = 2): this {
    return this.mem(0x36, offset, alignLog2);
  }
  i64Store(offset = 0, alignLog2 = 3): this {
    return this.mem(0x37, offset, alignLog2);
  }
  f32Store(offset = 0, alignLog2 = 2): this {
    return this.mem(0x38, offset, alignLog2);
  }
  f64Store(offset = 0, alignLog2 = 3): this {
    return this.mem(0x39, offset, alignLog2);
  }
  i32Store8(offset = 0): this {
    return this.mem(0x3a, offset, 0);
  }
  i32Store16(offset = 0, alignLog2 = 1): this {
    return this.mem(0x3b, offset, alignLog2);
  }
  memorySize(): this {
    this.code.u8(0x3f).u8(0);
    return this;
  }
  memoryGrow(): this {
    this.code.u8(0x40).u8(0);
    return this;
  }
  /** memory.fill (bulk memory): [dest, value, n] -> []. */
  memoryFill(): this {
    this.code.u8(0xfc).u32(11).u8(0);
    return this;
  }
  /** memory.copy (bulk memory): [dest, src, n] -> []. */
  memoryCopy(): this {
    this.code.u8(0xfc).u32(10).u8(0).u8(0);
    return this;
  }

  private simdMem(op: number, offset: number, alignLog2: number): this {
    this.code.u8(SIMD).u32(op).u32(alignLog2).u32(offset);
    return this;
  }
  v128Load(offset = 0, alignLog2 = 2): this {
    return this.simdMem(0x00, offset, alignLog2);
  }
  v128Store(offset = 0, alignLog2 = 2): this {
    return this.simdMem(0x0b, offset, alignLog2);
  }
  /** v128.load8x8_s: 8 int8 sign-extended to i16x8. */
  v128Load8x8S(offset = 0): this {
    return this.simdMem(0x01, offset, 0);
  }
  v128Load8x8U(offset = 0): this {
    return this.simdMem(0x02, offset, 0);
  }
  v128Load16x4S(offset = 0): this {
    return this.simdMem(0x03, offset, 1);
  }
  v128Load16x4U(offset = 0): this {
    return this.simdMem(0x04, offset, 1);
  }
  v128Load8Splat(offset = 0): this {
    return this.simdMem(0x07, offset, 0);
  }
  v128Load16Splat(offset = 0): this {
    return this.simdMem(0x08, offset, 1);
  }
  v128Load32Splat(offset = 0, alignLog2 = 2): this {
    return this.simdMem(0x09, offset, alignLog2);
  }
  v128Load64Splat(offset = 0, alignLog2 = 2): this {
    return this.simdMem(0x0a, offset, alignLog2);
  }
  v128Load32Zero(offset = 0, alignLog2 = 2): this {
    return this.simdMem(0x5c, offset, alignLog2);
  }
  v128Load64Zero(offset = 0, alignLog2 = 2): this {
    return this.simdMem(0x5d, offset, alignLog2);
  }
  private lane(op: number, offset: number, alignLog2: number, lane: number, lanes: number): this {
    if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) {
      throw new EdgecnnError(`function ${this.name}: lane ${lane} out of range 0..${lanes - 1}`, 'internal');
    }
    this.code.u8(SIMD).u32(op).u32(alignLog2).u32(offset).u8(lane);
    return this;
  }
  /** v128.load32_lane: [addr, v128] -> v128 with lane replaced from memory. */
  v128Load32Lane(lane: number, offset = 0, alignLog2 = 2): this {
    return this.lane(0x56, offset, alignLog2, lane, 4);
  }
  v128Load64Lane(lane: number, offset = 0, alignLog2 = 2): this {
    return this.lane(0x57, offset, alignLog2, lane, 2);
  }
  v128Load8Lane(lane: number, offset = 0): this {
    return this.lane(0x54, offset, 0, lane, 16);
  }
  v128Load16Lane(lane: number, offset = 0): this {
    return this.lane(0x55, offset, 1, lane, 8);
  }
  /** v128.store32_lane: [addr, v128] -> [] storing one 32-bit lane. */
  v128Store32Lane(lane: number, offset = 0, alignLog2 = 2): this {
    return this.lane(0x5a, offset, alignLog2, lane, 4);
  }
  v128Store64Lane(lane: number, offset = 0, alignLog2 = 2): this {
    return this.lane(0x5b, offset, alignLog2, lane, 2);
  }
  v128Store8Lane(lane: number, offset = 0): this {
    return this.lane(0x58, offset, 0, lane, 16);
  }
  v128Store16Lane(lane: number, offset = 0): this {
    return this.lane(0x59, offset, 1, lane, 8);
  }

  // ---- raw opcodes --------------------------------------------------------------------------------------

  /** A one-byte core opcode without immediates. */
  op(code: number): this {
    this.code.u8(code);
    return this;
  }
  /** A SIMD-prefixed opcode without immediates. */
  simd(code: number): this {
    this.code.u8(SIMD).u32(code);
    return this;
  }

  // ---- i32 ----------------------------------------------------------------------------------------------

  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32LtU(): this {
    return this.op(0x49);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  i32GtU(): this {
    return this.op(0x4b);
  }
  i32LeS(): this {
    return this.op(0x4c);
  }
  i32LeU(): this {
    return this.op(0x4d);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32GeU(): this {
    return this.op(0x4f);
  }
  i32Clz(): this {
    return this.op(0x67);
  }
  i32Ctz(): this {
    return this.op(0x68);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32DivS(): this {
    return this.op(0x6d);
  }
  i32DivU(): this {
    return this.op(0x6e);
  }
  i32RemS(): this {
    return this.op(0x6f);
  }
  i32RemU(): this {
    return this.op(0x70);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Or(): this {
    return this.op(0x72);
  }
  i32Xor(): this {
    return this.op(0x73);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  i32ShrS(): this {
    return this.op(0x75);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }
  i32TruncF32S(): this {
    return this.op(0xa8);
  }
  i32ReinterpretF32(): this {
    return this.op(0xbc);
  }
  /** i32.trunc_sat_f32_s (saturating, never traps). */
  i32TruncSatF32S(): this {
    this.code.u8(0xfc).u32(0);
    return this;
  }

  /** Push `local + k` (skips the add when k is 0): the common address computation. */
  addrPlus(l: Local, k: number): this {
    this.localGet(l);
    if (k !== 0) this.i32Const(k).i32Add();
    return this;
  }

  // ---- f32 scalar ---------------------------------------------------------------------------------------

  f32Eq(): this {
    return this.op(0x5b);
  }
  f32Ne(): this {
    return this.op(0x5c);
  }
  f32Lt(): this {
    return this.op(0x5d);
  }
  f32Gt(): this {
    return this.op(0x5e);
  }
  f32Le(): this {
    return this.op(0x5f);
  }
  f32Ge(): this {
    return this.op(0x60);
  }
  f32Abs(): this {
    return this.op(0x8b);
  }
  f32Neg(): this {
    return this.op(0x8c);
  }
  f32Ceil(): this {
    return this.op(0x8d);
  }
  f32Floor(): this {
    return this.op(0x8e);
  }
  f32Trunc(): this {
    return this.op(0x8f);
  }
  f32Nearest(): this {
    return this.op(0x90);
  }
  f32Sqrt(): this {
    return this.op(0x91);
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Sub(): this {
    return this.op(0x93);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Min(): this {
    return this.op(0x96);
  }
  f32Max(): this {
    return this.op(0x97);
  }
  f32Copysign(): this {
    return this.op(0x98);
  }
  f32ConvertI32S(): this {
    return this.op(0xb2);
  }
  f32ConvertI32U(): this {
    return this.op(0xb3);
  }
  f32ReinterpretI32(): this {
    return this.op(0xbe);
  }

  // ---- v128 splat / lanes / shuffles ---------------------------------------------------------------------

  i8x16Splat(): this {
    return this.simd(0x0f);
  }
  i16x8Splat(): this {
    return this.simd(0x10);
  }
  i32x4Splat(): this {
    return this.simd(0x11);
  }
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  private laneOp(op: number, lane: number, lanes: number): this {
    if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) {
      throw new EdgecnnError(`function ${this.name}: lane ${lane} out of range 0..${lanes - 1}`, 'internal');
    }
    this.simd(op).code.u8(lane);
    return this;
  }
  i8x16ExtractLaneS(lane: number): this {
    return this.laneOp(0x15, lane, 16);
  }
  i8x16ExtractLaneU(lane: number): this {
    return this.laneOp(0x16, lane, 16);
  }
  i8x16ReplaceLane(lane: number): this {
    return this.laneOp(0x17, lane, 16);
  }
  i16x8ExtractLaneS(lane: number): this {
    return this.laneOp(0x18, lane, 8);
  }
  i16x8ExtractLaneU(lane: number): this {
    return this.laneOp(0x19, lane, 8);
  }
  i16x8ReplaceLane(lane: number): this {
    return this.laneOp(0x1a, lane, 8);
  }
  i32x4ExtractLane(lane: number): this {
    return this.laneOp(0x1b, lane, 4);
  }
  i32x4ReplaceLane(lane: number): this {
    return this.laneOp(0x1c, lane, 4);
  }
  f32x4ExtractLane(lane: number): this {
    return this.laneOp(0x1f, lane, 4);
  }
  f32x4ReplaceLane(lane: number): this {
    return this.laneOp(0x20, lane, 4);
  }
  /** i8x16.shuffle with 16 lane indices in 0..31 (0..15 from the first operand, 16..31 from the second). */
  i8x16Shuffle(lanes: ArrayLike<number>): this {
    if (lanes.length !== 16) throw new EdgecnnError('i8x16.shuffle needs 16 lane indices', 'internal');
    for (let i = 0; i < 16; i++) {
      const l = lanes[i]!;
      if (!Number.isInteger(l) || l < 0 || l > 31) throw new EdgecnnError(`i8x16.shuffle lane ${l} > 31`, 'internal');
    }
    this.simd(0x0d).code.raw(lanes);
    return this;
  }
  /** i8x16.shuffle expressed on 32-bit lanes (each 0..7). */
  i32x4Shuffle(a: number, b: number, c: number, d: number): this {
    const l: number[] = [];
    for (const x of [a, b, c, d]) l.push(4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3);
    return this.i8x16Shuffle(l);
  }
  i8x16Swizzle(): this {
    return this.simd(0x0e);
  }

  // ---- v128 bitwise -------------------------------------------------------------------------------------

  v128Not(): this {
    return this.simd(0x4d);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  v128Andnot(): this {
    return this.simd(0x4f);
  }
  v128Or(): this {
    return this.simd(0x50);
  }
  v128Xor(): this {
    return this.simd(0x51);
  }
  /** v128.bitselect: [a, b, mask] -> (a & mask) | (b & ~mask). */
  v128Bitselect(): this {
    return this.simd(0x52);
  }
  v128AnyTrue(): this {
    return this.simd(0x53);
  }

  // ---- i8x16 --------------------------------------------------------------------------------------------

  i8x16Eq(): this {
    return this.simd(0x23);
  }
  i8x16Abs(): this {
    return this.simd(0x60);
  }
  i8x16Neg(): this {
    return this.simd(0x61);
  }
  i8x16AllTrue(): this {
    return this.simd(0x63);
  }
  i8x16Bitmask(): this {
    return this.simd(0x64);
  }
  i8x16NarrowI16x8S(): this {
    return this.simd(0x65);
  }
  i8x16NarrowI16x8U(): this {
    return this.simd(0x66);
  }
  i8x16Add(): this {
    return this.simd(0x6e);
  }
  i8x16AddSatS(): this {
    return this.simd(0x6f);
  }
  i8x16AddSatU(): this {
    return this.simd(0x70);
  }
  i8x16Sub(): this {
    return this.simd(0x71);
  }
  i8x16MinS(): this {
    return this.simd(0x76);
  }
  i8x16MinU(): this {
    return this.simd(0x77);
  }
  i8x16MaxS(): this {
    return this.simd(0x78);
  }
  i8x16MaxU(): this {
    return this.simd(0x79);
  }

  // ---- i16x8 --------------------------------------------------------------------------------------------

  i16x8ExtaddPairwiseI8x16S(): this {
    return this.simd(0x7c);
  }
  i16x8ExtaddPairwiseI8x16U(): this {
    return this.simd(0x7d);
  }
  i16x8Abs(): this {
    return this.simd(0x80);
  }
  i16x8Neg(): this {
    return this.simd(0x81);
  }
  i16x8Q15mulrSatS(): this {
    return this.simd(0x82);
  }
  i16x8NarrowI32x4S(): this {
    return this.simd(0x85);
  }
  i16x8NarrowI32x4U(): this {
    return this.simd(0x86);
  }
  i16x8ExtendLowI8x16S(): this {
    return this.simd(0x87);
  }
  i16x8ExtendHighI8x16S(): this {
    return this.simd(0x88);
  }
  i16x8ExtendLowI8x16U(): this {
    return this.simd(0x89);
  }
  i16x8ExtendHighI8x16U(): this {
    return this.simd(0x8a);
  }
  i16x8Shl(): this {
    return this.simd(0x8b);
  }
  i16x8ShrS(): this {
    return this.simd(0x8c);
  }
  i16x8ShrU(): this {
    return this.simd(0x8d);
  }
  i16x8Add(): this {
    return this.simd(0x8e);
  }
  i16x8AddSatS(): this {
    return this.simd(0x8f);
  }
  i16x8Sub(): this {
    return this.simd(0x91);
  }
  i16x8Mul(): this {
    return this.simd(0x95);
  }
  i16x8MinS(): this {
    return this.simd(0x96);
  }
  i16x8MaxS(): this {
    return this.simd(0x98);
  }
  i16x8ExtmulLowI8x16S(): this {
    return this.simd(0x9c);
  }
  i16x8ExtmulHighI8x16S(): this {
    return this.simd(0x9d);
  }

  // ---- i32x4 --------------------------------------------------------------------------------------------

  i32x4Eq(): this {
    return this.simd(0x37);
  }
  i32x4Ne(): this {
    return this.simd(0x38);
  }
  i32x4LtS(): this {
    return this.simd(0x39);
  }
  i32x4GtS(): this {
    return this.simd(0x3b);
  }
  i32x4LeS(): this {
    return this.simd(0x3d);
  }
  i32x4GeS(): this {
    return this.simd(0x3f);
  }
  i32x4ExtaddPairwiseI16x8S(): this {
    return this.simd(0x7e);
  }
  i32x4ExtaddPairwiseI16x8U(): this {
    return this.simd(0x7f);
  }
  i32x4Abs(): this {
    return this.simd(0xa0);
  }
  i32x4Neg(): this {
    return this.simd(0xa1);
  }
  i32x4AllTrue(): this {
    return this.simd(0xa3);
  }
  i32x4Bitmask(): this {
    return this.simd(0xa4);
  }
  i32x4ExtendLowI16x8S(): this {
    return this.simd(0xa7);
  }
  i32x4ExtendHighI16x8S(): this {
    return this.simd(0xa8);
  }
  i32x4ExtendLowI16x8U(): this {
    return this.simd(0xa9);
  }
  i32x4ExtendHighI16x8U(): this {
    return this.simd(0xaa);
  }
  /** i32x4.shl: [v128, i32 shift] -> v128. */
  i32x4Shl(): this {
    return this.simd(0xab);
  }
  i32x4ShrS(): this {
    return this.simd(0xac);
  }
  i32x4ShrU(): this {
    return this.simd(0xad);
  }
  i32x4Add(): this {
    return this.simd(0xae);
  }
  i32x4Sub(): this {
    return this.simd(0xb1);
  }
  i32x4Mul(): this {
    return this.simd(0xb5);
  }
  i32x4MinS(): this {
    return this.simd(0xb6);
  }
  i32x4MinU(): this {
    return this.simd(0xb7);
  }
  i32x4MaxS(): this {
    return this.simd(0xb8);
  }
  i32x4MaxU(): this {
    return this.simd(0xb9);
  }
  /** i32x4.dot_i16x8_s: pairwise products of i16 lanes summed into i32 lanes. */
  i32x4DotI16x8S(): this {
    return this.simd(0xba);
  }
  i32x4ExtmulLowI16x8S(): this {
    return this.simd(0xbc);
  }
  i32x4ExtmulHighI16x8S(): this {
    return this.simd(0xbd);
  }
  /** i32x4.trunc_sat_f32x4_s (round toward zero, saturating). */
  i32x4TruncSatF32x4S(): this {
    return this.simd(0xf8);
  }
  i32x4TruncSatF32x4U(): this {
    return this.simd(0xf9);
  }

  // ---- f32x4 --------------------------------------------------------------------------------------------

  f32x4Eq(): this {
    return this.simd(0x41);
  }
  f32x4Ne(): this {
    return this.simd(0x42);
  }
  f32x4Lt(): this {
    return this.simd(0x43);
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  f32x4Le(): this {
    return this.simd(0x45);
  }
  f32x4Ge(): this {
    return this.simd(0x46);
  }
  f32x4Ceil(): this {
    return this.simd(0x67);
  }
  f32x4Floor(): this {
    return this.simd(0x68);
  }
  f32x4Trunc(): this {
    return this.simd(0x69);
  }
  f32x4Nearest(): this {
    return this.simd(0x6a);
  }
  f32x4Abs(): this {
    return this.simd(0xe0);
  }
  f32x4Neg(): this {
    return this.simd(0xe1);
  }
  f32x4Sqrt(): this {
    return this.simd(0xe3);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  /** f32x4.min (IEEE: propagates NaN; slower on x86 than pmin). */
  f32x4Min(): this {
    return this.simd(0xe8);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** f32x4.pmin: b < a ? b : a (one instruction on x86 and ARM). */
  f32x4Pmin(): this {
    return this.simd(0xea);
  }
  /** f32x4.pmax: a < b ? b : a. */
  f32x4Pmax(): this {
    return this.simd(0xeb);
  }
  f32x4ConvertI32x4S(): this {
    return this.simd(0xfa);
  }
  f32x4ConvertI32x4U(): this {
    return this.simd(0xfb);
  }

  // ---- relaxed SIMD (only valid when the runtime probe says so) -------------------------------------------

  /** f32x4.relaxed_madd: [a, b, c] -> a*b+c, fused or not depending on the engine. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
  /** f32x4.relaxed_nmadd: [a, b, c] -> -(a*b)+c. */
  f32x4RelaxedNmadd(): this {
    return this.simd(0x106);
  }
  f32x4RelaxedMin(): this {
    return this.simd(0x10d);
  }
  f32x4RelaxedMax(): this {
    return this.simd(0x10e);
  }
  i8x16RelaxedSwizzle(): this {
    return this.simd(0x100);
  }
  i32x4RelaxedTruncF32x4S(): this {
    return this.simd(0x101);
  }
  i32x4RelaxedLaneselect(): this {
    return this.simd(0x10b);
  }
  /** i16x8.relaxed_dot_i8x16_i7x16_s. */
  i16x8RelaxedDotI8x16I7x16S(): this {
    return this.simd(0x112);
  }
  /** i32x4.relaxed_dot_i8x16_i7x16_add_s: [a: i8x16, b: i7x16, c: i32x4] -> dot4(a, b) + c. */
  i32x4RelaxedDotI8x16I7x16AddS(): this {
    return this.simd(0x113);
  }

  // ---- finishing ----------------------------------------------------------------------------------------

  /** Encode locals + body + final `end` (called by the module builder). */
  encode(out: ByteWriter): void {
    if (this.depth !== 0) {
      throw new EdgecnnError(`function ${this.name}: ${this.depth} block(s) left open`, 'internal');
    }
    const body = new ByteWriter(this.code.length + 32);
    // Locals are encoded as runs of one type, in allocation order, so indices match `local()`'s results.
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    body.u32(runs.length);
    for (const [n, t] of runs) body.u32(n).u8(VAL_TYPE_CODE[t]);
    body.raw(this.code.view()).u8(0x0b);
    out.sized(body);
    this.finished = true;
  }

  /** True once encoded. */
  get done(): boolean {
    return this.finished;
  }
}
