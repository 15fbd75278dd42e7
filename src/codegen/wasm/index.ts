/**
 * The WebAssembly binary emitter used by every kernel generator.
 *
 * API in brief:
 * - `new ModuleBuilder()`; `.importMemory('env', 'memory', { initialPages, maximumPages?, shared? })`;
 *   `.importFunction(mod, field, params, results)` (before any function); `.addFunction(name, params, results)`
 *   returns a `FunctionBuilder`; `.exportFunction(name, index)`, `.addData(offsetBytes, bytes)`,
 *   `.addGlobal(type, mutable, init)`, `.setStart(index)`; `.build()` returns the module bytes.
 * - `FunctionBuilder`: `local(type)` / `param(i)` give local indices; control via `block()/loop()/if()` which
 *   return a `Label`, `br(label)` / `brIf(label)` compute the relative depth, `end()` closes; instruction
 *   helpers are the wasm names in camelCase (`i32Add`, `f32x4Mul`, `v128Load32Splat(offset)`,
 *   `f32x4RelaxedMadd`, `i32x4DotI16x8S`...). Memory helpers take (offsetBytes, alignLog2).
 * - `ByteWriter`: LEB128 (u32/s32/s64), floats, names; used by both builders.
 */
export { ByteWriter } from './byte-writer.js';
export { FunctionBuilder, VAL_TYPES, VAL_TYPE_CODE } from './function-builder.js';
export type { BlockType, Label, Local, ValType } from './function-builder.js';
export { ModuleBuilder } from './module-builder.js';
export type { MemoryLimits } from './module-builder.js';
