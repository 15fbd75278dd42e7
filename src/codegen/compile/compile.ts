/**
 * compileModel: the whole lowering, in order: (optional) graph optimization -> concrete shapes and constant
 * folding (prepare) -> lowering rewrites into kernel-shaped edgecnn ops (LOWERING_REWRITES) -> layout
 * assignment with zero-copy concat/split views (assign-layouts) and edge conversions (edge-layouts) -> kernel
 * selection per node, reference fallback otherwise (select) -> static memory plan (memory-plan) -> one wasm
 * module with one exported function per kernel step. Memory map: [0, 64) unused, packed weights, activation arena, shared
 * scratch, the shared all-zero region, 16 bytes of slack (kernels may over-read by that much). Every address is
 * a compile-time constant baked into the kernels.
 */
import { EdgecnnError } from '../../ir/errors.js';
import type { Model, Node } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { sizeOf } from '../../ir/tensor.js';
import { nodeOpset } from '../../ops/reference-executor.js';
import { getOp } from '../../ops/registry.js';
import type {
  CompiledModel,
  CompiledStep,
  FallbackStep,
  KernelStep,
  ValuePlacement,
} from '../../runtime/compiled-model.js';
import { type ChooseKernel, type LoweredKernel, type SelectContext, selectKernel } from '../select.js';
import { ModuleBuilder } from '../wasm/index.js';
import { type LayoutResult, type ValueLayout, assignLayouts, elemBytes } from './assign-layouts.js';
import { addEdgeConversions } from './edge-layouts.js';
import { fuseChannelShuffle } from './fuse-channel-shuffle.js';
import { fuseConvTranspose } from './fuse-conv-transpose.js';
import { fuseFakeQuantize } from './fuse-fake-quant.js';
import { lowerInt8Graph } from './lower-int8.js';
import { ALIGN_BYTES, type MemoryPlan, type TensorLifetime, alignUp, planMemory } from './memory-plan.js';
import { type PreparedGraph, checkInputShapes, prepareGraph } from './prepare.js';

/** Graph rewrites at lowering level (patterns one kernel computes), applied in this order. */
const LOWERING_REWRITES = [fuseChannelShuffle, lowerInt8Graph, fuseFakeQuantize, fuseConvTranspose] as const;

/** edgecnn ops the compiler itself introduces: they have kernels and no reference implementation. */
const MUST_LOWER = ['ChannelShuffle', 'ToNHWC', 'ToNCHW', 'FakeQuantize', 'ConvTransposeGemm', 'PixelScatter'];

export interface CompileOptions {
  /** Concrete shapes for graph inputs with symbolic dims, e.g. `{ x: [1, 3, 640, 640] }`. */
  inputShapes?: Record<string, readonly number[]>;
  /** Allow relaxed-SIMD kernel variants (only when the engine was probed to support them). */
  relaxedSimd?: boolean;
  /**
   * How the engine's relaxed int8 dot-add reads b bytes >= 128 (the probe's `relaxedDotB`): 'unsigned' or
   * 'signed' allow the qs8 GEMM variants `-wasmusdot` / `-wasmsdot`; default 'none'.
   */
  relaxedDotB?: 'unsigned' | 'signed' | 'none';
  /** Graph optimization run first (the pass pipeline); identity when absent. */
  optimize?: (model: Model) => Model;
  /**
   * Reference implementations available to fallback steps at run time (default: the op table). A node with
   * neither a kernel nor a reference is a compile error.
   */
  hasReference?: (domain: string, opType: string) => boolean;
  /** Kernel selection; defaults to `selectKernel` (tests substitute it to force fallbacks). */
  select?: (node: Node, ctx: SelectContext) => LoweredKernel | undefined;
  /** Picks among a step's candidate kernels (the tuner, src/tune/); default: the cost model's first. */
  choose?: ChooseKernel;
}

