/**
 * `edgecnn check <model> [--reference ort|reference] [--backend wasm|reference] [--input FILE]`: run the model
 * on edgecnn and on a reference (onnxruntime-node by default, or edgecnn's own reference executor) with the same
 * inputs, and print max absolute and relative error, error relative to the output's largest magnitude, and
 * cosine similarity per output. Exits 1 when any output is off by more than --tolerance (default 1e-4) of its
 * largest magnitude.
 */
import { EdgecnnError } from '../ir/errors.js';
import { toNumbers } from '../ir/tensor.js';
import { agreement } from '../conformance/compare.js';
import { loadModel } from '../onnx/index.js';
import { type Backend, BACKENDS, createSession } from '../runtime/session.js';
import { flagBool, flagNumber, flagString } from './args.js';
import type { Command } from './command.js';
import { table } from './format.js';
import {
  INPUT_FLAGS,
  THREADS_FLAG,
  inputFlagsFrom,
  threadsFrom,
  makeInputs,
  resolveInputShapes,
} from './model-inputs.js';
import { runOrtNode } from './ort-reference.js';

export const command: Command = {
  name: 'check',
  synopsis: '<model.onnx> [--reference ort|reference] [--backend wasm|reference] [--input FILE] [--json]',
  summary: 'Compare edgecnn with onnxruntime-node (or the reference executor) on the same inputs',
  flags: {
    reference: { type: 'string', description: "'ort' (onnxruntime-node, default) or 'reference'" },
    backend: { type: 'string', description: "edgecnn backend: 'wasm' (default) or 'reference'" },
    tolerance: { type: 'number', description: 'max abs error allowed, relative to the largest |output| (1e-4)' },
    json: { type: 'boolean', description: 'print JSON' },
    threads: THREADS_FLAG,
    ...INPUT_FLAGS,
  },
  async run(positionals, flags) {
    const path = positionals[0];
    if (!path) throw new EdgecnnError('check needs a model file', 'bad-argument');
    const refName = flagString(flags, 'reference') ?? 'ort';
    if (refName !== 'ort' && refName !== 'reference') {
      throw new EdgecnnError(`--reference must be 'ort' or 'reference', not '${refName}'`, 'bad-argument');
    }
    const backend = (flagString(flags, 'backend') ?? 'wasm') as Backend;
    if (!BACKENDS.includes(backend)) throw new EdgecnnError(`unknown backend '${backend}'`, 'bad-argument');
    const tol = flagNumber(flags, 'tolerance') ?? 1e-4;
    const model = await loadModel(path);
    const iflags = inputFlagsFrom(model, flags);
    const inputShapes = resolveInputShapes(model, iflags.shapes);
    const inputs = makeInputs(model, iflags);
    const session = await createSession(model, { backend, inputShapes, threads: threadsFrom(flags) });
    const t0 = performance.now();
    const ours = await session.run(inputs);
    const oursMs = performance.now() - t0;
    const theirs =
      refName === 'ort'
        ? await runOrtNode(path, inputs)
        : await (await createSession(model, { backend: 'reference', inputShapes })).run(inputs);
    const rows = session.outputNames.map((name) => {
      const a = ours[name];
      const b = theirs[name];
      if (!a || !b) throw new EdgecnnError(`output '${name}' missing from ${!a ? 'edgecnn' : refName}`, 'internal');
      if (a.shape.join('x') !== b.shape.join('x')) {
        throw new EdgecnnError(
          `output '${name}': shape ${a.shape.join('x')} vs ${refName} ${b.shape.join('x')}`,
          'numerical',
        );
      }
      const ag = agreement(toNumbers(a), toNumbers(b));
      return { name, shape: a.shape, ...ag, ok: ag.relToMax <= tol && ag.nonFinite === 0 };
    });
    const ok = rows.every((r) => r.ok);
    if (flagBool(flags, 'json')) {
      console.log(
        JSON.stringify({ model: path, backend, reference: refName, tolerance: tol, outputs: rows, ok }, null, 1),
      );
    } else {
      console.log(
        `edgecnn (${backend}, ${session.threads} thread(s), first run ${oursMs.toFixed(1)} ms) vs ${refName === 'ort' ? 'onnxruntime-node' : 'reference executor'}`,
      );
      if (session.fallbackNodes.length > 0 && backend === 'wasm') {
        console.log(`${session.fallbackNodes.length} node(s) ran on the reference fallback`);
      }
      console.log(
        table(
          ['output', 'shape', 'max abs err', 'max rel err', 'abs err / max|y|', 'cosine', 'verdict'],
          rows.map((r) => [
            r.name,
            r.shape.join('x'),
            r.maxAbsError.toExponential(2),
            r.maxRelError.toExponential(2),
            r.relToMax.toExponential(2),
            r.cosine.toFixed(7),
            r.ok ? 'ok' : `OFF (> ${tol})`,
          ]),
        ),
      );
    }
    await session.close();
    return ok ? 0 : 1;
  },
};
