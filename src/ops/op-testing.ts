/**
 * Test support for the op references: build a one-node context (inputs named x0.., absent ones '', outputs
 * y0..) and call an OpDef's reference or inferTypes through the registry, as the executor would. Shared by the
 * *.test.ts files of this folder so that each test states only the op, its inputs and its attributes.
 */
import assert from 'node:assert/strict';
import type { Attribute, Node } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { getOp } from './registry.js';
import type { OpDef, ValueType } from './types.js';

/** A node `n` of `opType` with one input name per entry of `inputs` ('' where undefined) and `nOut` outputs. */
export function nodeOf(opType: string, inputs: readonly unknown[], attrs: Record<string, Attribute>, nOut = 1): Node {
  return {
    name: 'n',
    opType,
    domain: '',
    inputs: inputs.map((t, i) => (t === undefined ? '' : `x${i}`)),
    outputs: Array.from({ length: nOut }, (_, i) => `y${i}`),
    attributes: new Map(Object.entries(attrs)),
  };
}

function registered(opType: string): OpDef {
  const def = getOp('', opType);
  assert.ok(def, `${opType} is registered`);
  return def;
}

/** Every output of the default-domain op's reference. */
export function runOpAll(
  opType: string,
  inputs: (Tensor | undefined)[],
  attrs: Record<string, Attribute> = {},
  opset = 17,
  nOut = 1,
): Tensor[] {
  return registered(opType).reference(inputs, { node: nodeOf(opType, inputs, attrs, nOut), opset });
}

/** The first output of the default-domain op's reference. */
export function runOp(
  opType: string,
  inputs: (Tensor | undefined)[],
  attrs: Record<string, Attribute> = {},
  opset = 17,
): Tensor {
  return runOpAll(opType, inputs, attrs, opset)[0]!;
}

/** The op's inferred output types. */
export function inferOp(
  opType: string,
  inputs: (ValueType | undefined)[],
  attrs: Record<string, Attribute> = {},
  opset = 17,
  nOut = 1,
): ValueType[] {
  return registered(opType).inferTypes(inputs, { node: nodeOf(opType, inputs, attrs, nOut), opset });
}

export const int = (value: number): Attribute => ({ kind: 'int', value });
export const ints = (...value: number[]): Attribute => ({ kind: 'ints', value });
export const float = (value: number): Attribute => ({ kind: 'float', value });
export const str = (value: string): Attribute => ({ kind: 'string', value });