/** What the compiler decided, beyond the runtime contract (for inspect, tests and reports). */
export interface CompileReport {
  prepared: PreparedGraph;
  layouts: LayoutResult;
  memoryPlan: MemoryPlan;
}

/** Compile `model` for the WebAssembly backend. */
export function compileModel(model: Model, options: CompileOptions = {}): CompiledModel & { report: CompileReport } {
  checkInputShapes(model, options.inputShapes ?? {});
  const optimized = options.optimize ? options.optimize(model) : model;
  const prepared0 = prepareGraph(optimized, options.inputShapes);
  const nodes = LOWERING_REWRITES.reduce<Node[]>((ns, rewrite) => rewrite(prepared0, ns), [...prepared0.nodes]);
  const prepared: PreparedGraph = { ...prepared0, nodes };
  const lay = assignLayouts(prepared);
  const edges = addEdgeConversions(prepared, lay);
  const { layouts } = lay;
  const select = options.select ?? selectKernel;
  const constants = prepared.constants;

  const ctx: SelectContext = {
    relaxedSimd: options.relaxedSimd ?? false,
    relaxedDotB: options.relaxedDotB ?? 'none',
    opset: (node) => nodeOpset(optimized, node),
    operand: (name) => ({ layout: layouts.get(name), constant: constants.get(name) }),
  };
  if (options.choose) ctx.choose = options.choose;

  // Lower every node that is not a pure view.
  interface Lowered {
    node: Node;
    index: number;
    kernel?: LoweredKernel;
  }
  const lowered: Lowered[] = [];
  lay.nodes.forEach((node, index) => {
    if (lay.viewNodes.has(node)) return;
    const touchesArena = [...node.inputs, ...node.outputs].some((v) => v && layouts.get(v)?.layout !== 'js');
    const kernel = touchesArena ? select(node, ctx) : undefined;
    if (!kernel && node.domain === 'edgecnn' && MUST_LOWER.includes(node.opType)) {
      throw new EdgecnnError(`node '${node.name}': no kernel for ${node.opType}`, 'internal');
    }
    lowered.push(kernel ? { node, index, kernel } : { node, index });
  });

  // int8 arena values exist only between int8 kernels (lower-int8.ts): a fallback cannot read or write them.
  for (const l of lowered) {
    const v = l.kernel
      ? undefined
      : [...l.node.inputs, ...l.node.outputs].find(
          (x) => x && layouts.get(x)?.type.dtype === 'int8' && layouts.get(x)?.layout !== 'js',
        );
    if (v)
      throw new EdgecnnError(`node '${l.node.name}' (${l.node.opType}): no int8 kernel for value '${v}'`, 'internal');
  }
  const hasReference = options.hasReference ?? ((d: string, o: string) => getOp(d, o) !== undefined);
  const missing = lowered.filter((l) => !l.kernel && !hasReference(l.node.domain, l.node.opType));
  if (missing.length > 0) {
    const list = missing.map((l) => `'${l.node.name}' (${l.node.domain ? `${l.node.domain}:` : ''}${l.node.opType})`);
    throw new EdgecnnError(
      `${missing.length} node(s) have neither a kernel nor a reference implementation: ${list.join(', ')}`,
      'unsupported-operator',
    );
  }

  // Lifetimes in node-index space (views included: they extend the storage they live in).
  const defStep = new Map<string, number>();
  const lastStep = new Map<string, number>();
  for (const i of prepared.inputs) defStep.set(edges.inputs.get(i.name) ?? i.name, -1);
  lay.nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o) defStep.set(o, i);
    for (const x of n.inputs) if (x) lastStep.set(x, i);
  });
  for (const o of prepared.outputNames) lastStep.set(edges.outputs.get(o) ?? o, Infinity);
  const inPlace = new Map<string, string[]>();
  for (const l of lowered) {
    if (!l.kernel) continue;
    const out = layouts.get(l.node.outputs[0]!);
    if (!out || out.viewOf) continue;
    const cands = l.kernel.inPlaceInputs
      .map((k) => l.node.inputs[k]!)
      .filter((x) => {
        const xl = layouts.get(x);
        return (
          xl &&
          !xl.viewOf &&
          xl.layout === out.layout &&
          xl.pixelStride === out.pixelStride &&
          xl.type.shape.join() === out.type.shape.join()
        );
      });
    if (cands.length > 0) inPlace.set(out.name, cands);
  }
  const lifetimes: TensorLifetime[] = [];
  for (const l of layouts.values()) {
    if (l.layout === 'js' || !defStep.has(l.name)) continue;
    const t: TensorLifetime = {
      name: l.name,
      sizeBytes: spanBytes(l),
      defStep: defStep.get(l.name)!,
      lastStep: Math.max(lastStep.get(l.name) ?? defStep.get(l.name)!, defStep.get(l.name)!),
    };
    if (l.viewOf) t.viewOf = l.viewOf;
    const ip = inPlace.get(l.name);
    if (ip) t.inPlaceOf = ip;
    lifetimes.push(t);
  }
  const memoryPlan = planMemory(lifetimes);

  // Memory map.
  let cursor = ALIGN_BYTES;
  const weights: CompiledModel['weights'] = [];
  const weightAddr = new Map<Lowered, number[]>();
  for (const l of lowered) {
    if (!l.kernel) continue;
    const addrs: number[] = [];
    for (const w of l.kernel.weights) {
      addrs.push(cursor);
      weights.push({ offsetBytes: cursor, data: w });
      cursor = alignUp(cursor + w.byteLength);
    }
    weightAddr.set(l, addrs);
  }
  const arenaOffset = cursor;
  cursor = alignUp(cursor + memoryPlan.arenaBytes);
  const scratchOffset = cursor;
  const scratchBytes = Math.max(0, ...lowered.map((l) => l.kernel?.scratchBytes ?? 0));
  cursor = alignUp(cursor + scratchBytes);
  // The zero region sits last; kernels may read 16 bytes past any buffer, hence the slack.
  const zeroOffset = cursor;
  const zeroBytes = Math.max(0, ...lowered.map((l) => l.kernel?.zeroBytes ?? 0));
  cursor = alignUp(cursor + zeroBytes + 16);
  const memoryBytes = Math.max(65536, Math.ceil(cursor / 65536) * 65536);
  const pages = memoryBytes / 65536;
  if (pages > 65536) {
    throw new EdgecnnError(`the compiled model needs ${cursor} bytes, more than 4 GiB of wasm memory`, 'bad-model');
  }
  const addressOf = (name: string): number | undefined => {
    const off = memoryPlan.offsets.get(name);
    return off === undefined ? undefined : arenaOffset + off;
  };
  const placement = (name: string): ValuePlacement => {
    const l = layouts.get(name);
    if (!l) throw new EdgecnnError(`value '${name}' has no layout`, 'internal');
    if (l.layout === 'js') return { name, dtype: l.type.dtype, shape: l.type.shape, layout: 'js' };
    const offsetBytes = addressOf(name);
    if (offsetBytes === undefined) throw new EdgecnnError(`value '${name}' has no arena offset`, 'internal');
    return l.layout === 'nhwc'
      ? { name, dtype: 'float32', shape: l.type.shape, layout: 'nhwc', offsetBytes, pixelStride: l.pixelStride }
      : { name, dtype: 'float32', shape: l.type.shape, layout: 'flat', offsetBytes };
  };

  // Module and steps.
  const mb = new ModuleBuilder();
  mb.importMemory('env', 'memory', { initialPages: pages, maximumPages: pages });
  const steps: CompiledStep[] = [];
  const fallbackNodes: string[] = [];
  let usesRelaxedSimd = false;
  for (const l of lowered) {
    const { node, kernel } = l;
    if (kernel) {
      const exportName = `${kernel.id}__n${l.index}`;
      const fn = mb.addFunction(exportName, ['i32', 'i32'], []);
      kernel.emit(fn, {
        inputs: node.inputs.map((x) => (x ? addressOf(x) : undefined)),
        outputs: node.outputs.map((x) => (x ? addressOf(x) : undefined)),
        weights: weightAddr.get(l)!,
        scratch: kernel.scratchBytes > 0 ? scratchOffset : undefined,
        zero: kernel.zeroBytes > 0 ? zeroOffset : undefined,
      });
      mb.exportFunction(exportName, fn.index);
      usesRelaxedSimd ||= kernel.usesRelaxedSimd;
      const step: KernelStep = {
        kind: 'kernel',
        kernelId: kernel.id,
        nodeName: node.name,
        opType: node.opType,
        exportName,
        parallelExtent: kernel.parallelExtent,
        macs: kernel.macs,
        bytesMoved: kernel.bytesMoved,
        fused: kernel.fused,
      };
      steps.push(step);
    } else {
      fallbackNodes.push(node.name);
      const step: FallbackStep = {
        kind: 'fallback',
        kernelId: `ref-${node.opType}`,
        nodeName: node.name,
        opType: node.opType,
        node,
        opset: nodeOpset(optimized, node),
        inputs: node.inputs.map((x) => {
          if (!x) return undefined;
          const c = constants.get(x);
          return c ? { constant: c } : { placement: placement(x) };
        }),
        outputs: node.outputs.map((o) => (o && layouts.has(o) ? placement(o) : undefined)),
        macs: 0,
        bytesMoved: fallbackBytes(node, layouts, constants),
        fused: node.domain === 'edgecnn',
      };
      steps.push(step);
    }
  }

  const compiled: CompiledModel = {
    wasm: mb.build(),
    memoryBytes,
    weights,
    arena: { offsetBytes: arenaOffset, arenaBytes: memoryPlan.arenaBytes, lowerBoundBytes: memoryPlan.lowerBoundBytes },
    steps,
    inputs: prepared.inputs.map((i) => ({ ...placement(edges.inputs.get(i.name) ?? i.name), name: i.name })),
    outputs: prepared.outputNames.map((o) => {
      const c = constants.get(o);
      return c && !layouts.has(o) ? { name: o, constant: c } : { ...placement(edges.outputs.get(o) ?? o), name: o };
    }),
    fallbackNodes,
    usesRelaxedSimd,
  };
  // The relaxed int8 dot kernels' ids end in their reading of b (an artifact must not run on another).
  const ids = steps.map((s) => (s.kind === 'kernel' ? s.kernelId : ''));
  if (ids.some((id) => id.endsWith('-wasmusdot'))) compiled.relaxedDotB = 'unsigned';
  if (ids.some((id) => id.endsWith('-wasmsdot'))) compiled.relaxedDotB = 'signed';
  return { ...compiled, report: { prepared, layouts: lay, memoryPlan } };
}

/** Bytes from a value's first element to one past its last (a strided view spans its pixel stride). */
export function spanBytes(l: ValueLayout): number {
  const s = l.type.shape;
  if (l.layout !== 'nhwc') return sizeOf(s) * elemBytes(l);
  const pixels = s[0]! * s[2]! * s[3]!;
  if (pixels === 0 || s[1] === 0) return 0;
  return ((pixels - 1) * l.pixelStride + s[1]!) * elemBytes(l);
}

function fallbackBytes(node: Node, layouts: Map<string, ValueLayout>, constants: Map<string, Tensor>): number {
  let n = 0;
  for (const v of [...node.inputs, ...node.outputs]) {
    if (!v) continue;
    const c = constants.get(v);
    if (c) n += c.data.length * 4;
    else {
      const l = layouts.get(v);
      if (l) n += sizeOf(l.type.shape) * elemBytes(l);
    }
  }
  return n;
}
