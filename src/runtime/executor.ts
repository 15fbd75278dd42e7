/**
 * Executes a CompiledModel: instantiates its module over one imported memory, copies the packed weights in
 * once, then per run writes the inputs (NCHW -> placement), calls each kernel step over its whole parallel
 * extent (single thread) or runs the reference fallback in JS, and reads the outputs back to NCHW.
 * Nothing here imports compiler code: the runtime can ship alone.
 */
import { EdgecnnError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import { getOp } from '../ops/registry.js';
import type { OpDef } from '../ops/types.js';
import { readValue, writeValue } from './arena-io.js';
import type { CompiledModel, CompiledStep, FallbackStep } from './compiled-model.js';

export type KernelFn = (start: number, end: number) => void;

/** Time of one step in one profiled run. */
export interface StepTiming {
  index: number;
  kernelId: string;
  nodeName: string;
  opType: string;
  timeMs: number;
}

/** A loaded model ready to run; not re-entrant (one arena). */
export interface Executor {
  readonly compiled: CompiledModel;
  readonly memory: WebAssembly.Memory;
  /** Run on already validated inputs (by graph input name). */
  run(inputs: Record<string, Tensor>): Record<string, Tensor>;
  /** Like run, also timing every step (including input/output conversion as steps -1 and steps.length). */
  runProfiled(inputs: Record<string, Tensor>): { outputs: Record<string, Tensor>; steps: StepTiming[] };
}

/** Finds the reference implementation of a fallback node (the op table, plus e.g. the optimizer's fused ops). */
export type OpLookup = (domain: string, opType: string) => OpDef | undefined;

/**
 * Optional multi-threading (src/runtime/threads/): supplies the memory (shared) and the module bytes (importing
 * it as shared), starts its workers once the module is compiled, and runs each kernel step, possibly split
 * across threads; `local` runs a sub-range on the calling thread. Fallback steps never go through it.
 */
export interface ParallelRunner {
  readonly memory: WebAssembly.Memory;
  readonly wasm: Uint8Array;
  start(module: WebAssembly.Module): Promise<void>;
  /** A run is starting: wake sleeping workers now, so they are up by the first split step. */
  wake?(): void;
  runKernel(stepIndex: number, extent: number, local: KernelFn): void;
}

export async function instantiate(
  compiled: CompiledModel,
  lookup: OpLookup = getOp,
  parallel?: ParallelRunner,
): Promise<Executor> {
  const pages = Math.ceil(compiled.memoryBytes / 65536);
  const memory = parallel?.memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages });
  // The engine compiles on its own threads while this one copies the weights in and touches the arena.
  const compiling = compileTopTier((parallel?.wasm ?? compiled.wasm) as Uint8Array<ArrayBuffer>);
  const bytes = new Uint8Array(memory.buffer);
  for (const w of compiled.weights) bytes.set(w.data, w.offsetBytes);
  // Touch the arena once now (fresh pages are mapped on first write), so the first run does not pay the faults.
  bytes.fill(0, compiled.arena.offsetBytes, compiled.arena.offsetBytes + compiled.arena.arenaBytes);
  let module: WebAssembly.Module;
  try {
    module = await compiling;
  } catch (e) {
    const hint = compiled.usesRelaxedSimd
      ? ' (the module uses relaxed SIMD; Node 20 needs --experimental-wasm-relaxed-simd)'
      : '';
    throw new EdgecnnError(`the generated WebAssembly module does not compile${hint}: ${String(e)}`, 'internal');
  }
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  await parallel?.start(module);
  const mem = new Float32Array(memory.buffer);

  const fns: (KernelFn | undefined)[] = compiled.steps.map((s) => {
    if (s.kind !== 'kernel') return undefined;
    const f = instance.exports[s.exportName];
    if (typeof f !== 'function') throw new EdgecnnError(`module lacks export '${s.exportName}'`, 'internal');
    return f as KernelFn;
  });

  const jsValues = new Map<string, Tensor>();

  const writeInputs = (inputs: Record<string, Tensor>): void => {
    parallel?.wake?.();
    jsValues.clear();
    for (const p of compiled.inputs) writeValue(mem, p, inputs[p.name]!, jsValues);
  };
  const readOutputs = (): Record<string, Tensor> => {
    const out: Record<string, Tensor> = {};
    for (const o of compiled.outputs) out[o.name] = 'constant' in o ? o.constant : readValue(mem, o, jsValues);
    return out;
  };
  const runStep = (s: CompiledStep, i: number): void => {
    if (s.kind === 'kernel') {
      if (parallel) parallel.runKernel(i, s.parallelExtent, fns[i]!);
      else fns[i]!(0, s.parallelExtent);
    } else runFallback(s, mem, jsValues, lookup);
  };

  return {
    compiled,
    memory,
    run(inputs) {
      writeInputs(inputs);
      for (let i = 0; i < compiled.steps.length; i++) runStep(compiled.steps[i]!, i);
      return readOutputs();
    },
    runProfiled(inputs) {
      const steps: StepTiming[] = [];
      let t0 = performance.now();
      writeInputs(inputs);
      let t1 = performance.now();
      steps.push({ index: -1, kernelId: 'js-write-inputs', nodeName: '(inputs)', opType: 'Input', timeMs: t1 - t0 });
      compiled.steps.forEach((s, i) => {
        t0 = performance.now();
        runStep(s, i);
        t1 = performance.now();
        steps.push({ index: i, kernelId: s.kernelId, nodeName: s.nodeName, opType: s.opType, timeMs: t1 - t0 });
      });
      t0 = performance.now();
      const outputs = readOutputs();
      t1 = performance.now();
      steps.push({
        index: compiled.steps.length,
        kernelId: 'js-read-outputs',
        nodeName: '(outputs)',
        opType: 'Output',
        timeMs: t1 - t0,
      });
      return { outputs, steps };
    },
  };
}

