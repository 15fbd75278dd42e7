/**
 * Module builder: collects types (deduplicated), imports (functions, one memory), defined functions, globals,
 * exports, active data segments and an optional start function, then encodes the binary in section order.
 * Function indices: imported functions come first, so every function import must be added before the first
 * `addFunction` (checked). Memory index 0 is the imported or defined memory.
 */
import { ByteWriter } from './byte-writer.js';
import { FunctionBuilder, type ValType, VAL_TYPE_CODE } from './function-builder.js';
import { EdgecnnError } from '../../ir/errors.js';

/** Memory limits in 64 KiB pages. `shared` requires `maximum` (threads). */
export interface MemoryLimits {
  initialPages: number;
  maximumPages?: number;
  shared?: boolean;
}

interface FuncImport {
  module: string;
  field: string;
  typeIndex: number;
}

interface Global {
  type: ValType;
  mutable: boolean;
  init: number | bigint;
}

/** Builds one WebAssembly module. */
export class ModuleBuilder {
  private readonly types: { params: readonly ValType[]; results: readonly ValType[] }[] = [];
  private readonly typeKeys = new Map<string, number>();
  private readonly funcImports: FuncImport[] = [];
  private memoryImport: { module: string; field: string; limits: MemoryLimits } | undefined;
  private memoryDef: MemoryLimits | undefined;
  private readonly functions: { fn: FunctionBuilder; typeIndex: number }[] = [];
  private readonly globals: Global[] = [];
  private readonly exports: { name: string; kind: number; index: number }[] = [];
  private readonly exportNames = new Set<string>();
  private readonly data: { offsetBytes: number; bytes: Uint8Array }[] = [];
  private start: number | undefined;

