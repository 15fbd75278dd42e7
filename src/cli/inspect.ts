/** `edgecnn inspect <model> [--json] [--layers] [--backend wasm]`: structure, parameters, MACs, memory. */
import { EdgecnnError } from '../ir/errors.js';
import { loadModel } from '../onnx/index.js';
import { summarizeModel } from '../ops/model-summary.js';
import { createSession } from '../runtime/session.js';
import { qoperatorToQdq } from '../quantize/qoperator.js';
import { flagBool, flagString } from './args.js';
import type { Command } from './command.js';
import { fmtBytes, fmtCount, fmtShape, table } from './format.js';
import { INPUT_FLAGS, inputFlagsFrom, resolveInputShapes } from './model-inputs.js';

export const command: Command = {
  name: 'inspect',
  synopsis: '<model.onnx> [--json] [--layers] [--backend wasm] [--input-shape name=1x3x224x224]',
  summary: 'Show inputs, outputs, operators, parameters, MACs per layer and memory',
  flags: {
    json: { type: 'boolean', description: 'print JSON' },
    layers: { type: 'boolean', description: 'print every layer (default: the 15 with most MACs)' },
    backend: { type: 'string', description: "also compile for 'wasm' and show kernels, fallbacks and the arena" },
    'input-shape': INPUT_FLAGS['input-shape'],
  },
  async run(positionals, flags) {
    const path = positionals[0];
    if (!path) throw new EdgecnnError('inspect needs a model file', 'bad-argument');
    const model = await loadModel(path);
    const given = inputFlagsFrom(model, flags).shapes;
    let shapes: Record<string, number[]> = given;
    try {
      shapes = resolveInputShapes(model, given);
    } catch {
      // Symbolic inputs without a given shape: inspect what can be inferred.
    }
    const s = summarizeModel(model, { inputShapes: shapes });
    const { rewritten, unsupported, notes } = qoperatorToQdq(model);
    const backend = flagString(flags, 'backend');
    let compiled: { kernels: number; fallbackNodes: string[]; arenaBytes: number; lowerBoundBytes: number } | undefined;
    if (backend !== undefined) {
      if (backend !== 'wasm') throw new EdgecnnError(`--backend must be wasm for inspect`, 'bad-argument');
      const session = await createSession(model, { backend: 'wasm', inputShapes: resolveInputShapes(model, given) });
      compiled = {
        kernels: session.steps.filter((st) => st.kind === 'kernel').length,
        fallbackNodes: session.fallbackNodes,
        arenaBytes: session.arena.arenaBytes,
        lowerBoundBytes: session.arena.lowerBoundBytes,
      };
    }
    if (flagBool(flags, 'json')) {
      const qoperator = rewritten || unsupported.length ? { rewritten, unsupported, notes } : undefined;
      console.log(JSON.stringify({ model: path, ...s, qoperator, compiled }, null, 1));
      return 0;
    }
    const out: string[] = [];
    out.push(`model      ${path}`);
    out.push(`opset      ${s.opset.map((o) => `${o.domain} ${o.version}`).join(', ')}`);
    for (const i of s.inputs) out.push(`input      ${i.name}: ${i.dtype ?? '?'} ${fmtShape(i.shape)}`);
    for (const o of s.outputs) out.push(`output     ${o.name}: ${o.dtype ?? '?'} ${fmtShape(o.shape)}`);
    out.push(`nodes      ${s.nodeCount}`);
    out.push(`params     ${fmtCount(s.params)} (${fmtBytes(s.weightBytes)} of weights)`);
    out.push(`MACs       ${fmtCount(s.totalMacs)}`);
    out.push(`activations ${fmtBytes(s.activationBytes)} in all, ${fmtBytes(s.peakLiveBytes)} live at most`);
    out.push(
      `operators  ${Object.entries(s.opHistogram)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    if (s.unsupported.length) out.push(`UNSUPPORTED ${s.unsupported.join(', ')}`);
    if (rewritten || unsupported.length)
      out.push(
        `qoperator  ${rewritten} node(s) rewritten to DequantizeLinear -> op -> QuantizeLinear for the int8 lowering` +
          (unsupported.length ? `; left as they are: ${unsupported.join('; ')}` : ''),
      );
    for (const n of notes) out.push(`note       ${n}`);
    if (s.unknownShapes.length) out.push(`shapes unknown after: ${s.unknownShapes.slice(0, 5).join(', ')}`);
    if (compiled) {
      out.push(
        `wasm       ${compiled.kernels} kernels, arena ${fmtBytes(compiled.arenaBytes)} (lower bound ${fmtBytes(compiled.lowerBoundBytes)})`,
      );
      out.push(
        `fallback   ${compiled.fallbackNodes.length === 0 ? 'none' : compiled.fallbackNodes.length + ' node(s) on the reference executor: ' + compiled.fallbackNodes.join(', ')}`,
      );
    }
    const layers = flagBool(flags, 'layers') ? s.layers : [...s.layers].sort((a, b) => b.macs - a.macs).slice(0, 15);
    out.push('', flagBool(flags, 'layers') ? 'layers:' : 'layers with the most MACs (--layers for all):');
    out.push(
      table(
        ['node', 'op', 'output', 'params', 'MACs', 'share'],
        layers.map((l) => [
          l.name,
          l.opType,
          fmtShape(l.outputShapes[0]),
          fmtCount(l.params),
          fmtCount(l.macs),
          s.totalMacs ? `${((100 * l.macs) / s.totalMacs).toFixed(1)}%` : '',
        ]),
      ),
    );
    console.log(out.join('\n'));
    return 0;
  },
};