type V8Flags = { setFlagsFromString(flags: string): void };
type NodeProcess = {
  getBuiltinModule?: (id: string) => unknown;
  execArgv?: string[];
  env?: Record<string, string | undefined>;
};

/**
 * Compile with V8's optimizing tier up front when running on Node. By default V8 compiles each function lazily
 * on its first call with its baseline compiler (Liftoff) and optimizes it only after it has run a while; every
 * kernel step is called once per inference, so the whole first inference ran on baseline code (mobilenet_v2:
 * ~100 ms of CPU vs ~20 ms optimized) and the optimizing compiles then ran anyway. Node has no per-module switch,
 * so the two engine flags are turned off only while this module compiles and restored right after (unless the
 * process was started with them); other engines (browsers) keep their defaults.
 */
export async function compileTopTier(wasm: Uint8Array<ArrayBuffer>): Promise<WebAssembly.Module> {
  const proc = (globalThis as { process?: NodeProcess }).process;
  let v8: V8Flags | undefined;
  try {
    v8 = proc?.getBuiltinModule?.('node:v8') as V8Flags | undefined;
  } catch {
    v8 = undefined;
  }
  if (!v8 || typeof v8.setFlagsFromString !== 'function') return WebAssembly.compile(wasm);
  const given = `${(proc?.execArgv ?? []).join(' ')} ${proc?.env?.NODE_OPTIONS ?? ''}`;
  const flags = ['liftoff', 'wasm-lazy-compilation'].filter((f) => !new RegExp(`--no[-_]${f}\\b`).test(given));
  for (const f of flags) v8.setFlagsFromString(`--no-${f}`);
  try {
    return await WebAssembly.compile(wasm);
  } finally {
    for (const f of flags) v8.setFlagsFromString(`--${f}`);
  }
}

function runFallback(s: FallbackStep, mem: Float32Array, jsValues: Map<string, Tensor>, lookup: OpLookup): void {
  const def = lookup(s.node.domain, s.node.opType);
  if (!def) throw new EdgecnnError(`no reference implementation for '${s.node.name}' (${s.opType})`, 'internal');
  const args = s.inputs.map((x) =>
    x === undefined ? undefined : 'constant' in x ? x.constant : readValue(mem, x.placement, jsValues),
  );
  let outs: Tensor[];
  try {
    outs = def.reference(args, { node: s.node, opset: s.opset });
  } catch (e) {
    if (e instanceof EdgecnnError) throw e;
    throw new EdgecnnError(`node '${s.nodeName}' (${s.opType}) failed: ${String(e)}`, 'bad-input');
  }
  s.outputs.forEach((p, k) => {
    if (p && outs[k]) writeValue(mem, p, outs[k]!, jsValues);
  });
}
