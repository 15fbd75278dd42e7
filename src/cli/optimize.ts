/**
 * `edgecnn optimize <model> -o <out.onnx> [--level 0|1|2] [--disable-pass NAME] [--print-after NAME] [--report]`:
 * runs the graph optimizer and writes a standard ONNX file (fused nodes expanded back to ONNX ops, folded
 * constants and BatchNorm kept folded). With --hard-activations it also reports the output drift the
 * approximation caused, measured on the reference executor with --input or a seeded synthetic input.
 */
import { readFile } from 'node:fs/promises';
import { randomF32 } from '../ir/builder.js';
import { EdgecnnError } from '../ir/errors.js';
import type { Model } from '../ir/graph.js';
import { opCounts } from '../ir/print.js';
import { type Tensor, makeTensor, sizeOf } from '../ir/tensor.js';
import { loadModel, saveModel } from '../onnx/index.js';
import { runReference, runtimeInputs } from '../ops/reference-executor.js';
import { type OptLevel, OPT_LEVELS, formatPassTable, optimize } from '../passes/index.js';
import { flagBool, flagList, flagNumber, flagString } from './args.js';
import type { Command } from './command.js';

/** `name=1,3,224,224` -> { name: [1,3,224,224] }. */
function parseInputShapes(specs: readonly string[]): Record<string, number[]> | undefined {
  if (specs.length === 0) return undefined;
  const out: Record<string, number[]> = {};
  for (const s of specs) {
    const m = /^([^=]+)=(\d+(?:x\d+|,\d+)*)$/.exec(s);
    if (!m) throw new EdgecnnError(`--input-shape '${s}' must look like NAME=1,3,224,224`, 'bad-argument');
    out[m[1]!] = m[2]!.split(/[x,]/).map(Number);
  }
  return out;
}

/** The feeds for a model: `--input` (raw float32, the single input) or a seeded synthetic tensor per input. */
async function makeInputs(
  model: Model,
  file: string | undefined,
  shapes: Record<string, number[]> | undefined,
): Promise<Record<string, Tensor>> {
  const feeds: Record<string, Tensor> = {};
  const ins = runtimeInputs(model.graph);
  if (file !== undefined && ins.length !== 1) {
    throw new EdgecnnError(
      `--input gives one raw float32 tensor but the model has ${ins.length} inputs`,
      'bad-argument',
    );
  }
  for (const [k, vi] of ins.entries()) {
    const declared = model.graph.inputs.find((i) => i.name === vi.name)?.shape;
    const shape = shapes?.[vi.name] ?? declared;
    if (!shape || !shape.every((d) => typeof d === 'number')) {
      throw new EdgecnnError(
        `input '${vi.name}' has an unknown shape; give it with --input-shape ${vi.name}=...`,
        'bad-argument',
      );
    }
    const dims = shape as number[];
    if (vi.dtype !== undefined && vi.dtype !== 'float32') {
      throw new EdgecnnError(`input '${vi.name}' is ${vi.dtype}; drift measurement needs float32 inputs`, 'bad-input');
    }
    if (file !== undefined) {
      let buf: Buffer;
      try {
        buf = await readFile(file);
      } catch (e) {
        throw new EdgecnnError(`cannot read input file '${file}': ${(e as Error).message}`, 'missing-file');
      }
      if (buf.byteLength !== sizeOf(dims) * 4) {
        throw new EdgecnnError(
          `input file '${file}' has ${buf.byteLength} bytes; input '${vi.name}' [${dims.join(',')}] needs ${sizeOf(dims) * 4}`,
          'bad-input',
        );
      }
      const data = new Float32Array(sizeOf(dims));
      new Uint8Array(data.buffer).set(buf);
      feeds[vi.name] = makeTensor('float32', dims, data);
    } else {
      feeds[vi.name] = randomF32(dims, 123 + k);
    }
  }
  return feeds;
}

/** Largest absolute difference over all outputs, and the largest output magnitude (for a relative figure). */
export function outputDrift(
  a: Record<string, Tensor>,
  b: Record<string, Tensor>,
): { maxAbs: number; maxMagnitude: number } {
  let maxAbs = 0;
  let maxMagnitude = 0;
  for (const [name, t] of Object.entries(a)) {
    const u = b[name];
    if (!u || u.data.length !== t.data.length)
      throw new EdgecnnError(`output '${name}' differs in shape between the two models`, 'internal');
    for (let i = 0; i < t.data.length; i++) {
      const x = Number(t.data[i]);
      maxMagnitude = Math.max(maxMagnitude, Math.abs(x));
      maxAbs = Math.max(maxAbs, Math.abs(x - Number(u.data[i])));
    }
  }
  return { maxAbs, maxMagnitude };
}

