/**
 * Times the candidate kernels of one choice point. Each candidate is compiled as its own one-function module
 * over a scratch memory laid out like the compiler's (64-byte aligned packed weights, then the step's inputs
 * and outputs with their real shapes and pixel strides, scratch, the all-zero region, 16 bytes of slack),
 * inputs filled with seeded random data. Candidates are timed interleaved, in rotating order, over the
 * step's whole parallel extent; a sample repeats the call until it lasts about `minSampleMs` (browser clocks
 * are coarse), and a candidate's time is the median of its per-call sample times.
 */
import { EdgecnnError } from '../ir/errors.js';
import { seededRandom } from '../ir/builder.js';
import { compileTopTier } from '../runtime/executor.js';
import { spanBytes } from '../codegen/compile/compile.js';
import { ALIGN_BYTES, alignUp } from '../codegen/compile/memory-plan.js';
import type { KernelAddresses, KernelChoice, LoweredKernel } from '../codegen/select.js';
import { ModuleBuilder } from '../codegen/wasm/index.js';

/** One candidate's measurement. */
export interface CandidateTiming {
  id: string;
  /** Median time of one call over the whole parallel extent. */
  timeMs: number;
  samples: number;
  /** The candidate's parallel extent (work items threads can share). */
  parallelExtent: number;
}

export interface MeasureOptions {
  /** Timed samples per candidate (default 7; fewer, but at least 3, once `deadline` passes). */
  samples?: number;
  /** Shortest sample: calls are repeated within a sample until it lasts this long (default 1 ms). */
  minSampleMs?: number;
  /** `performance.now()` after which sampling stops at the minimum. */
  deadline?: number;
  /** Measure only the first `maxCandidates` candidates (default all). */
  maxCandidates?: number;
  /**
   * Warm-up time per candidate before sampling. Node compiles the module at the top tier (compileTopTier);
   * browsers start on the baseline tier and optimize a function after it has run a while, so by default 20 ms
   * there and none in Node.
   */
  warmupMs?: number;
}

const MIN_SAMPLES = 3;

/** Bytes of each node input/output the compiler would place in the arena (undefined: constant or absent). */
export function stepOperandBytes(choice: KernelChoice): {
  inputs: (number | undefined)[];
  outputs: (number | undefined)[];
} {
  const bytes = (name: string | undefined): number | undefined => {
    if (!name) return undefined;
    const info = choice.ctx.operand(name);
    if (info.constant || !info.layout || info.layout.layout === 'js') return undefined;
    return spanBytes(info.layout);
  };
  return { inputs: choice.node.inputs.map(bytes), outputs: choice.node.outputs.map(bytes) };
}

interface Instance {
  id: string;
  parallelExtent: number;
  call: () => void;
}

/** Build and instantiate one candidate over its own memory; returns the step function over the full extent. */
async function instantiateStep(
  kernel: LoweredKernel,
  operands: { inputs: (number | undefined)[]; outputs: (number | undefined)[] },
  seed: number,
): Promise<Instance> {
  let cursor = ALIGN_BYTES;
  const place = (bytes: number): number => {
    const at = cursor;
    cursor = alignUp(cursor + bytes);
    return at;
  };
  const weights = kernel.weights.map((w) => place(w.byteLength));
  const inputs = operands.inputs.map((b) => (b === undefined ? undefined : place(b)));
  const outputs = operands.outputs.map((b) => (b === undefined ? undefined : place(b)));
  const scratch = kernel.scratchBytes > 0 ? place(kernel.scratchBytes) : undefined;
  const zero = kernel.zeroBytes > 0 ? place(kernel.zeroBytes) : undefined;
  const pages = Math.max(1, Math.ceil((cursor + 16) / 65536));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const bytes = new Uint8Array(memory.buffer);
  kernel.weights.forEach((w, i) => bytes.set(w, weights[i]!));
  const rand = seededRandom(seed);
  operands.inputs.forEach((b, i) => {
    const at = inputs[i];
    if (b === undefined || at === undefined) return;
    const f = new Float32Array(memory.buffer, at, Math.floor(b / 4));
    for (let j = 0; j < f.length; j++) f[j] = rand() * 2 - 1;
  });
  const mb = new ModuleBuilder();
  mb.importMemory('env', 'memory', { initialPages: pages, maximumPages: pages });
  const fn = mb.addFunction('step', ['i32', 'i32'], []);
  const addresses: KernelAddresses = { inputs, outputs, weights, scratch, zero };
  kernel.emit(fn, addresses);
  mb.exportFunction('step', fn.index);
  let module: WebAssembly.Module;
  try {
    module = await compileTopTier(mb.build() as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new EdgecnnError(`tuning: kernel ${kernel.id} does not compile: ${String(e)}`, 'internal');
  }
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const step = instance.exports['step'] as (start: number, end: number) => void;
  const extent = kernel.parallelExtent;
  return { id: kernel.id, parallelExtent: extent, call: () => step(0, extent) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Time every candidate of `choice` (in the choice's order in the result). */
export async function measureCandidates(
  choice: KernelChoice,
  options: MeasureOptions = {},
): Promise<CandidateTiming[]> {
  const samples = Math.max(MIN_SAMPLES, options.samples ?? 7);
  const minSampleMs = options.minSampleMs ?? 1;
  const operands = stepOperandBytes(choice);
  const chosen = choice.candidates.slice(0, options.maxCandidates ?? choice.candidates.length);
  const steps: Instance[] = [];
  for (const c of chosen) steps.push(await instantiateStep(c.lower(), operands, 12345));
  const isNode = Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);
  const warmupMs = options.warmupMs ?? (isNode ? 0 : 20);
  // Warm up (first calls fault pages in and fill caches; a browser tiers up), then size each candidate's sample.
  const repeats = steps.map((s) => {
    const w0 = performance.now();
    let calls = 0;
    do {
      s.call();
      calls++;
    } while (calls < 200 && performance.now() - w0 < warmupMs);
    const t0 = performance.now();
    s.call();
    const t = Math.max(performance.now() - t0, 1e-3);
    return Math.max(1, Math.min(1000, Math.ceil(minSampleMs / t)));
  });
  const times: number[][] = steps.map(() => []);
  for (let round = 0; round < samples; round++) {
    if (round >= MIN_SAMPLES && options.deadline !== undefined && performance.now() > options.deadline) break;
    for (let j = 0; j < steps.length; j++) {
      const k = (j + round) % steps.length;
      const s = steps[k]!;
      const n = repeats[k]!;
      const t0 = performance.now();
      for (let r = 0; r < n; r++) s.call();
      times[k]!.push((performance.now() - t0) / n);
    }
  }
  return steps.map((s, k) => ({
    id: s.id,
    timeMs: median(times[k]!),
    samples: times[k]!.length,
    parallelExtent: s.parallelExtent,
  }));
}