  /** Index of the function type (params) -> (results), added if new. */
  typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}>${results.join(',')}`;
    let i = this.typeKeys.get(key);
    if (i === undefined) {
      i = this.types.length;
      this.types.push({ params: [...params], results: [...results] });
      this.typeKeys.set(key, i);
    }
    return i;
  }

  /** Import a function; returns its function index. Must precede every `addFunction`. */
  importFunction(module: string, field: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.functions.length > 0) {
      throw new EdgecnnError(`import ${module}.${field}: function imports must be added before functions`, 'internal');
    }
    this.funcImports.push({ module, field, typeIndex: this.typeIndex(params, results) });
    return this.funcImports.length - 1;
  }

  /** Import the module's linear memory (e.g. `env.memory`). */
  importMemory(module: string, field: string, limits: MemoryLimits): this {
    checkLimits(limits);
    if (this.memoryImport || this.memoryDef) throw new EdgecnnError('module already has a memory', 'internal');
    this.memoryImport = { module, field, limits };
    return this;
  }

  /** Define (and own) the module's linear memory instead of importing it. */
  defineMemory(limits: MemoryLimits): this {
    checkLimits(limits);
    if (this.memoryImport || this.memoryDef) throw new EdgecnnError('module already has a memory', 'internal');
    this.memoryDef = limits;
    return this;
  }

  /** Add a function; fill its body through the returned builder (before `build`). */
  addFunction(name: string, params: readonly ValType[], results: readonly ValType[]): FunctionBuilder {
    const index = this.funcImports.length + this.functions.length;
    const fn = new FunctionBuilder(index, params, results, name);
    this.functions.push({ fn, typeIndex: this.typeIndex(params, results) });
    return fn;
  }

  /** Add a global with a constant initial value; returns its index. */
  addGlobal(type: ValType, mutable: boolean, init: number | bigint): number {
    if (type === 'v128') throw new EdgecnnError('v128 globals are not supported by this builder', 'internal');
    this.globals.push({ type, mutable, init });
    return this.globals.length - 1;
  }

  private addExport(name: string, kind: number, index: number): this {
    if (this.exportNames.has(name)) throw new EdgecnnError(`duplicate export name ${name}`, 'internal');
    this.exportNames.add(name);
    this.exports.push({ name, kind, index });
    return this;
  }

  /** Export a function under `name`. */
  exportFunction(name: string, funcIndex: number): this {
    return this.addExport(name, 0x00, funcIndex);
  }

  /** Export memory 0 under `name`. */
  exportMemory(name: string): this {
    return this.addExport(name, 0x02, 0);
  }

  /** Export a global under `name`. */
  exportGlobal(name: string, globalIndex: number): this {
    return this.addExport(name, 0x03, globalIndex);
  }

  /** An active data segment copied into memory 0 at instantiation. */
  addData(offsetBytes: number, bytes: Uint8Array): this {
    this.data.push({ offsetBytes, bytes });
    return this;
  }

  /** Run function `funcIndex` (type () -> ()) at instantiation. */
  setStart(funcIndex: number): this {
    this.start = funcIndex;
    return this;
  }

  /** Number of functions (imported + defined). */
  get functionCount(): number {
    return this.funcImports.length + this.functions.length;
  }

  /** Encode the module. */
  build(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter(64 * 1024);
    out.raw([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, fill: (w: ByteWriter) => void): void => {
      const w = new ByteWriter();
      fill(w);
      out.u8(id).sized(w);
    };

    if (this.types.length > 0) {
      section(1, (w) => {
        w.u32(this.types.length);
        for (const t of this.types) {
          w.u8(0x60).u32(t.params.length);
          for (const p of t.params) w.u8(VAL_TYPE_CODE[p]);
          w.u32(t.results.length);
          for (const r of t.results) w.u8(VAL_TYPE_CODE[r]);
        }
      });
    }
    const nImports = this.funcImports.length + (this.memoryImport ? 1 : 0);
    if (nImports > 0) {
      section(2, (w) => {
        w.u32(nImports);
        for (const imp of this.funcImports) w.name(imp.module).name(imp.field).u8(0x00).u32(imp.typeIndex);
        if (this.memoryImport) {
          w.name(this.memoryImport.module).name(this.memoryImport.field).u8(0x02);
          writeLimits(w, this.memoryImport.limits);
        }
      });
    }
    if (this.functions.length > 0) {
      section(3, (w) => {
        w.u32(this.functions.length);
        for (const f of this.functions) w.u32(f.typeIndex);
      });
    }
    if (this.memoryDef) {
      const lim = this.memoryDef;
      section(5, (w) => {
        w.u32(1);
        writeLimits(w, lim);
      });
    }
    if (this.globals.length > 0) {
      section(6, (w) => {
        w.u32(this.globals.length);
        for (const g of this.globals) {
          w.u8(VAL_TYPE_CODE[g.type]).u8(g.mutable ? 1 : 0);
          if (g.type === 'i32') w.u8(0x41).s32(Number(g.init));
          else if (g.type === 'i64') w.u8(0x42).s64(BigInt(g.init));
          else if (g.type === 'f32') w.u8(0x43).f32(Number(g.init));
          else w.u8(0x44).f64(Number(g.init));
          w.u8(0x0b);
        }
      });
    }
    if (this.exports.length > 0) {
      section(7, (w) => {
        w.u32(this.exports.length);
        for (const e of this.exports) w.name(e.name).u8(e.kind).u32(e.index);
      });
    }
    if (this.start !== undefined) {
      const s = this.start;
      section(8, (w) => w.u32(s));
    }
    if (this.data.length > 0) {
      // DataCount (12) must precede Code when bulk-memory instructions reference segments; harmless otherwise.
      section(12, (w) => w.u32(this.data.length));
    }
    if (this.functions.length > 0) {
      let total = 0;
      for (const f of this.functions) total += f.fn.code.length + 16;
      const w = new ByteWriter(total + 16);
      w.u32(this.functions.length);
      for (const f of this.functions) f.fn.encode(w);
      out.u8(10).sized(w);
    }
    if (this.data.length > 0) {
      section(11, (w) => {
        w.u32(this.data.length);
        for (const d of this.data) {
          w.u8(0x00).u8(0x41).s32(d.offsetBytes).u8(0x0b).u32(d.bytes.length).raw(d.bytes);
        }
      });
    }
    return out.bytes();
  }
}

function checkLimits(l: MemoryLimits): void {
  if (!Number.isInteger(l.initialPages) || l.initialPages < 0 || l.initialPages > 65536) {
    throw new EdgecnnError(`memory initial pages ${l.initialPages} out of range`, 'internal');
  }
  if (l.maximumPages !== undefined && (l.maximumPages < l.initialPages || l.maximumPages > 65536)) {
    throw new EdgecnnError(`memory maximum pages ${l.maximumPages} out of range`, 'internal');
  }
  if (l.shared && l.maximumPages === undefined) {
    throw new EdgecnnError('a shared memory needs a maximum size', 'internal');
  }
}

function writeLimits(w: ByteWriter, l: MemoryLimits): void {
  const flags = (l.maximumPages !== undefined ? 1 : 0) | (l.shared ? 2 : 0);
  w.u8(flags).u32(l.initialPages);
  if (l.maximumPages !== undefined) w.u32(l.maximumPages);
}
