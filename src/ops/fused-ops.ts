/**
 * Op records for the fused operators the passes create (domain `edgecnn`, version 1), so that the reference
 * executor and numeric tests run them. Each reference is the composition it stands for, computed with the ONNX
 * op records (Conv, Gemm) followed by the epilogue in double precision and rounded once to float32:
 *   FusedConv(X, W, B?, Residual?) = activation(Conv(X, W, B) + Residual)
 *   FusedGemm(A, B, C?)            = activation(Gemm(A, B, C))
 *   Silu(x) = x * sigmoid(x);  HardSwish(x) = x * max(0, min(1, x/6 + 1/2))
 * The attribute contract is documented in pipeline.ts; `ACTIVATIONS` lists the activation names.
 */
import { EdgecnnError } from '../ir/errors.js';
import { EDGECNN_DOMAIN, type Node, attrFloats, attrString } from '../ir/graph.js';
import { type Tensor, makeTensor } from '../ir/tensor.js';
import { Conv } from './conv.js';
import { Gemm } from './matmul.js';
import type { OpContext, OpDef, ValueType } from './types.js';

/** Activation names a fused node's `activation` attribute may hold. */
export const ACTIVATIONS = ['Relu', 'Clip', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Sigmoid', 'Silu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** Number of `activation_params` each activation takes. */
export const ACTIVATION_PARAM_COUNT: Record<Activation, number> = {
  Relu: 0,
  Clip: 2,
  LeakyRelu: 1,
  HardSigmoid: 2,
  HardSwish: 0,
  Sigmoid: 0,
  Silu: 0,
};

export function isActivation(s: string): s is Activation {
  return (ACTIVATIONS as readonly string[]).includes(s);
}

/** The scalar function of an activation with its params (see ACTIVATION_PARAM_COUNT for their meaning). */
export function activationFn(kind: Activation, params: readonly number[]): (x: number) => number {
  switch (kind) {
    case 'Relu':
      return (x) => (x > 0 ? x : 0);
    case 'Clip': {
      const lo = params[0] ?? -Infinity;
      const hi = params[1] ?? Infinity;
      return (x) => (x < lo ? lo : x > hi ? hi : x);
    }
    case 'LeakyRelu': {
      const a = params[0] ?? 0.01;
      return (x) => (x >= 0 ? x : a * x);
    }
    case 'HardSigmoid': {
      const a = params[0] ?? 0.2;
      const b = params[1] ?? 0.5;
      return (x) => Math.max(0, Math.min(1, a * x + b));
    }
    case 'HardSwish':
      return (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case 'Sigmoid':
      return (x) => 1 / (1 + Math.exp(-x));
    case 'Silu':
      return (x) => x / (1 + Math.exp(-x));
  }
}

/** The activation of a fused node, validated; undefined when it has none. */
export function readActivation(node: Node): { kind: Activation; params: number[] } | undefined {
  const kind = attrString(node, 'activation');
  if (kind === undefined || kind === '') return undefined;
  if (!isActivation(kind)) {
    throw new EdgecnnError(
      `node '${node.name}' (${node.opType}): unknown activation '${kind}' (known: ${ACTIVATIONS.join(', ')})`,
      'bad-model',
    );
  }
  // Integral parameters written by another tool as ints mean the same numbers.
  const pa = node.attributes.get('activation_params');
  const params = pa?.kind === 'ints' ? [...pa.value] : attrFloats(node, 'activation_params', []);
  const want = ACTIVATION_PARAM_COUNT[kind];
  if (params.length !== want && !(kind === 'Clip' && params.length <= 2) && !(want > 0 && params.length === 0)) {
    throw new EdgecnnError(
      `node '${node.name}' (${node.opType}): activation ${kind} takes ${want} activation_params, got ${params.length}`,
      'bad-model',
    );
  }
  return { kind, params };
}

/** A copy of `node` without the fused attributes, as the plain op record expects to see it. */
function plainNode(node: Node, opType: string): Node {
  const attributes = new Map(node.attributes);
  attributes.delete('activation');
  attributes.delete('activation_params');
  return { ...node, opType, domain: '', attributes };
}

/** ONNX Conv/Gemm semantics are unchanged since opset 11; the fused records run them at that version. */
const PLAIN_OPSET = 13;

function epilogue(t: Tensor, node: Node, residual?: Tensor): Tensor {
  const act = readActivation(node);
  if (!act && !residual) return t;
  if (t.dtype !== 'float32') {
    throw new EdgecnnError(
      `node '${node.name}' (${node.opType}): fused epilogues run on float32 only, got ${t.dtype}`,
      'unsupported-operator',
    );
  }
  if (residual) {
    if (
      residual.dtype !== t.dtype ||
      residual.data.length !== t.data.length ||
      residual.shape.some((d, i) => d !== t.shape[i])
    ) {
      throw new EdgecnnError(
        `node '${node.name}' (${node.opType}): Residual has shape [${residual.shape.join(',')}] but the convolution output is [${t.shape.join(',')}]`,
        'bad-input',
      );
    }
  }
  const f = act ? activationFn(act.kind, act.params) : (x: number) => x;
  const out = new Float32Array(t.data.length);
  const x = t.data as Float32Array;
  const r = residual?.data as Float32Array | undefined;
  for (let i = 0; i < out.length; i++) out[i] = f(r ? x[i]! + r[i]! : x[i]!);
  return makeTensor('float32', t.shape, out);
}

/** `edgecnn:FusedConv` — see pipeline.ts for the attribute contract. */
export const FusedConv: OpDef = {
  opType: 'FusedConv',
  domain: EDGECNN_DOMAIN,
  sinceVersion: 1,
  reference(inputs, ctx) {
    const plain: OpContext = { node: plainNode(ctx.node, 'Conv'), opset: PLAIN_OPSET };
    const [y] = Conv.reference(inputs.slice(0, 3), plain);
    return [epilogue(y!, ctx.node, inputs[3])];
  },
  inferTypes(inputs, ctx) {
    const plain: OpContext = { node: plainNode(ctx.node, 'Conv'), opset: PLAIN_OPSET };
    return Conv.inferTypes(inputs.slice(0, 3), plain).map((t): ValueType => {
      const out: ValueType = {};
      if (t.dtype !== undefined) out.dtype = t.dtype;
      if (t.shape !== undefined) out.shape = t.shape;
      return out;
    });
  },
  macs(inputs, outputs, ctx) {
    const plain: OpContext = { node: plainNode(ctx.node, 'Conv'), opset: PLAIN_OPSET };
    return Conv.macs ? Conv.macs(inputs.slice(0, 3), outputs, plain) : 0;
  },
};

/** `edgecnn:FusedGemm` — Gemm attributes plus activation. */
export const FusedGemm: OpDef = {
  opType: 'FusedGemm',
  domain: EDGECNN_DOMAIN,
  sinceVersion: 1,
  reference(inputs, ctx) {
    const [y] = Gemm.reference(inputs, { node: plainNode(ctx.node, 'Gemm'), opset: PLAIN_OPSET });
    return [epilogue(y!, ctx.node)];
  },
  inferTypes(inputs, ctx) {
    return Gemm.inferTypes(inputs, { node: plainNode(ctx.node, 'Gemm'), opset: PLAIN_OPSET }).map((t): ValueType => {
      const out: ValueType = {};
      if (t.dtype !== undefined) out.dtype = t.dtype;
      if (t.shape !== undefined) out.shape = t.shape;
      return out;
    });
  },
  macs(inputs, outputs, ctx) {
    return Gemm.macs ? Gemm.macs(inputs, outputs, { node: plainNode(ctx.node, 'Gemm'), opset: PLAIN_OPSET }) : 0;
  },
};

function unaryFloat(opType: string, kind: Activation): OpDef {
  return {
    opType,
    domain: EDGECNN_DOMAIN,
    sinceVersion: 1,
    reference(inputs, ctx) {
      const x = inputs[0];
      if (!x || x.dtype !== 'float32') {
        throw new EdgecnnError(`node '${ctx.node.name}' (${opType}): needs one float32 input`, 'bad-input');
      }
      const f = activationFn(kind, []);
      const out = new Float32Array(x.data.length);
      const xs = x.data as Float32Array;
      for (let i = 0; i < out.length; i++) out[i] = f(xs[i]!);
      return [makeTensor('float32', x.shape, out)];
    },
    inferTypes(inputs) {
      const x = inputs[0];
      const out: ValueType = {};
      if (x?.dtype !== undefined) out.dtype = x.dtype;
      if (x?.shape !== undefined) out.shape = [...x.shape];
      return [out];
    },
  };
}

/** `edgecnn:Silu` (x * sigmoid(x)); ONNX has no such op. */
export const Silu: OpDef = unaryFloat('Silu', 'Silu');
/** `edgecnn:HardSwish`, used only when the model's opset (< 14) has no ONNX HardSwish. */
export const HardSwish: OpDef = unaryFloat('HardSwish', 'HardSwish');

/** The fused op records, for the op table (sorted by opType). */
export const FUSED_OPS: readonly OpDef[] = [FusedConv, FusedGemm, HardSwish, Silu];