/** Per-operator counts: the input, the optimized graph (fused nodes, as the code generator gets it), the file. */
function countsTable(before: Map<string, number>, fused: Map<string, number>, written: Map<string, number>): string {
  const ops = [...new Set([...before.keys(), ...fused.keys(), ...written.keys()])].sort();
  const w = Math.max(8, ...ops.map((o) => o.length));
  const cell = (m: Map<string, number>, op: string): string => String(m.get(op) ?? 0).padStart(7);
  const lines = [`${'operator'.padEnd(w)}   before    fused  written`];
  for (const op of ops) lines.push(`${op.padEnd(w)}  ${cell(before, op)}  ${cell(fused, op)}  ${cell(written, op)}`);
  return lines.join('\n');
}

export const command: Command = {
  name: 'optimize',
  synopsis: '<model.onnx> -o <out.onnx> [--level 0|1|2] [--disable-pass NAME] [--print-after NAME] [--report]',
  summary: 'Optimize a model graph (folding, fusion) and write a standard ONNX file',
  flags: {
    output: { type: 'string', description: 'output ONNX file (same as -o)' },
    level: { type: 'number', description: 'optimization level 0, 1 or 2 (default 2)' },
    'disable-pass': {
      type: 'string',
      multiple: true,
      description: 'skip a pass by name (repeatable, or comma-separated)',
    },
    'print-after': { type: 'string', multiple: true, description: 'print the graph after a pass (repeatable)' },
    report: { type: 'boolean', description: 'print the per-pass table (time, node counts) and per-operator counts' },
    'verify-each': { type: 'boolean', description: 'verify the graph after every pass' },
    'hard-activations': {
      type: 'boolean',
      description: 'approximate Sigmoid -> HardSigmoid, SiLU -> HardSwish; reports the drift',
    },
    input: { type: 'string', description: 'raw float32 input file for the drift measurement' },
    'input-shape': {
      type: 'string',
      multiple: true,
      description: 'NAME=1,3,224,224: fix an input shape (enables more folding)',
    },
  },
  async run(positionals, flags) {
    // The shared parser has no short flags; accept `-o FILE` from the positionals.
    const rest = [...positionals];
    let output = flagString(flags, 'output');
    const o = rest.indexOf('-o');
    if (o >= 0) {
      output = rest[o + 1];
      if (output === undefined) throw new EdgecnnError('-o needs a file name', 'bad-argument');
      rest.splice(o, 2);
    }
    const modelPath = rest[0];
    if (!modelPath || rest.length > 1)
      throw new EdgecnnError(`optimize needs exactly one model file, got ${rest.length}`, 'bad-argument');
    if (!output) throw new EdgecnnError('optimize needs an output file: -o <out.onnx>', 'bad-argument');
    const levelNum = flagNumber(flags, 'level') ?? 2;
    if (!(OPT_LEVELS as readonly number[]).includes(levelNum)) {
      throw new EdgecnnError(`--level must be 0, 1 or 2, got ${levelNum}`, 'bad-argument');
    }
    const level = levelNum as OptLevel;
    // Read raw values: flagList would split `x=1,3,224,224` at its commas.
    const rawShapes = flags.flags.get('input-shape');
    const shapeSpecs = (Array.isArray(rawShapes) ? rawShapes : rawShapes === undefined ? [] : [rawShapes]).filter(
      (v): v is string => typeof v === 'string',
    );
    const inputShapes = parseInputShapes(shapeSpecs);
    const hard = flagBool(flags, 'hard-activations');
    const model = await loadModel(modelPath);
    const result = optimize(model, {
      level,
      disablePasses: flagList(flags, 'disable-pass'),
      printAfter: flagList(flags, 'print-after'),
      verifyEach: flagBool(flags, 'verify-each'),
      hardActivations: hard,
      forExport: true,
      ...(inputShapes ? { inputShapes } : {}),
    });
    await saveModel(result.model, output);
    const before = opCounts(model.graph);
    const fused = opCounts((result.fused ?? result.model).graph);
    const after = opCounts(result.model.graph);
    console.log(
      `${modelPath}: ${model.graph.nodes.length} nodes -> ${result.model.graph.nodes.length} nodes; wrote ${output}`,
    );
    if (flagBool(flags, 'report')) {
      console.log(`\n${formatPassTable(result.passes)}\n\n${countsTable(before, fused, after)}`);
    } else if (result.notes.length > 0) {
      console.log(`${result.notes.length} note(s) on what was skipped (see --report)`);
    }
    if (hard) {
      const exact = optimize(model, {
        level,
        disablePasses: flagList(flags, 'disable-pass'),
        forExport: true,
        ...(inputShapes ? { inputShapes } : {}),
      });
      const feeds = await makeInputs(model, flagString(flags, 'input'), inputShapes);
      const d = outputDrift(runReference(exact.model, feeds), runReference(result.model, feeds));
      const rel = d.maxMagnitude > 0 ? d.maxAbs / d.maxMagnitude : d.maxAbs;
      console.log(
        `hard-activation drift on ${flagString(flags, 'input') ?? 'a synthetic input (seed 123)'}: max |diff| ${d.maxAbs.toExponential(3)}` +
          ` (${(rel * 100).toFixed(3)}% of the largest output magnitude ${d.maxMagnitude.toExponential(3)})`,
      );
    }
    return 0;
  },
};
